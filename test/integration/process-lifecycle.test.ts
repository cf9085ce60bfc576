/**
 * Orbit's process life cycle as users met it (issue 14): real processes, real signals, real
 * PostgreSQL (Orbit's own embedded one under private temp folders, or the suite's server).
 * Each test is named after the defect it pins.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { killAllOrbits, startOrbit, type OrbitProcess, type OrbitProcessOptions } from '../../scripts/lib/orbit-process.ts';
import { freePort, startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { postgresPackage } from '../../src/db/postgres-binaries.ts';
import { createTestDatabase } from '../support/database.ts';
import { createTenant, queueMessage, startDeliveryHarness } from '../support/delivery-fixtures.ts';
import { startFakeReceiver, type FakeReceiver, type Script } from '../support/fake-receiver.ts';

const ADMIN_KEY = 'gx_lifecycle_test_admin_key_0123456789';
const onLinux = existsSync('/proc/self/stat');
const asRoot = process.getuid?.() === 0;
const cleanups: (() => Promise<void> | void)[] = [];

afterAll(async () => {
  killAllOrbits();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** A `mktemp -d` folder: mode 0700, as users and CI get them. */
function privateDir(prefix = 'orbit-life-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function orbitEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    ORBIT_ADMIN_KEY: ADMIN_KEY,
    ORBIT_ALLOW_HTTP: 'true',
    ORBIT_ALLOW_PRIVATE_NETWORKS: '127.0.0.1/32',
    ...extra,
  };
}

function orbit(options: Partial<OrbitProcessOptions> & { env: Record<string, string> }): OrbitProcess {
  return startOrbit({ args: ['serve'], ...options, env: orbitEnv(options.env) });
}

async function receiver(script: Script): Promise<FakeReceiver> {
  const started = await startFakeReceiver({ script });
  cleanups.push(() => started.close());
  return started;
}

async function api<T = Record<string, unknown>>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as T };
}

/** A run whose webhook hears `run.started`, and that event reported: one message on its way. */
async function reportOneEvent(base: string, url: string): Promise<string> {
  const run = await api<{ id: string }>(base, 'POST', '/v1/runs', { workflowId: 'wf_life', webhook: { url, events: ['run.started'] } });
  expect(run.status).toBe(201);
  expect((await api(base, 'POST', `/v1/runs/${run.body.id}/events`, { type: 'run.started' })).status).toBe(202);
  return run.body.id;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The children of a process (Linux). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/** What a person sees: no stack traces, no multi-kilobyte lines (client objects dumped with errors). */
function expectTidyOutput(run: OrbitProcess): void {
  const text = `${run.stdout}\n${run.stderr}`;
  expect(text).not.toMatch(/^\s+at .+\(.+:\d+:\d+\)$/m);
  for (const line of text.split('\n')) expect(line.length, line.slice(0, 300)).toBeLessThan(2_048);
}

async function blockedPort(): Promise<number> {
  const blocker: Server = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const address = blocker.address();
  return typeof address === 'object' && address !== null ? address.port : 0;
}

// ---------------------------------------------------------------------------------------------

describe.skipIf(!onLinux)('defect 1: npm start as root from a private directory', () => {
  it(
    'the embedded database starts with its binaries and its data dir inside 0700 folders, and says what is wrong in one line when it cannot',
    { timeout: 90_000 },
    async () => {
      // The package's binaries in a private folder, as in a checkout under /root or in `mktemp -d`.
      const checkout = privateDir('orbit-checkout-');
      const nativeDir = join(checkout, 'native');
      cpSync(postgresPackage().nativeDir, nativeDir, { recursive: true, verbatimSymlinks: true });
      const dataDir = join(privateDir('orbit-data-'), 'data');
      expect(statSync(checkout).mode & 0o777).toBe(0o700);

      const pg = await startEmbeddedPostgres({ dataDir, nativeDir });
      try {
        const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
        const [row] = await sql`select 1 as one`;
        await sql.end();
        expect(row?.one).toBe(1);
        expect(existsSync(join(dataDir, 'pg', 'PG_VERSION'))).toBe(true);
        const postmaster = Number(readFileSync(join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
        if (asRoot) {
          // PostgreSQL runs as `postgres`, from a copy it can reach; the data stays where it was asked to be.
          expect(statSync(join(dataDir, 'pg')).uid).not.toBe(0);
          expect(execFileSync('readlink', [`/proc/${postmaster}/exe`], { encoding: 'utf8' })).not.toContain(checkout);
        }
      } finally {
        await pg.stop();
      }

      // A start that cannot work (its port is taken) ends in one line: what is wrong, what to do.
      const taken = await blockedPort();
      const run = orbit({ env: { ORBIT_DATA_DIR: dataDir, ORBIT_EMBEDDED_PG_PORT: String(taken) } });
      expect((await run.exit).code).toBe(1);
      const lines = run.stderr.split('\n').filter(Boolean);
      expect(lines, run.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(
        new RegExp(
          `^orbit: embedded PostgreSQL could not start: port ${taken} is already in use: set ORBIT_EMBEDDED_PG_PORT to a free port`,
        ),
      );
      expect(run.stdout).not.toMatch(/listening on/);
      expectTidyOutput(run);

      // A data dir Orbit cannot create: one line too.
      const file = join(privateDir(), 'a-file');
      writeFileSync(file, '');
      const bad = orbit({ env: { ORBIT_DATA_DIR: join(file, 'data') } });
      expect((await bad.exit).code).toBe(1);
      expect(bad.stderr.split('\n').filter(Boolean)).toEqual([
        expect.stringMatching(/^orbit: embedded PostgreSQL: cannot use the data dir .*set ORBIT_DATA_DIR/),
      ]);
      expectTidyOutput(bad);
    },
  );
});

describe.skipIf(!onLinux)("defect 2: the embedded database's password leaks", () => {
  it(
    'is on no command line and in no temp file, and its file is readable by Orbit (and postgres) only — after a failed start too',
    { timeout: 90_000 },
    async () => {
      const leftovers = (): string[] => readdirSync(tmpdir()).filter((name) => name.startsWith('pg-password'));
      const before = leftovers();
      const dataDir = join(privateDir(), 'data');
      const pg = await startEmbeddedPostgres({ dataDir });
      const password = readFileSync(join(dataDir, 'pg-password'), 'utf8').trim();
      try {
        expect(password.length).toBeGreaterThanOrEqual(20);
        const exposed = readdirSync('/proc')
          .filter((name) => /^\d+$/.test(name))
          .filter((pid) => cmdline(Number(pid)).includes(password));
        expect(exposed).toEqual([]);
        const mode = statSync(join(dataDir, 'pg-password')).mode & 0o777;
        expect(mode & 0o007).toBe(0);
        expect(mode).toBe(asRoot ? 0o640 : 0o600);
      } finally {
        await pg.stop();
      }

      // Failed starts, the first before and the second after the cluster exists: nothing is left behind.
      const fresh = join(privateDir(), 'data');
      await expect(startEmbeddedPostgres({ dataDir: fresh, port: await blockedPort() })).rejects.toThrow(/is already in use/);
      await expect(startEmbeddedPostgres({ dataDir, port: await blockedPort() })).rejects.toThrow(/is already in use/);
      // A start killed during initdb.
      const killed = orbit({ args: ['migrate'], env: { ORBIT_DATA_DIR: join(privateDir(), 'data') } });
      await expect.poll(() => childrenOf(killed.pid).length > 0, { timeout: 10_000, interval: 10 }).toBe(true);
      killed.kill();
      await killed.exit;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(leftovers()).toEqual(before);
    },
  );
});

describe.skipIf(!onLinux)('defect 3: Ctrl-C on npm start is not graceful', () => {
  it.each(['SIGINT', 'SIGTERM'] as const)(
    'a %s to the whole process group of npm start, twice within a second, drains like one SIGTERM: the attempt in flight is recorded and never sent again',
    { timeout: 150_000 },
    async (signal) => {
      const dataDir = join(privateDir(), 'data');
      // The first answer takes 1.5 s: the signals land while it is in flight.
      const hook = await receiver((_request, index) => (index === 0 ? { delayMs: 1_500, then: 200 } : 200));
      const run = orbit({ via: 'npm', detached: true, env: { ORBIT_DATA_DIR: dataDir } });
      const base = await run.listening();
      const runId = await reportOneEvent(base, hook.url);
      await hook.waitForRequests(1, 10_000);

      const signalledAt = Date.now();
      run.signal(signal, { group: true });
      await new Promise((resolve) => setTimeout(resolve, 300));
      run.signal(signal, { group: true });
      const exit = await run.exit;
      expect(exit, `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`).toEqual({ code: 0, signal: null });
      expect(Date.now() - signalledAt).toBeLessThan(15_000);
      expect(run.stderr).toBe('');
      expect(run.stdout).not.toMatch(/"level":"(error|fatal)"/);
      expectTidyOutput(run);

      // After a restart: the attempt was recorded as succeeded, and nothing is sent again.
      const again = orbit({ env: { ORBIT_DATA_DIR: dataDir } });
      const secondBase = await again.listening();
      const messages = await api<{ data: { id: string; status: string; attemptCount: number }[] }>(
        secondBase,
        'GET',
        `/v1/admin/messages?runId=${runId}`,
      );
      expect(messages.body.data).toEqual([expect.objectContaining({ status: 'succeeded', attemptCount: 1 })]);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(hook.requests).toHaveLength(1);
      expect((await again.stop('SIGTERM')).code).toBe(0);
    },
  );
});

describe('defect 4: a closed stdout can hang Orbit', () => {
  it('with its log pipe full and then closed, Orbit still exits promptly on SIGTERM', { timeout: 90_000 }, async () => {
    const run = orbit({ env: { DATABASE_URL: await createTestDatabase(), LOG_LEVEL: 'debug' } });
    const base = await run.listening();
    // A reader that stops reading (a stuck `tee`): the pipe fills with request logs…
    run.child.stdout?.pause();
    for (let index = 0; index < 1_500; index++) {
      const answered = await fetch(`${base}/v1/runs/${'x'.repeat(200)}`, { signal: AbortSignal.timeout(2_000) }).catch(() => null);
      if (answered === null) break;
    }
    const signalledAt = Date.now();
    run.signal('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 200));
    // …and then goes away.
    run.child.stdout?.destroy();
    const timer = setTimeout(() => run.kill(), 20_000);
    const exit = await run.exit;
    clearTimeout(timer);
    expect(exit.signal).toBeNull();
    expect(exit.code).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(10_000);
  });
});

describe('defect 10: the start banner', () => {
  it('prints the address Orbit really listens on, and says when that is every interface', { timeout: 90_000 }, async () => {
    const databaseUrl = await createTestDatabase();
    const loopback = orbit({ args: ['api'], env: { DATABASE_URL: databaseUrl } });
    const url = await loopback.listening();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(url).not.toMatch(/:0$/);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);

    const everywhere = orbit({ env: { DATABASE_URL: databaseUrl, HOST: '0.0.0.0' } });
    const match = await everywhere.waitFor(/listening on http:\/\/0\.0\.0\.0:(\d+) \(all interfaces; open http:\/\/localhost:(\d+)\)/);
    const port = match[1] as string;
    expect(match[2]).toBe(port);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    expect((await loopback.stop()).code).toBe(0);
    expect((await everywhere.stop()).code).toBe(0);
  });
});

describe.skipIf(!onLinux)('defect 11: orbit killed with SIGKILL leaves an orphan that never stops', () => {
  it('the Orbit process that bin/orbit.js started ends when the launcher is SIGKILLed', { timeout: 90_000 }, async () => {
    // The launcher re-runs Orbit with its V8 flag when it was started without it.
    const run = startOrbit({ via: 'bin', args: ['worker'], nodeArgs: [], env: orbitEnv({ DATABASE_URL: await createTestDatabase() }) });
    await run.waitFor(/delivery worker running/);
    const [real] = childrenOf(run.pid);
    expect(real).toBeDefined();
    expect(cmdline(real as number)).toContain('main.ts worker');
    run.kill();
    await run.exit;
    await expect.poll(() => alive(real as number), { timeout: 15_000, interval: 100 }).toBe(false);
  });

  it('orbit serve under the launcher: its children, its database helper and PostgreSQL all end with it', { timeout: 90_000 }, async () => {
    const dataDir = join(privateDir(), 'data');
    const run = startOrbit({ via: 'bin', args: ['serve'], nodeArgs: [], env: orbitEnv({ ORBIT_DATA_DIR: dataDir }) });
    await run.listening();
    const [supervisor] = childrenOf(run.pid);
    const family = [supervisor as number, ...childrenOf(supervisor as number)];
    const postmaster = Number(readFileSync(join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
    expect(family.length).toBeGreaterThanOrEqual(4);
    run.kill();
    await run.exit;
    await expect.poll(() => [...family, postmaster].filter(alive), { timeout: 30_000, interval: 200 }).toEqual([]);
  });

  it(
    'a worker whose database goes away keeps trying, one line per kind of error and interval, and delivers again once it is back',
    { timeout: 120_000 },
    async () => {
      const dataDir = privateDir();
      const port = await freePort();
      let pg = await startEmbeddedPostgres({ dataDir, port });
      cleanups.push(() => pg.stop());
      const run = orbit({ args: ['worker'], env: { DATABASE_URL: pg.url, ORBIT_RETRY_SCHEDULE: '500ms' } });
      await run.waitFor(/delivery worker running/);
      const mark = run.stdout.length;
      await pg.stop();
      await new Promise((resolve) => setTimeout(resolve, 15_000));
      const whileDown = run.stdout.slice(mark).split('\n').filter(Boolean);
      expect(run.exited).toBe(false);
      // pg-boss and the worker's fetch loops each say it once, not once per poll (~50 lines here).
      expect(whileDown.length, whileDown.join('\n')).toBeLessThanOrEqual(8);
      expectTidyOutput(run);

      pg = await startEmbeddedPostgres({ dataDir, port });
      const hook = await receiver([200]);
      const writer = await startDeliveryHarness({ databaseUrl: pg.url, worker: false });
      cleanups.push(() => writer.close());
      const tenant = await createTenant(writer);
      await queueMessage(writer, { tenantId: tenant.tenantId, url: hook.url });
      await hook.waitForRequests(1, 30_000);
      expect((await run.stop()).code).toBe(0);
    },
  );

  it('orbit serve whose embedded PostgreSQL dies stops with one clear line and exit code 1', { timeout: 90_000 }, async () => {
    const dataDir = join(privateDir(), 'data');
    const run = orbit({ env: { ORBIT_DATA_DIR: dataDir } });
    await run.listening();
    const postmaster = Number(readFileSync(join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
    process.kill(postmaster, 'SIGKILL');
    const timer = setTimeout(() => run.kill(), 40_000);
    const exit = await run.exit;
    clearTimeout(timer);
    expect(exit.code).toBe(1);
    expect(run.stderr.split('\n').filter(Boolean)[0]).toMatch(
      /^orbit: embedded PostgreSQL: PostgreSQL stopped by itself \(signal SIGKILL\).*: stopping/,
    );
    expectTidyOutput(run);
  });
});

// ---------------------------------------------------------------------------------------------

describe.skipIf(!onLinux)('orbit serve: the supervisor', () => {
  it(
    'runs the API and the worker in child processes; a fresh event reaches the receiver within milliseconds',
    { timeout: 90_000 },
    async () => {
      const hook = await receiver([200]);
      const run = orbit({ env: { DATABASE_URL: await createTestDatabase(), ORBIT_API_PROCESSES: '1', ORBIT_WORKER_PROCESSES: '1' } });
      const base = await run.listening();
      expect(run.stdout).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+ with 1 API and 1 delivery worker process\n/);
      const roles = childrenOf(run.pid).map((pid) => cmdline(pid));
      expect(roles.filter((line) => line.includes('main.ts api'))).toHaveLength(1);
      expect(roles.filter((line) => line.includes('main.ts worker'))).toHaveLength(1);

      // At idle, one event at a time: from the report being sent to the receiver.
      const latencies: number[] = [];
      for (let index = 0; index < 5; index++) {
        const created = await api<{ id: string }>(base, 'POST', '/v1/runs', {
          workflowId: 'wf_latency',
          webhook: { url: hook.url, events: ['run.started'] },
        });
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        const before = hook.requests.length;
        const sentAt = Date.now();
        expect((await api(base, 'POST', `/v1/runs/${created.body.id}/events`, { type: 'run.started' })).status).toBe(202);
        await hook.waitForRequests(before + 1, 5_000);
        latencies.push((hook.requests[before]?.receivedAt ?? 0) - sentAt);
      }
      latencies.sort((a, b) => a - b);
      console.info(`orbit serve, API and worker in separate processes: event reported → delivered ${latencies.join(', ')} ms`);
      expect(latencies[2]).toBeLessThan(250);
      expect((await run.stop()).code).toBe(0);
    },
  );

  it('restarts a crashed child (logged in one line); its children end when it is killed', { timeout: 90_000 }, async () => {
    const hook = await receiver([200]);
    const run = orbit({ env: { DATABASE_URL: await createTestDatabase(), ORBIT_API_PROCESSES: '2', ORBIT_WORKER_PROCESSES: '1' } });
    const base = await run.listening();
    const workerOf = (): number | undefined => childrenOf(run.pid).find((pid) => cmdline(pid).includes('main.ts worker'));
    const first = workerOf() as number;
    process.kill(first, 'SIGKILL');
    const [line] = await run.waitFor(/.*delivery worker process 1 exited unexpectedly \(signal SIGKILL\); restarting in 500 ms.*/);
    expect(line.length).toBeLessThan(600);
    await expect.poll(() => workerOf() !== undefined && workerOf() !== first, { timeout: 20_000 }).toBe(true);
    // The new worker delivers; /metrics (served by either API child) counts every child's work.
    await reportOneEvent(base, hook.url);
    await hook.waitForRequests(1, 20_000);
    await expect
      .poll(
        async () => /orbit_attempts_total\{outcome="succeeded",error_kind="none"\} 1/.test(await (await fetch(`${base}/metrics`)).text()),
        {
          timeout: 10_000,
        },
      )
      .toBe(true);

    const children = childrenOf(run.pid);
    expect(children).toHaveLength(3);
    run.kill();
    await run.exit;
    await expect.poll(() => children.filter(alive), { timeout: 10_000, interval: 100 }).toEqual([]);
  });
});
