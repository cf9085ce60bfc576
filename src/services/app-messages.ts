/**
 * Messages of an application and their attempts, as the Svix-compatible API shows them. Messages
 * are created through the same group commit as run events (event-ingest.ts); the reads here are
 * scoped to one application of one tenant and page with Svix's iterators.
 */
import { and, eq, gt, inArray, lt, sql, type SQL } from 'drizzle-orm';
import { attempts, deliveries, endpoints, messages } from '../db/schema.ts';
import { notFound, OrbitError } from '../domain/errors.ts';
import {
  attemptStatus,
  deliveryStatus,
  deliveryStatusFilter,
  listOut,
  triggerType,
  type ListOut,
  type ListPage,
  type SvixStatus,
  type SvixStatusText,
} from '../domain/svix.ts';
import { retryMessage } from './delivery.ts';
import type { ServiceDeps } from './deps.ts';
import { createApplication, type ApplicationInput } from './applications.ts';
import { toEndpointView, type EndpointView } from './endpoints.ts';
import { ingestAppMessage, type IngestedAppMessage } from './event-ingest.ts';
import {
  afterKey,
  afterTimedKey,
  findApplication,
  findEndpoint,
  findMessage,
  keyOrder,
  lookupApplication,
  type ApplicationRow,
  type MessageRow,
} from './svix-scope.ts';

/** What an expunged message's content reads as (Svix shows expired content the same way). */
export const EXPUNGED_PAYLOAD = { expired: true } as const;
/** What an expunged attempt's response reads as (Svix's word). */
export const EXPUNGED_RESPONSE = 'EXPUNGED';

/** Svix's `MessageOut`. */
export interface AppMessageView {
  id: string;
  eventId: string | null;
  eventType: string;
  /** The payload (`{}` unless asked for with `with_content`; `{"expired":true}` once expunged). */
  payload: unknown;
  channels: string[] | null;
  timestamp: string;
  /** Tags are not kept by Orbit. */
  tags: null;
  /** Orbit's own: whether the content was expunged. */
  expunged: boolean;
}

/** Svix's `MessageAttemptOut`. */
export interface AppAttemptView {
  id: string;
  msgId: string;
  endpointId: string;
  url: string;
  response: string;
  responseStatusCode: number;
  responseDurationMs: number;
  status: SvixStatus;
  statusText: SvixStatusText;
  triggerType: 0 | 1;
  timestamp: string;
  msg?: AppMessageView;
}

/** Svix's `EndpointMessageOut`: a message with its delivery's state at one endpoint. */
export interface EndpointMessageView extends AppMessageView {
  status: SvixStatus;
  statusText: SvixStatusText;
  nextAttempt: string | null;
}

/** Svix's `MessageEndpointOut`: an endpoint with the state of one message's delivery to it. */
export interface MessageEndpointView extends EndpointView {
  status: SvixStatus;
  statusText: SvixStatusText;
  nextAttempt: string | null;
}

// JSON.parse's source text access and JSON.rawJSON (V8, Node 21+), which TypeScript's lib lacks yet.
type SourceReviver = (key: string, value: unknown, context: { source?: string }) => unknown;
const parseJson = JSON.parse as (text: string, reviver: SourceReviver) => unknown;
const rawJson = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

/**
 * The stored payload for an answer. Its numbers keep their source text: parsed into doubles, a
 * 64-bit id such as 12345678901234567890 would come back rounded, and `1.0` as `1`.
 */
function payloadOf(payload: string | null, withContent: boolean): unknown {
  if (!withContent) return {};
  if (payload === null) return EXPUNGED_PAYLOAD;
  return parseJson(payload, (_key, value, context) =>
    typeof value === 'number' && context.source !== undefined ? rawJson(context.source) : value,
  );
}

type MessageFields = Pick<MessageRow, 'id' | 'eventId' | 'eventType' | 'channels' | 'payload' | 'createdAt'>;

export function toAppMessageView(row: MessageFields, withContent: boolean): AppMessageView {
  return {
    id: row.id,
    eventId: row.eventId,
    eventType: row.eventType,
    payload: payloadOf(row.payload, withContent),
    channels: row.channels,
    timestamp: row.createdAt.toISOString(),
    tags: null,
    expunged: row.payload === null,
  };
}

/** The view of a message just created (its payload is the text as sent). */
export function acceptedMessageView(message: IngestedAppMessage, withContent: boolean): AppMessageView {
  return toAppMessageView(message, withContent);
}

function toAttemptView(row: typeof attempts.$inferSelect, withContent: boolean): AppAttemptView {
  return {
    id: row.id,
    msgId: row.messageId,
    endpointId: row.endpointId,
    url: row.url,
    response: row.responseExpungedAt !== null ? EXPUNGED_RESPONSE : withContent ? (row.responseBody ?? '') : '{}',
    responseStatusCode: row.responseStatus ?? 0,
    responseDurationMs: row.durationMs,
    ...attemptStatus(row.outcome),
    triggerType: triggerType(row.trigger),
    timestamp: row.startedAt.toISOString(),
  };
}

// ---- create -----------------------------------------------------------------------------------

export interface NewMessageInput {
  eventType: string;
  eventId: string | null;
  channels: string[] | null;
  /** The payload's JSON text exactly as received. */
  payload: string;
  /** Creates the application with the message when the path's uid names none yet (Svix's create-with-app). */
  application?: ApplicationInput | undefined;
}

/**
 * Sends a message to an application: durable (with its deliveries and their first jobs) before it
 * resolves, through the group commit of event-ingest.ts. A duplicate `eventId` is a 409.
 */
export async function createAppMessage(
  deps: ServiceDeps,
  tenantId: string,
  appKey: string,
  input: NewMessageInput,
): Promise<IngestedAppMessage> {
  let app: ApplicationRow | null = await lookupApplication(deps.db, tenantId, appKey);
  if (!app) {
    if (input.application === undefined) throw notFound('application');
    if (input.application.uid !== appKey) {
      throw new OrbitError('validation_failed', 'the request is not valid', [
        { path: 'body.application.uid', message: 'must be set, and equal to the application uid in the path' },
      ]);
    }
    const { application } = await createApplication(deps, tenantId, input.application, { getIfExists: true });
    app = await findApplication(deps.db, tenantId, application.id);
  }
  return ingestAppMessage(deps, tenantId, app.id, {
    eventType: input.eventType,
    eventId: input.eventId,
    channels: input.channels,
    payload: input.payload,
  });
}

// ---- messages ---------------------------------------------------------------------------------

export interface MessageListFilter {
  channel?: string | undefined;
  eventTypes?: readonly string[] | undefined;
  before?: Date | undefined;
  after?: Date | undefined;
}

const hasChannel = (column: typeof messages.channels, channel: string | undefined): SQL | undefined =>
  channel === undefined ? undefined : sql`${column} @> array[${channel}]::text[]`;

function messageFilter(filter: MessageListFilter): SQL | undefined {
  return and(
    hasChannel(messages.channels, filter.channel),
    filter.eventTypes !== undefined && filter.eventTypes.length > 0 ? inArray(messages.eventType, [...filter.eventTypes]) : undefined,
    filter.before !== undefined ? lt(messages.createdAt, filter.before) : undefined,
    filter.after !== undefined ? gt(messages.createdAt, filter.after) : undefined,
  );
}

/** The application's messages, newest first, by creation time (then id). */
export async function listAppMessages(
  deps: Pick<ServiceDeps, 'db'>,
  tenantId: string,
  appKey: string,
  page: ListPage,
  filter: MessageListFilter,
  withContent: boolean,
): Promise<ListOut<AppMessageView>> {
  const app = await findApplication(deps.db, tenantId, appKey);
  const timeOf = sql`(select m.created_at from ${messages} m where m.id = ${page.iterator} and m.app_id = ${app.id})`;
  const rows = await deps.db
    .select()
    .from(messages)
    .where(and(eq(messages.appId, app.id), messageFilter(filter), afterTimedKey(messages.createdAt, messages.id, page, timeOf)))
    .orderBy(...keyOrder([messages.createdAt, messages.id], page))
    .limit(page.limit + 1);
  return listOut(
    rows,
    page,
    (row) => row.id,
    (row) => toAppMessageView(row, withContent),
  );
}

export async function getAppMessage(
  deps: Pick<ServiceDeps, 'db'>,
  tenantId: string,
  appKey: string,
  msgKey: string,
  withContent: boolean,
): Promise<AppMessageView> {
  const app = await findApplication(deps.db, tenantId, appKey);
  return toAppMessageView(await findMessage(deps.db, app.id, msgKey), withContent);
}

/**
 * Deletes a message's content: later reads show it as expunged, and any delivery still pending ends
 * `failed` when its next attempt comes (the engine cannot send what it no longer has).
 */
export async function expungeAppMessage(
  deps: Pick<ServiceDeps, 'db' | 'clock'>,
  tenantId: string,
  appKey: string,
  msgKey: string,
): Promise<void> {
  const app = await findApplication(deps.db, tenantId, appKey);
  const message = await findMessage(deps.db, app.id, msgKey);
  await deps.db
    .update(messages)
    .set({ payload: null, expungedAt: sql`coalesce(${messages.expungedAt}, ${deps.clock.now().toISOString()}::timestamptz)` })
    .where(eq(messages.id, message.id));
}

// ---- attempts ---------------------------------------------------------------------------------

export interface AttemptListFilter {
  /** Svix status: 0 success, 2 fail (recorded attempts are finished: the others match none). */
  status?: number | undefined;
  /** Orbit's status class: 0 no response, 1..5 for 1xx..5xx. */
  statusCodeClass?: number | undefined;
  channel?: string | undefined;
  eventTypes?: readonly string[] | undefined;
  before?: Date | undefined;
  after?: Date | undefined;
}

const NONE = sql`false`;

function attemptFilter(filter: AttemptListFilter): SQL | undefined {
  let status: SQL | undefined;
  if (filter.status === 0) status = eq(attempts.outcome, 'succeeded');
  else if (filter.status === 2) status = eq(attempts.outcome, 'failed');
  else if (filter.status !== undefined) status = NONE;
  const byMessage =
    filter.channel !== undefined || (filter.eventTypes !== undefined && filter.eventTypes.length > 0)
      ? sql`exists (select 1 from ${messages} where ${messages.id} = ${attempts.messageId} and ${and(
          hasChannel(messages.channels, filter.channel),
          filter.eventTypes !== undefined && filter.eventTypes.length > 0 ? inArray(messages.eventType, [...filter.eventTypes]) : undefined,
        )})`
      : undefined;
  return and(
    status,
    filter.statusCodeClass !== undefined ? sql`(coalesce(${attempts.responseStatus} / 100, 0)) = ${filter.statusCodeClass}` : undefined,
    filter.before !== undefined ? lt(attempts.startedAt, filter.before) : undefined,
    filter.after !== undefined ? gt(attempts.startedAt, filter.after) : undefined,
    byMessage,
  );
}

const attemptTimeOf = (iterator: string | null) => sql`(select a.started_at from ${attempts} a where a.id = ${iterator})`;

/** A message's attempts at every endpoint (or one), newest first. */
export async function listAttemptsByMessage(
  deps: Pick<ServiceDeps, 'db'>,
  tenantId: string,
  appKey: string,
  msgKey: string,
  page: ListPage,
  filter: AttemptListFilter & { endpointKey?: string | undefined },
  withContent: boolean,
): Promise<ListOut<AppAttemptView>> {
  const app = await findApplication(deps.db, tenantId, appKey);
  const message = await findMessage(deps.db, app.id, msgKey);
  const endpoint = filter.endpointKey === undefined ? undefined : await findEndpoint(deps.db, app.id, filter.endpointKey);
  const rows = await deps.db
    .select()
    .from(attempts)
    .where(
      and(
        eq(attempts.messageId, message.id),
        endpoint !== undefined ? eq(attempts.endpointId, endpoint.id) : undefined,
        attemptFilter(filter),
        afterTimedKey(attempts.startedAt, attempts.id, page, attemptTimeOf(page.iterator)),
      ),
    )
    .orderBy(...keyOrder([attempts.startedAt, attempts.id], page))
    .limit(page.limit + 1);
  return listOut(
    rows,
    page,
    (row) => row.id,
    (row) => toAttemptView(row, withContent),
  );
}

/** An endpoint's attempts across messages, newest first (`withMsg` adds each message, without payload). */
export async function listAttemptsByEndpoint(
  deps: Pick<ServiceDeps, 'db'>,
  tenantId: string,
  appKey: string,
  endpointKey: string,
  page: ListPage,
  filter: AttemptListFilter,
  options: { withContent: boolean; withMsg: boolean },
): Promise<ListOut<AppAttemptView>> {
  const app = await findApplication(deps.db, tenantId, appKey);
  const endpoint = await findEndpoint(deps.db, app.id, endpointKey);
  const rows = await deps.db
    .select()
    .from(attempts)
    .where(
      and(
        eq(attempts.endpointId, endpoint.id),
        attemptFilter(filter),
        afterTimedKey(attempts.startedAt, attempts.id, page, attemptTimeOf(page.iterator)),
      ),
    )
    .orderBy(...keyOrder([attempts.startedAt, attempts.id], page))
    .limit(page.limit + 1);
  const out = listOut(
    rows,
    page,
    (row) => row.id,
    (row) => toAttemptView(row, options.withContent),
  );
  if (!options.withMsg || out.data.length === 0) return out;
  const related = await deps.db
    .select()
    .from(messages)
    .where(inArray(messages.id, [...new Set(out.data.map((attempt) => attempt.msgId))]));
  const byId = new Map(related.map((row) => [row.id, toAppMessageView(row, false)]));
  return {
    ...out,
    data: out.data.map((attempt) => ({ ...attempt, ...(byId.has(attempt.msgId) ? { msg: byId.get(attempt.msgId) } : {}) })),
  };
}

async function findAttempt(deps: Pick<ServiceDeps, 'db'>, tenantId: string, appKey: string, msgKey: string, attemptId: string) {
  const app = await findApplication(deps.db, tenantId, appKey);
  const message = await findMessage(deps.db, app.id, msgKey);
  const [row] = await deps.db
    .select()
    .from(attempts)
    .where(and(eq(attempts.id, attemptId), eq(attempts.messageId, message.id)));
  if (!row) throw notFound('attempt');
  return row;
}

export async function getAppAttempt(
  deps: Pick<ServiceDeps, 'db'>,
  tenantId: string,
  appKey: string,
  msgKey: string,
  attemptId: string,
): Promise<AppAttemptView> {
  return toAttemptView(await findAttempt(deps, tenantId, appKey, msgKey, attemptId), true);
}

/** Deletes an attempt's response body; later reads show it as expunged. */
export async function expungeAppAttempt(
  deps: Pick<ServiceDeps, 'db' | 'clock'>,
  tenantId: string,
  appKey: string,
  msgKey: string,
  attemptId: string,
): Promise<void> {
  const attempt = await findAttempt(deps, tenantId, appKey, msgKey, attemptId);
  await deps.db
    .update(attempts)
    .set({
      responseBody: null,
      responseExpungedAt: sql`coalesce(${attempts.responseExpungedAt}, ${deps.clock.now().toISOString()}::timestamptz)`,
    })
    .where(eq(attempts.id, attempt.id));
}

/**
 * One manual attempt of the message at the endpoint now: same `svix-id`, signed afresh with the
 * endpoint's secrets. It also reaches an endpoint that did not receive the message when it was
 * created (added later, or filtered out): its delivery is recorded then, as `failed` until the
 * attempt succeeds (a manual attempt never starts the retry schedule).
 */
export async function resendAppMessage(
  deps: ServiceDeps,
  tenantId: string,
  appKey: string,
  msgKey: string,
  endpointKey: string,
): Promise<void> {
  const app = await findApplication(deps.db, tenantId, appKey);
  const message = await findMessage(deps.db, app.id, msgKey);
  const endpoint = await findEndpoint(deps.db, app.id, endpointKey);
  if (message.payload === null) throw new OrbitError('content_expunged', 'the message content was expunged, so it cannot be sent again');
  await deps.db
    .insert(deliveries)
    .values({
      messageId: message.id,
      endpointId: endpoint.id,
      tenantId,
      status: 'failed',
      nextAttemptAt: null,
      createdAt: message.createdAt,
    })
    .onConflictDoNothing();
  await retryMessage(deps, message.id, { tenantId, appId: app.id, endpointId: endpoint.id });
}

// ---- deliveries -------------------------------------------------------------------------------

export interface DeliveryListFilter {
  /** Svix status: 0 success, 1 pending, 2 fail, 3 sending, 4 canceled (none). */
  status?: number | undefined;
  channel?: string | undefined;
  eventTypes?: readonly string[] | undefined;
  before?: Date | undefined;
  after?: Date | undefined;
}

/** The messages that went (or go) to an endpoint, newest first, each with its delivery's state there. */
export async function listEndpointMessages(
  deps: Pick<ServiceDeps, 'db'>,
  tenantId: string,
  appKey: string,
  endpointKey: string,
  page: ListPage,
  filter: DeliveryListFilter,
  withContent: boolean,
): Promise<ListOut<EndpointMessageView>> {
  const app = await findApplication(deps.db, tenantId, appKey);
  const endpoint = await findEndpoint(deps.db, app.id, endpointKey);
  const wanted = filter.status === undefined ? undefined : deliveryStatusFilter(filter.status);
  if (wanted === null) return { data: [], iterator: null, prevIterator: null, done: true };
  const timeOf = sql`(select d.created_at from ${deliveries} d where d.endpoint_id = ${endpoint.id} and d.message_id = ${page.iterator})`;
  const rows = await deps.db
    .select({ message: messages, delivery: deliveries })
    .from(deliveries)
    .innerJoin(messages, eq(messages.id, deliveries.messageId))
    .where(
      and(
        eq(deliveries.endpointId, endpoint.id),
        wanted !== undefined ? eq(deliveries.status, wanted.status) : undefined,
        wanted?.attempted === undefined ? undefined : wanted.attempted ? gt(deliveries.attemptCount, 0) : eq(deliveries.attemptCount, 0),
        hasChannel(messages.channels, filter.channel),
        filter.eventTypes !== undefined && filter.eventTypes.length > 0 ? inArray(messages.eventType, [...filter.eventTypes]) : undefined,
        filter.before !== undefined ? lt(deliveries.createdAt, filter.before) : undefined,
        filter.after !== undefined ? gt(deliveries.createdAt, filter.after) : undefined,
        afterTimedKey(deliveries.createdAt, deliveries.messageId, page, timeOf),
      ),
    )
    .orderBy(...keyOrder([deliveries.createdAt, deliveries.messageId], page))
    .limit(page.limit + 1);
  return listOut(
    rows,
    page,
    (row) => row.message.id,
    ({ message, delivery }) => ({
      ...toAppMessageView(message, withContent),
      ...deliveryStatus(delivery.status, delivery.attemptCount),
      nextAttempt: delivery.nextAttemptAt?.toISOString() ?? null,
    }),
  );
}

/** The endpoints a message went (or goes) to, by endpoint id, each with its delivery's state. */
export async function listMessageEndpoints(
  deps: Pick<ServiceDeps, 'db'>,
  tenantId: string,
  appKey: string,
  msgKey: string,
  page: ListPage,
): Promise<ListOut<MessageEndpointView>> {
  const app = await findApplication(deps.db, tenantId, appKey);
  const message = await findMessage(deps.db, app.id, msgKey);
  const rows = await deps.db
    .select({ endpoint: endpoints, delivery: deliveries })
    .from(deliveries)
    .innerJoin(endpoints, eq(endpoints.id, deliveries.endpointId))
    .where(and(eq(deliveries.messageId, message.id), afterKey(deliveries.endpointId, page)))
    .orderBy(...keyOrder([deliveries.endpointId], page))
    .limit(page.limit + 1);
  return listOut(
    rows,
    page,
    (row) => row.endpoint.id,
    ({ endpoint, delivery }) => ({
      ...toEndpointView(endpoint),
      ...deliveryStatus(delivery.status, delivery.attemptCount),
      nextAttempt: delivery.nextAttemptAt?.toISOString() ?? null,
    }),
  );
}
