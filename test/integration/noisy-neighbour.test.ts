/**
 * Noisy neighbours (issue 5 item 4), scaled down for test time: a receiver taking 3 s per answer
 * with 500 messages queued for it, a per-origin cap of 8 and 64 slots. Fresh events for a fast
 * receiver must still arrive within one second, and the slow origin never has more than 8 in flight.
 */
import http from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { analyzeDeliveryQueues } from '../../src/queue/boss.ts';
import { startDeliveryWorker, type DeliveryWorker } from '../../src/worker/delivery-worker.ts';
import { startFakeReceiver, type FakeReceiver } from '../support/fake-receiver.ts';
import {
  createTenant,
  queueGroupedMessages,
  startDeliveryHarness,
  type DeliveryHarness,
  type TenantFixture,
} from '../support/delivery-fixtures.ts';

// The full-size case of the issue (10 s, 5,000 messages) runs with NOISY_SLOW_MS=10000 NOISY_BACKLOG=5000.
const SLOW_MS = Number(process.env['NOISY_SLOW_MS'] ?? 3_000);
const BACKLOG = Number(process.env['NOISY_BACKLOG'] ?? 500);
const PER_ORIGIN = 8;

let h: DeliveryHarness;
let worker: DeliveryWorker;
let tenant: TenantFixture;
let fast: FakeReceiver;
let slow: { url: string; inFlight: number; maxInFlight: number; received: number; close(): Promise<void> };

/** Answers after SLOW_MS and counts the requests it holds at once. */
async function startSlowReceiver(): Promise<typeof slow> {
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => {
    req.resume();
    state.inFlight++;
    state.received++;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    const timer = setTimeout(() => {
      timers.delete(timer);
      state.inFlight--;
      res.writeHead(200).end();
    }, SLOW_MS);
    timers.add(timer);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  const state = {
    url: `http://127.0.0.1:${address.port}/slow`,
    inFlight: 0,
    maxInFlight: 0,
    received: 0,
    async close() {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return state;
}

async function queue(url: string, count: number): Promise<string[]> {
  const ids = await queueGroupedMessages(h, tenant.tenantId, url, count);
  worker.wake();
  return ids;
}

beforeAll(async () => {
  // The deadline is well past the slow answer: it succeeds (a timeout would add retries, capped apart).
  h = await startDeliveryHarness({ worker: false, deliveryTimeoutMs: 3 * SLOW_MS });
  worker = await startDeliveryWorker(h.deps, { concurrency: 64, maxPerOrigin: PER_ORIGIN, claims: h.claims });
  tenant = await createTenant(h);
  fast = await startFakeReceiver({ script: [200] });
  slow = await startSlowReceiver();
});

afterAll(async () => {
  await slow?.close();
  await worker?.stop();
  await fast?.close();
  await h?.close();
});

it('a slow receiver with a backlog does not delay fresh events for a fast one', async () => {
  await queue(slow.url, BACKLOG);
  await analyzeDeliveryQueues(h.boss);
  // The slow origin is at its cap, with the rest of its backlog queued ahead of anything new.
  await expect.poll(() => slow.inFlight, { timeout: 5_000 }).toBe(PER_ORIGIN);

  const latencies: number[] = [];
  // Over two full rounds of slow answers, so slots turn over while fresh events come in.
  for (let i = 0; i < Math.ceil((2 * SLOW_MS) / 500); i++) {
    const before = fast.requests.length;
    const started = Date.now();
    const [id] = await queue(fast.url, 1);
    const [request] = (await fast.waitForRequests(before + 1, 5_000)).slice(before);
    expect(request?.headers['svix-id']).toBe(id);
    latencies.push((request?.receivedAt ?? Number.NaN) - started);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  expect(Math.max(...latencies)).toBeLessThan(1_000);
  // The cap held the whole time and the backlog is being worked through, PER_ORIGIN at a time.
  expect(slow.maxInFlight).toBe(PER_ORIGIN);
  expect(slow.received).toBeGreaterThanOrEqual(2 * PER_ORIGIN);
  console.log(`noisy neighbour: fast-receiver latency max ${Math.max(...latencies)} ms, slow origin max in flight ${slow.maxInFlight}`);
}, 60_000);

it('a burst of fast events arrives at once while the slow origin stays at its cap', async () => {
  const before = fast.requests.length;
  const started = Date.now();
  await queue(fast.url, 20);
  await fast.waitForRequests(before + 20, 5_000);
  expect((fast.requests.at(-1)?.receivedAt ?? Number.POSITIVE_INFINITY) - started).toBeLessThan(1_000);
  expect(slow.inFlight).toBeLessThanOrEqual(PER_ORIGIN);
});
