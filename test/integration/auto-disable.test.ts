/**
 * Auto-disable (ORBIT_ENDPOINT_DISABLE_AFTER): an application's endpoint whose deliveries have all
 * failed for the configured time, since its first failure after its last success, is disabled; its
 * pending messages end `failed` with the reason, and `endpoint.disabled` goes to the operational
 * endpoints. Any success resets the clock. Time is moved with an injected clock.
 */
import { Webhook } from 'svix';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { generateSigningSecret } from '../../src/domain/signing.ts';
import type { Clock } from '../../src/lib/clock.ts';
import { bootstrap } from '../../src/services/bootstrap.ts';
import { ingestAppMessage } from '../../src/services/event-ingest.ts';
import { createRun, recordEvent } from '../../src/services/runs.ts';
import { createAppEndpoint, createTenant, startDeliveryHarness, type DeliveryHarness } from '../support/delivery-fixtures.ts';
import { startFakeReceiver, type FakeReceiver } from '../support/fake-receiver.ts';

/** Real time plus an offset the test moves forward (signatures stay within the receivers' tolerance). */
function movableClock(): Clock & { advance(ms: number): void } {
  let offset = 0;
  return {
    now: () => new Date(Date.now() + offset),
    advance(ms) {
      offset += ms;
    },
  };
}

const DISABLE_AFTER_MS = 1_000;
const OPERATIONAL_SECRET = generateSigningSecret();
const clock = movableClock();
let h: DeliveryHarness;
let tenantId: string;
let operational: FakeReceiver;
const receivers: FakeReceiver[] = [];

beforeAll(async () => {
  // A retry an hour away: a failed first attempt leaves its message pending.
  h = await startDeliveryHarness({ retrySchedule: [3_600_000], endpointDisableAfterMs: DISABLE_AFTER_MS });
  h.deps.clock = clock;
  operational = await startFakeReceiver({ script: [200] });
  await bootstrap(h.deps, { operationalWebhookUrl: operational.url, operationalWebhookSecret: OPERATIONAL_SECRET });
  tenantId = (await createTenant(h)).tenantId;
});

afterAll(async () => {
  await Promise.all([operational, ...receivers].map((receiver) => receiver?.close()));
  await h?.close();
});

async function receiver(script: () => number): Promise<FakeReceiver> {
  const r = await startFakeReceiver({ script: () => script() });
  receivers.push(r);
  return r;
}

async function send(appId: string): Promise<string> {
  return (
    await ingestAppMessage(h.deps, tenantId, appId, { eventType: 'user.created', eventId: null, channels: null, payload: '{"ok":1}' })
  ).id;
}

async function endpointRow(id: string) {
  const [row] = await h.sql<{ disabled: boolean; disabled_reason: string | null; failing: boolean }[]>`
    select disabled, disabled_reason, failing_since is not null as failing from endpoints where id = ${id}`;
  return row;
}

async function deliveryOf(messageId: string) {
  const [row] = await h.sql<{ status: string; attempt_count: number; failure_reason: string | null }[]>`
    select status, attempt_count, failure_reason from deliveries where message_id = ${messageId}`;
  return row;
}

it('an endpoint failing for ORBIT_ENDPOINT_DISABLE_AFTER is disabled, its pending messages fail with the reason, and endpoint.disabled is sent', async () => {
  const dead = await receiver(() => 503);
  const { appId, endpointId } = await createAppEndpoint(h.db, { tenantId, url: dead.url });

  const first = await send(appId);
  await expect.poll(async () => (await deliveryOf(first))?.attempt_count).toBe(1);
  expect(await deliveryOf(first)).toMatchObject({ status: 'pending' });
  expect(await endpointRow(endpointId)).toMatchObject({ disabled: false, failing: true });

  // Still within the limit: a second failure does not disable it.
  clock.advance(DISABLE_AFTER_MS / 2);
  const second = await send(appId);
  await expect.poll(async () => (await deliveryOf(second))?.attempt_count).toBe(1);
  expect(await endpointRow(endpointId)).toMatchObject({ disabled: false });

  // Past the limit since the first failure: the next failure disables it.
  clock.advance(DISABLE_AFTER_MS);
  const third = await send(appId);
  await expect.poll(async () => (await endpointRow(endpointId))?.disabled).toBe(true);
  const reason = 'the endpoint was disabled after failing for 1 second';
  expect((await endpointRow(endpointId))?.disabled_reason).toBe(reason);
  for (const id of [first, second, third]) expect(await deliveryOf(id)).toMatchObject({ status: 'failed', failure_reason: reason });

  // The operator hears of it, signed with the operational secret.
  await expect
    .poll(() => operational.requests.filter((request) => request.body.includes('"endpoint.disabled"')).length, { timeout: 10_000 })
    .toBe(1);
  const request = operational.requests.find((each) => each.body.includes('"endpoint.disabled"'));
  new Webhook(OPERATIONAL_SECRET).verify(request?.body as string, request?.headers as Record<string, string>);
  const event = JSON.parse(request?.body as string) as { type: string; timestamp: string; data: Record<string, unknown> };
  expect(event).toMatchObject({
    type: 'endpoint.disabled',
    timestamp: expect.any(String),
    data: { appId, appUid: null, endpointId, endpointUid: null, failSince: expect.any(String), trigger: 'automatic' },
  });

  // The attempt that disabled the endpoint was its message's last: that message is exhausted (as in Svix,
  // where the disabling attempt is always a message's last); the others ended without an attempt of their own.
  await expect
    .poll(() => operational.requests.filter((each) => each.body.includes('"message.attempt.exhausted"')).length, { timeout: 10_000 })
    .toBe(1);
  const exhausted = operational.requests.find((each) => each.body.includes('"message.attempt.exhausted"'));
  expect(JSON.parse(exhausted?.body as string)).toMatchObject({ type: 'message.attempt.exhausted', data: { msgId: third, endpointId } });

  // A disabled endpoint gets no new messages; attempts already due are not made.
  const later = await send(appId);
  expect(await deliveryOf(later)).toBeUndefined();
  const before = dead.requests.length;
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(dead.requests.length).toBe(before);
});

it('any success resets the clock', async () => {
  let up = false;
  const flaky = await receiver(() => (up ? 200 : 500));
  const { appId, endpointId } = await createAppEndpoint(h.db, { tenantId, url: flaky.url });

  const failed = await send(appId);
  await expect.poll(async () => (await deliveryOf(failed))?.attempt_count).toBe(1);
  expect(await endpointRow(endpointId)).toMatchObject({ failing: true });

  up = true;
  const ok = await send(appId);
  await expect.poll(async () => (await deliveryOf(ok))?.status).toBe('succeeded');
  expect(await endpointRow(endpointId)).toMatchObject({ failing: false });

  // Failing again long after the first failure: the clock starts anew, so it stays enabled.
  up = false;
  clock.advance(3 * DISABLE_AFTER_MS);
  const again = await send(appId);
  await expect.poll(async () => (await deliveryOf(again))?.attempt_count).toBe(1);
  expect(await endpointRow(endpointId)).toMatchObject({ disabled: false, failing: true });
});

it('run webhooks are never auto-disabled', async () => {
  const dead = await receiver(() => 500);
  const { run } = await createRun(h.deps, tenantId, {
    workflowId: 'wf_dead',
    webhook: { url: dead.url, events: ['run.started', 'run.failed'], metadata: null, headers: {} },
  });
  await recordEvent(h.deps, tenantId, run.id, { type: 'run.started' });
  await dead.waitForRequests(1, 5_000);
  clock.advance(3 * DISABLE_AFTER_MS);
  await recordEvent(h.deps, tenantId, run.id, { type: 'run.failed', error: 'boom' });
  await dead.waitForRequests(2, 5_000);
  await new Promise((resolve) => setTimeout(resolve, 200));
  const [row] = await h.sql`select disabled, failing_since from endpoints where run_id = ${run.id}`;
  expect(row).toEqual({ disabled: false, failing_since: null });
});
