/**
 * Delivery control through the Svix-compatible API (README, "Delivery control"), with the official
 * `svix` SDK: operational webhook endpoints (`operationalWebhookEndpoint.*`) and the events they get
 * (`endpoint.created|updated|deleted|disabled`), auto-disable and re-enabling with a PATCH, and an
 * endpoint's `ordered`, `retrySchedule` and `throttleRate`.
 */
import { ApiException, Webhook, type Svix } from 'svix';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeReceiver, type FakeReceiver } from '../support/fake-receiver.ts';
import { orderViolations, startOrderReceiver } from '../support/order-receiver.ts';
import { startSvixServer, type SvixTestServer } from '../support/svix-server.ts';

const DISABLE_AFTER_MS = 1_000;
let s: SvixTestServer;
let svix: Svix;
let ops: FakeReceiver;
let opsSecret: string;
const receivers: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  s = await startSvixServer({ retrySchedule: [50, 50, 50], endpointDisableAfterMs: DISABLE_AFTER_MS });
  svix = s.svix;
  ops = await startFakeReceiver({ script: [200] });
  const endpoint = await svix.operationalWebhook.endpoint.create({ url: ops.url, description: 'ops' });
  opsSecret = (await svix.operationalWebhook.endpoint.getSecret(endpoint.id)).key;
});

afterAll(async () => {
  expect(s.statuses.filter((status) => status >= 500)).toEqual([]);
  await Promise.all([ops, ...receivers].map((receiver) => receiver?.close()));
  await s?.close();
});

interface OperationalEvent {
  type: string;
  timestamp: string;
  data: Record<string, unknown>;
}

/** The operational events of a type about an endpoint, each verified with the operational secret. */
function events(type: string, endpointId: string): OperationalEvent[] {
  return ops.requests
    .map((request) => {
      new Webhook(opsSecret).verify(request.body, request.headers);
      return JSON.parse(request.body) as OperationalEvent;
    })
    .filter((event) => event.type === type && event.data['endpointId'] === endpointId);
}

async function raw(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${s.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${s.adminKey}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  s.statuses.push(response.status);
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

async function refused(call: Promise<unknown>): Promise<number> {
  try {
    await call;
  } catch (error) {
    if (error instanceof ApiException) return error.code;
    throw error;
  }
  throw new Error('expected a refusal');
}

const send = (appId: string, n: number) => svix.message.create(appId, { eventType: 'user.created', payload: { n } });

describe('operational webhook endpoints', () => {
  it('are managed with the SDK calls, per tenant', async () => {
    const created = await svix.operationalWebhook.endpoint.create({
      url: 'https://ops.example.com/a',
      uid: 'ops-a',
      eventTypes: ['endpoint.disabled', 'message.attempt.exhausted'],
      headers: { 'X-Team': 'sre' },
      metadata: { owner: 'sre' },
    });
    expect(created).toMatchObject({
      uid: 'ops-a',
      url: 'https://ops.example.com/a',
      disabled: false,
      eventTypes: ['endpoint.disabled', 'message.attempt.exhausted'],
    });
    expect((await svix.operationalWebhook.endpoint.get('ops-a')).id).toBe(created.id);
    expect((await svix.operationalWebhook.endpoint.list()).data.map((endpoint) => endpoint.id)).toContain(created.id);
    const updated = await svix.operationalWebhook.endpoint.upsert(created.id, { url: 'https://ops.example.com/b', disabled: true });
    expect(updated).toMatchObject({ url: 'https://ops.example.com/b', disabled: true, eventTypes: null });
    expect(await svix.operationalWebhook.endpoint.getHeaders(created.id)).toEqual({ headers: { 'X-Team': 'sre' }, sensitive: [] });
    await svix.operationalWebhook.endpoint.setHeaders(created.id, { headers: { 'X-Team': 'ops' } });
    const before = (await svix.operationalWebhook.endpoint.getSecret(created.id)).key;
    await svix.operationalWebhook.endpoint.rotateSecret(created.id, {});
    expect((await svix.operationalWebhook.endpoint.getSecret(created.id)).key).not.toBe(before);

    // Another tenant sees none of it; unknown event types and a taken uid are refused.
    const other = await s.otherTenant();
    expect(await refused(other.svix.operationalWebhook.endpoint.get(created.id))).toBe(404);
    expect((await other.svix.operationalWebhook.endpoint.list()).data).toEqual([]);
    expect(await refused(svix.operationalWebhook.endpoint.create({ url: 'https://ops.example.com/c', eventTypes: ['user.created'] }))).toBe(
      422,
    );
    expect(await refused(svix.operationalWebhook.endpoint.create({ url: 'https://ops.example.com/c', uid: 'ops-a' }))).toBe(409);

    await svix.operationalWebhook.endpoint.delete(created.id);
    expect(await refused(svix.operationalWebhook.endpoint.get(created.id))).toBe(404);
  });

  it('get endpoint.created, endpoint.updated and endpoint.deleted, Svix-shaped and signed', async () => {
    const app = await svix.application.create({ name: 'events', uid: 'app-events' });
    const endpoint = await svix.endpoint.create(app.id, { url: 'https://hooks.example.com/x', uid: 'ep-x' });
    await svix.endpoint.patch(app.id, endpoint.id, { description: 'changed' });
    await svix.endpoint.delete(app.id, endpoint.id);
    const data = { appId: app.id, appUid: 'app-events', endpointId: endpoint.id, endpointUid: 'ep-x' };
    // Three messages to an unordered endpoint: they may arrive in any order.
    for (const type of ['endpoint.created', 'endpoint.updated', 'endpoint.deleted']) {
      await expect.poll(() => events(type, endpoint.id).length).toBe(1);
      expect(events(type, endpoint.id)).toEqual([{ type, timestamp: expect.stringMatching(/Z$/), data }]);
    }
  });
});

describe("an application's endpoint", () => {
  it('failing for ORBIT_ENDPOINT_DISABLE_AFTER is disabled (endpoint.disabled is sent); a PATCH enables it again', async () => {
    let up = false;
    const receiver = await startFakeReceiver({ script: () => (up ? 200 : 503) });
    receivers.push(receiver);
    const app = await svix.application.create({ name: 'dying' });
    // Its own schedule: a retry an hour away, so a failed message stays pending.
    const created = await raw('POST', `/api/v1/app/${app.id}/endpoint`, { url: receiver.url, retrySchedule: '1h' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ retrySchedule: '1h', ordered: false, disabledReason: null });
    const endpointId = created.body['id'] as string;

    const first = await send(app.id, 1);
    await receiver.waitForRequests(1, 5_000);
    await new Promise((resolve) => setTimeout(resolve, DISABLE_AFTER_MS + 100));
    await send(app.id, 2);
    await expect.poll(async () => (await svix.endpoint.get(app.id, endpointId)).disabled, { timeout: 5_000 }).toBe(true);
    expect((await raw('GET', `/api/v1/app/${app.id}/endpoint/${endpointId}`)).body['disabledReason']).toBe(
      'the endpoint was disabled after failing for 1 second',
    );
    const attempts = await svix.messageAttempt.listByMsg(app.id, first.id);
    expect(attempts.data).toHaveLength(1);
    await expect.poll(() => events('endpoint.disabled', endpointId).length).toBe(1);
    expect(events('endpoint.disabled', endpointId)[0]?.data).toMatchObject({ appId: app.id, endpointId, failSince: expect.any(String) });

    // Enabled again, it receives new messages; the clock starts over.
    up = true;
    const enabled = await svix.endpoint.patch(app.id, endpointId, { disabled: false });
    expect(enabled.disabled).toBe(false);
    expect((await raw('GET', `/api/v1/app/${app.id}/endpoint/${endpointId}`)).body['disabledReason']).toBeNull();
    const third = await send(app.id, 3);
    await expect.poll(async () => (await svix.messageAttempt.listByMsg(app.id, third.id)).data[0]?.status).toBe(0);
  });

  it('with "ordered": true gets its messages one at a time in order; turned off, the waiting ones go at once', async () => {
    const receiver = await startOrderReceiver({ failFirst: () => Math.random() < 0.3, delayMs: 5 });
    receivers.push(receiver);
    const app = await svix.application.create({ name: 'ordered' });
    const created = await raw('POST', `/api/v1/app/${app.id}/endpoint`, { url: receiver.url, ordered: true });
    expect(created.body['ordered']).toBe(true);
    const ids: string[] = [];
    for (let n = 0; n < 12; n++) ids.push((await send(app.id, n)).id);
    await expect.poll(() => receiver.unique(), { timeout: 10_000 }).toBe(12);
    // The last one arrived, but its first attempt may have been answered 500: wait for its success,
    // or its retry would go to the URL set below and count there.
    await expect
      .poll(async () => (await svix.messageAttempt.listByMsg(app.id, ids[11] as string)).data[0]?.status, { timeout: 10_000 })
      .toBe(0);
    expect(orderViolations(receiver.arrivals, [ids])).toEqual([]);
    expect(receiver.inFlight.max).toBe(1);

    // A slow head, three waiting; unordered again, they all go without waiting for it.
    const slow = await startOrderReceiver({ delayMs: 1_500 });
    receivers.push(slow);
    const endpointId = created.body['id'] as string;
    await svix.endpoint.patch(app.id, endpointId, { url: slow.url });
    for (let n = 0; n < 4; n++) await send(app.id, 100 + n);
    await expect.poll(() => slow.arrivals.length).toBe(1);
    await raw('PATCH', `/api/v1/app/${app.id}/endpoint/${endpointId}`, { ordered: false });
    await expect.poll(() => slow.arrivals.length, { timeout: 1_000 }).toBe(4);
  });

  it('throttleRate set with the SDK is enforced', async () => {
    const receiver = await startFakeReceiver({ script: [200] });
    receivers.push(receiver);
    const app = await svix.application.create({ name: 'throttled' });
    await svix.endpoint.create(app.id, { url: receiver.url, throttleRate: 5 });
    await Promise.all(Array.from({ length: 6 }, (_, n) => send(app.id, n)));
    await receiver.waitForRequests(6, 5_000);
    const times = receiver.requests.map((request) => request.receivedAt);
    // Six slots 200 ms apart span a second.
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThan(900);
  });
});
