import { eq, inArray } from 'drizzle-orm';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attempts, deliveries, messages } from '../../src/db/schema.ts';
import { SIGNING_SECRET_RULE, generateSigningSecret, signPayload } from '../../src/domain/signing.ts';
import { DELIVERY_QUEUES } from '../../src/queue/delivery-queue.ts';
import { recover } from '../../src/services/recovery.ts';
import { deleteExpired } from '../../src/services/retention.ts';
import { currentSigningSecret, signingSecretsFor } from '../../src/services/signing-secrets.ts';
import { rotateSigningSecret } from '../../src/services/signing-rotation.ts';
import { deliveryStats } from '../../src/services/stats.ts';
import { createTenant, issueApiKey } from '../../src/services/tenants.ts';
import { registerRetention, RETENTION_QUEUE } from '../../src/worker/retention.ts';
import { startTestApi, type CallResult, type TestApi } from '../support/api.ts';
import {
  getAttempts,
  getMessage,
  queueMessage,
  createTenant as createFixtureTenant,
  startDeliveryHarness,
} from '../support/delivery-fixtures.ts';
import { startFakeReceiver } from '../support/fake-receiver.ts';
import { insertAttempt, insertMessage, logApi, manualClock, type LogCall } from '../support/log-app.ts';

const NOW = new Date('2026-06-01T12:00:00.000Z');
const clock = manualClock(NOW);
let api: TestApi;
let call: LogCall;

beforeAll(async () => {
  api = await startTestApi({ clock });
  call = logApi(api.deps, api.adminKey);
});

afterAll(async () => {
  await api?.close();
});

const hoursAgo = (h: number) => new Date(NOW.getTime() - h * 3_600_000);

function expectError(answer: CallResult, status: number, code: string, path?: string): void {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expect(answer.body.error.code).toBe(code);
  if (path !== undefined) expect(answer.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
}

async function statusOf(ids: string[]): Promise<Record<string, string>> {
  const rows = await api.deps.db
    .select({ id: deliveries.messageId, status: deliveries.status })
    .from(deliveries)
    .where(inArray(deliveries.messageId, ids));
  return Object.fromEntries(rows.map((row) => [row.id, row.status]));
}

describe('recover', () => {
  it('re-queues the failed messages of the window in batches, each at its next ladder step', async () => {
    clock.set(NOW);
    const a = api.tenantId;
    const b = (await createTenant(api.deps, 'recover-b')).id;
    const inWindow: string[] = [];
    for (let i = 0; i < 5; i++) {
      const id = await insertMessage(api.deps.db, { tenantId: a, status: 'failed', createdAt: hoursAgo(10 - i) });
      // Two scheduled attempts and a manual one: the next ladder step is 3.
      for (const [n, trigger] of [
        [1, 'scheduled'],
        [2, 'scheduled'],
        [3, 'manual'],
      ] as const) {
        await insertAttempt(api.deps.db, {
          messageId: id,
          tenantId: a,
          attempt: n,
          trigger,
          responseStatus: 500,
          startedAt: hoursAgo(10 - i),
        });
      }
      inWindow.push(id);
    }
    const ofB = [
      await insertMessage(api.deps.db, { tenantId: b, status: 'failed', createdAt: hoursAgo(3) }),
      await insertMessage(api.deps.db, { tenantId: b, status: 'failed', createdAt: hoursAgo(3) }),
    ];
    const untouched = [
      await insertMessage(api.deps.db, { tenantId: a, status: 'failed', createdAt: hoursAgo(30) }),
      await insertMessage(api.deps.db, { tenantId: a, status: 'succeeded', createdAt: hoursAgo(5) }),
      await insertMessage(api.deps.db, { tenantId: a, status: 'pending', createdAt: hoursAgo(5) }),
    ];

    const onlyB = await recover(api.deps, { since: hoursAgo(24), tenantId: b });
    expect(onlyB.recovered).toBe(2);
    expect(await onlyB.finished).toBe(2);

    const accepted = await recover(api.deps, { since: hoursAgo(24), until: hoursAgo(1) }, { batchSize: 2 });
    expect(accepted).toMatchObject({ recovered: 5, since: hoursAgo(24).toISOString(), until: hoursAgo(1).toISOString(), tenantId: null });
    expect(await accepted.finished).toBe(5);

    const statuses = await statusOf([...inWindow, ...ofB, ...untouched]);
    for (const id of [...inWindow, ...ofB]) expect(statuses[id]).toBe('pending');
    expect(untouched.map((id) => statuses[id])).toEqual(['failed', 'succeeded', 'pending']);
    const [row] = await api.deps.db
      .select()
      .from(deliveries)
      .where(eq(deliveries.messageId, inWindow[0] as string));
    expect(row?.nextAttemptAt).toEqual(NOW);

    for (const id of inWindow) {
      const jobs = await api.deps.boss.findJobs(DELIVERY_QUEUES.retry, { data: { messageId: id } });
      expect(jobs.map((job) => job.data)).toEqual([
        { messageId: id, endpointId: expect.stringMatching(/^ep_/), step: 3, trigger: 'recover' },
      ]);
    }
    // No scheduled attempt yet: the fresh step is the first one, on the first-attempt queue.
    const firstJobs = await api.deps.boss.findJobs(DELIVERY_QUEUES.first, { data: { messageId: ofB[0] } });
    expect(firstJobs.map((job) => job.data)).toEqual([
      { messageId: ofB[0], endpointId: expect.stringMatching(/^ep_/), step: 1, trigger: 'recover' },
    ]);

    // Nothing failed is left in the window: a second recover re-queues nothing.
    const again = await recover(api.deps, { since: hoursAgo(24), until: hoursAgo(1) });
    expect(again.recovered).toBe(0);
    expect(await again.finished).toBe(0);
  });

  it('answers 0 for a window with no failures, over HTTP', async () => {
    clock.set(NOW);
    const answer = await call('POST', '/v1/admin/recover', { body: { since: '2020-01-01T00:00:00Z', until: '2020-01-02T00:00:00Z' } });
    expect(answer.status).toBe(202);
    expect(answer.body).toEqual({ recovered: 0, since: '2020-01-01T00:00:00.000Z', until: '2020-01-02T00:00:00.000Z', tenantId: null });
  });

  it('answers 202 with the count, over HTTP, and takes a duration for since', async () => {
    clock.set(NOW);
    await insertMessage(api.deps.db, { tenantId: api.tenantId, status: 'failed', createdAt: new Date(NOW.getTime() - 60_000) });
    const answer = await call('POST', '/v1/admin/recover', { body: { since: '5m' } });
    expect(answer.status).toBe(202);
    expect(answer.body).toEqual({
      recovered: 1,
      since: new Date(NOW.getTime() - 300_000).toISOString(),
      until: NOW.toISOString(),
      tenantId: null,
    });
  });

  it.each([
    [{}, 'body.since'],
    [{ since: 'last week' }, 'body.since'],
    [{ since: '2026-01-02T00:00:00Z', until: '2026-01-01T00:00:00Z' }, 'body.until'],
    [{ since: '1h', tenantId: 'ten x' }, 'body.tenantId'],
    [{ since: '0000-01-01T00:00:00Z' }, 'body.since'],
    [{ since: '9999999999d' }, 'body.since'],
    [{ since: '3000000d' }, 'body.since'],
    [{ since: '1h', until: '0000-01-01T00:00:00Z' }, 'body.until'],
  ])('answers 422 for %j', async (body, path) => {
    expectError(await call('POST', '/v1/admin/recover', { body }), 422, 'validation_failed', path);
  });

  it('answers 404 for an unknown tenant and 403 for a tenant key', async () => {
    expectError(await call('POST', '/v1/admin/recover', { body: { since: '1h', tenantId: 'ten_unknown' } }), 404, 'not_found');
    const other = await createTenant(api.deps, 'recover-key');
    expectError(await call('POST', '/v1/admin/recover', { body: { since: '1h' }, key: other.apiKey }), 403, 'forbidden');
  });
});

describe('recover with the real worker', () => {
  it('delivers a recovered message, and a message failing again ends failed, not stuck pending', async () => {
    const h = await startDeliveryHarness({ retrySchedule: [], deliveryTimeoutMs: 1_000 });
    const down = await startFakeReceiver({ script: [500] });
    const back = await startFakeReceiver({ script: [500, 200] });
    try {
      const tenant = await createFixtureTenant(h);
      const since = new Date(Date.now() - 60_000);
      const healed = await queueMessage(h, { tenantId: tenant.tenantId, url: back.url });
      const broken = await queueMessage(h, { tenantId: tenant.tenantId, url: down.url });
      const status = async (id: string) => (await getMessage(h, id)).status;
      await expect.poll(() => Promise.all([status(healed), status(broken)]), { timeout: 10_000 }).toEqual(['failed', 'failed']);

      const accepted = await recover(h.deps, { since });
      expect(accepted.recovered).toBe(2);
      await accepted.finished;
      await expect.poll(() => Promise.all([status(healed), status(broken)]), { timeout: 10_000 }).toEqual(['succeeded', 'failed']);
      expect((await getAttempts(h, healed)).map((a) => [a.attempt, a.trigger, a.outcome])).toEqual([
        [1, 'scheduled', 'failed'],
        // Regression: a recover's attempt was logged as `scheduled`.
        [2, 'recover', 'succeeded'],
      ]);
      expect((await getAttempts(h, broken)).map((a) => [a.attempt, a.trigger, a.outcome])).toEqual([
        [1, 'scheduled', 'failed'],
        [2, 'recover', 'failed'],
      ]);
      // The same svix-id on every attempt.
      expect(back.requests.map((r) => r.headers['svix-id'])).toEqual([healed, healed]);
    } finally {
      await down.close();
      await back.close();
      await h.close();
    }
  });
});

describe('manual retry through the admin API', () => {
  it('POST /v1/admin/messages/{id}/retry answers 202 and makes one manual attempt, same svix-id, fresh signature', async () => {
    const h = await startDeliveryHarness({ retrySchedule: [], deliveryTimeoutMs: 1_000 });
    const receiver = await startFakeReceiver({ script: [500, 200] });
    try {
      const tenant = await createFixtureTenant(h);
      const admin = await createTenant(h.deps, 'retry-route');
      const adminKey = (await issueApiKey(h.deps, admin.id, 'admin')).apiKey;
      const retry = logApi(h.deps, adminKey);
      const id = await queueMessage(h, { tenantId: tenant.tenantId, url: receiver.url });
      const status = async () => (await getMessage(h, id)).status;
      await expect.poll(status, { timeout: 10_000 }).toBe('failed');

      const accepted = await retry('POST', `/v1/admin/messages/${id}/retry`);
      expect(accepted.status).toBe(202);
      expect(accepted.body).toEqual({ messageId: id, status: 'queued' });
      await expect.poll(status, { timeout: 10_000 }).toBe('succeeded');
      expect((await getAttempts(h, id)).map((a) => [a.attempt, a.trigger, a.outcome])).toEqual([
        [1, 'scheduled', 'failed'],
        [2, 'manual', 'succeeded'],
      ]);
      expect(receiver.requests.map((r) => r.headers['svix-id'])).toEqual([id, id]);

      const missing = await retry('POST', '/v1/admin/messages/msg_doesnotexist000000000/retry');
      expect([missing.status, missing.body.error.code]).toEqual([404, 'not_found']);
      const tenantKey = (await issueApiKey(h.deps, admin.id, 'tenant')).apiKey;
      const refused = await retry('POST', `/v1/admin/messages/${id}/retry`, { key: tenantKey });
      expect([refused.status, refused.body.error.code]).toEqual([403, 'forbidden']);
    } finally {
      await receiver.close();
      await h.close();
    }
  });
});

describe('stats', () => {
  it('counts by status, success rate, attempts by kind, latency percentiles, oldest pending, queues', async () => {
    const own = await startTestApi({ clock });
    try {
      clock.set(NOW);
      const t = own.tenantId;
      const since = hoursAgo(24);
      const old = await insertMessage(own.deps.db, { tenantId: t, status: 'pending', createdAt: hoursAgo(48) });
      await insertMessage(own.deps.db, { tenantId: t, status: 'failed', createdAt: hoursAgo(30) });
      const ids: string[] = [];
      for (const [status, n] of [
        ['pending', 2],
        ['succeeded', 5],
        ['failed', 3],
      ] as const) {
        for (let i = 0; i < n; i++) ids.push(await insertMessage(own.deps.db, { tenantId: t, status, createdAt: hoursAgo(2) }));
      }
      // 100 attempts in the window with durations 1..100 ms; 10 before it.
      const answers = [200, 500, 302, null] as const;
      for (let i = 1; i <= 100; i++) {
        await insertAttempt(own.deps.db, {
          messageId: ids[i % ids.length] as string,
          tenantId: t,
          attempt: i,
          responseStatus: answers[i % 4] ?? null,
          startedAt: hoursAgo(1),
          durationMs: i,
        });
      }
      for (let i = 0; i < 10; i++) {
        await insertAttempt(own.deps.db, {
          messageId: old,
          tenantId: t,
          attempt: i + 1,
          responseStatus: 500,
          startedAt: hoursAgo(40),
          durationMs: 10_000,
        });
      }
      const stats = await deliveryStats(own.deps, { since });
      expect(stats).toEqual({
        since: since.toISOString(),
        until: NOW.toISOString(),
        messages: { pending: 2, succeeded: 5, failed: 3, total: 10 },
        successRate: 5 / 8,
        attempts: {
          total: 100,
          succeeded: 25,
          failed: 75,
          byErrorKind: { timeout: 25, connection: 0, dns: 0, tls: 0, blocked: 0, redirect: 25, http_status: 25 },
          durationMs: { p50: 50, p95: 95, p99: 99 },
        },
        oldestPendingAgeMs: 48 * 3_600_000,
        queues: expect.arrayContaining([
          {
            name: DELIVERY_QUEUES.first,
            queued: expect.any(Number),
            ready: expect.any(Number),
            deferred: expect.any(Number),
            active: expect.any(Number),
          },
          {
            name: DELIVERY_QUEUES.retry,
            queued: expect.any(Number),
            ready: expect.any(Number),
            deferred: expect.any(Number),
            active: expect.any(Number),
          },
        ]),
      });

      const ownCall = logApi(own.deps, own.adminKey);
      const answer = await ownCall('GET', `/v1/admin/stats?since=${since.toISOString()}`);
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual(JSON.parse(JSON.stringify(stats)));
      // The default window is the last 24 hours.
      expect((await ownCall('GET', '/v1/admin/stats')).body.since).toBe(since.toISOString());
      expectError(await ownCall('GET', '/v1/admin/stats?since=recently'), 422, 'validation_failed', 'query.since');
    } finally {
      await own.close();
    }
  });

  it('answers nulls when nothing happened in the window', async () => {
    clock.set(NOW);
    const stats = await deliveryStats(api.deps, { since: new Date('2030-01-01T00:00:00Z') });
    expect(stats).toMatchObject({
      messages: { pending: 0, succeeded: 0, failed: 0, total: 0 },
      successRate: null,
      attempts: { total: 0, durationMs: { p50: null, p95: null, p99: null } },
    });
  });
});

describe('signing-secret rotation', () => {
  it('keeps the old secret signing during the grace period only', async () => {
    clock.set(NOW);
    const tenant = await createTenant(api.deps, 'rotating');
    const rotated = await rotateSigningSecret(api.deps, { tenantId: tenant.id, endpointId: null }, { gracePeriod: 3_600_000 });
    expect(rotated).toEqual({
      signingSecret: expect.stringMatching(/^whsec_/),
      previousSecretExpiresAt: new Date(NOW.getTime() + 3_600_000).toISOString(),
      secrets: [
        { signingSecret: rotated.signingSecret, createdAt: NOW.toISOString(), expiresAt: null },
        {
          signingSecret: tenant.signingSecret,
          createdAt: expect.any(String),
          expiresAt: new Date(NOW.getTime() + 3_600_000).toISOString(),
        },
      ],
    });
    expect(rotated.signingSecret).not.toBe(tenant.signingSecret);
    expect(await currentSigningSecret(api.deps.db, api.deps.cipher, { tenantId: tenant.id, endpointId: null })).toBe(rotated.signingSecret);

    const active = async () => (await signingSecretsFor(api.deps, [{ tenantId: tenant.id, endpointId: null }], clock.now())).get(tenant.id);
    expect(await active()).toEqual([rotated.signingSecret, tenant.signingSecret]);

    // A delivery signed now verifies with either secret (real receivers' SDKs).
    const body = '{"type":"run.completed"}';
    const sign = (secrets: string[]) => {
      const timestamp = Math.floor(Date.now() / 1000);
      const signature = signPayload(secrets, 'msg_rotation', timestamp, body);
      return {
        'svix-id': 'msg_rotation',
        'svix-timestamp': String(timestamp),
        'svix-signature': signature,
        'webhook-id': 'msg_rotation',
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signature,
      };
    };
    const during = sign((await active()) ?? []);
    for (const secret of [rotated.signingSecret, tenant.signingSecret]) {
      expect(() => new SvixWebhook(secret).verify(body, during)).not.toThrow();
      expect(() => new StandardWebhook(secret).verify(body, during)).not.toThrow();
    }

    clock.advance(3_600_000 - 1);
    expect(await active()).toEqual([rotated.signingSecret, tenant.signingSecret]);
    clock.advance(1);
    expect(await active()).toEqual([rotated.signingSecret]);
    const after = sign((await active()) ?? []);
    expect(() => new SvixWebhook(rotated.signingSecret).verify(body, after)).not.toThrow();
    expect(() => new SvixWebhook(tenant.signingSecret).verify(body, after)).toThrow();
  });

  it('takes a known secret, defaults to 24 hours, and stacks rotations', async () => {
    clock.set(NOW);
    const tenant = await createTenant(api.deps, 'known');
    const known = generateSigningSecret();
    const answer = await call('POST', `/v1/admin/tenants/${tenant.id}/signing-secret/rotate`, { body: { secret: known } });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      tenantId: tenant.id,
      signingSecret: known,
      previousSecretExpiresAt: new Date(NOW.getTime() + 86_400_000).toISOString(),
    });
    // No body at all: the defaults.
    clock.advance(1_000);
    const bare = await call('POST', `/v1/admin/tenants/${tenant.id}/signing-secret/rotate`);
    expect(bare.status).toBe(200);
    const active = await signingSecretsFor(api.deps, [{ tenantId: tenant.id, endpointId: null }], clock.now());
    expect(active.get(tenant.id)).toEqual([bare.body.signingSecret, known, tenant.signingSecret]);
  });

  it('a rotation with gracePeriod 0 retires every older secret at once (regression: after two rotations the first kept signing until its own expiry)', async () => {
    clock.set(NOW);
    const tenant = await createTenant(api.deps, 'leaked');
    const path = `/v1/admin/tenants/${tenant.id}/signing-secret/rotate`;
    const first = await call('POST', path, { body: { gracePeriod: '24h' } });
    clock.advance(1_000);
    const second = await call('POST', path, { body: { gracePeriod: '1h' } });
    // The 1 h grace period applies to both older secrets; it never lengthens one.
    expect(second.body.secrets.map((secret: { expiresAt: string | null }) => secret.expiresAt)).toEqual([
      null,
      new Date(clock.now().getTime() + 3_600_000).toISOString(),
      new Date(clock.now().getTime() + 3_600_000).toISOString(),
    ]);
    clock.advance(1_000);
    const leaked = await call('POST', path, { body: { gracePeriod: 0 } });
    expect(leaked.status).toBe(200);
    expect(leaked.body.previousSecretExpiresAt).toBe(clock.now().toISOString());
    expect(leaked.body.secrets).toEqual([
      { signingSecret: leaked.body.signingSecret, createdAt: clock.now().toISOString(), expiresAt: null },
    ]);
    const active = await signingSecretsFor(api.deps, [{ tenantId: tenant.id, endpointId: null }], clock.now());
    expect(active.get(tenant.id)).toEqual([leaked.body.signingSecret]);
    for (const retired of [tenant.signingSecret, first.body.signingSecret, second.body.signingSecret]) {
      expect(active.get(tenant.id)).not.toContain(retired);
    }
    const read = await call('GET', `/v1/admin/tenants/${tenant.id}/signing-secret`);
    expect(read.body.secrets).toHaveLength(1);
  });

  it('refuses an eleventh secret in its grace period with 400 limit_reached, but not a rotation without grace', async () => {
    const tenant = await createTenant(api.deps, 'rotating often');
    const path = `/v1/admin/tenants/${tenant.id}/signing-secret/rotate`;
    for (let i = 0; i < 10; i++) expect((await call('POST', path, { body: {} })).status).toBe(200);
    expectError(await call('POST', path, { body: { gracePeriod: '1h' } }), 400, 'limit_reached');
    const retiring = await call('POST', path, { body: { gracePeriod: 0 } });
    expect(retiring.status).toBe(200);
    expect(retiring.body.secrets).toHaveLength(1);
    expect((await call('POST', path, { body: {} })).status).toBe(200);
  });

  it('refuses bad input with 422, an unknown tenant with 404', async () => {
    const tenant = await createTenant(api.deps, 'refusing');
    const path = `/v1/admin/tenants/${tenant.id}/signing-secret/rotate`;
    const bad = await call('POST', path, { body: { secret: 'whsec_not-base64url_' } });
    expectError(bad, 422, 'validation_failed', 'body.secret');
    expect(bad.body.error.details[0].message).toBe(SIGNING_SECRET_RULE);
    expectError(await call('POST', path, { body: { gracePeriod: '8d' } }), 422, 'validation_failed', 'body.gracePeriod');
    expectError(await call('POST', path, { body: { gracePeriod: 'forever' } }), 422, 'validation_failed', 'body.gracePeriod');
    expectError(await call('POST', path, { body: { gracePeriod: -5 } }), 422, 'validation_failed', 'body.gracePeriod');
    expectError(await call('POST', '/v1/admin/tenants/ten_unknown/signing-secret/rotate', { body: {} }), 404, 'not_found');
    await expect(rotateSigningSecret(api.deps, { tenantId: tenant.id, endpointId: null }, { secret: 'short' })).rejects.toMatchObject({
      code: 'validation_failed',
      details: [{ path: 'secret', message: SIGNING_SECRET_RULE }],
    });
    await expect(
      rotateSigningSecret(api.deps, { tenantId: tenant.id, endpointId: null }, { gracePeriod: 8 * 86_400_000 }),
    ).rejects.toMatchObject({
      code: 'validation_failed',
    });
    // Nothing changed for the refused requests.
    expect(await currentSigningSecret(api.deps.db, api.deps.cipher, { tenantId: tenant.id, endpointId: null })).toBe(tenant.signingSecret);
  });
});

describe('retention', () => {
  it('deletes finished messages older than the retention with their attempts, in batches, never pending ones', async () => {
    const own = await startTestApi({ clock });
    try {
      clock.set(NOW);
      const t = own.tenantId;
      const expired: string[] = [];
      for (let i = 0; i < 5; i++) {
        const id = await insertMessage(own.deps.db, { tenantId: t, status: i % 2 ? 'failed' : 'succeeded', createdAt: hoursAgo(2 + i) });
        await insertAttempt(own.deps.db, { messageId: id, tenantId: t, attempt: 1, responseStatus: 500, startedAt: hoursAgo(2 + i) });
        await insertAttempt(own.deps.db, { messageId: id, tenantId: t, attempt: 2, responseStatus: 200, startedAt: hoursAgo(2 + i) });
        expired.push(id);
      }
      const kept = [
        await insertMessage(own.deps.db, { tenantId: t, status: 'pending', createdAt: hoursAgo(10) }),
        await insertMessage(own.deps.db, { tenantId: t, status: 'succeeded', createdAt: new Date(NOW.getTime() - 30 * 60_000) }),
      ];
      await insertAttempt(own.deps.db, {
        messageId: kept[0] as string,
        tenantId: t,
        attempt: 1,
        responseStatus: 500,
        startedAt: hoursAgo(10),
      });

      const result = await deleteExpired(own.deps, { retentionMs: 3_600_000, batchSize: 2 });
      expect(result).toEqual({ messages: 5, attempts: 10, complete: true });
      const left = await own.deps.db.select({ id: messages.id }).from(messages);
      expect(left.map((row) => row.id).sort()).toEqual([...kept].sort());
      expect(await own.deps.db.select().from(attempts).where(inArray(attempts.messageId, expired))).toEqual([]);
      expect(await own.deps.db.select().from(attempts)).toHaveLength(1);
      expect(await deleteExpired(own.deps, { retentionMs: 3_600_000 })).toEqual({ messages: 0, attempts: 0, complete: true });
    } finally {
      await own.close();
    }
  });

  it('runs as a pg-boss schedule with a worker', async () => {
    const own = await startTestApi({ clock });
    try {
      clock.set(NOW);
      const doomed = await insertMessage(own.deps.db, { tenantId: own.tenantId, status: 'succeeded', createdAt: hoursAgo(5) });
      const stop = await registerRetention(own.deps.boss, own.deps, { retentionMs: 3_600_000 });
      const schedules = await own.deps.boss.getSchedules(RETENTION_QUEUE);
      expect(schedules.map((s) => [s.name, s.cron])).toEqual([[RETENTION_QUEUE, '*/10 * * * *']]);
      // What the schedule sends when it fires.
      await own.deps.boss.send(RETENTION_QUEUE, {});
      await expect
        .poll(async () => (await own.deps.db.select({ id: messages.id }).from(messages).where(eq(messages.id, doomed))).length, {
          timeout: 15_000,
        })
        .toBe(0);
      await stop();
      // Registering again (every start does) is harmless.
      const stopAgain = await registerRetention(own.deps.boss, own.deps, { retentionMs: 3_600_000 });
      await stopAgain();
    } finally {
      await own.close();
    }
  });
});
