/**
 * The rules of the Svix-compatible API that are not about HTTP: what a uid, an event type name or
 * a channel may look like, how Orbit's delivery words map to Svix's status numbers, how lists page,
 * and where an event type's example payload comes from. Pure.
 */
import type { AttemptOutcome, AttemptTrigger, MessageStatus } from './delivery.ts';

/** A uid, an event type name, an `eventId`: Svix's "limited string". */
export const LIMITED_STRING = /^[a-zA-Z0-9\-_.]+$/;
export const LIMITED_STRING_MAX = 256;
export const LIMITED_STRING_RULE = 'must be 1 to 256 letters, digits, dashes, underscores and dots';

/** A channel also allows colons (`project:123`). */
export const CHANNEL = /^[a-zA-Z0-9\-_.:]+$/;
export const CHANNEL_MAX = 128;
export const CHANNEL_RULE = 'must be 1 to 128 letters, digits, dashes, underscores, dots and colons';
/** At most this many channels on a message or an endpoint. */
export const MAX_CHANNELS = 10;

/** The prefixes of the ids a path may name instead of a uid. */
export const ID_PREFIX = { app: 'app', endpoint: 'ep', message: 'msg', attempt: 'atmpt' } as const;

/** Whether a path value names an object by its id (`app_…`) rather than by its uid. */
export function isIdOf(prefix: string, value: string): boolean {
  return value.startsWith(`${prefix}_`);
}

/**
 * Why a uid (or an `eventId`) is refused, or null. It may not start like the ids of its kind, so a
 * path value is always either an id or a uid, never both.
 */
export function uidProblem(uid: string, idPrefix: string): string | null {
  if (uid.length === 0 || uid.length > LIMITED_STRING_MAX || !LIMITED_STRING.test(uid)) return LIMITED_STRING_RULE;
  if (isIdOf(idPrefix, uid)) return `must not start with ${idPrefix}_ (the prefix of ids)`;
  return null;
}

/** What a path segment naming an object (by id or uid) may look like; anything else names nothing. */
export const PATH_KEY = /^[a-zA-Z0-9\-_.]{1,256}$/;

// ---- statuses ---------------------------------------------------------------------------------

/** Svix's `MessageStatus`: 0 success, 1 pending, 2 fail, 3 sending (4 canceled is never used). */
export const SVIX_STATUS = { success: 0, pending: 1, fail: 2, sending: 3 } as const;
export type SvixStatusText = keyof typeof SVIX_STATUS;
export type SvixStatus = (typeof SVIX_STATUS)[SvixStatusText];

export interface SvixStatusPair {
  status: SvixStatus;
  statusText: SvixStatusText;
}

const pair = (text: SvixStatusText): SvixStatusPair => ({ status: SVIX_STATUS[text], statusText: text });

/** A finished attempt: it succeeded or it failed (Orbit records attempts once they are over). */
export function attemptStatus(outcome: AttemptOutcome): SvixStatusPair {
  return pair(outcome === 'succeeded' ? 'success' : 'fail');
}

/**
 * A delivery (a message at an endpoint): `pending` before its first attempt, `sending` while a retry
 * is planned after a failed attempt, then `success` or `fail`.
 */
export function deliveryStatus(status: MessageStatus, attemptCount: number): SvixStatusPair {
  switch (status) {
    case 'succeeded':
      return pair('success');
    case 'failed':
      return pair('fail');
    case 'pending':
      return pair(attemptCount === 0 ? 'pending' : 'sending');
  }
}

/**
 * The Orbit delivery status a Svix status filter selects (with whether attempts were made); null
 * for 4 (canceled), which no delivery is.
 */
export function deliveryStatusFilter(status: number): { status: MessageStatus; attempted?: boolean } | null {
  switch (status) {
    case SVIX_STATUS.success:
      return { status: 'succeeded' };
    case SVIX_STATUS.pending:
      return { status: 'pending', attempted: false };
    case SVIX_STATUS.fail:
      return { status: 'failed' };
    case SVIX_STATUS.sending:
      return { status: 'pending', attempted: true };
    default:
      return null;
  }
}

/**
 * Svix's `triggerType`: 0 scheduled, 1 manual. An attempt of Orbit's recover of failed messages is a
 * step of the retry schedule, so it is 0 (scheduled).
 */
export function triggerType(trigger: AttemptTrigger): 0 | 1 {
  return trigger === 'manual' ? 1 : 0;
}

/** Svix's `statusCodeClass` (0, 100, …, 500) as Orbit's attempt status class (0 = no response, 1..5). */
export function statusCodeClass(value: number): number | null {
  if (value === 0) return 0;
  if (value >= 100 && value <= 500 && value % 100 === 0) return value / 100;
  return null;
}

// ---- lists ------------------------------------------------------------------------------------

/**
 * One page of a Svix list. Items are sorted by a key (an id, or an event type's name); `iterator`
 * continues after the given key in the list's order, `previous` (an iterator that starts with `-`)
 * goes back from it. Answers always read in the list's order.
 */
export interface ListPage {
  limit: number;
  iterator: string | null;
  previous: boolean;
  ascending: boolean;
}

export interface ListOut<T> {
  data: T[];
  iterator: string | null;
  prevIterator: string | null;
  done: boolean;
}

/** Whether the query reads the key upwards (ascending) for this page. */
export function readsAscending(page: ListPage): boolean {
  return page.ascending !== page.previous;
}

/**
 * Builds the answer from up to `limit + 1` rows read in the query's direction: `done` when no row
 * is left beyond this page, `iterator` the last key (the next page continues after it) and
 * `prevIterator` the first one, prefixed with `-`.
 */
export function listOut<R, T>(rows: readonly R[], page: ListPage, keyOf: (row: R) => string, view: (row: R) => T): ListOut<T> {
  const done = rows.length <= page.limit;
  const kept = rows.slice(0, page.limit);
  if (page.previous) kept.reverse();
  const first = kept[0];
  const last = kept.at(-1);
  return {
    data: kept.map(view),
    iterator: last === undefined ? null : keyOf(last),
    prevIterator: first === undefined ? null : `-${keyOf(first)}`,
    done,
  };
}

// ---- event types ------------------------------------------------------------------------------

/** What an example message of an event type carries when its schema gives no example. */
export const DEFAULT_EXAMPLE = '{"example":true}';
/** Svix's built-in ping event: sendable as an example without being declared. */
export const PING_EVENT_TYPE = 'svix.ping';
export const PING_PAYLOAD = '{"success":true}';

/**
 * The example payload of an event type, as JSON text: the schema's `examples[index]` (of version
 * "1", else of the first version that has examples), or its `example`; it must be a JSON object.
 * Null when the schemas hold none.
 */
export function schemaExample(schemas: Record<string, unknown> | null, index = 0): string | null {
  if (schemas === null) return null;
  const versions = ['1', ...Object.keys(schemas).filter((key) => key !== '1')];
  for (const version of versions) {
    const schema = schemas[version];
    if (typeof schema !== 'object' || schema === null) continue;
    const { examples, example } = schema as { examples?: unknown; example?: unknown };
    const candidate = Array.isArray(examples) ? (examples[index] ?? examples[0]) : example;
    if (typeof candidate === 'object' && candidate !== null && !Array.isArray(candidate)) return JSON.stringify(candidate);
  }
  return null;
}

// ---- headers ----------------------------------------------------------------------------------

/** Headers whose values Svix's `getHeaders` leaves out, naming them in `sensitive` instead. */
const SENSITIVE_HEADERS = new Set([
  'x-auth-token',
  'x-api-key',
  'www-authenticate',
  'authorization',
  'proxy-authenticate',
  'proxy-authorization',
]);

export function splitSensitiveHeaders(headers: Record<string, string>): { headers: Record<string, string>; sensitive: string[] } {
  const shown: Record<string, string> = {};
  const sensitive: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (SENSITIVE_HEADERS.has(name.toLowerCase())) sensitive.push(name);
    else shown[name] = value;
  }
  return { headers: shown, sensitive };
}

// ---- payloads ---------------------------------------------------------------------------------

/** Payloads nest at most this deep (Svix's JSON parser refuses deeper ones too). */
export const MAX_PAYLOAD_DEPTH = 128;

/** Whether a parsed JSON value nests deeper than `max` levels. Iterative: hostile nesting cannot overflow the stack. */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 1 }];
  while (stack.length > 0) {
    const item = stack.pop() as { value: unknown; depth: number };
    if (item.value === null || typeof item.value !== 'object') continue;
    if (item.depth > max) return true;
    for (const child of Object.values(item.value)) stack.push({ value: child, depth: item.depth + 1 });
  }
  return false;
}
