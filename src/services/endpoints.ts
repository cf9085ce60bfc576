/**
 * Standing endpoints of an application (Svix-compatible API): where its messages go, each with its
 * own signing secrets, event-type and channel filters, custom headers and `disabled` flag. They are
 * rows of `endpoints` with kind `app` (docs/architecture.md, "Destinations"): the engine delivers to
 * them as to any endpoint. Deleting one is soft, so the delivery log keeps its history; a deleted
 * endpoint is invisible here and its uid is free again.
 */
import { and, eq, gte, lt, sql } from 'drizzle-orm';
import { deliveries, endpoints } from '../db/schema.ts';
import { OrbitError, type ErrorDetail } from '../domain/errors.ts';
import { generateSigningSecret, normaliseSigningSecret, parseSigningSecret, SIGNING_SECRET_RULE } from '../domain/signing.ts';
import {
  DEFAULT_EXAMPLE,
  ID_PREFIX,
  isIdOf,
  listOut,
  PING_EVENT_TYPE,
  PING_PAYLOAD,
  schemaExample,
  splitSensitiveHeaders,
  type ListOut,
  type ListPage,
} from '../domain/svix.ts';
import { customHeaderProblems, webhookUrlProblem } from '../domain/webhook.ts';
import { formatRetrySchedule, parseRetrySchedule, RETRY_SCHEDULE_RULE } from '../domain/schedule.ts';
import { newId } from '../lib/ids.ts';
import { enqueueDeliveries, type PlannedDelivery } from '../queue/delivery-queue.ts';
import { closeDeliveries } from './delivery.ts';
import type { ServiceDeps } from './deps.ts';
import { writeOperationalEvents, type EndpointEvent } from './operational.ts';
import { releaseWaiting } from './ordering.ts';
import { ingestAppMessage, type IngestedAppMessage } from './event-ingest.ts';
import { eventTypeSchemas, unknownEventTypes } from './event-types.ts';
import { recover } from './recovery.ts';
import { endpointSecret, rotateEndpointSigningSecret } from './signing-rotation.ts';
import { insertSigningSecret } from './signing-secrets.ts';
import {
  afterKey,
  findApplication,
  findEndpoint,
  isUniqueViolation,
  keyOrder,
  lookupEndpoint,
  uidTaken,
  type EndpointRow,
} from './svix-scope.ts';

const UID_INDEX = 'endpoints_app_uid_idx';

/** Svix's `EndpointOut`: `eventTypes` and its older name `filterTypes` carry the same filter. */
export interface EndpointView {
  id: string;
  uid: string | null;
  url: string;
  description: string;
  disabled: boolean;
  eventTypes: string[] | null;
  filterTypes: string[] | null;
  channels: string[] | null;
  throttleRate: number | null;
  rateLimit: number | null;
  version: number;
  metadata: Record<string, string>;
  createdAt: string;
  updatedAt: string;
  /** Orbit's delivery control (README, "Delivery control"): one message at a time, in order. */
  ordered: boolean;
  /** Its own retry schedule (`1s,10s,1m`); null for the deployment's. */
  retrySchedule: string | null;
  /** Why Orbit disabled it (auto-disable); null otherwise. */
  disabledReason: string | null;
}

/** An endpoint's fields as `PUT` sets them (absent ones take their defaults). */
export interface EndpointFields {
  url: string;
  description?: string | undefined;
  uid?: string | null | undefined;
  /** Event types it receives; null (or absent) for all. */
  eventTypes?: string[] | null | undefined;
  channels?: string[] | null | undefined;
  disabled?: boolean | undefined;
  throttleRate?: number | null | undefined;
  metadata?: Record<string, string> | undefined;
  /** Not in Svix's API (its SDKs never send them): a PUT without them keeps them as they are. */
  ordered?: boolean | undefined;
  /** A retry schedule as ORBIT_RETRY_SCHEDULE takes it (text or a list of durations); null for the deployment's. */
  retrySchedule?: string | readonly string[] | null | undefined;
}

export interface EndpointInput extends EndpointFields {
  /** Its signing secret (`whsec_…`); generated when absent. */
  secret?: string | null | undefined;
  headers?: Record<string, string> | null | undefined;
}

export type EndpointPatch = Partial<EndpointFields>;

export function toEndpointView(row: EndpointRow): EndpointView {
  return {
    id: row.id,
    uid: row.uid,
    url: row.url,
    description: row.description,
    disabled: row.disabled,
    eventTypes: row.filterTypes,
    filterTypes: row.filterTypes,
    channels: row.channels,
    throttleRate: row.throttleRate,
    rateLimit: row.throttleRate,
    version: 1,
    metadata: row.metadata,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    ordered: row.ordered,
    retrySchedule: row.retrySchedule === null ? null : formatRetrySchedule(row.retrySchedule),
    disabledReason: row.disabledReason,
  };
}

/** A retry schedule given as text or a list, in ms; null for none; refused (422) when invalid. */
function retryScheduleOf(value: string | readonly string[] | null | undefined): number[] | null {
  if (value === null || value === undefined) return null;
  const schedule = parseRetrySchedule(typeof value === 'string' ? value : value.join(','));
  if (schedule === null) fail([{ path: 'body.retrySchedule', message: `must be ${RETRY_SCHEDULE_RULE}` }]);
  return schedule;
}

/** Writes an operational event in the caller's transaction; answers the jobs to wake after its commit. */
async function reportEndpoint(
  deps: Pick<ServiceDeps, 'boss'>,
  tx: Parameters<Parameters<ServiceDeps['db']['transaction']>[0]>[0],
  event: EndpointEvent,
  now: Date,
): Promise<PlannedDelivery[]> {
  const jobs = await writeOperationalEvents({ drizzle: tx }, [event], now);
  if (jobs.length > 0) await enqueueDeliveries(deps.boss, jobs, { drizzle: tx });
  return jobs;
}

function fail(details: ErrorDetail[]): never {
  throw new OrbitError('validation_failed', 'the request is not valid', details);
}

/** The rules beyond the request schema: the URL policy, forbidden headers, known event types. */
async function checkFields(
  deps: Pick<ServiceDeps, 'db' | 'webhookRules'>,
  tenantId: string,
  fields: { url?: string | undefined; eventTypes?: string[] | null | undefined; headers?: Record<string, string> | null | undefined },
): Promise<void> {
  const details: ErrorDetail[] = [];
  if (fields.url !== undefined) {
    const problem = webhookUrlProblem(fields.url, deps.webhookRules);
    if (problem) details.push({ path: 'body.url', message: problem });
  }
  for (const [name, message] of customHeaderProblems(fields.headers ?? {})) {
    details.push({ path: 'body.headers', message: name ? `${name}: ${message}` : message });
  }
  if (fields.eventTypes) {
    const unknown = await unknownEventTypes(deps, tenantId, fields.eventTypes);
    if (unknown.length > 0)
      details.push({ path: 'body.eventTypes', message: `The following event types don't exist: ${unknown.join(', ')}` });
  }
  if (details.length > 0) fail(details);
}

/** A filter list as stored: duplicates dropped, order kept; null for none. */
const distinct = (values: readonly string[] | null | undefined): string[] | null => (values ? [...new Set(values)] : null);

export async function listEndpoints(
  deps: Pick<ServiceDeps, 'db'>,
  tenantId: string,
  appKey: string,
  page: ListPage,
): Promise<ListOut<EndpointView>> {
  const app = await findApplication(deps.db, tenantId, appKey);
  const rows = await deps.db
    .select()
    .from(endpoints)
    .where(and(eq(endpoints.appId, app.id), eq(endpoints.kind, 'app'), sql`${endpoints.deletedAt} is null`, afterKey(endpoints.id, page)))
    .orderBy(...keyOrder([endpoints.id], page))
    .limit(page.limit + 1);
  return listOut(rows, page, (row) => row.id, toEndpointView);
}

export async function getEndpoint(deps: Pick<ServiceDeps, 'db'>, tenantId: string, appKey: string, key: string): Promise<EndpointView> {
  const app = await findApplication(deps.db, tenantId, appKey);
  return toEndpointView(await findEndpoint(deps.db, app.id, key));
}

type EndpointDeps = Pick<ServiceDeps, 'db' | 'clock' | 'cipher' | 'webhookRules' | 'boss' | 'onEnqueued'>;

export async function createEndpoint(deps: EndpointDeps, tenantId: string, appKey: string, input: EndpointInput): Promise<EndpointView> {
  const app = await findApplication(deps.db, tenantId, appKey);
  await checkFields(deps, tenantId, input);
  if (input.secret != null && parseSigningSecret(input.secret) === null) fail([{ path: 'body.secret', message: SIGNING_SECRET_RULE }]);
  const secret = normaliseSigningSecret(input.secret ?? generateSigningSecret());
  const retrySchedule = retryScheduleOf(input.retrySchedule);
  const now = deps.clock.now();
  const id = newId(ID_PREFIX.endpoint, now.getTime());
  try {
    let reported: PlannedDelivery[] = [];
    const row = await deps.db.transaction(async (tx) => {
      const [inserted] = await tx
        .insert(endpoints)
        .values({
          id,
          tenantId,
          kind: 'app',
          appId: app.id,
          uid: input.uid ?? null,
          url: input.url,
          description: input.description ?? '',
          filterTypes: distinct(input.eventTypes),
          channels: distinct(input.channels),
          disabled: input.disabled ?? false,
          headers: input.headers ?? {},
          metadata: input.metadata ?? {},
          throttleRate: input.throttleRate ?? null,
          ordered: input.ordered ?? false,
          retrySchedule,
          createdAt: now,
          updatedAt: now,
        })
        .returning();
      await insertSigningSecret(deps, tx, { tenantId, endpointId: id }, secret, now);
      reported = await reportEndpoint(deps, tx, { type: 'endpoint.created', tenantId, endpointId: id }, now);
      return inserted as EndpointRow;
    });
    if (reported.length > 0) deps.onEnqueued(reported);
    return toEndpointView(row);
  } catch (error) {
    if (isUniqueViolation(error, UID_INDEX)) throw uidTaken('endpoint');
    throw error;
  }
}

async function updateEndpoint(deps: EndpointDeps, existing: EndpointRow, changes: EndpointPatch): Promise<EndpointView> {
  const now = deps.clock.now();
  const set: Partial<typeof endpoints.$inferInsert> = { updatedAt: now };
  if (changes.url !== undefined) set.url = changes.url;
  if (changes.description !== undefined) set.description = changes.description;
  if (changes.uid !== undefined) set.uid = changes.uid;
  if (changes.eventTypes !== undefined) set.filterTypes = distinct(changes.eventTypes);
  if (changes.channels !== undefined) set.channels = distinct(changes.channels);
  if (changes.disabled !== undefined) {
    set.disabled = changes.disabled;
    // Enabled again (or disabled by hand): auto-disable's reason and clock start over.
    set.disabledReason = null;
    if (!changes.disabled) set.failingSince = null;
  }
  if (changes.throttleRate !== undefined) set.throttleRate = changes.throttleRate;
  if (changes.metadata !== undefined) set.metadata = changes.metadata;
  if (changes.ordered !== undefined) set.ordered = changes.ordered;
  if (changes.retrySchedule !== undefined) set.retrySchedule = retryScheduleOf(changes.retrySchedule);
  try {
    let woken: PlannedDelivery[] = [];
    const row = await deps.db.transaction(async (tx) => {
      const [updated] = await tx
        .update(endpoints)
        .set(set)
        .where(and(eq(endpoints.id, existing.id), sql`${endpoints.deletedAt} is null`))
        .returning();
      if (!updated) throw new OrbitError('not_found', 'endpoint not found');
      // No longer ordered: the messages waiting in line go now (the row is locked by the update).
      const released = existing.ordered && !updated.ordered ? await releaseWaiting({ drizzle: tx }, updated.id, now) : [];
      if (released.length > 0) await enqueueDeliveries(deps.boss, released, { drizzle: tx });
      const reported = await reportEndpoint(
        deps,
        tx,
        { type: 'endpoint.updated', tenantId: updated.tenantId, endpointId: updated.id },
        now,
      );
      woken = [...released, ...reported];
      return updated;
    });
    if (woken.length > 0) deps.onEnqueued(woken);
    return toEndpointView(row);
  } catch (error) {
    if (isUniqueViolation(error, UID_INDEX)) throw uidTaken('endpoint');
    throw error;
  }
}

/**
 * `PUT …/endpoint/{endpoint_id}`: replaces the endpoint's fields (its secret and headers stay), or
 * creates it when the path names a uid that is not taken (with that uid unless the body gives
 * another). An unknown id is a 404: a new endpoint always gets a new id.
 */
export async function upsertEndpoint(
  deps: EndpointDeps,
  tenantId: string,
  appKey: string,
  key: string,
  fields: EndpointFields,
): Promise<{ endpoint: EndpointView; created: boolean }> {
  const app = await findApplication(deps.db, tenantId, appKey);
  const byId = isIdOf(ID_PREFIX.endpoint, key);
  let existing = await lookupEndpoint(deps.db, app.id, key);
  const pathUid = byId ? null : key;
  if (!existing) {
    if (byId) throw new OrbitError('not_found', 'endpoint not found');
    const uid = fields.uid === undefined ? pathUid : fields.uid;
    try {
      return { endpoint: await createEndpoint(deps, tenantId, app.id, { ...fields, uid }), created: true };
    } catch (error) {
      // A concurrent upsert of the same uid created it first: this one updates it, as it would have a moment later.
      existing = error instanceof OrbitError && error.code === 'conflict' ? await lookupEndpoint(deps.db, app.id, key) : null;
      if (!existing) throw error;
    }
  }
  await checkFields(deps, tenantId, fields);
  const endpoint = await updateEndpoint(deps, existing, {
    url: fields.url,
    description: fields.description ?? '',
    uid: fields.uid === undefined ? (pathUid ?? existing.uid) : fields.uid,
    eventTypes: fields.eventTypes ?? null,
    channels: fields.channels ?? null,
    disabled: fields.disabled ?? false,
    throttleRate: fields.throttleRate ?? null,
    metadata: fields.metadata ?? {},
    ordered: fields.ordered,
    retrySchedule: fields.retrySchedule,
  });
  return { endpoint, created: false };
}

/** `PATCH`: only the fields given; `null` clears `uid`, `eventTypes`, `channels`, `throttleRate`. */
export async function patchEndpoint(
  deps: EndpointDeps,
  tenantId: string,
  appKey: string,
  key: string,
  patch: EndpointPatch,
): Promise<EndpointView> {
  const app = await findApplication(deps.db, tenantId, appKey);
  const existing = await findEndpoint(deps.db, app.id, key);
  await checkFields(deps, tenantId, { url: patch.url, eventTypes: patch.eventTypes });
  return updateEndpoint(deps, existing, patch);
}

/**
 * Deletes the endpoint softly: it receives nothing more, its pending deliveries end `failed` with
 * the reason, and the delivery log keeps its attempts. Its uid may be used again at once.
 */
export async function deleteEndpoint(
  deps: Pick<ServiceDeps, 'db' | 'sql' | 'clock' | 'boss' | 'onEnqueued'>,
  tenantId: string,
  appKey: string,
  key: string,
): Promise<void> {
  const app = await findApplication(deps.db, tenantId, appKey);
  const existing = await findEndpoint(deps.db, app.id, key);
  const now = deps.clock.now();
  const reported = await deps.db.transaction(async (tx) => {
    await tx.update(endpoints).set({ deletedAt: now }).where(eq(endpoints.id, existing.id));
    return reportEndpoint(deps, tx, { type: 'endpoint.deleted', tenantId, endpointId: existing.id }, now);
  });
  if (reported.length > 0) deps.onEnqueued(reported);
  const pending = await deps.db
    .select({ messageId: deliveries.messageId })
    .from(deliveries)
    .where(and(eq(deliveries.endpointId, existing.id), eq(deliveries.status, 'pending')));
  await closeDeliveries(
    deps,
    pending.map((row) => ({ messageId: row.messageId, endpointId: existing.id, reason: 'the endpoint was deleted' })),
  );
}

// ---- secrets ----------------------------------------------------------------------------------

export async function getEndpointSecret(
  deps: Pick<ServiceDeps, 'db' | 'cipher'>,
  tenantId: string,
  appKey: string,
  key: string,
): Promise<{ key: string }> {
  const app = await findApplication(deps.db, tenantId, appKey);
  const endpoint = await findEndpoint(deps.db, app.id, key);
  return endpointSecret(deps, { tenantId, endpointId: endpoint.id });
}

/**
 * A new current secret (the one given, or a generated one); the secrets valid before keep signing
 * for the grace period (24 hours by default), so receivers can switch without rejecting a delivery.
 */
export async function rotateEndpointSecret(
  deps: Pick<ServiceDeps, 'db' | 'clock' | 'cipher'>,
  tenantId: string,
  appKey: string,
  key: string,
  input: { key?: string | null | undefined; gracePeriodSeconds?: number | null | undefined },
): Promise<void> {
  const app = await findApplication(deps.db, tenantId, appKey);
  const endpoint = await findEndpoint(deps.db, app.id, key);
  await rotateEndpointSigningSecret(deps, { tenantId, endpointId: endpoint.id }, input);
}

// ---- headers ----------------------------------------------------------------------------------

export async function getEndpointHeaders(
  deps: Pick<ServiceDeps, 'db'>,
  tenantId: string,
  appKey: string,
  key: string,
): Promise<{ headers: Record<string, string>; sensitive: string[] }> {
  const app = await findApplication(deps.db, tenantId, appKey);
  const endpoint = await findEndpoint(deps.db, app.id, key);
  return splitSensitiveHeaders(endpoint.headers);
}

/** Replaces the endpoint's custom headers (`set`), or changes some (`patch`: null or `deleteHeaders` removes). */
export async function changeEndpointHeaders(
  deps: Pick<ServiceDeps, 'db' | 'clock' | 'webhookRules'>,
  tenantId: string,
  appKey: string,
  key: string,
  change: { replace: Record<string, string> } | { patch: Record<string, string | null>; remove: readonly string[] },
): Promise<void> {
  const app = await findApplication(deps.db, tenantId, appKey);
  const endpoint = await findEndpoint(deps.db, app.id, key);
  await deps.db.transaction(async (tx) => {
    // Read under the row's lock: two patches at once each keep the other's headers.
    const [current] = await tx.select({ headers: endpoints.headers }).from(endpoints).where(eq(endpoints.id, endpoint.id)).for('update');
    let headers: Record<string, string>;
    if ('replace' in change) {
      headers = change.replace;
    } else {
      // Header names are case-insensitive: a patch of X-Foo replaces x-foo.
      const gone = new Set([...change.remove, ...Object.keys(change.patch)].map((name) => name.toLowerCase()));
      headers = Object.fromEntries(Object.entries(current?.headers ?? {}).filter(([name]) => !gone.has(name.toLowerCase())));
      for (const [name, value] of Object.entries(change.patch)) if (value !== null) headers[name] = value;
    }
    await checkFields(deps, tenantId, { headers });
    await tx.update(endpoints).set({ headers, updatedAt: deps.clock.now() }).where(eq(endpoints.id, endpoint.id));
  });
}

// ---- stats, recover, example ------------------------------------------------------------------

/** Svix's `EndpointStats`: the endpoint's deliveries created in [since, until) by status. */
export interface EndpointStatsView {
  success: number;
  pending: number;
  sending: number;
  fail: number;
  canceled: number;
}

export async function endpointStats(
  deps: Pick<ServiceDeps, 'db' | 'clock'>,
  tenantId: string,
  appKey: string,
  key: string,
  window: { since?: Date | undefined; until?: Date | undefined },
): Promise<EndpointStatsView> {
  const app = await findApplication(deps.db, tenantId, appKey);
  const endpoint = await findEndpoint(deps.db, app.id, key);
  const until = window.until ?? deps.clock.now();
  const since = window.since ?? new Date(until.getTime() - 28 * 86_400_000);
  const rows = await deps.db
    .select({
      status: deliveries.status,
      attempted: sql<boolean>`${deliveries.attemptCount} > 0`,
      n: sql<number>`count(*)::int`,
    })
    .from(deliveries)
    .where(and(eq(deliveries.endpointId, endpoint.id), gte(deliveries.createdAt, since), lt(deliveries.createdAt, until)))
    .groupBy(deliveries.status, sql`${deliveries.attemptCount} > 0`);
  const stats: EndpointStatsView = { success: 0, pending: 0, sending: 0, fail: 0, canceled: 0 };
  for (const row of rows) {
    if (row.status === 'succeeded') stats.success += row.n;
    else if (row.status === 'failed') stats.fail += row.n;
    else if (row.attempted) stats.sending += row.n;
    else stats.pending += row.n;
  }
  return stats;
}

/** Svix's `RecoverOut`: the background task re-queueing the failed deliveries. */
export interface RecoverTaskView {
  id: string;
  status: 'running';
  task: 'endpoint.recover';
  updatedAt: string;
}

/**
 * Re-queues the endpoint's `failed` deliveries created in [since, until) (each gets a fresh attempt,
 * and its retry schedule again if that fails). Answers at once; the work runs in the background.
 */
export async function recoverEndpoint(
  deps: ServiceDeps,
  tenantId: string,
  appKey: string,
  key: string,
  window: { since: Date; until?: Date | undefined },
): Promise<RecoverTaskView & { recovered: number; finished: Promise<number> }> {
  const app = await findApplication(deps.db, tenantId, appKey);
  const endpoint = await findEndpoint(deps.db, app.id, key);
  const accepted = await recover(deps, { since: window.since, until: window.until, tenantId, endpointId: endpoint.id });
  const now = deps.clock.now();
  return {
    id: newId('qtask', now.getTime()),
    status: 'running',
    task: 'endpoint.recover',
    updatedAt: now.toISOString(),
    recovered: accepted.recovered,
    finished: accepted.finished,
  };
}

/**
 * Sends an example message of an event type to this endpoint only: the payload is the first example
 * of the event type's schema (or `examples[exampleIndex]`), else `{"example":true}`; `svix.ping`
 * needs no event type and sends `{"success":true}`.
 */
export async function sendExample(
  deps: ServiceDeps,
  tenantId: string,
  appKey: string,
  key: string,
  input: { eventType: string; exampleIndex?: number | undefined },
): Promise<IngestedAppMessage> {
  const app = await findApplication(deps.db, tenantId, appKey);
  const endpoint = await findEndpoint(deps.db, app.id, key);
  const payload =
    input.eventType === PING_EVENT_TYPE
      ? PING_PAYLOAD
      : (schemaExample(await eventTypeSchemas(deps, tenantId, input.eventType), input.exampleIndex ?? 0) ?? DEFAULT_EXAMPLE);
  return ingestAppMessage(deps, tenantId, app.id, {
    eventType: input.eventType,
    eventId: null,
    channels: null,
    payload,
    onlyEndpointId: endpoint.id,
  });
}
