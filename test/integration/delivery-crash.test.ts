import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { createTestDatabase } from '../support/database.ts';
import { startFakeReceiver } from '../support/fake-receiver.ts';
import { createTenant, queueMessages, startDeliveryHarness, type DeliveryHarness } from '../support/delivery-fixtures.ts';

const CHILD = fileURLToPath(new URL('../support/delivery-child.ts', import.meta.url));
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

  const child = spawn(process.execPath, [CHILD, url], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`worker child exited with ${code}`)));
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      if (line === 'READY') resolve();
    });
  });
  const ids = await queueMessages(
    writer,
    Array.from({ length: 20 }, () => ({ tenantId: tenant.tenantId, url: receiver.url })),
  );
  await receiver.waitForRequests(20, 10_000);
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));

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
