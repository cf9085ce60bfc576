import pino from 'pino';

export type Logger = pino.Logger;

/**
 * Paths whose values never reach a log line. pino matches paths, not names at any depth, so each
 * credential is listed at the top level and one and two levels down (`req.headers.authorization`).
 * Custom webhook header values are tenants' own credentials as often as not: all of them go.
 */
const CREDENTIALS = [
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
];
const REDACT = [
  ...CREDENTIALS.flatMap((name) => [name, `*.${name}`, `*.*.${name}`]),
  'headers["x-api-key"]',
  '*.headers["x-api-key"]',
  'webhook.headers.*',
  '*.webhook.headers.*',
  '*.*.webhook.headers.*',
  'customHeaders.*',
  '*.customHeaders.*',
];

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
  return pino(
    {
      level,
      base: { service: 'orbit' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: serializeErr, error: serializeErr },
    },
    destination ?? guardedOutput(process.stdout),
  );
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
