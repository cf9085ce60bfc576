/**
 * A deployment of separate `orbit api` and `orbit worker` processes on a PostgreSQL server of the
 * bench's own, as the multi-worker benches (scale-out, throttle) start it.
 */
import postgres from 'postgres';
import { startOrbit, type OrbitProcess } from '../../scripts/lib/orbit-process.ts';

/** A new empty database on the server (Orbit migrates it at start); answers its URL. */
export async function createBenchDatabase(serverUrl: string, name: string): Promise<string> {
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.end();
  }
  return serverUrl.replace(/\/postgres$/, `/${name}`);
}

/** The environment of every process of the deployment: one database, one admin key, a local receiver allowed. */
export function deploymentEnv(databaseUrl: string, adminKey: string, logLevel: string): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    LOG_LEVEL: logLevel,
    ORBIT_ADMIN_KEY: adminKey,
    ORBIT_ALLOW_HTTP: 'true',
    ORBIT_ALLOW_PRIVATE_NETWORKS: '127.0.0.0/8',
  };
}

/** One role of the deployment; only the start of stdout is kept (a full pipe would block Orbit). */
export function startRole(role: 'api' | 'worker', env: Record<string, string>): OrbitProcess {
  return startOrbit({ args: [role], env: { HOST: '127.0.0.1', PORT: '0', ...env }, stderr: 'inherit', captureLimit: 65_536 });
}

/** A POST to the API with the admin key; a non-2xx answer throws with its body. */
export async function postAsAdmin(base: string, adminKey: string, path: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = (await response.json()) as Record<string, unknown>;
  if (response.status >= 300) throw new Error(`${path} answered ${response.status}: ${JSON.stringify(answer)}`);
  return answer;
}
