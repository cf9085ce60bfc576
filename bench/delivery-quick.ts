/**
 * A quick measure of the delivery engine alone (not the full benchmark): one worker draining N
 * queued messages to a local receiver, and enqueue-to-receipt latency of single fresh messages.
 *   node bench/delivery-quick.ts [messages=5000]
 */
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { startEmbeddedPostgres } from '../src/db/embedded.ts';
import { migrateDatabase } from '../src/db/migrate.ts';
import { createTenant, queueMessage, queueMessages, samplePayload, startDeliveryHarness } from '../test/support/delivery-fixtures.ts';

const count = Number(process.argv[2] ?? 5000);
const dataDir = mkdtempSync(join(tmpdir(), 'orbit-bench-'));
const pg = await startEmbeddedPostgres({ dataDir });
const url = pg.url.replace(/\/postgres$/, '/orbit_bench');
const admin = postgres(pg.url, { max: 1, onnotice: () => {} });
await admin.unsafe('create database orbit_bench');
await migrateDatabase(url);

// A minimal receiver: counts, remembers arrival times by svix-id, answers 200.
let received = 0;
const arrivals = new Map<string, number>();
let onArrival: (() => void) | null = null;
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    received++;
    arrivals.set(String(req.headers['svix-id']), performance.now());
    res.writeHead(200).end('ok');
    onArrival?.();
  });
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const address = server.address();
if (address === null || typeof address === 'string') throw new Error('no address');
const target = `http://127.0.0.1:${address.port}/hook`;

const h = await startDeliveryHarness({
  databaseUrl: url,
  retrySchedule: [5000],
  retryJitter: 0,
  deliveryTimeoutMs: 30_000,
  concurrency: 256,
});
const tenant = await createTenant(h);

async function commits(): Promise<number> {
  const [row] = await admin`select xact_commit::int as n from pg_stat_database where datname = 'orbit_bench'`;
  return (row?.n as number | undefined) ?? 0;
}

// Warm-up (connections, JIT of the hot path).
await queueMessages(
  h,
  Array.from({ length: 200 }, () => ({ tenantId: tenant.tenantId, url: target })),
);
while (received < 200) await new Promise((resolve) => setTimeout(resolve, 20));

// Latency: one fresh message at a time, from the start of the enqueue transaction to receipt.
const latencies: number[] = [];
for (let i = 0; i < 50; i++) {
  const started = performance.now();
  const arrived = new Promise<void>((resolve) => {
    onArrival = resolve;
  });
  const id = await queueMessage(h, { tenantId: tenant.tenantId, url: target, payload: samplePayload() });
  await arrived;
  latencies.push((arrivals.get(id) ?? Number.NaN) - started);
  await new Promise((resolve) => setTimeout(resolve, 20));
}
onArrival = null;
latencies.sort((a, b) => a - b);
const pct = (p: number): string => (latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0).toFixed(1);

// Throughput: N messages committed at once, drained by the worker already running.
const before = received;
const commitsBefore = await commits();
const enqueueStarted = performance.now();
await queueMessages(
  h,
  Array.from({ length: count }, () => ({ tenantId: tenant.tenantId, url: target })),
);
const enqueued = performance.now();
while (received - before < count) await new Promise((resolve) => setTimeout(resolve, 10));
const delivered = performance.now();
for (;;) {
  const [row] = await h.sql`select count(*)::int as n from deliveries where status = 'pending'`;
  if ((row?.n as number) === 0) break;
  await new Promise((resolve) => setTimeout(resolve, 10));
}
const recorded = performance.now();
const commitsAfter = await commits();

const seconds = (recorded - enqueued) / 1000;
console.log(
  JSON.stringify(
    {
      messages: count,
      enqueueMs: Math.round(enqueued - enqueueStarted),
      receivedAllMs: Math.round(delivered - enqueued),
      recordedAllMs: Math.round(recorded - enqueued),
      deliveriesPerSecond: Math.round(count / seconds),
      transactionsPerDelivery: Number(((commitsAfter - commitsBefore) / count).toFixed(3)),
      latencyMs: { p50: pct(50), p95: pct(95), max: pct(100) },
    },
    null,
    2,
  ),
);

await h.close();
await admin.end();
server.close();
await pg.stop();
rmSync(dataDir, { recursive: true, force: true });
