/**
 * The `orbit` command as users run it: real processes of `node src/main.ts …`, real PostgreSQL
 * (the suite's server, or Orbit's own embedded one under a temp data dir), real signals.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { killAllOrbits, startOrbit, type OrbitProcess } from '../../scripts/lib/orbit-process.ts';
import { freePort } from '../../src/db/embedded.ts';
import { createEmptyDatabase, createTestDatabase } from '../support/database.ts';

const SERVE_TIMEOUT = 90_000;

type Orbit = OrbitProcess;

const tempDirs: string[] = [];

// A test that failed half-way must not leave an Orbit (and its database) running. Per file, not
// per test: the concurrent tests below would otherwise kill each other's processes.
afterAll(() => {
  killAllOrbits();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function orbit(args: readonly string[], env: Record<string, string> = {}, via: 'main' | 'bin' = 'main'): Orbit {
  return startOrbit({ args, via, env: { HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env } });
}

async function exitOf(run: Orbit, timeoutMs = 60_000): Promise<number | null> {
  const timer = setTimeout(() => run.kill(), timeoutMs);
  const { code } = await run.exit;
  clearTimeout(timer);
  return code;
}

/** A data dir in a `mktemp -d` folder (mode 0700, out of reach of PostgreSQL's own user when we are root). */
function tempDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'orbit-cli-'));
  tempDirs.push(dir);
  return join(dir, 'data');
}

/** Waits for the start line, then for /readyz; returns the base URL. */
async function ready(run: Orbit): Promise<string> {
  const url = await run.listening(60_000);
  await expect.poll(async () => (await fetch(`${url}/readyz`)).status, { timeout: 10_000, interval: 50 }).toBe(200);
  return url;
}

function generatedKeys(stdout: string): string[] {
  return [...stdout.matchAll(/Admin API key \(shown once\): (gx_\S+)/g)].map((match) => match[1] as string);
}

function postmasterPid(dataDir: string): number {
  return Number(readFileSync(join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function embeddedEnv(dataDir: string, pgPort: number): Record<string, string> {
  return { ORBIT_DATA_DIR: dataDir, ORBIT_EMBEDDED_PG_PORT: String(pgPort) };
}

async function stopWithSignal(run: Orbit, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  run.child.kill(signal);
  const code = await exitOf(run);
  expect(code, `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`).toBe(0);
}

describe.concurrent('orbit CLI: usage', () => {
  it('--help prints the commands and exits 0', async () => {
    const run = orbit(['--help']);
    expect(await exitOf(run)).toBe(0);
    for (const command of ['serve', 'api', 'worker', 'migrate']) expect(run.stdout).toContain(command);
  });

  it('an unknown command prints usage on stderr and exits 2', async () => {
    const run = orbit(['launch']);
    expect(await exitOf(run)).toBe(2);
    expect(run.stderr).toContain('unknown command: launch');
    expect(run.stderr).toContain('Usage: orbit');
    expect(run.stdout).toBe('');
  });

  it('no command at all is a usage error too', async () => {
    const run = orbit([]);
    expect(await exitOf(run)).toBe(2);
    expect(run.stderr).toContain('Usage: orbit');
  });

  it('the package bin runs the same CLI', async () => {
    const run = orbit(['--help'], {}, 'bin');
    expect(await exitOf(run)).toBe(0);
    expect(run.stdout).toContain('Usage: orbit');
  });
});

describe.concurrent('orbit CLI: configuration errors stop the process with one clear line', () => {
  it.each([
    ['PORT', 'eighty', 'an integer port from 0 to 65535'],
    ['ORBIT_RETRY_SCHEDULE', '5s,soon', 'a comma list of durations'],
    ['ORBIT_DELIVERY_TIMEOUT', '30', 'a duration from 100ms to 5m'],
    ['ORBIT_ALLOW_PRIVATE_NETWORKS', '10.0.0.0/99', 'a comma list of CIDRs'],
    ['LOG_LEVEL', 'chatty', 'one of fatal, error, warn, info, debug, trace, silent'],
  ])('%s=%s exits 1 naming the variable, the value and what is accepted', async (variable, value, accepted) => {
    const run = orbit(['serve'], { [variable]: value });
    expect(await exitOf(run)).toBe(1);
    expect(run.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(run.stderr).toMatch(new RegExp(`^orbit: invalid configuration: ${variable}=`));
    expect(run.stderr).toContain(`${variable}=${JSON.stringify(value)}: expected ${accepted}`);
    expect(run.stdout).toBe('');
  });

  it.each([
    ['ORBIT_SIGNING_SECRET', 'whsec_ThisIsMySecretAndItIsNotBase64!'],
    ['ORBIT_ADMIN_KEY', 'my-very-secret-admin-password'],
  ])('a bad %s is named but its value is never echoed', async (variable, value) => {
    const run = orbit(['serve'], { [variable]: value });
    expect(await exitOf(run)).toBe(1);
    expect(run.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(run.stderr).toMatch(new RegExp(`^orbit: invalid configuration: ${variable}=<redacted`));
    expect(run.stderr).not.toContain(value);
    expect(run.stderr).not.toContain('Secret');
    expect(run.stdout).toBe('');
  });
});

describe.concurrent('orbit migrate', () => {
  it('applies the migrations to an empty database and exits 0', async () => {
    const url = await createEmptyDatabase();
    const run = orbit(['migrate'], { DATABASE_URL: url });
    expect(await exitOf(run), run.stderr).toBe(0);
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    const tables = await sql`select table_name from information_schema.tables where table_schema = 'public'`;
    await sql.end();
    expect(tables.map((t) => t.table_name)).toEqual(expect.arrayContaining(['tenants', 'runs', 'messages', 'attempts']));
  });

  it('three concurrent runs all exit 0', async () => {
    const url = await createEmptyDatabase();
    const runs = [0, 1, 2].map(() => orbit(['migrate'], { DATABASE_URL: url }));
    const codes = await Promise.all(runs.map((run) => exitOf(run)));
    expect(codes, runs.map((run) => run.stderr).join('\n')).toEqual([0, 0, 0]);
  });

  it('an unreachable database exits 1 with the reason', async () => {
    const port = await freePort();
    const run = orbit(['migrate'], { DATABASE_URL: `postgres://orbit:pw@127.0.0.1:${port}/orbit` });
    expect(await exitOf(run)).toBe(1);
    expect(run.stderr).toContain('ECONNREFUSED');
  });

  it('with no DATABASE_URL migrates the embedded database and stops it', { timeout: SERVE_TIMEOUT }, async () => {
    const dataDir = tempDataDir();
    const run = orbit(['migrate'], embeddedEnv(dataDir, await freePort()));
    expect(await exitOf(run), run.stderr).toBe(0);
    expect(existsSync(join(dataDir, 'pg', 'PG_VERSION'))).toBe(true);
    expect(existsSync(join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);
  });
});

describe('orbit serve with the embedded database', () => {
  it(
    'answers /healthz and /readyz, prints a generated admin key once, exits 0 on SIGTERM and stops its database',
    { timeout: SERVE_TIMEOUT },
    async () => {
      const dataDir = tempDataDir();
      const pgPort = await freePort();
      const first = orbit(['serve'], embeddedEnv(dataDir, pgPort));
      const url = await ready(first);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      expect(first.stdout).toContain(String(pgPort));

      const keys = generatedKeys(first.stdout);
      expect(keys).toHaveLength(1);
      const adminKey = keys[0] as string;
      // Shown once: not repeated in any log line.
      expect(first.stdout.split(adminKey)).toHaveLength(2);
      expect(first.stderr).not.toContain(adminKey);

      const pid = postmasterPid(dataDir);
      expect(alive(pid)).toBe(true);
      await stopWithSignal(first);
      await expect.poll(() => alive(pid), { timeout: 10_000 }).toBe(false);

      // Same data dir: the data (and so the key) survive, and no new key is printed.
      const second = orbit(['serve'], embeddedEnv(dataDir, await freePort()));
      const secondUrl = await ready(second);
      expect(generatedKeys(second.stdout)).toEqual([]);
      const tenants = await fetch(`${secondUrl}/v1/admin/tenants`, { headers: { authorization: `Bearer ${adminKey}` } });
      expect(tenants.status).toBe(200);
      const wrongKey = await fetch(`${secondUrl}/v1/admin/tenants`, { headers: { authorization: `Bearer ${adminKey}x` } });
      expect(wrongKey.status).toBe(401);
      await stopWithSignal(second);
    },
  );

  it('starts right after an Orbit on the same data dir was killed with SIGKILL', { timeout: SERVE_TIMEOUT }, async () => {
    const dataDir = tempDataDir();
    const first = orbit(['serve'], embeddedEnv(dataDir, await freePort()));
    await ready(first);
    const adminKey = generatedKeys(first.stdout)[0] as string;
    first.child.kill('SIGKILL');
    await first.exit;

    const second = orbit(['serve'], embeddedEnv(dataDir, await freePort()));
    const url = await ready(second);
    const tenants = await fetch(`${url}/v1/admin/tenants`, { headers: { authorization: `Bearer ${adminKey}` } });
    expect(tenants.status).toBe(200);
    await stopWithSignal(second);
  });

  it.skipIf(!existsSync('/proc/self/task'))(
    'starts when an earlier Orbit and its database helper died but PostgreSQL itself is still running',
    { timeout: SERVE_TIMEOUT },
    async () => {
      const dataDir = tempDataDir();
      const first = orbit(['serve'], embeddedEnv(dataDir, await freePort()));
      await ready(first);
      const pid = first.child.pid as number;
      const helpers = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
      const orphan = postmasterPid(dataDir);
      // Kill Orbit and the helper that would stop PostgreSQL: the postmaster is left running.
      first.child.kill('SIGKILL');
      for (const helper of helpers) process.kill(helper, 'SIGKILL');
      await first.exit;
      expect(alive(orphan)).toBe(true);

      const second = orbit(['serve'], embeddedEnv(dataDir, await freePort()));
      await ready(second);
      expect(alive(orphan)).toBe(false);
      expect(postmasterPid(dataDir)).not.toBe(orphan);
      await stopWithSignal(second);
    },
  );

  it('a crash after the database started exits 1 and stops the database', { timeout: SERVE_TIMEOUT }, async () => {
    const dataDir = tempDataDir();
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const address = blocker.address();
    const taken = typeof address === 'object' && address !== null ? address.port : 0;
    try {
      const run = orbit(['serve'], { ...embeddedEnv(dataDir, await freePort()), PORT: String(taken) });
      expect(await exitOf(run)).toBe(1);
      expect(run.stderr).toContain('EADDRINUSE');
      expect(existsSync(join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});

describe('orbit serve with DATABASE_URL', () => {
  it('serves a test database and exits 0 on SIGTERM', { timeout: SERVE_TIMEOUT }, async () => {
    const url = await createTestDatabase();
    const run = orbit(['serve'], { DATABASE_URL: url });
    const base = await ready(run);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(generatedKeys(run.stdout)).toHaveLength(1);
    await stopWithSignal(run);
  });

  it('with ORBIT_ADMIN_KEY set prints no generated key and accepts that key', { timeout: SERVE_TIMEOUT }, async () => {
    const url = await createTestDatabase();
    const adminKey = 'gx_cli_test_admin_key_0123456789';
    const run = orbit(['serve'], { DATABASE_URL: url, ORBIT_ADMIN_KEY: adminKey });
    const base = await ready(run);
    expect(generatedKeys(run.stdout)).toEqual([]);
    expect(run.stdout).not.toContain(adminKey);
    const tenants = await fetch(`${base}/v1/admin/tenants`, { headers: { authorization: `Bearer ${adminKey}` } });
    expect(tenants.status).toBe(200);
    await stopWithSignal(run);
  });

  it.each([
    ['api', 'SIGTERM'],
    ['worker', 'SIGINT'],
  ] as const)('orbit %s starts and exits 0 on %s', { timeout: SERVE_TIMEOUT }, async (command, signal) => {
    const url = await createTestDatabase();
    const run = orbit([command], { DATABASE_URL: url });
    if (command === 'api') {
      await ready(run);
    } else {
      await expect.poll(() => run.exited || run.stdout.includes('delivery worker running'), { timeout: 60_000 }).toBe(true);
      expect(run.exited, run.stderr).toBe(false);
    }
    await stopWithSignal(run, signal);
  });
});
