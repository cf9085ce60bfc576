/**
 * Process and database faults (issue 5 item 3), with real processes and a real PostgreSQL:
 * a worker killed by SIGKILL with ~2,000 attempts in flight, PostgreSQL restarted under load, and
 * the database unreachable behind the API. Duplicates (same svix-id) are counted and bounded.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOrbit, type OrbitProcess } from '../../scripts/lib/orbit-process.ts';
import { createApp } from '../../src/api/app.ts';
import { openDatabase } from '../../src/db/client.ts';
import { freePort, startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/db/embedded.ts';
import { migrateDatabase } from '../../src/db/migrate.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { createBoss, startBoss } from '../../src/queue/boss.ts';
import { DELIVERY_QUEUES } from '../../src/queue/delivery-queue.ts';
import { bootstrap } from '../../src/services/bootstrap.ts';
import {
  attemptDelivery,
  prepareDeliveries,
  recordDeliveries,
  type AttemptResult,
  type PreparedDeliveries,
} from '../../src/services/delivery.ts';
import { createServiceDeps } from '../../src/services/deps.ts';
import { startDeliveryWorker } from '../../src/worker/delivery-worker.ts';
import { createTestDatabase } from '../support/database.ts';
import {
  createTenant,
  getAttempts,
  getMessage,
  queueGroupedMessages,
  queueMessage,
  startDeliveryHarness,
  LOOPBACK,
  type DeliveryHarness,
} from '../support/delivery-fixtures.ts';
import { startFakeReceiver, type FakeReceiver, type RecordedRequest } from '../support/fake-receiver.ts';

const CHILD = fileURLToPath(new URL('../support/fault-worker-child.ts', import.meta.url));
const cleanups: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

function duplicates(requests: readonly RecordedRequest[]): number {
  return requests.length - new Set(requests.map((request) => request.headers['svix-id'])).size;
}

async function statusCounts(h: DeliveryHarness): Promise<Record<string, number>> {
  const rows = await h.sql<{ status: string; n: number }[]>`select status, count(*)::int as n from deliveries group by status`;
  return Object.fromEntries(rows.map((row) => [row.status, row.n]));
}

/**
 * A worker process sized for thousands of attempts in flight to one origin, more than `orbit
 * worker` allows per origin (ORBIT_MAX_CONNECTIONS_PER_ORIGIN is at most 1,000).
 */
async function spawnWorker(url: string, concurrency: number): Promise<OrbitProcess> {
  const child = startOrbit({ script: CHILD, args: [url, String(concurrency)], nodeArgs: [], stderr: 'inherit' });
  await child.waitFor(/^READY$/m, 30_000);
  return child;
}

it('a worker killed with SIGKILL while ~2,000 attempts are in flight loses nothing after a restart', async () => {
  const COUNT = 2_000;
  const url = await createTestDatabase();
  // Slow answers before the kill, so every attempt is in flight when it lands; quick ones after.
  let killed = false;
  const receiver = await startFakeReceiver({ script: () => (killed ? 200 : { delayMs: 5_000, then: 200 }) });
  cleanups.push(() => receiver.close());
  const writer = await startDeliveryHarness({ databaseUrl: url, worker: false, deliveryTimeoutMs: 10_000 });
  cleanups.push(() => writer.close());
  const tenant = await createTenant(writer);

  const child = await spawnWorker(url, COUNT);
  cleanups.push(async () => child.kill());
  const ids = await queueGroupedMessages(writer, tenant.tenantId, receiver.url, COUNT);
  await receiver.waitForRequests(COUNT, 20_000);
  const inFlight = receiver.requests.length - ((await statusCounts(writer))['succeeded'] ?? 0);
  child.kill();
  await child.exit;
  killed = true;

  // A new worker: the dead one's jobs come back once their heartbeat is stale (10-20 s).
  const restarted = await spawnWorker(url, 256);
  cleanups.push(async () => restarted.kill());
  await expect.poll(async () => (await statusCounts(writer))['succeeded'] ?? 0, { timeout: 45_000, interval: 500 }).toBe(COUNT);
  expect(await statusCounts(writer)).toEqual({ succeeded: COUNT });
  expect(new Set(receiver.requests.map((request) => request.headers['svix-id']))).toEqual(new Set(ids));
  const seen = duplicates(receiver.requests);
  // Only what was in flight at the kill can arrive twice, and each of those at most once more.
  expect(seen).toBeLessThanOrEqual(inFlight);
  console.log(`SIGKILL: ${inFlight} attempts in flight at the kill, ${seen} duplicates (same svix-id) after the restart`);
}, 90_000);

/** Makes the prepared attempts one after the other, as a worker would; answers what they produced. */
async function attemptAll(h: DeliveryHarness, prepared: PreparedDeliveries): Promise<AttemptResult[]> {
  const results: AttemptResult[] = [];
  for (const ready of prepared.ready) {
    const result = await attemptDelivery(h.deps, ready);
    if (result !== null) results.push(result);
  }
  return results;
}

it('a record written again after its commit went unanswered (the database going away) writes nothing twice and does not fail', async () => {
  const url = await createTestDatabase();
  const h = await startDeliveryHarness({ databaseUrl: url, worker: false, retrySchedule: [60_000] });
  cleanups.push(() => h.close());
  const tenant = await createTenant(h);
  const ok = await startFakeReceiver({ script: [200] });
  const failing = await startFakeReceiver({ script: [500] });
  cleanups.push(
    () => ok.close(),
    () => failing.close(),
  );
  const succeeded = await queueMessage(h, { tenantId: tenant.tenantId, url: ok.url });
  const retried = await queueMessage(h, { tenantId: tenant.tenantId, url: failing.url });

  // One success alone (recorded by one statement), one failure with its retry (a transaction).
  for (const [jobId, messageId] of [
    ['job-a', succeeded],
    ['job-b', retried],
  ] as const) {
    const results = await attemptAll(h, await prepareDeliveries(h.deps, [{ jobId, messageId, step: 1, trigger: 'scheduled' }]));
    expect(results).toHaveLength(1);
    await recordDeliveries(h.deps, results);
    // The worker writes the same batch again when the commit's answer was lost.
    await recordDeliveries(h.deps, results, { again: true });
  }

  expect(await getMessage(h, succeeded)).toMatchObject({ status: 'succeeded', attemptCount: 1 });
  expect(await getMessage(h, retried)).toMatchObject({ status: 'pending', attemptCount: 1 });
  expect((await getAttempts(h, succeeded)).map((row) => row.attempt)).toEqual([1]);
  expect((await getAttempts(h, retried)).map((row) => row.attempt)).toEqual([1]);
  const [steps] = await h.sql<{ steps: number }[]>`select steps from deliveries where message_id = ${retried}`;
  expect(steps?.steps).toBe(1);
  const retries = await h.boss.findJobs(DELIVERY_QUEUES.retry, { data: { messageId: retried } });
  expect(retries.map((job) => (job.data as { step: number }).step)).toEqual([2]);
});

it('one step made twice (a claim that lapsed while the database was away) moves the schedule once: the next step still runs', async () => {
  const url = await createTestDatabase();
  const h = await startDeliveryHarness({ databaseUrl: url, worker: false, retrySchedule: [60_000, 60_000] });
  cleanups.push(() => h.close());
  const tenant = await createTenant(h);
  const failing = await startFakeReceiver({ script: [500, 500, 200] });
  cleanups.push(() => failing.close());
  const id = await queueMessage(h, { tenantId: tenant.tenantId, url: failing.url });

  // Two holders of the first step's job prepare it before either records: both send, both record.
  const first = await prepareDeliveries(h.deps, [{ jobId: 'holder-a', messageId: id, step: 1, trigger: 'scheduled' }]);
  const second = await prepareDeliveries(h.deps, [{ jobId: 'holder-b', messageId: id, step: 1, trigger: 'scheduled' }]);
  for (const prepared of [first, second]) {
    const results = await attemptAll(h, prepared);
    expect(results).toHaveLength(1);
    await recordDeliveries(h.deps, results);
  }
  expect(failing.requests).toHaveLength(2);
  expect((await getAttempts(h, id)).map((row) => row.attempt)).toEqual([1, 2]);
  const [delivery] = await h.sql<{ steps: number; status: string }[]>`select steps, status from deliveries where message_id = ${id}`;
  expect(delivery).toEqual({ steps: 1, status: 'pending' });

  // The second step's job is due, not skipped as stale: the delivery goes on along its ladder.
  const next = await prepareDeliveries(h.deps, [{ jobId: 'step-2', messageId: id, step: 2, trigger: 'scheduled' }]);
  expect(next.skipped).toEqual([]);
  expect(next.ready).toHaveLength(1);
});

describe('with a PostgreSQL of its own', () => {
  let pg: EmbeddedPostgres;
  let dataDir: string;
  let port: number;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'orbit-faults-pg-'));
    port = await freePort();
    pg = await startEmbeddedPostgres({ dataDir, port });
    const admin = postgres(pg.url, { max: 1, onnotice: () => {} });
    await admin.unsafe('create database orbit_restart');
    await admin.unsafe('create database orbit_api');
    await admin.end();
  }, 60_000);

  afterAll(async () => {
    await pg?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const urlOf = (name: string): string => pg.url.replace(/\/postgres$/, `/${name}`);

  async function restartDatabase(downMs: number): Promise<void> {
    await pg.stop();
    await new Promise((resolve) => setTimeout(resolve, downMs));
    pg = await startEmbeddedPostgres({ dataDir, port });
  }

  it('PostgreSQL restarted mid-load: the worker reconnects by itself and every message is delivered', async () => {
    const COUNT = 1_000;
    const url = urlOf('orbit_restart');
    await migrateDatabase(url);
    const receiver: FakeReceiver = await startFakeReceiver({ script: [{ delayMs: 50, then: 200 }] });
    cleanups.push(() => receiver.close());
    const h = await startDeliveryHarness({ databaseUrl: url, worker: false, deliveryTimeoutMs: 5_000 });
    cleanups.push(() => h.close());
    const worker = await startDeliveryWorker(h.deps, { concurrency: 64, maxPerOrigin: 16, claims: h.claims });
    cleanups.push(() => worker.stop());
    const tenant = await createTenant(h);

    const ids = await queueGroupedMessages(h, tenant.tenantId, receiver.url, COUNT);
    worker.wake();
    await receiver.waitForRequests(COUNT / 5, 20_000);
    await restartDatabase(2_000);

    await expect
      .poll(async () => (await statusCounts(h).catch(() => ({}) as Record<string, number>))['succeeded'] ?? 0, {
        timeout: 50_000,
        interval: 500,
      })
      .toBe(COUNT);
    expect(await statusCounts(h)).toEqual({ succeeded: COUNT });
    expect(new Set(receiver.requests.map((request) => request.headers['svix-id']))).toEqual(new Set(ids));
    console.log(`PostgreSQL restart: ${COUNT} delivered, ${duplicates(receiver.requests)} duplicates (same svix-id)`);
  }, 90_000);

  it('the database unreachable: the API answers 503 service_unavailable and /readyz fails, then both recover', async () => {
    const url = urlOf('orbit_api');
    await migrateDatabase(url);
    const database = openDatabase(url, { poolSize: 5 });
    const boss = createBoss({ connectionString: url, poolSize: 3, logger: silentLogger });
    await startBoss(boss, { deliveryTimeoutMs: 5_000 });
    cleanups.push(async () => {
      await boss.stop({ graceful: false, timeout: 2_000 });
      await database.close();
    });
    const deps = createServiceDeps(
      { db: database.db, sql: database.sql, boss },
      {
        logger: silentLogger,
        encryptionKey: undefined,
        delivery: { retrySchedule: [1_000], retryJitter: 0, deliveryTimeoutMs: 5_000 },
        webhookRules: { allowHttp: true, allowPrivateNetworks: LOOPBACK },
      },
    );
    const adminKey = 'gx_faults_test_admin_key_0123456789';
    await bootstrap(deps, { adminKey });
    const app = createApp({ services: deps, logger: silentLogger, version: '0.0.0-test' });
    const call = async (method: string, path: string, body?: unknown) => {
      const response = await app.request(path, {
        method,
        headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: response.status, body: (await response.json()) as { error?: { code: string; message: string; requestId: string } } };
    };
    const run = { workflowId: 'wf_faults', webhook: { url: 'http://127.0.0.1:9/hook' } };

    expect((await call('GET', '/readyz')).status).toBe(200);
    expect((await call('POST', '/v1/runs', run)).status).toBe(201);

    await pg.stop();
    const ready = await call('GET', '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.error?.code).toBe('service_unavailable');
    for (const [method, path, body] of [
      ['GET', '/v1/runs', undefined],
      ['POST', '/v1/runs', run],
      ['GET', '/v1/admin/tenants', undefined],
    ] as const) {
      const answer = await call(method, path, body);
      expect(answer.status, `${method} ${path}`).toBe(503);
      expect(answer.body.error).toMatchObject({ code: 'service_unavailable', requestId: expect.any(String) });
      // No connection string, address or driver detail in the answer.
      expect(answer.body.error?.message).not.toMatch(/127\.0\.0\.1|postgres|ECONN/i);
    }

    pg = await startEmbeddedPostgres({ dataDir, port });
    await expect.poll(async () => (await call('GET', '/readyz')).status, { timeout: 20_000, interval: 250 }).toBe(200);
    await expect.poll(async () => (await call('GET', '/v1/runs')).status, { timeout: 20_000, interval: 250 }).toBe(200);
    expect((await call('POST', '/v1/runs', run)).status).toBe(201);
  }, 60_000);
});
