import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { OrbitError } from '../../src/domain/errors.ts';
import { DELIVERY_QUEUES, deliveryJobId, enqueueDeliveries } from '../../src/queue/delivery-queue.ts';
import { prepareDeliveries, retryMessage } from '../../src/services/delivery.ts';
import { systemClock } from '../../src/lib/clock.ts';
import pkg from '../../package.json' with { type: 'json' };
import { startFakeReceiver, type FakeReceiver, type RecordedRequest, type Script } from '../support/fake-receiver.ts';
import {
  createTenant,
  getAttempts,
  getMessage,
  queueMessage,
  samplePayload,
  startDeliveryHarness,
  type DeliveryHarness,
  type TenantFixture,
} from '../support/delivery-fixtures.ts';

let h: DeliveryHarness;
let tenant: TenantFixture;
const receivers: FakeReceiver[] = [];

async function receiver(script?: Script): Promise<FakeReceiver> {
  const r = await startFakeReceiver(script ? { script } : {});
  receivers.push(r);
  return r;
}

function verifyBoth(secret: string, request: RecordedRequest): void {
  // svix 2 returns undefined; both throw on a bad signature.
  new SvixWebhook(secret).verify(request.body, request.headers);
  new StandardWebhook(secret).verify(request.body, request.headers);
}

const LADDER = [20, 20, 20, 20, 20];

beforeAll(async () => {
  h = await startDeliveryHarness({ retrySchedule: LADDER, retryJitter: 0, deliveryTimeoutMs: 1_000 });
  tenant = await createTenant(h);
});

afterEach(async () => {
  h.settings.retrySchedule = LADDER;
  h.deps.clock = systemClock;
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

afterAll(async () => {
  await h?.close();
});

async function settled(id: string): Promise<Awaited<ReturnType<typeof getMessage>>> {
  await expect.poll(async () => (await getMessage(h, id)).status, { timeout: 10_000 }).not.toBe('pending');
  return getMessage(h, id);
}

describe('the wire format', () => {
  it('sends the stored body bytes unchanged with svix-* and webhook-* headers that both SDKs verify', async () => {
    const r = await receiver([200]);
    const payload = samplePayload('node.completed');
    const id = await queueMessage(h, { tenantId: tenant.tenantId, url: r.url, payload, headers: { 'X-Team': 'growth', 'x-trace': 'a b' } });
    const [request] = await r.waitForRequests(1);
    expect(request).toBeDefined();
    if (!request) return;

    expect(request.method).toBe('POST');
    expect(request.path).toBe('/hook');
    expect(request.body).toBe(payload);
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['user-agent']).toBe(`Orbit/${pkg.version}`);
    expect(request.headers['x-team']).toBe('growth');
    expect(request.headers['x-trace']).toBe('a b');
    expect(request.headers['svix-id']).toBe(id);
    for (const part of ['id', 'timestamp', 'signature']) {
      expect(request.headers[`webhook-${part}`]).toBe(request.headers[`svix-${part}`]);
    }
    const timestamp = Number(request.headers['svix-timestamp']);
    expect(Math.abs(timestamp - Date.now() / 1000)).toBeLessThan(5);
    expect(request.headers['svix-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    verifyBoth(tenant.secrets[0] as string, request);

    const message = await settled(id);
    expect(message).toMatchObject({ status: 'succeeded', attemptCount: 1, nextAttemptAt: null });
    expect(message.deliveredAt).toBeInstanceOf(Date);
    const rows = await getAttempts(h, id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      messageId: id,
      tenantId: tenant.tenantId,
      attempt: 1,
      trigger: 'scheduled',
      outcome: 'succeeded',
      responseStatus: 200,
      responseBody: '',
      errorKind: null,
      errorMessage: null,
      nextAttemptAt: null,
    });
    expect(rows[0]?.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('signs with every secret of a rotation, and each one verifies', async () => {
    const rotating = await createTenant(h, 2);
    const r = await receiver([200]);
    await queueMessage(h, { tenantId: rotating.tenantId, url: r.url });
    const [request] = await r.waitForRequests(1);
    if (!request) throw new Error('no request');
    expect(request.headers['svix-signature']?.split(' ')).toHaveLength(2);
    for (const secret of rotating.secrets) verifyBoth(secret, request);
    // Another tenant's secret never verifies.
    expect(() => new SvixWebhook(tenant.secrets[0] as string).verify(request.body, request.headers)).toThrow();
  });
});

describe('the retry ladder', () => {
  it('a receiver failing every time gets six attempts, then the message is failed with six logged rows', async () => {
    const r = await receiver([{ status: 500, body: 'boom' }]);
    const id = await queueMessage(h, { tenantId: tenant.tenantId, url: r.url });
    const message = await settled(id);
    expect(message).toMatchObject({ status: 'failed', attemptCount: 6, nextAttemptAt: null, deliveredAt: null });
    const rows = await getAttempts(h, id);
    expect(rows.map((row) => row.attempt)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const row of rows) {
      expect(row).toMatchObject({
        trigger: 'scheduled',
        outcome: 'failed',
        responseStatus: 500,
        responseBody: 'boom',
        errorKind: 'http_status',
      });
    }
    for (const row of rows.slice(0, 5)) {
      // jitter 0: exactly the 20 ms step after the attempt ended.
      const planned = (row.nextAttemptAt?.getTime() ?? 0) - row.startedAt.getTime() - row.durationMs;
      expect(planned).toBeGreaterThanOrEqual(19);
      expect(planned).toBeLessThan(100);
    }
    expect(rows[5]?.nextAttemptAt).toBeNull();
    expect(r.requests).toHaveLength(6);
    // Same id on every attempt, each signed anew and valid.
    expect(new Set(r.requests.map((q) => q.headers['svix-id']))).toEqual(new Set([id]));
    for (const q of r.requests) verifyBoth(tenant.secrets[0] as string, q);
  });

  it('succeeds on the third attempt', async () => {
    const r = await receiver([500, 503, 200]);
    const id = await queueMessage(h, { tenantId: tenant.tenantId, url: r.url });
    const message = await settled(id);
    expect(message).toMatchObject({ status: 'succeeded', attemptCount: 3, nextAttemptAt: null });
    const rows = await getAttempts(h, id);
    expect(rows.map((row) => [row.attempt, row.outcome, row.responseStatus])).toEqual([
      [1, 'failed', 500],
      [2, 'failed', 503],
      [3, 'succeeded', 200],
    ]);
    expect(rows[2]?.nextAttemptAt).toBeNull();
  });

  it('410 Gone stops the retries at once', async () => {
    const r = await receiver([410, 200]);
    const id = await queueMessage(h, { tenantId: tenant.tenantId, url: r.url });
    const message = await settled(id);
    expect(message).toMatchObject({ status: 'failed', attemptCount: 1, nextAttemptAt: null });
    const rows = await getAttempts(h, id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ responseStatus: 410, errorKind: 'http_status', nextAttemptAt: null });
  });

  it('Retry-After lengthens a delay, at most to twice the scheduled one', async () => {
    h.settings.retrySchedule = [600];
    const lengthened = await receiver([{ status: 503, headers: { 'retry-after': '1' } }, 200]);
    const capped = await receiver([{ status: 429, headers: { 'retry-after': '30' } }, 200]);
    const shorter = await receiver([{ status: 503, headers: { 'retry-after': '0' } }, 200]);
    const ids = await Promise.all([lengthened, capped, shorter].map((r) => queueMessage(h, { tenantId: tenant.tenantId, url: r.url })));
    const planned: number[] = [];
    for (const id of ids) {
      expect((await settled(id)).status).toBe('succeeded');
      const [first] = await getAttempts(h, id);
      if (!first?.nextAttemptAt) throw new Error('no retry planned');
      planned.push(first.nextAttemptAt.getTime() - first.startedAt.getTime() - first.durationMs);
    }
    const [one, two, three] = planned as [number, number, number];
    expect(one).toBeGreaterThanOrEqual(999);
    expect(one).toBeLessThan(1_050);
    expect(two).toBeGreaterThanOrEqual(1_199);
    expect(two).toBeLessThan(1_250);
    expect(three).toBeGreaterThanOrEqual(599);
    expect(three).toBeLessThan(650);
    // The second request really waited.
    const waited = (lengthened.requests[1]?.receivedAt ?? 0) - (lengthened.requests[0]?.receivedAt ?? 0);
    expect(waited).toBeGreaterThanOrEqual(990);
  });
});

describe('receiver failures', () => {
  it('a hanging receiver fails with timeout at the deadline', async () => {
    h.settings.retrySchedule = [];
    const r = await receiver([{ hang: true }]);
    const id = await queueMessage(h, { tenantId: tenant.tenantId, url: r.url });
    const message = await settled(id);
    expect(message.status).toBe('failed');
    const [row] = await getAttempts(h, id);
    expect(row).toMatchObject({ outcome: 'failed', errorKind: 'timeout', responseStatus: null, responseBody: null });
    expect(row?.durationMs).toBeGreaterThanOrEqual(950);
    expect(row?.durationMs).toBeLessThan(1_500);
  });

  it('a redirect is not followed and counts as a failure', async () => {
    h.settings.retrySchedule = [];
    const target = await receiver([200]);
    const r = await receiver([{ redirect: target.url, status: 302 }]);
    const id = await queueMessage(h, { tenantId: tenant.tenantId, url: r.url });
    expect((await settled(id)).status).toBe('failed');
    const [row] = await getAttempts(h, id);
    expect(row).toMatchObject({ outcome: 'failed', errorKind: 'redirect', responseStatus: 302 });
    expect(target.requests).toHaveLength(0);
  });

  it('a 1 MiB answer is stored as its first 64 KiB', async () => {
    const r = await receiver([{ bigBody: 1024 * 1024 }]);
    const id = await queueMessage(h, { tenantId: tenant.tenantId, url: r.url });
    expect((await settled(id)).status).toBe('succeeded');
    const [row] = await getAttempts(h, id);
    expect(row?.responseBody?.length).toBe(64 * 1024);
    expect(row?.responseBody).toMatch(/^x+$/);
  });

  it('a refused connection is a connection failure', async () => {
    h.settings.retrySchedule = [];
    const r = await receiver([200]);
    const url = r.url;
    await r.close();
    receivers.splice(receivers.indexOf(r), 1);
    const id = await queueMessage(h, { tenantId: tenant.tenantId, url });
    expect((await settled(id)).status).toBe('failed');
    const [row] = await getAttempts(h, id);
    expect(row).toMatchObject({ errorKind: 'connection', responseStatus: null });
  });
});

describe('idempotence', () => {
  it('the retry job id is deterministic, so a repeated enqueue is a no-op', async () => {
    const r = await receiver([200]);
    const id = await queueMessage(h, { tenantId: tenant.tenantId, url: r.url });
    await settled(id);
    const { endpointId } = await getMessage(h, id);
    const job = { messageId: id, endpointId, step: 2, trigger: 'scheduled' as const, startAfter: new Date(Date.now() + 3_600_000) };
    expect(deliveryJobId(job)).toBe(deliveryJobId({ ...job }));
    // Twice inside transactions (as after a crash between record and completion), once outside.
    for (let i = 0; i < 2; i++) await h.db.transaction((tx) => enqueueDeliveries(h.boss, [job], { drizzle: tx }));
    await enqueueDeliveries(h.boss, [job]);
    const jobs = await h.boss.findJobs(DELIVERY_QUEUES.retry, { data: { messageId: id } });
    expect(jobs).toHaveLength(1);
    expect(jobs[0]?.id).toBe(deliveryJobId(job));
  });

  it('a stale job does not send a message again', async () => {
    const r = await receiver([200]);
    const id = await queueMessage(h, { tenantId: tenant.tenantId, url: r.url });
    await settled(id);
    // A duplicate first-step job under another id (as a recovery sweep might send): fetched and skipped.
    const jobId = await h.boss.send(DELIVERY_QUEUES.first, { messageId: id, step: 1, trigger: 'scheduled' });
    if (jobId === null) throw new Error('no job');
    expect((await h.boss.findJobs(DELIVERY_QUEUES.first, { id: jobId }))[0]?.state).toBe('created');
    h.deps.onEnqueued();
    // Settled jobs are deleted, stale ones as well as attempted ones.
    await expect.poll(async () => h.boss.findJobs(DELIVERY_QUEUES.first, { id: jobId }), { timeout: 5_000 }).toEqual([]);
    expect(await h.boss.findJobs(DELIVERY_QUEUES.first, { data: { messageId: id } })).toEqual([]);
    expect(r.requests).toHaveLength(1);
    expect(await getAttempts(h, id)).toHaveLength(1);

    // A step already made on a message still pending is stale too.
    const pending = await receiver([500]);
    h.settings.retrySchedule = [3_600_000];
    const other = await queueMessage(h, { tenantId: tenant.tenantId, url: pending.url });
    await expect.poll(async () => (await getMessage(h, other)).attemptCount).toBe(1);
    const prepared = await prepareDeliveries(h.deps, [
      { jobId: 'a', messageId: other, step: 1, trigger: 'scheduled' },
      { jobId: 'b', messageId: id, step: 2, trigger: 'scheduled' },
    ]);
    expect(prepared.ready).toEqual([]);
    expect(prepared.released).toEqual([]);
    expect(prepared.skipped.map((job) => job.jobId)).toEqual(['a', 'b']);
    expect(pending.requests).toHaveLength(1);
  });
});

describe('manual retry', () => {
  it('makes one attempt with the same id and a fresh signature, without restarting the ladder', async () => {
    const r = await receiver([410, 500, 200]);
    const id = await queueMessage(h, { tenantId: tenant.tenantId, url: r.url });
    expect((await settled(id)).status).toBe('failed');

    // A failed manual attempt: logged, status kept, nothing planned.
    expect(await retryMessage(h.deps, id)).toMatchObject({ messageId: id, status: 'queued' });
    await expect.poll(async () => (await getAttempts(h, id)).length).toBe(2);
    expect(await getMessage(h, id)).toMatchObject({ status: 'failed', attemptCount: 2, nextAttemptAt: null });

    // Signed at the attempt: a clock 10 s ahead shows in the timestamp.
    h.deps.clock = { now: () => new Date(Date.now() + 10_000) };
    await retryMessage(h.deps, id);
    await expect.poll(async () => (await getMessage(h, id)).status).toBe('succeeded');
    const message = await getMessage(h, id);
    expect(message).toMatchObject({ attemptCount: 3, nextAttemptAt: null });
    expect(message.deliveredAt).toBeInstanceOf(Date);

    const rows = await getAttempts(h, id);
    expect(rows.map((row) => [row.attempt, row.trigger, row.outcome, row.nextAttemptAt])).toEqual([
      [1, 'scheduled', 'failed', null],
      [2, 'manual', 'failed', null],
      [3, 'manual', 'succeeded', null],
    ]);
    expect(r.requests).toHaveLength(3);
    const [first, , third] = r.requests as [RecordedRequest, RecordedRequest, RecordedRequest];
    expect(third.headers['svix-id']).toBe(id);
    expect(Number(third.headers['svix-timestamp']) - Number(first.headers['svix-timestamp'])).toBeGreaterThanOrEqual(9);
    expect(third.headers['svix-signature']).not.toBe(first.headers['svix-signature']);
    verifyBoth(tenant.secrets[0] as string, third);
  });

  it('an unknown message is not_found', async () => {
    await expect(retryMessage(h.deps, 'msg_doesnotexist')).rejects.toSatisfy(
      (error) => error instanceof OrbitError && error.code === 'not_found',
    );
  });
});

describe('shutdown', () => {
  it('stop() lets an attempt in flight finish and records it', async () => {
    const r = await receiver([{ delayMs: 300, then: 200 }]);
    const id = await queueMessage(h, { tenantId: tenant.tenantId, url: r.url });
    await r.waitForRequests(1);
    await h.worker?.stop();
    // Recorded by the time stop() resolves: nothing polled after it.
    expect(await getMessage(h, id)).toMatchObject({ status: 'succeeded', attemptCount: 1 });
    expect(await getAttempts(h, id)).toHaveLength(1);
  });
});
