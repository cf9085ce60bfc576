/**
 * The delivery log: deliveries (one message at one endpoint) and their attempts, filtered and paged
 * newest first. A run's message has one delivery; an application's message has one per endpoint it
 * went to, all under the message's id (its `svix-id`).
 *
 * Lists are ordered by (created_at, message id, endpoint id) for deliveries and (started_at, id) for
 * attempts, and the iterator is that tuple of the last row: a keyset, so messages arriving between
 * two pages never shift or repeat a page. Each filter leads an index ending in the same order (see
 * db/schema.ts), so a time window and a page are one index range scan: the message's columns are
 * indexed on `messages`, the delivery's state (status, endpoint) on `deliveries`.
 */
import { and, asc, desc, eq, gte, inArray, lt, or, sql, type AnyColumn, type SQL } from 'drizzle-orm';
import type { Queryable } from '../db/client.ts';
import { attempts, deliveries, endpoints, messages, runs } from '../db/schema.ts';
import type { AttemptErrorKind, AttemptOutcome, AttemptTrigger, EndpointKind, MessageStatus } from '../domain/delivery.ts';
import { notFound, OrbitError } from '../domain/errors.ts';
import { isMomentInRange, ITERATOR_RULE } from '../domain/limits.ts';
import type { ServiceDeps } from './deps.ts';
import { notOperationalEvent } from './operational.ts';

/** One message at one endpoint, as the delivery log lists it. `id` is the message's (its svix-id). */
export interface MessageView {
  id: string;
  tenantId: string;
  /** The run, for a run's message; null for an application's. */
  runId: string | null;
  workflowId: string | null;
  /** The application, for an application's message; null for a run's. */
  appId: string | null;
  /** The endpoint of an application (or an operational one); null for a run's webhook. */
  endpointId: string | null;
  eventType: string;
  url: string | null;
  status: MessageStatus;
  attemptCount: number;
  nextAttemptAt: string | null;
  /** Why the delivery ended `failed` without an attempt (content expunged, endpoint disabled); else null. */
  failureReason: string | null;
  /** Why a `pending` delivery has no attempt planned: it waits its turn at an ordered endpoint; else null. */
  waitingReason: string | null;
  createdAt: string;
  deliveredAt: string | null;
}

export interface AttemptView {
  id: string;
  messageId: string;
  endpointId: string | null;
  url: string;
  attempt: number;
  trigger: AttemptTrigger;
  outcome: AttemptOutcome;
  startedAt: string;
  durationMs: number;
  responseStatus: number | null;
  /** The first 64 KiB of the answer as text; null when none came or it was expunged. */
  responseBody: string | null;
  error: { kind: AttemptErrorKind; message: string } | null;
  nextAttemptAt: string | null;
}

export interface MessageDetail extends MessageView {
  /** The exact body sent; null once expunged. */
  payload: string | null;
  expunged: boolean;
  /** Every delivery of the message (one for a run's message; one per endpoint for an application's). */
  deliveries: MessageView[];
  /** Every attempt at every endpoint, oldest first. */
  attempts: AttemptView[];
}

export interface MessageWithAttempts extends MessageView {
  attempts: AttemptView[];
}

export interface Page<T> {
  data: T[];
  iterator: string | null;
  done: boolean;
}

export interface MessageFilter {
  status?: MessageStatus | undefined;
  tenantId?: string | undefined;
  runId?: string | undefined;
  workflowId?: string | undefined;
  appId?: string | undefined;
  endpointId?: string | undefined;
  eventType?: string | undefined;
  /** Leaves out Orbit's operational events (a portal's view: they are about Orbit, for its operators). */
  withoutOperational?: boolean | undefined;
  /** createdAt >= since */
  since?: Date | undefined;
  /** createdAt < until */
  until?: Date | undefined;
  limit: number;
  iterator?: string | undefined;
}

export interface AttemptFilter {
  messageId?: string | undefined;
  endpointId?: string | undefined;
  status?: AttemptOutcome | undefined;
  /** 0 = no response; 1..5 = 1xx..5xx (see parseStatusCodeClass). */
  statusCodeClass?: number | undefined;
  /** startedAt >= since */
  since?: Date | undefined;
  /** startedAt < until */
  until?: Date | undefined;
  limit: number;
  iterator?: string | undefined;
}

/** Who may see a message: a tenant (its own), an application (its own), or everyone (admin). */
export interface MessageScope {
  tenantId?: string | undefined;
  appId?: string | undefined;
  /** Finds no operational event (see MessageFilter). */
  withoutOperational?: boolean | undefined;
  /** Picks the delivery the top-level fields describe. */
  endpointId?: string | undefined;
}

/**
 * `statusCodeClass` as the API takes it: `1xx`..`5xx` (or `100`..`500`), and `none` (or `0`) for
 * attempts that got no response at all (timeout, connection, DNS, TLS, blocked). Null otherwise.
 */
export function parseStatusCodeClass(text: string): number | null {
  const value = text.trim().toLowerCase();
  if (value === 'none' || value === '0') return 0;
  const match = /^([1-5])(?:xx|00)$/.exec(value);
  return match ? Number(match[1]) : null;
}

export const STATUS_CODE_CLASS_RULE = '1xx, 2xx, 3xx, 4xx or 5xx (or 100..500), or none (or 0) for no response';

// ---- iterator ---------------------------------------------------------------------------------

const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const CURSOR_ID = /^[A-Za-z0-9_-]{1,256}$/;

interface Cursor {
  /** The row's timestamp with microseconds, UTC: JS dates would lose the last three digits. */
  at: string;
  id: string;
  /** The delivery's endpoint (message lists only). */
  endpointId?: string | undefined;
}

function encodeCursor(cursor: Cursor): string {
  const parts = [cursor.at, cursor.id, ...(cursor.endpointId === undefined ? [] : [cursor.endpointId])];
  return Buffer.from(parts.join('|'), 'utf8').toString('base64url');
}

function parseCursor(iterator: string): Cursor | null {
  if (!/^[A-Za-z0-9_-]{1,600}$/.test(iterator)) return null;
  const [at, id, endpointId, ...rest] = Buffer.from(iterator, 'base64url').toString('utf8').split('|');
  if (at === undefined || id === undefined || rest.length > 0) return null;
  if (!CURSOR_TIME.test(at) || !isMomentInRange(new Date(at)) || !CURSOR_ID.test(id)) return null;
  if (endpointId !== undefined && !CURSOR_ID.test(endpointId)) return null;
  return { at, id, endpointId };
}

/** Whether a text is an iterator this module produced (the API checks it up front for a 422). */
export const isValidIterator = (iterator: string): boolean => parseCursor(iterator) !== null;

function decodeCursor(iterator: string): Cursor {
  const cursor = parseCursor(iterator);
  if (!cursor) throw new OrbitError('validation_failed', 'the request is not valid', [{ path: 'iterator', message: ITERATOR_RULE }]);
  return cursor;
}

/** The timestamp column as exact UTC text with microseconds, for the iterator. */
const cursorText = (column: AnyColumn) => sql<string>`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** Rows strictly after the cursor in descending (time, id) order: one btree row comparison. */
function beforeCursor(time: AnyColumn, id: AnyColumn, iterator: string | undefined) {
  if (iterator === undefined) return undefined;
  const cursor = decodeCursor(iterator);
  return sql`(${time}, ${id}) < (${cursor.at}::timestamptz, ${cursor.id})`;
}

/**
 * Deliveries strictly after the cursor in descending (time, message id, endpoint id) order. The
 * first condition is a range on the index's own columns; the second drops the boundary message's
 * endpoints already listed.
 */
function beforeDeliveryCursor(time: AnyColumn, id: AnyColumn, iterator: string | undefined): SQL | undefined {
  if (iterator === undefined) return undefined;
  const cursor = decodeCursor(iterator);
  const endpoint = cursor.endpointId ?? '';
  return and(
    sql`(${time}, ${id}) <= (${cursor.at}::timestamptz, ${cursor.id})`,
    or(sql`(${time}, ${id}) < (${cursor.at}::timestamptz, ${cursor.id})`, lt(deliveries.endpointId, endpoint)),
  );
}

function toPage<T, R extends { cursorAt: string; id: string; endpointId?: string }>(
  rows: R[],
  limit: number,
  view: (row: R) => T,
): Page<T> {
  const done = rows.length <= limit;
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    data: page.map(view),
    iterator: done || !last ? null : encodeCursor({ at: last.cursorAt, id: last.id, endpointId: last.endpointId }),
    done,
  };
}

// ---- views ------------------------------------------------------------------------------------

const iso = (date: Date | null): string | null => (date ? date.toISOString() : null);

const deliveryColumns = {
  id: messages.id,
  tenantId: messages.tenantId,
  runId: messages.runId,
  workflowId: messages.workflowId,
  appId: messages.appId,
  endpointId: deliveries.endpointId,
  kind: endpoints.kind,
  eventType: messages.eventType,
  url: endpoints.url,
  status: deliveries.status,
  attemptCount: deliveries.attemptCount,
  nextAttemptAt: deliveries.nextAttemptAt,
  failureReason: deliveries.failureReason,
  ordered: endpoints.ordered,
  headMessageId: endpoints.headMessageId,
  createdAt: messages.createdAt,
  deliveredAt: deliveries.deliveredAt,
};

interface DeliveryRow {
  id: string;
  tenantId: string;
  runId: string | null;
  workflowId: string | null;
  appId: string | null;
  endpointId: string;
  kind: EndpointKind;
  eventType: string;
  url: string;
  status: MessageStatus;
  attemptCount: number;
  nextAttemptAt: Date | null;
  failureReason: string | null;
  ordered: boolean;
  headMessageId: string | null;
  createdAt: Date;
  deliveredAt: Date | null;
}

/** A pending delivery with no next attempt waits behind its ordered endpoint's head (services/ordering.ts). */
function waitingReason(row: DeliveryRow): string | null {
  if (row.status !== 'pending' || row.nextAttemptAt !== null || !row.ordered) return null;
  const behind = row.headMessageId !== null && row.headMessageId !== row.id ? ` behind ${row.headMessageId}` : '';
  return `waiting${behind}: ordered delivery sends the next message once the one before it has succeeded or failed`;
}

function toMessageView(row: DeliveryRow): MessageView {
  return {
    id: row.id,
    tenantId: row.tenantId,
    runId: row.runId,
    workflowId: row.workflowId,
    appId: row.appId,
    // A run's webhook endpoint is an internal record: it has no id a user could act on.
    endpointId: row.kind === 'run' ? null : row.endpointId,
    eventType: row.eventType,
    url: row.url,
    status: row.status,
    attemptCount: row.attemptCount,
    nextAttemptAt: iso(row.nextAttemptAt),
    failureReason: row.failureReason,
    waitingReason: waitingReason(row),
    createdAt: row.createdAt.toISOString(),
    deliveredAt: iso(row.deliveredAt),
  };
}

function toAttemptView(row: typeof attempts.$inferSelect, kind: EndpointKind | null): AttemptView {
  return {
    id: row.id,
    messageId: row.messageId,
    endpointId: kind === 'run' ? null : row.endpointId,
    url: row.url,
    attempt: row.attempt,
    trigger: row.trigger,
    outcome: row.outcome,
    startedAt: row.startedAt.toISOString(),
    durationMs: row.durationMs,
    responseStatus: row.responseStatus,
    responseBody: row.responseBody,
    error: row.errorKind ? { kind: row.errorKind, message: row.errorMessage ?? '' } : null,
    nextAttemptAt: iso(row.nextAttemptAt),
  };
}

// ---- queries ----------------------------------------------------------------------------------

/** The SQL expression the attempts_*_class_idx indexes are built on; must stay identical. */
const statusClass = sql`(coalesce(${attempts.responseStatus} / 100, 0))`;

/**
 * The list query of `GET /v1/admin/messages`; exported so the benchmark explains the real one.
 * Filters on a delivery's state (a rare status, an endpoint) walk `deliveries` in its own order;
 * the rest walk `messages` — the same order either way, since a delivery carries its message's
 * creation time.
 */
export function messageListQuery(db: Queryable, filter: MessageFilter) {
  const byDelivery = filter.endpointId !== undefined || (filter.status !== undefined && filter.status !== 'succeeded');
  const time = byDelivery ? deliveries.createdAt : messages.createdAt;
  const id = byDelivery ? deliveries.messageId : messages.id;
  return db
    .select({ ...deliveryColumns, cursorAt: cursorText(time) })
    .from(deliveries)
    .innerJoin(messages, eq(messages.id, deliveries.messageId))
    .innerJoin(endpoints, eq(endpoints.id, deliveries.endpointId))
    .where(
      and(
        filter.status !== undefined ? eq(deliveries.status, filter.status) : undefined,
        filter.tenantId !== undefined ? eq(byDelivery ? deliveries.tenantId : messages.tenantId, filter.tenantId) : undefined,
        filter.runId !== undefined ? eq(messages.runId, filter.runId) : undefined,
        filter.workflowId !== undefined ? eq(messages.workflowId, filter.workflowId) : undefined,
        // With an endpoint, its application is checked on the endpoint's one row, not on every message.
        filter.appId !== undefined ? eq(filter.endpointId !== undefined ? endpoints.appId : messages.appId, filter.appId) : undefined,
        filter.endpointId !== undefined ? eq(deliveries.endpointId, filter.endpointId) : undefined,
        filter.eventType !== undefined ? eq(messages.eventType, filter.eventType) : undefined,
        filter.withoutOperational === true ? notOperationalEvent : undefined,
        filter.since !== undefined ? gte(time, filter.since) : undefined,
        filter.until !== undefined ? lt(time, filter.until) : undefined,
        beforeDeliveryCursor(time, id, filter.iterator),
      ),
    )
    .orderBy(desc(time), desc(id), desc(deliveries.endpointId))
    .limit(filter.limit + 1);
}

/** The list query of `GET /v1/admin/attempts`; exported so the benchmark explains the real one. */
export function attemptListQuery(db: Queryable, filter: AttemptFilter) {
  return db
    .select({ row: attempts, kind: endpoints.kind, cursorAt: cursorText(attempts.startedAt) })
    .from(attempts)
    .leftJoin(endpoints, eq(endpoints.id, attempts.endpointId))
    .where(
      and(
        filter.messageId !== undefined ? eq(attempts.messageId, filter.messageId) : undefined,
        filter.endpointId !== undefined ? eq(attempts.endpointId, filter.endpointId) : undefined,
        filter.status !== undefined ? eq(attempts.outcome, filter.status) : undefined,
        filter.statusCodeClass !== undefined ? sql`${statusClass} = ${filter.statusCodeClass}` : undefined,
        filter.since !== undefined ? gte(attempts.startedAt, filter.since) : undefined,
        filter.until !== undefined ? lt(attempts.startedAt, filter.until) : undefined,
        beforeCursor(attempts.startedAt, attempts.id, filter.iterator),
      ),
    )
    .orderBy(desc(attempts.startedAt), desc(attempts.id))
    .limit(filter.limit + 1);
}

/** Attempts of the given messages, oldest first per message. */
async function attemptsOf(db: Queryable, messageIds: readonly string[]): Promise<Map<string, AttemptView[]>> {
  const byMessage = new Map<string, AttemptView[]>(messageIds.map((id) => [id, []]));
  if (messageIds.length === 0) return byMessage;
  const rows = await db
    .select({ row: attempts, kind: endpoints.kind })
    .from(attempts)
    .leftJoin(endpoints, eq(endpoints.id, attempts.endpointId))
    .where(inArray(attempts.messageId, [...messageIds]))
    .orderBy(asc(attempts.startedAt), asc(attempts.id));
  for (const { row, kind } of rows) byMessage.get(row.messageId)?.push(toAttemptView(row, kind));
  return byMessage;
}

export async function listMessages(deps: Pick<ServiceDeps, 'db'>, filter: MessageFilter): Promise<Page<MessageView>> {
  const rows = await messageListQuery(deps.db, filter);
  return toPage(rows, filter.limit, toMessageView);
}

/**
 * `GET /v1/runs/{runId}/deliveries`: the run's messages with their attempts, newest first, for the
 * tenant that owns the run; another tenant's run is not found.
 */
export async function listRunDeliveries(
  deps: Pick<ServiceDeps, 'db'>,
  tenantId: string,
  runId: string,
  page: { limit: number; iterator?: string | undefined },
): Promise<Page<MessageWithAttempts>> {
  const [run] = await deps.db
    .select({ id: runs.id })
    .from(runs)
    .where(and(eq(runs.id, runId), eq(runs.tenantId, tenantId)));
  if (!run) throw notFound('run');
  const rows = await messageListQuery(deps.db, { tenantId, runId, limit: page.limit, iterator: page.iterator });
  const listed = toPage(rows, page.limit, toMessageView);
  const byMessage = await attemptsOf(
    deps.db,
    listed.data.map((message) => message.id),
  );
  return { ...listed, data: listed.data.map((message) => ({ ...message, attempts: byMessage.get(message.id) ?? [] })) };
}

/**
 * One message with its payload, its deliveries and every attempt (oldest first), within a scope
 * (a tenant's or an application's messages only; any message for an admin). The top-level delivery
 * fields describe the delivery at `scope.endpointId`, else the first one.
 */
export async function getMessage(deps: Pick<ServiceDeps, 'db'>, messageId: string, scope: MessageScope = {}): Promise<MessageDetail> {
  const [message] = await deps.db
    .select({
      id: messages.id,
      tenantId: messages.tenantId,
      runId: messages.runId,
      workflowId: messages.workflowId,
      appId: messages.appId,
      eventType: messages.eventType,
      payload: messages.payload,
      expungedAt: messages.expungedAt,
      createdAt: messages.createdAt,
    })
    .from(messages)
    .where(
      and(
        eq(messages.id, messageId),
        scope.tenantId !== undefined ? eq(messages.tenantId, scope.tenantId) : undefined,
        scope.appId !== undefined ? eq(messages.appId, scope.appId) : undefined,
        scope.withoutOperational === true ? notOperationalEvent : undefined,
      ),
    );
  if (!message) throw notFound('message');
  const rows = await deps.db
    .select(deliveryColumns)
    .from(deliveries)
    .innerJoin(messages, eq(messages.id, deliveries.messageId))
    .innerJoin(endpoints, eq(endpoints.id, deliveries.endpointId))
    .where(eq(deliveries.messageId, messageId))
    .orderBy(asc(deliveries.endpointId));
  const all = rows.map(toMessageView);
  const chosen = scope.endpointId === undefined ? rows[0] : rows.find((row) => row.endpointId === scope.endpointId);
  if (scope.endpointId !== undefined && chosen === undefined) throw notFound('message at this endpoint');
  const byMessage = await attemptsOf(deps.db, [messageId]);
  const top: MessageView = chosen
    ? toMessageView(chosen)
    : {
        // An application's message that no endpoint received: nothing was, or is, to be delivered.
        id: message.id,
        tenantId: message.tenantId,
        runId: message.runId,
        workflowId: message.workflowId,
        appId: message.appId,
        endpointId: null,
        eventType: message.eventType,
        url: null,
        status: 'succeeded',
        attemptCount: 0,
        nextAttemptAt: null,
        failureReason: null,
        waitingReason: null,
        createdAt: message.createdAt.toISOString(),
        deliveredAt: null,
      };
  return {
    ...top,
    payload: message.payload,
    expunged: message.expungedAt !== null,
    deliveries: all,
    attempts: byMessage.get(messageId) ?? [],
  };
}

export async function listAttempts(deps: Pick<ServiceDeps, 'db'>, filter: AttemptFilter): Promise<Page<AttemptView>> {
  const rows = await attemptListQuery(deps.db, filter);
  return toPage(
    rows.map(({ row, kind, cursorAt }) => ({ row, kind, cursorAt, id: row.id })),
    filter.limit,
    ({ row, kind }) => toAttemptView(row, kind),
  );
}
