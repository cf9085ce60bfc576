/** Input limits, documented in the README ("Limits"). Byte sizes are of the JSON text. */
export const LIMITS = {
  requestBodyBytes: 1024 * 1024,
  idLength: 256,
  urlLength: 2048,
  metadataBytes: 16 * 1024,
  headerCount: 32,
  headerNameLength: 128,
  headerValueLength: 4096,
  inputBytes: 512 * 1024,
  eventDataBytes: 64 * 1024,
  errorLength: 8 * 1024,
  idempotencyKeyLength: 255,
  jsonDepth: 32,
} as const;

/** Every list pages with `limit`: this many items when absent, at most `max`. */
export const PAGE_SIZE = { default: 50, max: 250 } as const;

export const ITERATOR_RULE = 'not an iterator returned by a previous page of this list';

export const MOMENT_RANGE_RULE = 'must be a moment from year 1 to year 9999';

// The moments PostgreSQL and JavaScript both handle: a year 0 or a duration of millions of days
// parses, but PostgreSQL refuses the one and date arithmetic overflows on the other.
const EARLIEST_MS = Date.parse('0001-01-01T00:00:00Z');
const LATEST_MS = Date.parse('9999-12-31T23:59:59.999Z');

/** Whether a moment a filter names lies in years 1 to 9999 (an invalid Date does not). */
export function isMomentInRange(at: Date): boolean {
  const ms = at.getTime();
  return ms >= EARLIEST_MS && ms <= LATEST_MS;
}

export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');
}

/**
 * Why PostgreSQL could not store this JSON value, or null: NUL characters and lone UTF-16
 * surrogates are refused by `text` and `jsonb`, and very deep nesting is refused here first.
 * Iterative, so hostile nesting cannot overflow the stack.
 */
export function unstorableJson(value: unknown): string | null {
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const item = stack.pop() as { value: unknown; depth: number };
    if (typeof item.value === 'string') {
      const problem = unstorableText(item.value);
      if (problem) return problem;
    } else if (item.value !== null && typeof item.value === 'object') {
      if (item.depth >= LIMITS.jsonDepth) return `is nested deeper than ${LIMITS.jsonDepth} levels`;
      for (const [key, child] of Object.entries(item.value)) {
        const problem = unstorableText(key);
        if (problem) return problem;
        stack.push({ value: child, depth: item.depth + 1 });
      }
    }
  }
  return null;
}

export function unstorableText(text: string): string | null {
  if (text.includes('\u0000')) return 'contains a NUL character';
  if (!text.isWellFormed()) return 'contains an unpaired UTF-16 surrogate';
  return null;
}
