/**
 * Operational webhooks (README, "Delivery control"): Orbit's events about itself, Svix-shaped and
 * signed with the operational secret, delivered through the same engine to the deployment's
 * operational endpoint (ORBIT_OPERATIONAL_WEBHOOK_URL) and a tenant's own ones. Verified with the
 * real `svix` Webhook.
 */
import { Webhook } from 'svix';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { endpoints, signingSecrets } from '../../src/db/schema.ts';
import { generateSigningSecret } from '../../src/domain/signing.ts';
import { newId } from '../../src/lib/ids.ts';
import { bootstrap } from '../../src/services/bootstrap.ts';
import { ingestAppMessage } from '../../src/services/event-ingest.ts';
import { createRun, recordEvent } from '../../src/services/runs.ts';
import { createAppEndpoint, createTenant, startDeliveryHarness, type DeliveryHarness } from '../support/delivery-fixtures.ts';
import { startFakeReceiver, type FakeReceiver, type RecordedRequest } from '../support/fake-receiver.ts';

const LADDER = [20, 20, 20, 20, 20];
const OPERATIONAL_SECRET = generateSigningSecret();
let h: DeliveryHarness;
let operational: FakeReceiver;
const receivers: FakeReceiver[] = [];

interface OperationalEvent {
  type: string;
  timestamp: string;
  data: Record<string, unknown>;
}

beforeAll(async () => {
  h = await startDeliveryHarness({ retrySchedule: LADDER });
  operational = await startFakeReceiver({ script: [200] });
  await bootstrap(h.deps, { operationalWebhookUrl: operational.url, operationalWebhookSecret: OPERATIONAL_SECRET });
});

afterEach(() => {
  h.settings.retrySchedule = LADDER;
});

afterAll(async () => {
  await Promise.all([operational, ...receivers].map((receiver) => receiver?.close()));
  await h?.close();
});

async function receiver(script: (index: number) => number): Promise<FakeReceiver> {
  const r = await startFakeReceiver({ script: (_request, index) => script(index) });
  receivers.push(r);
  return r;
}

/** The events of this type about this message that reached `at`, each verified with `secret`. */
function eventsAt(at: FakeReceiver, secret: string, type: string, msgId?: string): OperationalEvent[] {
  return at.requests
    .filter((request: RecordedRequest) => request.body.includes(`"${type}"`))
    .map((request) => {
      new Webhook(secret).verify(request.body, request.headers);
      return JSON.parse(request.body) as OperationalEvent;
    })
    .filter((event) => event.type === type && (msgId === undefined || event.data['msgId'] === msgId));
}

it('an exhausted run message produces message.attempt.exhausted, with the run, signed with the operational secret', async () => {
  h.settings.retrySchedule = [];
  const { tenantId } = await createTenant(h);
  const dead = await receiver(() => 500);
  const { run } = await createRun(h.deps, tenantId, {
    workflowId: 'wf_ops',
    webhook: { url: dead.url, events: ['run.started'], metadata: null, headers: {} },
  });
  const { messageId } = await recordEvent(h.deps, tenantId, run.id, { type: 'run.started' });
  await expect.poll(() => eventsAt(operational, OPERATIONAL_SECRET, 'message.attempt.exhausted', messageId as string).length).toBe(1);
  const [event] = eventsAt(operational, OPERATIONAL_SECRET, 'message.attempt.exhausted', messageId as string);
  expect(event).toEqual({
    type: 'message.attempt.exhausted',
    timestamp: expect.stringMatching(/Z$/),
    data: {
      appId: null,
      appUid: null,
      endpointId: null,
      msgId: messageId,
      msgEventId: expect.stringMatching(/^evt_/),
      lastAttempt: { id: expect.stringMatching(/^atmpt_/), responseStatusCode: 500, timestamp: expect.stringMatching(/Z$/) },
      tenantId,
      runId: run.id,
      workflowId: 'wf_ops',
    },
  });
});

it('the 4th failed attempt produces message.attempt.failing, and the success after it message.attempt.recovered', async () => {
  const { tenantId } = await createTenant(h);
  // Four failures, then success (the ladder allows six attempts).
  const flaky = await receiver((index) => (index < 4 ? 503 : 200));
  const { appId, endpointId } = await createAppEndpoint(h.db, { tenantId, url: flaky.url });
  const message = await ingestAppMessage(h.deps, tenantId, appId, {
    eventType: 'invoice.paid',
    eventId: 'evt-42',
    channels: null,
    payload: '{"id":42}',
  });
  await expect.poll(() => eventsAt(operational, OPERATIONAL_SECRET, 'message.attempt.recovered', message.id).length).toBe(1);
  const failing = eventsAt(operational, OPERATIONAL_SECRET, 'message.attempt.failing', message.id);
  expect(failing).toHaveLength(1);
  expect(failing[0]?.data).toMatchObject({
    appId,
    endpointId,
    msgId: message.id,
    msgEventId: 'evt-42',
    lastAttempt: { responseStatusCode: 503 },
  });
  expect(failing[0]?.data).not.toHaveProperty('runId');
  const [recovered] = eventsAt(operational, OPERATIONAL_SECRET, 'message.attempt.recovered', message.id);
  expect(recovered?.data).toMatchObject({ appId, endpointId, msgId: message.id, lastAttempt: { responseStatusCode: 200 } });
  expect(eventsAt(operational, OPERATIONAL_SECRET, 'message.attempt.exhausted', message.id)).toEqual([]);
});

it("a tenant's own operational endpoint gets its events only, under a message of its own; nothing is reported about operational deliveries", async () => {
  h.settings.retrySchedule = [];
  const { tenantId } = await createTenant(h);
  const other = await createTenant(h);
  // The tenant's own operational endpoint, as the Svix-compatible API registers one; it fails.
  const own = await receiver(() => 500);
  const ownSecret = generateSigningSecret();
  const ownId = newId('ep');
  await h.db.insert(endpoints).values({ id: ownId, tenantId, kind: 'operational', url: own.url });
  await h.db.insert(signingSecrets).values({ id: newId('sec'), tenantId, endpointId: ownId, secret: ownSecret });

  const dead = await receiver(() => 500);
  const webhook = { url: dead.url, events: ['run.started'], metadata: null, headers: {} };
  const mine = await createRun(h.deps, tenantId, { workflowId: 'wf_mine', webhook });
  const theirs = await createRun(h.deps, other.tenantId, { workflowId: 'wf_theirs', webhook });
  const a = (await recordEvent(h.deps, tenantId, mine.run.id, { type: 'run.started' })).messageId as string;
  const b = (await recordEvent(h.deps, other.tenantId, theirs.run.id, { type: 'run.started' })).messageId as string;

  await expect.poll(() => eventsAt(own, ownSecret, 'message.attempt.exhausted').length).toBe(1);
  expect(eventsAt(own, ownSecret, 'message.attempt.exhausted', a)).toHaveLength(1);
  await expect.poll(() => eventsAt(operational, OPERATIONAL_SECRET, 'message.attempt.exhausted', b).length).toBe(1);
  expect(eventsAt(operational, OPERATIONAL_SECRET, 'message.attempt.exhausted', a)).toHaveLength(1);

  // One message per audience: the tenant's own log never holds the operator's URL.
  const rows = await h.sql<{ tenant_id: string; url: string }[]>`
    select d.tenant_id, e.url from deliveries d join endpoints e on e.id = d.endpoint_id join messages m on m.id = d.message_id
    where e.kind = 'operational' and m.payload like ${`%${a}%`}`;
  expect(rows.map((row) => [row.tenant_id === tenantId, row.url]).sort()).toEqual(
    [
      [false, operational.url],
      [true, own.url],
    ].sort(),
  );

  // The own endpoint's delivery failed for good, yet no event tells of it (no loops).
  await new Promise((resolve) => setTimeout(resolve, 300));
  const [{ n } = { n: -1 }] = await h.sql<{ n: number }[]>`select count(*)::int as n from messages where payload like ${`%${ownId}%`}`;
  expect(n).toBe(0);
  expect(eventsAt(own, ownSecret, 'message.attempt.exhausted')).toHaveLength(1);
});
