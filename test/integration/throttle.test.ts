/**
 * Throttling (README, "Delivery control"): `throttleRate` (messages per second) on an endpoint, on
 * its application, or on a run's webhook, enforced across workers through PostgreSQL. Throttled
 * messages wait and all arrive; waiting is never an attempt nor a failure. The rate's accuracy with
 * 1, 2 and 4 worker processes is measured by bench/throttle.ts, not here.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ingestAppMessage } from '../../src/services/event-ingest.ts';
import { createRun, recordEvent } from '../../src/services/runs.ts';
import { createTestDatabase } from '../support/database.ts';
import { createAppEndpoint, createTenant, startDeliveryHarness, type DeliveryHarness } from '../support/delivery-fixtures.ts';
import { startFakeReceiver, type FakeReceiver } from '../support/fake-receiver.ts';

let h: DeliveryHarness;
let second: DeliveryHarness;
let tenantId: string;
const receivers: FakeReceiver[] = [];

beforeAll(async () => {
  const url = await createTestDatabase();
  // Two workers with connections of their own, as two processes.
  h = await startDeliveryHarness({ databaseUrl: url });
  second = await startDeliveryHarness({ databaseUrl: url });
  tenantId = (await createTenant(h)).tenantId;
});

afterAll(async () => {
  await Promise.all(receivers.map((receiver) => receiver.close()));
  await second?.close();
  await h?.close();
});

async function receiver(): Promise<FakeReceiver> {
  const r = await startFakeReceiver({ script: [200] });
  receivers.push(r);
  return r;
}

async function send(appId: string, count: number): Promise<void> {
  await Promise.all(
    Array.from({ length: count }, (_, index) =>
      ingestAppMessage(h.deps, tenantId, appId, { eventType: 'user.created', eventId: null, channels: null, payload: `{"n":${index}}` }),
    ),
  );
}

/** The most arrivals in any window of `ms` that starts at an arrival. */
function busiest(times: readonly number[], ms: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while ((sorted[j] as number) < (sorted[i] as number) - ms + 1) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

const arrivals = (r: FakeReceiver): number[] => r.requests.map((request) => request.receivedAt);

it(
  'an endpoint throttled to 20/s receives at most 20 a second across two workers, and everything arrives',
  { timeout: 30_000 },
  async () => {
    const r = await receiver();
    const { appId, endpointId } = await createAppEndpoint(h.db, { tenantId, url: r.url, throttleRate: 20 });
    const COUNT = 150;
    await send(appId, COUNT);
    await r.waitForRequests(COUNT, 20_000);
    const times = arrivals(r);
    const seconds = (Math.max(...times) - Math.min(...times)) / 1000;
    console.log(
      `throttle 20/s, 2 workers: ${COUNT} in ${seconds.toFixed(2)} s; busiest 1 s: ${busiest(times, 1_000)}, busiest 5 s: ${busiest(times, 5_000)}`,
    );
    // 150 slots 50 ms apart span 7.45 s; the busiest 5 s holds 100 (±10 % allowed for timing on a
    // busy machine), the busiest second 20 (a little more allowed).
    expect(seconds).toBeGreaterThan(7);
    expect(busiest(times, 5_000)).toBeLessThanOrEqual(110);
    expect(busiest(times, 1_000)).toBeLessThanOrEqual(24);
    // Waiting for a slot is not an attempt: one attempt each, all succeeded.
    await expect
      .poll(
        async () =>
          (
            await h.sql`select count(*)::int as n, sum(attempt_count)::int as attempts, count(*) filter (where status = 'succeeded')::int as ok
            from deliveries where endpoint_id = ${endpointId}`
          )[0],
      )
      .toEqual({ n: COUNT, attempts: COUNT, ok: COUNT });
  },
);

it("an endpoint without a rate of its own takes its application's; its own rate wins over the application's", async () => {
  const slow = await receiver();
  const fast = await receiver();
  const { appId } = await createAppEndpoint(h.db, { tenantId, url: slow.url, appThrottleRate: 10 });
  await createAppEndpoint(h.db, { tenantId, url: fast.url, appId, throttleRate: 100 });
  await send(appId, 30);
  await Promise.all([slow.waitForRequests(30, 10_000), fast.waitForRequests(30, 10_000)]);
  const span = (r: FakeReceiver): number => (Math.max(...arrivals(r)) - Math.min(...arrivals(r))) / 1000;
  // 30 slots 100 ms apart span 2.9 s; at 100/s, 0.29 s. A closed second holds 11 slots, and on a
  // busy machine one late attempt next to an on-time one makes 12 (20 % over, as the test above allows).
  expect(span(slow)).toBeGreaterThan(2.7);
  expect(busiest(arrivals(slow), 1_000)).toBeLessThanOrEqual(12);
  expect(span(fast)).toBeLessThan(1.5);
});

it('a run webhook with throttleRate is throttled too', async () => {
  const r = await receiver();
  const { run } = await createRun(h.deps, tenantId, {
    workflowId: 'wf_throttled',
    webhook: { url: r.url, events: ['run.started', 'node.completed', 'run.completed'], metadata: null, headers: {}, throttleRate: 4 },
  });
  await recordEvent(h.deps, tenantId, run.id, { type: 'run.started' });
  for (let n = 0; n < 6; n++) await recordEvent(h.deps, tenantId, run.id, { type: 'node.completed', data: { nodeId: `n${n}` } });
  await recordEvent(h.deps, tenantId, run.id, { type: 'run.completed' });
  await r.waitForRequests(8, 10_000);
  const times = arrivals(r);
  // 8 slots 250 ms apart span 1.75 s.
  expect((Math.max(...times) - Math.min(...times)) / 1000).toBeGreaterThan(1.6);
  expect(busiest(times, 1_000)).toBeLessThanOrEqual(5);
});
