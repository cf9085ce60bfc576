import pino from 'pino';

export type Logger = pino.Logger;

// ---------------------------------------------------------------------------------------------
// Credentials: never in a log line.

/** Keys whose values never reach a log line, at any depth, in any letter case. */
const CREDENTIAL_KEYS: ReadonlySet<string> = new Set(
  [
    'authorization',
    'apiKey',
    'adminKey',
    'secret',
    'secrets',
    'signingSecret',
    'encryptionKey',
    'password',
    'databaseUrl',
    'connectionString',
    'x-api-key',
  ].map((key) => key.toLowerCase()),
);
const CENSOR = '[redacted]';
/** Deeper than any line Orbit writes; a deeper value is logged as it is. */
const MAX_DEPTH = 8;

/**
 * A log line's fields with every credential replaced by `[redacted]`: the values of CREDENTIAL_KEYS,
 * and every value of a webhook's custom headers (`webhook.headers`, `customHeaders`), which are
 * tenants' own credentials as often as not. Copies only what it changes, and walks only plain
 * objects and arrays (an error goes through serializeError, which keeps its message and code only).
 * Done here rather than with pino's `redact` paths: those need a wildcard per depth, and with
 * them every line cost about 60 µs of CPU, most of the cost of the line (docs/operations.md,
 * "Logs").
 */
export function redactCredentials<T extends object>(fields: T): T {
  return redactIn(fields, null, null, 0) as T;
}

/** `value` redacted; `key` is the name it sits under, `parentKey` its parent's (null at the top). */
function redactIn(value: object, key: string | null, parentKey: string | null, depth: number): object {
  // A webhook's custom headers: every value goes, whatever its name.
  const allSecret = key === 'customHeaders' || (key === 'headers' && parentKey === 'webhook');
  if (Array.isArray(value)) {
    let copy: unknown[] | null = null;
    for (let index = 0; index < value.length; index++) {
      const item: unknown = value[index];
      const next = allSecret && item !== undefined ? CENSOR : walked(item, key, parentKey, depth);
      if (next !== item) (copy ??= [...value])[index] = next;
    }
    return copy ?? value;
  }
  let copy: Record<string, unknown> | null = null;
  const fields = value as Record<string, unknown>;
  for (const name of Object.keys(fields)) {
    const item = fields[name];
    if (item === undefined) continue;
    const next = allSecret || CREDENTIAL_KEYS.has(name.toLowerCase()) ? CENSOR : walked(item, name, key, depth);
    if (next !== item) (copy ??= { ...fields })[name] = next;
  }
  return copy ?? value;
}

/** A plain object or array redacted; anything else (a string, an error, a Date, a Buffer) as it is. */
function walked(item: unknown, key: string | null, parentKey: string | null, depth: number): unknown {
  if (typeof item !== 'object' || item === null || depth >= MAX_DEPTH) return item;
  const prototype: unknown = Object.getPrototypeOf(item);
  if (!Array.isArray(item) && prototype !== Object.prototype && prototype !== null) return item;
  return redactIn(item, key, parentKey, depth + 1);
}

// ---------------------------------------------------------------------------------------------
// Errors: one short line each.

const STACK_FRAMES = 6;
const CAUSE_DEPTH = 3;

/**
 * What a log line keeps of an error: its type, message and code, the causes' too. Never its other
 * properties: database drivers hang whole client objects (config, sockets, query text) on their
 * errors, kilobytes per line. The stack only at debug and below, cut to a few frames.
 */
export function serializeError(value: unknown, withStack = false, depth = 0): unknown {
  if (!(value instanceof Error)) {
    if (typeof value === 'object' && value !== null) return { message: String((value as { message?: unknown }).message ?? value) };
    return value;
  }
  const out: Record<string, unknown> = { type: value.name, message: value.message };
  const code = (value as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') out.code = code;
  // AggregateError (a host that resolved to several addresses, all refused) says nothing itself.
  if (value instanceof AggregateError) {
    const messages = value.errors.slice(0, 3).map((inner: unknown) => (inner instanceof Error ? inner.message : String(inner)));
    if (out.message === '') out.message = messages.join('; ');
    else out.errors = messages;
    if (out.code === undefined) {
      const innerCode = (value.errors[0] as { code?: unknown } | undefined)?.code;
      if (typeof innerCode === 'string') out.code = innerCode;
    }
  }
  if (withStack && value.stack)
    out.stack = value.stack
      .split('\n')
      .slice(0, STACK_FRAMES + 1)
      .join('\n');
  if (value.cause !== undefined && depth < CAUSE_DEPTH) out.cause = serializeError(value.cause, withStack, depth + 1);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Where log lines go: standard output, never at the price of a hang.

/** Bytes of log lines waiting for a slow reader of stdout before new lines are dropped. */
const MAX_BACKLOG = 4 * 1024 * 1024;

interface GuardedStream {
  write(text: string): void;
}

const guarded = new WeakMap<NodeJS.WriteStream, GuardedStream>();

/**
 * A write to stdout or stderr that never throws, never blocks and never spins: once the reader is
 * gone (EPIPE, EBADF…) lines are dropped for good, and a reader too slow to keep up loses the lines
 * beyond MAX_BACKLOG. Losing log lines is acceptable; an Orbit that cannot shut down because its
 * log pipe was closed is not. (pino's own destination retries a failed write every 100 ms with
 * the event loop blocked, so signals are never handled.)
 */
export function guardedOutput(stream: NodeJS.WriteStream): GuardedStream {
  const existing = guarded.get(stream);
  if (existing) return existing;
  let broken = false;
  // Without a listener an EPIPE would be an uncaught exception.
  stream.on('error', () => {
    broken = true;
  });
  const output: GuardedStream = {
    write(text) {
      if (broken || stream.destroyed || stream.writableLength > MAX_BACKLOG) return;
      try {
        stream.write(text);
      } catch {
        broken = true;
      }
    },
  };
  guarded.set(stream, output);
  return output;
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const withStack = level === 'debug' || level === 'trace';
  const serializeErr = (value: unknown): unknown => serializeError(value, withStack);
  const logger = pino(
    {
      level,
      base: { service: 'orbit' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }), log: redactCredentials },
      serializers: { err: serializeErr, error: serializeErr },
    },
    destination ?? guardedOutput(process.stdout),
  );
  // pino's bindings formatter reaches the root's bindings only; a child's go through here (children
  // inherit this method, so theirs too).
  const child = logger.child;
  logger.child = function (this: Logger, bindings, options) {
    return child.call(this, redactCredentials(bindings), options);
  } as typeof logger.child;
  return logger;
}

export const silentLogger: Logger = pino({ level: 'silent' });

// ---------------------------------------------------------------------------------------------

export interface RepeatFilter {
  /** Whether to log this occurrence of `key` now, and how many were held back since the last line. */
  admit(key: string): { log: boolean; suppressed: number };
}

/**
 * One line per kind of trouble per interval: the first occurrence is logged, repeats within the
 * interval are counted, and the next line says how many there were. The interval doubles while the
 * trouble lasts (from `firstMs` up to `maxMs`) and starts over after a quiet interval.
 */
export function repeatFilter(options: { firstMs: number; maxMs: number; now?: () => number }): RepeatFilter {
  const now = options.now ?? (() => performance.now());
  const state = new Map<string, { next: number; interval: number; suppressed: number; last: number }>();
  return {
    admit(key) {
      const at = now();
      const entry = state.get(key);
      if (entry === undefined || at - entry.last > entry.interval * 2) {
        state.set(key, { next: at + options.firstMs, interval: options.firstMs, suppressed: 0, last: at });
        return { log: true, suppressed: 0 };
      }
      entry.last = at;
      if (at < entry.next) {
        entry.suppressed += 1;
        return { log: false, suppressed: entry.suppressed };
      }
      const suppressed = entry.suppressed;
      entry.interval = Math.min(entry.interval * 2, options.maxMs);
      entry.next = at + entry.interval;
      entry.suppressed = 0;
      return { log: true, suppressed };
    },
  };
}
