/**
 * A delivery worker killed with SIGKILL in the middle of a fan-out (issue 10): messages sent with the
 * official `svix` SDK to an application with 10 endpoints, the worker killed while hundreds of their
 * deliveries are in flight, more messages sent while no worker runs; a new worker delivers every
 * message to every endpoint, each signed with that endpoint's secret, and nothing is lost.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Webhook } from 'svix';
import { afterAll, expect, it } from 'vitest';
import { createTestDatabase } from '../support/database.ts';
import { startFakeReceiver } from '../support/fake-receiver.ts';
import { startSvixServer } from '../support/svix-server.ts';

const CHILD = fileURLToPath(new URL('../support/fault-worker-child.ts', import.meta.url));
const cleanups: (() => Promise<unknown>)[] = [];

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

function spawnWorker(url: string, concurrency: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CHILD, url, String(concurrency)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`worker child exited with ${code}`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (line === 'READY') resolve(child);
    });
  });
}

it('a worker killed with SIGKILL mid-fan-out loses nothing: every message reaches all 10 endpoints after a restart', async () => {
  const ENDPOINTS = 10;
  const BEFORE = 40;
  const AFTER = 10;
  const url = await createTestDatabase();
  // Slow answers before the kill, so the attempts are in flight when it lands; quick ones after.
  let killed = false;
  const receiver = await startFakeReceiver({ script: () => (killed ? 200 : { delayMs: 5_000, then: 200 }) });
  cleanups.push(() => receiver.close());
  const s = await startSvixServer({ databaseUrl: url, worker: false, deliveryTimeoutMs: 10_000 });
  cleanups.push(() => s.close());

  const app = await s.svix.application.create({ name: 'Crash', uid: 'crash' });
  const secrets = new Map<string, string>();
  for (let i = 0; i < ENDPOINTS; i++) {
    const endpoint = await s.svix.endpoint.create(app.id, { url: `${receiver.url}?endpoint=${i}` });
    secrets.set(`/hook?endpoint=${i}`, (await s.svix.endpoint.getSecret(app.id, endpoint.id)).key);
  }

  const child = await spawnWorker(url, 512);
  cleanups.push(async () => void child.kill('SIGKILL'));
  const sent: string[] = [];
  for (let i = 0; i < BEFORE; i++) sent.push((await s.svix.message.create(app.id, { eventType: 'order.paid', payload: { i } })).id);
  await receiver.waitForRequests(200, 20_000);
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  // Requests the worker sent just before it died may still be on their way to the receiver: they
  // were in flight too. Count once no more arrive (the dead process sends nothing new).
  let inFlight = -1;
  for (const stopAt = Date.now() + 3_000; inFlight !== receiver.requests.length && Date.now() < stopAt;) {
    inFlight = receiver.requests.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  killed = true;
  // Accepted while no worker runs: durable all the same.
  for (let i = 0; i < AFTER; i++) sent.push((await s.svix.message.create(app.id, { eventType: 'order.paid', payload: { after: i } })).id);

  // A new worker: the dead one's jobs come back once their heartbeat is stale (10-20 s).
  const restarted = await spawnWorker(url, 256);
  cleanups.push(async () => void restarted.kill('SIGKILL'));
  const total = sent.length * ENDPOINTS;
  const succeeded = async () =>
    (await s.h.sql<{ n: number }[]>`select count(*)::int as n from deliveries where status = 'succeeded'`)[0]?.n ?? 0;
  await expect.poll(succeeded, { timeout: 60_000, interval: 500 }).toBe(total);
  const [{ n: deliveries } = { n: 0 }] = await s.h.sql<{ n: number }[]>`select count(*)::int as n from deliveries`;
  expect(deliveries).toBe(total);

  // Every message reached every endpoint, signed with that endpoint's own secret, under its svix-id.
  const pairs = new Set<string>();
  for (const request of receiver.requests) {
    new Webhook(secrets.get(request.path) as string).verify(request.body, request.headers);
    pairs.add(`${request.headers['svix-id']} ${request.path}`);
  }
  const expected = new Set(sent.flatMap((id) => [...secrets.keys()].map((path) => `${id} ${path}`)));
  expect(pairs).toEqual(expected);
  // Only what was in flight at the kill can arrive twice.
  const duplicates = receiver.requests.length - pairs.size;
  expect(duplicates).toBeLessThanOrEqual(inFlight);
  console.log(`SIGKILL mid-fan-out: ${inFlight} attempts in flight, ${total} deliveries, ${duplicates} duplicates (same svix-id)`);
}, 120_000);
