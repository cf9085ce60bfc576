/**
 * Orbit's process life cycle as users met it (issue 14), continued: no Orbit runs on unsupervised
 * or without its database forever (defect 11), and `orbit serve` supervises its API and delivery
 * worker processes. Real processes, real signals, real PostgreSQL.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startOrbit } from '../../scripts/lib/orbit-process.ts';
import { freePort, startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { createTestDatabase } from '../support/database.ts';
import { createTenant, queueMessage, startDeliveryHarness } from '../support/delivery-fixtures.ts';
import {
  alive,
  api,
  childrenOf,
  cleanUp,
  cleanups,
  cmdline,
  expectTidyOutput,
  onLinux,
  orbit,
  orbitEnv,
  privateDir,
  receiver,
  reportOneEvent,
} from '../support/lifecycle.ts';

afterAll(cleanUp);

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
      await new Promise((resolve) => setTimeout(resolve, 10_000));
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
        await new Promise((resolve) => setTimeout(resolve, 400));
        const before = hook.requests.length;
        const sentAt = Date.now();
        expect((await api(base, 'POST', `/v1/runs/${created.body.id}/events`, { type: 'run.started' })).status).toBe(202);
        await hook.waitForRequests(before + 1, 5_000);
        latencies.push((hook.requests[before]?.receivedAt ?? 0) - sentAt);
      }
      latencies.sort((a, b) => a - b);
      console.info(`orbit serve, API and worker in separate processes: event reported → delivered ${latencies.join(', ')} ms`);
      // Polling would take 0.5–1 s; a NOTIFY wakes the worker in milliseconds (room left for a busy CI machine).
      expect(latencies[2]).toBeLessThan(400);
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
