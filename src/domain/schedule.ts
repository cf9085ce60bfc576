/**
 * The retry ladder: when the next attempt of a message comes, if any.
 * Pure: time (`now`) and randomness (`random`) are passed in, so tests pin the maths exactly.
 */
export interface RetryDelayInput {
  /** 1-based number of the attempt just made. */
  attempt: number;
  /** Delays in ms between attempts, after the immediate first one. */
  schedule: readonly number[];
  /** 0..1: each delay is multiplied by a factor drawn uniformly from [1 - jitter, 1 + jitter]. */
  jitter: number;
  /** Uniform in [0, 1). */
  random: () => number;
  responseStatus: number | null;
  /** The raw Retry-After header of the answer, if any. */
  retryAfter: string | null;
  now: Date;
}

/** Milliseconds until the next attempt, or null when none follows (exhausted, or 410 Gone). */
export function nextRetryDelay(input: RetryDelayInput): number | null {
  // 410 Gone: the receiver says the endpoint is gone for good, so retrying is pointless.
  if (input.responseStatus === 410) return null;
  if (!Number.isInteger(input.attempt) || input.attempt < 1) return null;
  const scheduled = input.schedule[input.attempt - 1];
  if (scheduled === undefined) return null;

  const jitter = Math.min(Math.max(input.jitter, 0), 1);
  const factor = 1 - jitter + 2 * jitter * input.random();
  const delay = Math.round(scheduled * factor);

  // Retry-After may only lengthen the wait, and at most to twice the scheduled delay, so a
  // receiver cannot park a message for days nor make Orbit hammer it faster than the ladder.
  const hinted = parseRetryAfter(input.retryAfter, input.now);
  if (hinted === null) return delay;
  return Math.max(delay, Math.min(hinted, 2 * scheduled));
}

const DELTA_SECONDS = /^\d+$/;
// An HTTP-date starts with a day name (IMF-fixdate, RFC 850 and asctime forms all do).
const HTTP_DATE = /^[A-Za-z]{3}/;

/** Retry-After as ms from `now` (delta seconds or HTTP-date); null when absent, invalid or in the past. */
export function parseRetryAfter(value: string | null, now: Date): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (DELTA_SECONDS.test(text)) {
    const ms = Number(text) * 1000;
    return Number.isFinite(ms) ? ms : null;
  }
  if (!HTTP_DATE.test(text)) return null;
  const at = Date.parse(text);
  if (!Number.isFinite(at)) return null;
  const ms = at - now.getTime();
  return ms >= 0 ? ms : null;
}
