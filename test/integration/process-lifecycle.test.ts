/**
 * Orbit's process life cycle as users met it (issue 14): real processes, real signals, real
 * PostgreSQL (Orbit's own embedded one under private temp folders, or the suite's server).
 * Each test is named after the defect it pins; supervision and orphans are in
 * process-supervision.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { postgresPackage } from '../../src/db/postgres-binaries.ts';
import { createTestDatabase } from '../support/database.ts';
import {
  api,
  asRoot,
  blockedPort,
  childrenOf,
  cleanUp,
  cmdline,
  expectTidyOutput,
  onLinux,
  orbit,
  privateDir,
  receiver,
  reportOneEvent,
} from '../support/lifecycle.ts';

afterAll(cleanUp);

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
