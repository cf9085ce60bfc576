/**
 * Deliveries of the Svix-compatible API end to end (issue 10): messages sent with the official `svix`
 * SDK reach standing endpoints by their filters and channels, signed with each endpoint's own secret
 * and verified by the receivers' real verifiers (`svix`, `standardwebhooks`); retries, resend,
 * recover, rotation, disable, delete and expunge; the admin delivery log and stats show them.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { ApiException, Webhook as SvixWebhook, type Svix } from 'svix';
import { startFakeReceiver, type FakeReceiver, type RecordedRequest, type Script } from '../support/fake-receiver.ts';
import { startSvixServer, type SvixTestServer } from '../support/svix-server.ts';

const LADDER = [50, 50];
let s: SvixTestServer;
let svix: Svix;
const receivers: FakeReceiver[] = [];

beforeAll(async () => {
  s = await startSvixServer({ retrySchedule: LADDER, retryJitter: 0, deliveryTimeoutMs: 2_000 });
  svix = s.svix;
  for (const name of ['order.paid', 'order.refunded', 'user.created']) await svix.eventType.create({ name, description: name });
});

afterEach(async () => {
  s.h.settings.retrySchedule = LADDER;
  await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
});

afterAll(async () => {
  expect(s.statuses.filter((status) => status >= 500)).toEqual([]);
  await s?.close();
});

async function receiver(script?: Script): Promise<FakeReceiver> {
  const r = await startFakeReceiver(script ? { script } : {});
  receivers.push(r);
  return r;
}

/** Both receivers' SDKs accept the request with this secret (they throw otherwise). */
function verify(secret: string, request: RecordedRequest): void {
  new SvixWebhook(secret).verify(request.body, request.headers);
  new StandardWebhook(secret).verify(request.body, request.headers);
}

function verifies(secret: string, request: RecordedRequest): boolean {
  try {
    verify(secret, request);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const idsOf = (r: FakeReceiver) => r.requests.map((request) => request.headers['svix-id']);
const secretOf = async (appId: string, endpointId: string) => (await svix.endpoint.getSecret(appId, endpointId)).key;

async function refused(call: Promise<unknown>): Promise<{ code: number; body: unknown }> {
  try {
    await call;
  } catch (error) {
    if (error instanceof ApiException) return { code: error.code, body: error.body };
    throw error;
  }
  throw new Error('expected the call to be refused');
}

async function admin(path: string) {
  const response = await fetch(`${s.url}${path}`, { headers: { authorization: `Bearer ${s.adminKey}` } });
  s.statuses.push(response.status);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return { status: response.status, body: (await response.json()) as any };
}

describe('fan-out', () => {
  it('reaches every matching endpoint (filters, channels, not disabled) with one svix-id, each signed with its own secret', async () => {
    const app = await svix.application.create({ name: 'Fan-out', uid: 'fan-out' });
    const all = await receiver();
    const paid = await receiver();
    const eu = await receiver();
    const off = await receiver();
    const refundedEu = await receiver();
    const endpoints = {
      all: await svix.endpoint.create(app.id, { url: all.url }),
      paid: await svix.endpoint.create(app.id, { url: paid.url, eventTypes: ['order.paid'] }),
      eu: await svix.endpoint.create(app.id, { url: eu.url, channels: ['eu'] }),
      off: await svix.endpoint.create(app.id, { url: off.url, disabled: true }),
      refundedEu: await svix.endpoint.create(app.id, { url: refundedEu.url, eventTypes: ['order.refunded'], channels: ['eu'] }),
    };

    // The payload's exact text (spacing, number spelling, escapes) is what every endpoint gets.
    const payloadText = '{"b" : 1,  "a":[1.0, 2e3], "s":"\\u00e9t\u00e9 ✓", "n":null}';
    const created = await fetch(`${s.url}/api/v1/app/fan-out/msg`, {
      method: 'POST',
      headers: { authorization: `Bearer ${s.adminKey}`, 'content-type': 'application/json' },
      body: `{"eventType":"order.paid","channels":["eu"],"payload": ${payloadText}}`,
    });
    expect(created.status).toBe(202);
    const m1 = (await created.json()) as { id: string };
    const m2 = await svix.message.create(app.id, { eventType: 'order.refunded', payload: { n: 2 } });
    const m3 = await svix.message.create(app.id, { eventType: 'order.refunded', payload: { n: 3 }, channels: ['us', 'eu'] });

    await all.waitForRequests(3);
    await paid.waitForRequests(1);
    await eu.waitForRequests(2);
    await refundedEu.waitForRequests(1);
    await sleep(300);
    expect(new Set(idsOf(all))).toEqual(new Set([m1.id, m2.id, m3.id]));
    expect(idsOf(paid)).toEqual([m1.id]);
    expect(new Set(idsOf(eu))).toEqual(new Set([m1.id, m3.id]));
    expect(idsOf(refundedEu)).toEqual([m3.id]);
    expect(off.requests).toHaveLength(0);

    const secrets = {
      all: await secretOf(app.id, endpoints.all.id),
      paid: await secretOf(app.id, endpoints.paid.id),
      eu: await secretOf(app.id, endpoints.eu.id),
      refundedEu: await secretOf(app.id, endpoints.refundedEu.id),
    };
    for (const [name, r] of [
      ['all', all],
      ['paid', paid],
      ['eu', eu],
      ['refundedEu', refundedEu],
    ] as const) {
      for (const request of r.requests) {
        verify(secrets[name], request);
        expect(request.headers['webhook-id']).toBe(request.headers['svix-id']);
        expect(request.headers['content-type']).toBe('application/json');
      }
    }
    // Another endpoint's secret does not verify: each endpoint signs with its own.
    expect(verifies(secrets.paid, all.requests[0] as RecordedRequest)).toBe(false);
    for (const r of [all, paid, eu]) expect(r.requests.find((request) => request.headers['svix-id'] === m1.id)?.body).toBe(payloadText);

    // The message × endpoint views.
    await expect.poll(async () => (await svix.messageAttempt.listByMsg(app.id, m1.id)).data.length).toBe(3);
    const destinations = await svix.messageAttempt.listAttemptedDestinations(app.id, m1.id);
    expect(destinations.data.map((endpoint) => endpoint.id).sort()).toEqual([endpoints.all.id, endpoints.paid.id, endpoints.eu.id].sort());
    expect(destinations.data.every((endpoint) => endpoint.status === 0 && endpoint.statusText === 'success')).toBe(true);
    await expect
      .poll(async () => (await svix.messageAttempt.listAttemptedMessages(app.id, endpoints.all.id)).data.map((m) => m.status))
      .toEqual([0, 0, 0]);
    const sent = await svix.messageAttempt.listAttemptedMessages(app.id, endpoints.all.id, { withContent: true });
    expect(sent.data.map((m) => m.id)).toEqual([m3.id, m2.id, m1.id]);
    expect(sent.data[2]?.payload).toEqual(JSON.parse(payloadText));
    const byEndpoint = await svix.messageAttempt.listByEndpoint(app.id, endpoints.eu.id, { withMsg: true });
    // Newest attempt first. m1's and m3's attempts may start at the same moment (one fetch), so
    // they may come in either order.
    expect(byEndpoint.data.map((attempt) => attempt.msgId).sort()).toEqual([m1.id, m3.id].sort());
    const times = byEndpoint.data.map((attempt) => attempt.timestamp.getTime());
    expect(times).toEqual([...times].sort((a, b) => b - a));
    const m3Attempt = byEndpoint.data.find((attempt) => attempt.msgId === m3.id);
    expect(m3Attempt).toMatchObject({
      status: 0,
      statusText: 'success',
      triggerType: 0,
      responseStatusCode: 200,
      endpointId: endpoints.eu.id,
    });
    expect(m3Attempt?.msg?.id).toBe(m3.id);
    const attempt = byEndpoint.data.find((candidate) => candidate.msgId === m1.id);
    expect(await svix.messageAttempt.get(app.id, m1.id, attempt?.id as string)).toMatchObject({
      id: attempt?.id,
      msgId: m1.id,
      url: eu.url,
    });
    expect((await svix.messageAttempt.listByMsg(app.id, m1.id, { endpointId: endpoints.paid.id })).data).toHaveLength(1);
    expect((await svix.messageAttempt.listByMsg(app.id, m1.id, { status: 2 as never })).data).toHaveLength(0);
    expect((await svix.messageAttempt.listByMsg(app.id, m1.id, { statusCodeClass: 200 as never })).data).toHaveLength(3);
    const stats = await svix.endpoint.getStats(app.id, endpoints.all.id);
    expect(stats).toEqual({ success: 3, pending: 0, sending: 0, fail: 0, canceled: 0 });
  });

  it('an endpoint added later does not receive older messages; resend reaches it with the same svix-id', async () => {
    const app = await svix.application.create({ name: 'Later' });
    const early = await receiver();
    await svix.endpoint.create(app.id, { url: early.url });
    const message = await svix.message.create(app.id, { eventType: 'user.created', payload: { id: 'u_1' } });
    await early.waitForRequests(1);
    const late = await receiver();
    const endpoint = await svix.endpoint.create(app.id, { url: late.url });
    await sleep(300);
    expect(late.requests).toHaveLength(0);
    expect((await svix.messageAttempt.listAttemptedDestinations(app.id, message.id)).data).toHaveLength(1);

    await svix.messageAttempt.resend(app.id, message.id, endpoint.id);
    const [request] = await late.waitForRequests(1);
    expect(request?.headers['svix-id']).toBe(message.id);
    verify(await secretOf(app.id, endpoint.id), request as RecordedRequest);
    await expect
      .poll(async () => (await svix.messageAttempt.listByEndpoint(app.id, endpoint.id)).data.map((a) => a.triggerType))
      .toEqual([1]);
    await expect
      .poll(async () => (await svix.messageAttempt.listAttemptedMessages(app.id, endpoint.id)).data.map((m) => m.status))
      .toEqual([0]);
  });
});

describe('attempts', () => {
  it('retries keep the svix-id; a resend is one manual attempt with the same svix-id', async () => {
    const app = await svix.application.create({ name: 'Retries' });
    const r = await receiver([
      { status: 500, body: 'down' },
      { status: 200, body: 'ok!' },
    ]);
    const endpoint = await svix.endpoint.create(app.id, { url: r.url });
    const message = await svix.message.create(app.id, { eventType: 'user.created', payload: { retry: true } });
    await r.waitForRequests(2);
    await expect.poll(async () => (await svix.messageAttempt.listByMsg(app.id, message.id)).data.length).toBe(2);
    const attempts = await svix.messageAttempt.listByMsg(app.id, message.id, { withContent: true });
    expect(attempts.data.map((a) => [a.status, a.statusText, a.responseStatusCode, a.response, a.triggerType])).toEqual([
      [0, 'success', 200, 'ok!', 0],
      [2, 'fail', 500, 'down', 0],
    ]);
    expect((await svix.messageAttempt.listByMsg(app.id, message.id)).data[0]?.response).toBe('{}');
    expect(new Set(idsOf(r))).toEqual(new Set([message.id]));
    const secret = await secretOf(app.id, endpoint.id);
    for (const request of r.requests) verify(secret, request);

    await svix.messageAttempt.resend(app.id, message.id, endpoint.id);
    await r.waitForRequests(3);
    expect(r.requests[2]?.headers['svix-id']).toBe(message.id);
    verify(secret, r.requests[2] as RecordedRequest);
    await expect
      .poll(async () => (await svix.messageAttempt.listByMsg(app.id, message.id)).data.map((a) => a.triggerType))
      .toEqual([1, 0, 0]);
    expect((await refused(svix.messageAttempt.resend(app.id, 'msg_0000000000000000000000x', endpoint.id))).code).toBe(404);
    expect((await refused(svix.messageAttempt.resend(app.id, message.id, 'ep_0000000000000000000000x'))).code).toBe(404);
    expect((await refused(svix.messageAttempt.get(app.id, message.id, 'atmpt_0000000000000000000000x'))).code).toBe(404);
  });

  it('recover re-sends the failed deliveries of an endpoint since a time', async () => {
    const app = await svix.application.create({ name: 'Recover' });
    const r = await receiver([500]);
    const endpoint = await svix.endpoint.create(app.id, { url: r.url });
    const other = await receiver([500]);
    await svix.endpoint.create(app.id, { url: other.url });
    const message = await svix.message.create(app.id, { eventType: 'user.created', payload: { recover: 1 } });
    await expect
      .poll(async () => (await svix.messageAttempt.listAttemptedMessages(app.id, endpoint.id)).data.map((m) => m.status))
      .toEqual([2]);
    expect(r.requests).toHaveLength(3);
    expect(await svix.endpoint.getStats(app.id, endpoint.id)).toMatchObject({ fail: 1, success: 0 });
    expect((await svix.messageAttempt.listAttemptedMessages(app.id, endpoint.id, { status: 2 as never })).data).toHaveLength(1);
    await expect.poll(() => other.requests.length).toBe(3);

    r.setScript([200]);
    const task = await svix.endpoint.recover(app.id, endpoint.id, { since: new Date(Date.now() - 60_000) });
    expect(task).toMatchObject({ status: 'running', task: 'endpoint.recover' });
    await r.waitForRequests(4);
    expect(r.requests[3]?.headers['svix-id']).toBe(message.id);
    await expect.poll(async () => (await svix.endpoint.getStats(app.id, endpoint.id)).success).toBe(1);
    // Recover is a step of the retry schedule: triggerType 0.
    expect((await svix.messageAttempt.listByEndpoint(app.id, endpoint.id)).data[0]).toMatchObject({ status: 0, triggerType: 0 });
    // The other endpoint was not recovered.
    await sleep(200);
    expect(other.requests).toHaveLength(3);
  });
});

describe('secrets', () => {
  it('during a rotation both signatures are sent and either secret verifies; a given key becomes the secret', async () => {
    const app = await svix.application.create({ name: 'Rotation' });
    const r = await receiver();
    const endpoint = await svix.endpoint.create(app.id, { url: r.url });
    const before = await secretOf(app.id, endpoint.id);
    await svix.endpoint.rotateSecret(app.id, endpoint.id, {});
    const after = await secretOf(app.id, endpoint.id);
    await svix.message.create(app.id, { eventType: 'user.created', payload: { n: 1 } });
    const [first] = await r.waitForRequests(1);
    expect(first?.headers['svix-signature']?.split(' ')).toHaveLength(2);
    expect(verifies(before, first as RecordedRequest)).toBe(true);
    expect(verifies(after, first as RecordedRequest)).toBe(true);

    const given = `whsec_${Buffer.alloc(32, 5).toString('base64')}`;
    await svix.endpoint.rotateSecret(app.id, endpoint.id, { key: given, gracePeriodSeconds: 0 });
    await svix.message.create(app.id, { eventType: 'user.created', payload: { n: 2 } });
    await r.waitForRequests(2);
    const second = r.requests[1] as RecordedRequest;
    expect(second.headers['svix-signature']?.split(' ')).toHaveLength(1);
    expect(verifies(given, second)).toBe(true);
    expect(verifies(before, second)).toBe(false);
    expect(verifies(after, second)).toBe(false);
  });
});

describe('disable, delete, expunge', () => {
  it('a disabled endpoint receives no new messages until it is enabled again', async () => {
    const app = await svix.application.create({ name: 'Disable' });
    const r = await receiver();
    const endpoint = await svix.endpoint.create(app.id, { url: r.url });
    await svix.endpoint.patch(app.id, endpoint.id, { disabled: true });
    const skipped = await svix.message.create(app.id, { eventType: 'user.created', payload: {} });
    await sleep(300);
    expect(r.requests).toHaveLength(0);
    expect((await svix.messageAttempt.listAttemptedDestinations(app.id, skipped.id)).data).toEqual([]);
    await svix.endpoint.patch(app.id, endpoint.id, { disabled: false });
    const sent = await svix.message.create(app.id, { eventType: 'user.created', payload: {} });
    await r.waitForRequests(1);
    expect(idsOf(r)).toEqual([sent.id]);
  });

  it('deleting an endpoint ends its pending deliveries failed with the reason; the log keeps them', async () => {
    const app = await svix.application.create({ name: 'Delete endpoint' });
    s.h.settings.retrySchedule = [60_000];
    const r = await receiver([500]);
    const endpoint = await svix.endpoint.create(app.id, { url: r.url });
    const message = await svix.message.create(app.id, { eventType: 'user.created', payload: {} });
    await expect
      .poll(async () => (await svix.messageAttempt.listAttemptedMessages(app.id, endpoint.id)).data.map((m) => m.status))
      .toEqual([3]);
    await svix.endpoint.delete(app.id, endpoint.id);
    const logged = await admin(`/v1/admin/messages/${message.id}`);
    expect(logged.body.deliveries).toEqual([
      expect.objectContaining({ endpointId: endpoint.id, status: 'failed', failureReason: 'the endpoint was deleted' }),
    ]);
    expect(logged.body.attempts).toHaveLength(1);
    expect((await refused(svix.endpoint.get(app.id, endpoint.id))).code).toBe(404);
  });

  it('expunged content: reads show it, the pending delivery ends failed, resend is refused; attempt responses expunge too', async () => {
    const app = await svix.application.create({ name: 'Expunge' });
    s.h.settings.retrySchedule = [400];
    const r = await receiver([{ status: 500, body: 'secret response' }]);
    const endpoint = await svix.endpoint.create(app.id, { url: r.url });
    const message = await svix.message.create(app.id, { eventType: 'user.created', payload: { card: '4242' } });
    await r.waitForRequests(1);
    await expect.poll(async () => (await svix.messageAttempt.listByMsg(app.id, message.id)).data.length).toBe(1);
    await svix.message.expungeContent(app.id, message.id);
    await expect
      .poll(async () => (await admin(`/v1/admin/messages/${message.id}`)).body.deliveries[0]?.failureReason, { timeout: 5_000 })
      .toMatch(/expunged/);
    expect(r.requests).toHaveLength(1);
    expect((await svix.message.get(app.id, message.id, { withContent: true })).payload).toEqual({ expired: true });
    const resend = await refused(svix.messageAttempt.resend(app.id, message.id, endpoint.id));
    expect(resend).toEqual({ code: 400, body: { code: 'missing_payload', detail: expect.any(String) } });

    const [attempt] = (await svix.messageAttempt.listByMsg(app.id, message.id, { withContent: true })).data;
    expect(attempt?.response).toBe('secret response');
    await svix.messageAttempt.expungeContent(app.id, message.id, attempt?.id as string);
    expect((await svix.messageAttempt.get(app.id, message.id, attempt?.id as string)).response).toBe('EXPUNGED');
    const logged = await admin(`/v1/admin/messages/${message.id}`);
    expect(logged.body).toMatchObject({ payload: null, expunged: true });
    expect(logged.body.attempts[0].responseBody).toBeNull();
  });
});

describe('sendExample', () => {
  it('sends the schema\'s example (else {"example":true}) to that endpoint only', async () => {
    const app = await svix.application.create({ name: 'Examples' });
    await svix.eventType.upsert('invoice.paid', {
      description: 'paid',
      schemas: { '1': { type: 'object', examples: [{ invoiceId: 'inv_1', amount: 10 }, { invoiceId: 'inv_2' }] } },
    });
    const r = await receiver();
    const other = await receiver();
    const endpoint = await svix.endpoint.create(app.id, { url: r.url });
    await svix.endpoint.create(app.id, { url: other.url });
    const sent = await svix.endpoint.sendExample(app.id, endpoint.id, { eventType: 'invoice.paid' });
    expect(sent).toMatchObject({ eventType: 'invoice.paid', payload: { invoiceId: 'inv_1', amount: 10 } });
    await svix.endpoint.sendExample(app.id, endpoint.id, { eventType: 'invoice.paid', exampleIndex: 1 });
    await svix.endpoint.sendExample(app.id, endpoint.id, { eventType: 'user.created' });
    await svix.endpoint.sendExample(app.id, endpoint.id, { eventType: 'svix.ping' });
    await r.waitForRequests(4);
    expect(r.requests.map((request) => JSON.parse(request.body) as unknown)).toEqual(
      expect.arrayContaining([{ invoiceId: 'inv_1', amount: 10 }, { invoiceId: 'inv_2' }, { example: true }, { success: true }]),
    );
    const secret = await secretOf(app.id, endpoint.id);
    for (const request of r.requests) verify(secret, request);
    expect(other.requests).toHaveLength(0);
    expect((await refused(svix.endpoint.sendExample(app.id, endpoint.id, { eventType: 'no.such.type' }))).code).toBe(404);
  });
});

describe('the admin delivery log and stats', () => {
  it('include application messages, filtered by application and endpoint; deleting the application removes them', async () => {
    const app = await svix.application.create({ name: 'Logged' });
    const r1 = await receiver();
    const r2 = await receiver();
    const e1 = await svix.endpoint.create(app.id, { url: r1.url });
    const e2 = await svix.endpoint.create(app.id, { url: r2.url, eventTypes: ['order.paid'] });
    const m1 = await svix.message.create(app.id, { eventType: 'order.paid', payload: {} });
    const m2 = await svix.message.create(app.id, { eventType: 'user.created', payload: {} });
    await r1.waitForRequests(2);
    await r2.waitForRequests(1);
    await expect.poll(async () => (await admin(`/v1/admin/messages?appId=${app.id}&status=succeeded`)).body.data.length).toBe(3);
    const byApp = await admin(`/v1/admin/messages?appId=${app.id}`);
    expect(byApp.body.data.map((row: { id: string; endpointId: string }) => `${row.id} ${row.endpointId}`).sort()).toEqual(
      [`${m1.id} ${e1.id}`, `${m1.id} ${e2.id}`, `${m2.id} ${e1.id}`].sort(),
    );
    expect(byApp.body.data[0]).toMatchObject({ appId: app.id, runId: null });
    const byEndpoint = await admin(`/v1/admin/messages?endpointId=${e2.id}`);
    expect(byEndpoint.body.data.map((row: { id: string }) => row.id)).toEqual([m1.id]);
    const attempts = await admin(`/v1/admin/attempts?endpointId=${e1.id}`);
    expect(attempts.body.data).toHaveLength(2);
    const stats = await admin(`/v1/admin/stats?appId=${app.id}`);
    expect(stats.body.messages).toMatchObject({ succeeded: 3, total: 3 });
    const endpointStats = await admin(`/v1/admin/stats?endpointId=${e2.id}`);
    expect(endpointStats.body.messages).toMatchObject({ succeeded: 1, total: 1 });

    await svix.application.delete(app.id);
    expect((await admin(`/v1/admin/messages?appId=${app.id}`)).body.data).toEqual([]);
    expect((await admin(`/v1/admin/messages/${m1.id}`)).status).toBe(404);
    expect((await refused(svix.message.get(app.id, m1.id))).code).toBe(404);
  });
});
