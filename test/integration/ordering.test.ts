/**
 * Ordered delivery (README, "Delivery control"): a run webhook with `"ordered": true` gets its
 * run's messages one at a time, in the order they were accepted, with the head holding the line
 * through its retries; recover and manual retry keep the order; several worker processes, a worker
 * killed with SIGKILL and a PostgreSQL restart do not break it. Receivers check the order they see.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { killAllOrbits, startOrbit, type OrbitProcess } from '../../scripts/lib/orbit-process.ts';
import { freePort, startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/db/embedded.ts';
import { migrateDatabase } from '../../src/db/migrate.ts';
import type { ReportedEvent } from '../../src/domain/run.ts';
import { getMessage as getLoggedMessage } from '../../src/services/delivery-log.ts';
import { recover } from '../../src/services/recovery.ts';
import { createTenant as createAdminTenant, issueApiKey } from '../../src/services/tenants.ts';
import { createRun, recordEvent } from '../../src/services/runs.ts';
import { createTestDatabase } from '../support/database.ts';
import { createTenant, startDeliveryHarness, type DeliveryHarness } from '../support/delivery-fixtures.ts';
import { startFakeReceiver } from '../support/fake-receiver.ts';
import { logApi } from '../support/log-app.ts';
import { orderViolations, startOrderReceiver } from '../support/order-receiver.ts';

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  killAllOrbits();
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

const ALL_EVENTS = ['run.started', 'node.completed', 'node.failed', 'run.completed', 'run.failed', 'run.canceled'];
/** A run's events, in the order they are reported. */
const RUN_EVENTS: ReportedEvent[] = [
  { type: 'run.started' },
  { type: 'node.completed', data: { nodeId: 'node_1' } },
  { type: 'node.completed', data: { nodeId: 'node_2' } },
  { type: 'node.completed', data: { nodeId: 'node_3' } },
  { type: 'run.completed' },
];

async function orderedRun(h: DeliveryHarness, tenantId: string, url: string, ordered = true): Promise<string> {
  const { run } = await createRun(h.deps, tenantId, {
    workflowId: 'wf_ordered',
    webhook: { url, events: ALL_EVENTS, metadata: null, headers: {}, ordered },
  });
  return run.id;
}

/** Reports the run's events one after the other; returns their message ids in order. */
async function report(h: DeliveryHarness, tenantId: string, runId: string): Promise<string[]> {
  const ids: string[] = [];
  for (const event of RUN_EVENTS) ids.push((await recordEvent(h.deps, tenantId, runId, event)).messageId as string);
  return ids;
}

async function statusCounts(sql: postgres.Sql): Promise<Record<string, number>> {
  const rows = await sql<{ status: string; n: number }[]>`select status, count(*)::int as n from deliveries group by status`;
  return Object.fromEntries(rows.map((row) => [row.status, row.n]));
}

describe('one worker', () => {
  it('sends one message at a time in order; a failing head holds the line through its retries, the log shows the rest waiting', async () => {
    const h = await startDeliveryHarness({ retrySchedule: [300, 300, 300] });
    cleanups.push(() => h.close());
    const { tenantId } = await createTenant(h);
    // The first message fails three times, then succeeds; the others succeed at once.
    const receiver = await startFakeReceiver({ script: [500, 500, 500, 200] });
    cleanups.push(() => receiver.close());
    const runId = await orderedRun(h, tenantId, receiver.url);
    const ids = await report(h, tenantId, runId);

    // While the head retries, the others wait without an attempt, and the log says why.
    await receiver.waitForRequests(2, 5_000);
    const waiting = await getLoggedMessage(h.deps, ids[2] as string);
    expect(waiting.status).toBe('pending');
    expect(waiting.attemptCount).toBe(0);
    expect(waiting.nextAttemptAt).toBeNull();
    expect(waiting.waitingReason).toContain(`waiting behind ${ids[0]}`);

    await receiver.waitForRequests(3 + RUN_EVENTS.length, 10_000);
    const seen = receiver.requests.map((request) => request.headers['svix-id']);
    expect(seen).toEqual([ids[0], ids[0], ids[0], ...ids]);
    await expect.poll(async () => statusCounts(h.sql), { timeout: 5_000 }).toEqual({ succeeded: RUN_EVENTS.length });
    const [endpoint] = await h.sql`select head_message_id from endpoints where run_id = ${runId}`;
    expect(endpoint?.head_message_id ?? null).toBeNull();
  });

  it('keeps the order through exhausted messages, recover and a manual retry of a waiting message', async () => {
    const h = await startDeliveryHarness({ retrySchedule: [] });
    cleanups.push(() => h.close());
    const { tenantId } = await createTenant(h);
    let down = true;
    const receiver = await startOrderReceiver({ delayMs: 20 });
    cleanups.push(() => receiver.close());
    const failing = await startFakeReceiver({ script: () => (down ? 503 : 200) });
    cleanups.push(() => failing.close());
    // The retry below goes through the admin API, whose answer names where the message waits.
    const admin = await createAdminTenant(h.deps, 'ordered-retry');
    const adminCall = logApi(h.deps, (await issueApiKey(h.deps, admin.id, 'admin')).apiKey);
    const since = new Date(Date.now() - 1_000);
    const runId = await orderedRun(h, tenantId, failing.url);
    const ids = await report(h, tenantId, runId);
    // No retries: each fails once, ends failed, and the next one goes.
    await expect.poll(async () => statusCounts(h.sql), { timeout: 10_000 }).toEqual({ failed: RUN_EVENTS.length });
    expect(failing.requests.map((request) => request.headers['svix-id'])).toEqual(ids);

    // Recovered, they wait in line again: one head at a time, in creation order.
    down = false;
    failing.requests.length = 0;
    failing.setScript([{ delayMs: 100, then: 200 }]);
    const accepted = await recover(h.deps, { since });
    expect(accepted.recovered).toBe(RUN_EVENTS.length);
    await accepted.finished;
    // A manual retry of a message waiting its turn adds no attempt: it goes in its turn, once.
    const last = ids.at(-1) as string;
    if ((await getLoggedMessage(h.deps, last)).waitingReason !== null) {
      const retried = await adminCall('POST', `/v1/admin/messages/${last}/retry`);
      expect(retried.status).toBe(202);
      expect(retried.body).toEqual({ messageId: last, status: 'queued', waitingAt: [expect.stringMatching(/^ep_/)] });
    }
    await expect.poll(async () => statusCounts(h.sql), { timeout: 10_000 }).toEqual({ succeeded: RUN_EVENTS.length });
    expect(failing.requests.map((request) => request.headers['svix-id'])).toEqual(ids);
  });

  it('unordered webhooks keep sending a run’s messages in parallel', async () => {
    const h = await startDeliveryHarness();
    cleanups.push(() => h.close());
    const { tenantId } = await createTenant(h);
    const receiver = await startOrderReceiver({ delayMs: 300 });
    cleanups.push(() => receiver.close());
    const runId = await orderedRun(h, tenantId, receiver.url, false);
    await report(h, tenantId, runId);
    await expect.poll(() => receiver.unique(), { timeout: 5_000 }).toBe(RUN_EVENTS.length);
    expect(receiver.inFlight.max).toBeGreaterThan(1);
  });
});

// ---------------------------------------------------------------------------------------------

const ADMIN_KEY = 'gx_ordering_test_admin_key_0123456789';

function orbit(role: 'api' | 'worker', databaseUrl: string): OrbitProcess {
  return startOrbit({
    args: [role],
    env: {
      DATABASE_URL: databaseUrl,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'warn',
      ORBIT_ADMIN_KEY: ADMIN_KEY,
      ORBIT_ALLOW_HTTP: 'true',
      ORBIT_ALLOW_PRIVATE_NETWORKS: '127.0.0.0/8',
      ORBIT_RETRY_SCHEDULE: '200ms,400ms,800ms,1s,1s',
      ORBIT_RETRY_JITTER: '0',
      ORBIT_WORKER_CONCURRENCY: '16',
    },
  });
}

async function call(base: string, path: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = (await response.json()) as Record<string, unknown>;
  if (response.status >= 300) throw new Error(`${path}: ${response.status} ${JSON.stringify(answer)}`);
  return answer;
}

describe.skipIf(process.platform !== 'linux')('two worker processes', () => {
  it('every run’s events arrive in order under load, through a worker killed with SIGKILL', { timeout: 90_000 }, async () => {
    const RUNS = 40;
    const databaseUrl = await createTestDatabase();
    const api = orbit('api', databaseUrl);
    const base = await api.listening(60_000);
    const workers = [orbit('worker', databaseUrl), orbit('worker', databaseUrl)];
    await Promise.all(workers.map((worker) => worker.waitFor(/delivery worker running/, 60_000)));
    // A fifth of first attempts fail (retried 200 ms later, holding their run's line meanwhile).
    const receiver = await startOrderReceiver({ failFirst: () => Math.random() < 0.2, delayMs: () => Math.random() * 15 });
    cleanups.push(() => receiver.close());

    const sequences: string[][] = [];
    const runAll = (count: number): Promise<void[]> =>
      Promise.all(
        Array.from({ length: count }, async (_, index) => {
          const run = await call(base, '/v1/runs', { workflowId: `wf_${index % 4}`, webhook: { url: receiver.url, ordered: true } });
          const ids: string[] = [];
          sequences.push(ids);
          for (const event of RUN_EVENTS) ids.push((await call(base, `/v1/runs/${String(run.id)}/events`, event)).messageId as string);
        }),
      );
    // Half the runs, then one worker dies with its claims (they come back after its heartbeat) while
    // the other half arrives.
    await runAll(RUNS / 2);
    await expect.poll(() => receiver.unique(), { timeout: 20_000, interval: 10 }).toBeGreaterThanOrEqual(RUNS);
    workers[0]?.kill();
    await runAll(RUNS / 2);
    const total = RUNS * RUN_EVENTS.length;
    await expect.poll(() => receiver.unique(), { timeout: 60_000, interval: 200 }).toBe(total);
    expect(orderViolations(receiver.arrivals, sequences)).toEqual([]);
    const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
    cleanups.push(() => sql.end());
    await expect.poll(async () => statusCounts(sql), { timeout: 10_000 }).toEqual({ succeeded: total });
    console.log(`ordered, 2 workers, one killed: ${total} messages, ${receiver.arrivals.length - total} repeats, in order`);
  });
});

describe('with a PostgreSQL of its own', () => {
  let pg: EmbeddedPostgres | undefined;
  let dataDir: string | undefined;
  cleanups.push(async () => {
    await pg?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('every run’s events arrive in order through a PostgreSQL restart, with two workers', { timeout: 90_000 }, async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'orbit-ordering-pg-'));
    const port = await freePort();
    pg = await startEmbeddedPostgres({ dataDir, port });
    const admin = postgres(pg.url, { max: 1, onnotice: () => {} });
    await admin.unsafe('create database orbit_ordering');
    await admin.end();
    const url = pg.url.replace(/\/postgres$/, '/orbit_ordering');
    await migrateDatabase(url);

    const h = await startDeliveryHarness({ databaseUrl: url, retrySchedule: [200, 400, 800, 1_000, 1_000], deliveryTimeoutMs: 5_000 });
    cleanups.push(() => h.close());
    // A second worker with connections of its own, as another process would have.
    const second = await startDeliveryHarness({ databaseUrl: url, retrySchedule: [200, 400, 800, 1_000, 1_000], deliveryTimeoutMs: 5_000 });
    cleanups.push(() => second.close());
    const { tenantId } = await createTenant(h);
    const receiver = await startOrderReceiver({ failFirst: () => Math.random() < 0.1, delayMs: () => 5 + Math.random() * 20 });
    cleanups.push(() => receiver.close());

    const RUNS = 40;
    const sequences = await Promise.all(
      Array.from({ length: RUNS }, async () => report(h, tenantId, await orderedRun(h, tenantId, receiver.url))),
    );
    const total = RUNS * RUN_EVENTS.length;
    await expect.poll(() => receiver.unique(), { timeout: 20_000, interval: 20 }).toBeGreaterThan(total / 4);
    await pg.stop();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    pg = await startEmbeddedPostgres({ dataDir, port });

    await expect.poll(() => receiver.unique(), { timeout: 60_000, interval: 200 }).toBe(total);
    expect(orderViolations(receiver.arrivals, sequences)).toEqual([]);
    await expect.poll(async () => statusCounts(h.sql).catch(() => ({})), { timeout: 20_000, interval: 200 }).toEqual({ succeeded: total });
    console.log(`ordered, PostgreSQL restart: ${total} messages, ${receiver.arrivals.length - total} repeats, in order`);
  });
});
