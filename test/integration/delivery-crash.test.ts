import { afterAll, expect, it } from 'vitest';
import { startOrbit } from '../../scripts/lib/orbit-process.ts';
import { createTestDatabase } from '../support/database.ts';
import { startFakeReceiver } from '../support/fake-receiver.ts';
import { createTenant, queueMessages, startDeliveryHarness, type DeliveryHarness } from '../support/delivery-fixtures.ts';

const cleanups: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

it('a worker killed with SIGKILL mid-batch loses nothing: every message is delivered after a restart', async () => {
  const url = await createTestDatabase();
  // The first 20 requests are slow, so the kill lands while the whole batch is in flight.
  const receiver = await startFakeReceiver({ script: (_request, index) => (index < 20 ? { delayMs: 2_000, then: 200 } : 200) });
  cleanups.push(() => receiver.close());

  // Rows and jobs written from here; no worker in this process yet.
  const writer: DeliveryHarness = await startDeliveryHarness({ databaseUrl: url, worker: false });
  cleanups.push(() => writer.close());
  const tenant = await createTenant(writer);

  // A real `orbit worker` process.
  const child = startOrbit({
    args: ['worker'],
    env: {
      DATABASE_URL: url,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'warn',
      ORBIT_DELIVERY_TIMEOUT: '10s',
      ORBIT_ALLOW_HTTP: 'true',
      ORBIT_ALLOW_PRIVATE_NETWORKS: '127.0.0.0/8',
      ORBIT_WORKER_CONCURRENCY: '64',
    },
  });
  cleanups.push(async () => child.kill());
  await child.waitFor(/delivery worker running/);
  const ids = await queueMessages(
    writer,
    Array.from({ length: 20 }, () => ({ tenantId: tenant.tenantId, url: receiver.url })),
  );
  await receiver.waitForRequests(20, 10_000);
  child.kill();
  await child.exit;

  // A new worker: the dead one's jobs come back once their heartbeat is stale.
  const restarted = await startDeliveryHarness({ databaseUrl: url, deliveryTimeoutMs: 10_000 });
  cleanups.push(() => restarted.close());
  await expect
    .poll(async () => (await restarted.sql`select count(*)::int as n from deliveries where status = 'succeeded'`)[0]?.n, {
      timeout: 50_000,
      interval: 500,
    })
    .toBe(ids.length);
  // Redelivered with the same svix-id each; every message logged exactly the attempt that was recorded.
  expect(new Set(receiver.requests.map((request) => request.headers['svix-id']))).toEqual(new Set(ids));
  const counts = await restarted.sql`select attempt_count::int as n from deliveries`;
  expect(counts.every((row) => row.n === 1)).toBe(true);
}, 70_000);
