/**
 * Operational webhooks: Orbit's events about itself (README, "Delivery control"), in the shapes of
 * Svix's operational webhooks, delivered like any message — signed, retried, logged — to the
 * operational endpoints: the deployment's own (ORBIT_OPERATIONAL_WEBHOOK_URL, made at start by
 * bootstrap) and those a tenant registers through the Svix-compatible API. An event is a message
 * with no run and no application, written in the transaction that records the fact it reports; with
 * no operational endpoint it is not written at all. Nothing about a delivery to an operational
 * endpoint is ever reported (no loops).
 *
 * A tenant's event goes to its own operational endpoints under one message, and to the deployment's
 * endpoint under another one owned by the deployment's tenant: a tenant never sees the operator's
 * URL in its log.
 */
import { sql } from 'drizzle-orm';
import { messages } from '../db/schema.ts';
import { newId } from '../lib/ids.ts';
import { queryIn, type EnqueueTransaction, type PlannedDelivery } from '../queue/delivery-queue.ts';

/** The messages that are not operational events (see above: an event has no run and no application). */
export const notOperationalEvent = sql`(${messages.runId} is not null or ${messages.appId} is not null)`;

export const OPERATIONAL_EVENT_TYPES = [
  'message.attempt.exhausted',
  'message.attempt.failing',
  'message.attempt.recovered',
  'endpoint.disabled',
  'endpoint.created',
  'endpoint.updated',
  'endpoint.deleted',
] as const;
type OperationalEventType = (typeof OPERATIONAL_EVENT_TYPES)[number];

/**
 * The `uid` of the deployment's operational endpoint (ORBIT_OPERATIONAL_WEBHOOK_URL). The colon
 * keeps it out of reach of uids given through the API (Svix's uid rule has none).
 */
export const DEPLOYMENT_ENDPOINT_UID = 'orbit:deployment';

/** A failed or recovered delivery: `message.attempt.*`. */
export interface AttemptEvent {
  type: Extract<OperationalEventType, `message.${string}`>;
  tenantId: string;
  messageId: string;
  endpointId: string;
  attemptId: string;
  responseStatus: number | null;
  /** When the attempt started. */
  attemptedAt: Date;
}

/** Something that happened to an application's endpoint: `endpoint.*`. */
export interface EndpointEvent {
  type: Extract<OperationalEventType, `endpoint.${string}`>;
  tenantId: string;
  endpointId: string;
  /** `endpoint.disabled`: the first failure after its last success. */
  failingSince?: Date | null;
}

export type OperationalEvent = AttemptEvent | EndpointEvent;

interface Target {
  id: string;
  tenant_id: string;
  url: string;
  deployment: boolean;
  /** The event types it takes (Svix's `eventTypes`); null for all. */
  filter_types: string[] | null;
}

const TARGETS = `
  select id, tenant_id, url, uid is not distinct from $2 as deployment, filter_types from endpoints
  where kind = 'operational' and deleted_at is null and not disabled and (tenant_id = any($1::text[]) or uid = $2)
  order by id`;

interface AttemptDetail {
  message_id: string;
  endpoint_id: string;
  kind: string;
  app_id: string | null;
  app_uid: string | null;
  event_id: string | null;
  run_id: string | null;
  workflow_id: string | null;
}

const ATTEMPT_DETAILS = `
  select x.message_id, x.endpoint_id, e.kind, m.app_id, a.uid as app_uid, m.event_id, m.run_id, m.workflow_id
  from unnest($1::text[], $2::text[]) as x(message_id, endpoint_id)
  join messages m on m.id = x.message_id
  join endpoints e on e.id = x.endpoint_id
  left join applications a on a.id = m.app_id`;

interface EndpointDetail {
  id: string;
  kind: string;
  uid: string | null;
  app_id: string | null;
  app_uid: string | null;
}

const ENDPOINT_DETAILS = `
  select e.id, e.kind, e.uid, e.app_id, a.uid as app_uid from endpoints e
  left join applications a on a.id = e.app_id
  where e.id = any($1::text[])`;

const INSERT = `
  with new_messages as (
    insert into messages (id, tenant_id, event_type, payload, created_at)
    select x.id, x.tenant_id, x.event_type, x.payload, $4::timestamptz
    from unnest($1::text[], $2::text[], $3::text[], $5::text[]) as x(id, tenant_id, event_type, payload)
  )
  insert into deliveries (message_id, endpoint_id, tenant_id, status, next_attempt_at, created_at)
  select x.message_id, x.endpoint_id, x.tenant_id, 'pending', $4::timestamptz, $4::timestamptz
  from unnest($6::text[], $7::text[], $8::text[]) as x(message_id, endpoint_id, tenant_id)`;

/**
 * Writes the events as messages with a pending delivery to each operational endpoint that gets
 * them, inside the caller's transaction, and returns their first jobs for the caller to enqueue in
 * it. Events about operational endpoints, or about deliveries to them, are dropped here.
 */
export async function writeOperationalEvents(
  tx: EnqueueTransaction,
  events: readonly OperationalEvent[],
  now: Date,
): Promise<PlannedDelivery[]> {
  if (events.length === 0) return [];
  const tenants = [...new Set(events.map((event) => event.tenantId))];
  const targets = await queryIn<Target>(tx, TARGETS, [tenants, DEPLOYMENT_ENDPOINT_UID]);
  if (targets.length === 0) return [];

  const attemptEvents = events.filter((event): event is AttemptEvent => event.type.startsWith('message.'));
  const endpointEvents = events.filter((event): event is EndpointEvent => event.type.startsWith('endpoint.'));
  const [attemptDetails, endpointDetails] = await Promise.all([
    attemptEvents.length === 0
      ? ([] as AttemptDetail[])
      : queryIn<AttemptDetail>(tx, ATTEMPT_DETAILS, [
          attemptEvents.map((event) => event.messageId),
          attemptEvents.map((event) => event.endpointId),
        ]),
    endpointEvents.length === 0
      ? ([] as EndpointDetail[])
      : queryIn<EndpointDetail>(tx, ENDPOINT_DETAILS, [endpointEvents.map((event) => event.endpointId)]),
  ]);
  const attemptOf = new Map(attemptDetails.map((row) => [`${row.message_id} ${row.endpoint_id}`, row]));
  const endpointOf = new Map(endpointDetails.map((row) => [row.id, row]));

  const messageRows = { id: [] as string[], tenantId: [] as string[], eventType: [] as string[], payload: [] as string[] };
  const deliveryRows = { messageId: [] as string[], endpointId: [] as string[], tenantId: [] as string[] };
  const jobs: PlannedDelivery[] = [];
  for (const event of events) {
    const data = 'attemptId' in event ? attemptData(event, attemptOf) : endpointData(event, endpointOf);
    if (data === null) continue;
    const payload = JSON.stringify({ type: event.type, timestamp: now.toISOString(), data });
    // The tenant's own endpoints under one message; the deployment's under one of its own.
    const groups = new Map<string, Target[]>();
    for (const target of targets) {
      if (!target.deployment && target.tenant_id !== event.tenantId) continue;
      if (target.filter_types !== null && target.filter_types.length > 0 && !target.filter_types.includes(event.type)) continue;
      const owner = target.deployment ? target.tenant_id : event.tenantId;
      groups.set(owner, [...(groups.get(owner) ?? []), target]);
    }
    for (const [owner, group] of groups) {
      const id = newId('msg', now.getTime());
      messageRows.id.push(id);
      messageRows.tenantId.push(owner);
      messageRows.eventType.push(event.type);
      messageRows.payload.push(payload);
      for (const target of group) {
        deliveryRows.messageId.push(id);
        deliveryRows.endpointId.push(target.id);
        deliveryRows.tenantId.push(owner);
        jobs.push({ messageId: id, endpointId: target.id, step: 1, trigger: 'scheduled', url: target.url });
      }
    }
  }
  if (messageRows.id.length === 0) return [];
  await queryIn(tx, INSERT, [
    messageRows.id,
    messageRows.tenantId,
    messageRows.eventType,
    now.toISOString(),
    messageRows.payload,
    deliveryRows.messageId,
    deliveryRows.endpointId,
    deliveryRows.tenantId,
  ]);
  return jobs;
}

function attemptData(event: AttemptEvent, details: ReadonlyMap<string, AttemptDetail>): Record<string, unknown> | null {
  const detail = details.get(`${event.messageId} ${event.endpointId}`);
  if (detail === undefined || detail.kind === 'operational') return null;
  const run = detail.run_id !== null;
  return {
    appId: detail.app_id,
    appUid: detail.app_uid,
    // A run's webhook endpoint is internal (the log shows null for it too).
    endpointId: detail.kind === 'run' ? null : detail.endpoint_id,
    msgId: event.messageId,
    msgEventId: detail.event_id,
    lastAttempt: { id: event.attemptId, responseStatusCode: event.responseStatus ?? 0, timestamp: event.attemptedAt.toISOString() },
    ...(run ? { tenantId: event.tenantId, runId: detail.run_id, workflowId: detail.workflow_id } : {}),
  };
}

function endpointData(event: EndpointEvent, details: ReadonlyMap<string, EndpointDetail>): Record<string, unknown> | null {
  const detail = details.get(event.endpointId);
  if (detail === undefined || detail.kind !== 'app') return null;
  const data: Record<string, unknown> = {
    appId: detail.app_id,
    appUid: detail.app_uid,
    endpointId: detail.id,
    endpointUid: detail.uid,
  };
  if (event.type === 'endpoint.disabled') {
    data['failSince'] = event.failingSince?.toISOString() ?? null;
    data['trigger'] = 'automatic';
  }
  return data;
}
