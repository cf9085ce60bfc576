/**
 * The delivery log (CONTRACT §5, §6): messages and attempts, filtered and paged newest first.
 *
 * Lists are ordered by (created_at, id) for messages and (started_at, id) for attempts, and the
 * iterator is that pair of the last row: a keyset, so messages arriving between two pages never
 * shift or repeat a page. Each filter leads an index ending in the same order (see db/schema.ts),
 * so a time window and a page are one index range scan.
 */
import { and, asc, desc, eq, gte, inArray, lt, sql, type AnyColumn } from 'drizzle-orm';
import type { Queryable } from '../db/client.ts';
import { attempts, messages, runs } from '../db/schema.ts';
import { notFound, OrbitError } from '../domain/errors.ts';
import { ITERATOR_RULE } from '../domain/limits.ts';
import type { AttemptErrorKind, AttemptOutcome, AttemptTrigger, MessageStatus } from '../domain/delivery.ts';
import type { EventType } from '../domain/run.ts';
import type { ServiceDeps } from './deps.ts';

export interface MessageView {
  id: string;
  tenantId: string;
  runId: string;
  workflowId: string;
  eventType: EventType;
  url: string;
  status: MessageStatus;
  attemptCount: number;
  nextAttemptAt: string | null;
  createdAt: string;
  deliveredAt: string | null;
}

export interface AttemptView {
  id: string;
  messageId: string;
  attempt: number;
  trigger: AttemptTrigger;
  outcome: AttemptOutcome;
  startedAt: string;
  durationMs: number;
  responseStatus: number | null;
  responseBody: string | null;
  error: { kind: AttemptErrorKind; message: string } | null;
  nextAttemptAt: string | null;
}

export interface MessageDetail extends MessageView {
  payload: string;
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
  eventType?: EventType | undefined;
  /** createdAt >= since */
  since?: Date | undefined;
  /** createdAt < until */
  until?: Date | undefined;
  limit: number;
  iterator?: string | undefined;
}

export interface AttemptFilter {
  messageId?: string | undefined;
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

interface Cursor {
  /** The row's timestamp with microseconds, UTC: JS dates would lose the last three digits. */
  at: string;
  id: string;
}

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(`${cursor.at}|${cursor.id}`, 'utf8').toString('base64url');
}

function parseCursor(iterator: string): Cursor | null {
  if (!/^[A-Za-z0-9_-]{1,400}$/.test(iterator)) return null;
  const text = Buffer.from(iterator, 'base64url').toString('utf8');
  const bar = text.indexOf('|');
  const at = text.slice(0, bar);
  const id = text.slice(bar + 1);
  if (bar < 0 || !CURSOR_TIME.test(at) || Number.isNaN(Date.parse(at)) || !/^[A-Za-z0-9_-]{1,256}$/.test(id)) return null;
  return { at, id };
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

function toPage<T, R extends { cursorAt: string; id: string }>(rows: R[], limit: number, view: (row: R) => T): Page<T> {
  const done = rows.length <= limit;
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { data: page.map(view), iterator: done || !last ? null : encodeCursor({ at: last.cursorAt, id: last.id }), done };
}

// ---- views ------------------------------------------------------------------------------------

const iso = (date: Date | null): string | null => (date ? date.toISOString() : null);

const messageColumns = {
  id: messages.id,
  tenantId: messages.tenantId,
  runId: messages.runId,
  workflowId: messages.workflowId,
  eventType: messages.eventType,
  url: messages.url,
  status: messages.status,
  attemptCount: messages.attemptCount,
  nextAttemptAt: messages.nextAttemptAt,
  createdAt: messages.createdAt,
  deliveredAt: messages.deliveredAt,
};

type MessageRow = Omit<typeof messages.$inferSelect, 'eventId' | 'headers' | 'payload'>;

function toMessageView(row: MessageRow): MessageView {
  return {
    id: row.id,
    tenantId: row.tenantId,
    runId: row.runId,
    workflowId: row.workflowId,
    // Only recordEvent writes messages, always with a known type.
    eventType: row.eventType as EventType,
    url: row.url,
    status: row.status,
    attemptCount: row.attemptCount,
    nextAttemptAt: iso(row.nextAttemptAt),
    createdAt: row.createdAt.toISOString(),
    deliveredAt: iso(row.deliveredAt),
  };
}

function toAttemptView(row: typeof attempts.$inferSelect): AttemptView {
  return {
    id: row.id,
    messageId: row.messageId,
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

/** The list query of `GET /v1/admin/messages`; exported so the benchmark explains the real one. */
export function messageListQuery(db: Queryable, filter: MessageFilter) {
  return db
    .select({ ...messageColumns, cursorAt: cursorText(messages.createdAt) })
    .from(messages)
    .where(
      and(
        filter.status !== undefined ? eq(messages.status, filter.status) : undefined,
        filter.tenantId !== undefined ? eq(messages.tenantId, filter.tenantId) : undefined,
        filter.runId !== undefined ? eq(messages.runId, filter.runId) : undefined,
        filter.workflowId !== undefined ? eq(messages.workflowId, filter.workflowId) : undefined,
        filter.eventType !== undefined ? eq(messages.eventType, filter.eventType) : undefined,
        filter.since !== undefined ? gte(messages.createdAt, filter.since) : undefined,
        filter.until !== undefined ? lt(messages.createdAt, filter.until) : undefined,
        beforeCursor(messages.createdAt, messages.id, filter.iterator),
      ),
    )
    .orderBy(desc(messages.createdAt), desc(messages.id))
    .limit(filter.limit + 1);
}

/** The list query of `GET /v1/admin/attempts`; exported so the benchmark explains the real one. */
export function attemptListQuery(db: Queryable, filter: AttemptFilter) {
  return db
    .select({ row: attempts, cursorAt: cursorText(attempts.startedAt) })
    .from(attempts)
    .where(
      and(
        filter.messageId !== undefined ? eq(attempts.messageId, filter.messageId) : undefined,
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
    .select()
    .from(attempts)
    .where(inArray(attempts.messageId, [...messageIds]))
    .orderBy(asc(attempts.startedAt), asc(attempts.id));
  for (const row of rows) byMessage.get(row.messageId)?.push(toAttemptView(row));
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

/** One message with its payload and attempts (oldest first); with a tenant, only that tenant's. */
export async function getMessage(deps: Pick<ServiceDeps, 'db'>, messageId: string, tenantId?: string): Promise<MessageDetail> {
  const [row] = await deps.db
    .select({ ...messageColumns, payload: messages.payload })
    .from(messages)
    .where(and(eq(messages.id, messageId), tenantId !== undefined ? eq(messages.tenantId, tenantId) : undefined));
  if (!row) throw notFound('message');
  const byMessage = await attemptsOf(deps.db, [row.id]);
  return { ...toMessageView(row), payload: row.payload, attempts: byMessage.get(row.id) ?? [] };
}

export async function listAttempts(deps: Pick<ServiceDeps, 'db'>, filter: AttemptFilter): Promise<Page<AttemptView>> {
  const rows = await attemptListQuery(deps.db, filter);
  return toPage(
    rows.map(({ row, cursorAt }) => ({ ...row, cursorAt })),
    filter.limit,
    toAttemptView,
  );
}
