/**
 * The retry ladder: when the next attempt of a message comes, if any.
 * Pure: time (`now`) and randomness (`random`) are passed in, so tests pin the maths exactly.
 */
import { parseDurationList } from '../lib/durations.ts';

/** The limits of a retry schedule (ORBIT_RETRY_SCHEDULE, or an endpoint's own `retrySchedule`). */
export const RETRY_SCHEDULE_LIMITS = { steps: 20, stepMs: 7 * 86_400_000 } as const;

export const RETRY_SCHEDULE_RULE =
  'a comma list of durations such as 5s,5m,30m,2h,8h (units ms, s, m, h, d; at most 20 steps, each at most 7d), or empty for no retries';

/** A retry schedule's text (`5s,5m,30m`) as delays in ms; empty text is no retries; null when invalid. */
export function parseRetrySchedule(text: string): number[] | null {
  const list = parseDurationList(text);
  if (list === null || list.length > RETRY_SCHEDULE_LIMITS.steps || list.some((ms) => ms > RETRY_SCHEDULE_LIMITS.stepMs)) return null;
  return list;
}

/** A schedule in ms back as text, in the largest unit that divides each delay (`5000` → `5s`). */
export function formatRetrySchedule(schedule: readonly number[]): string {
  const units: [string, number][] = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ];
  return schedule
    .map((ms) => {
      const unit = units.find(([, size]) => ms > 0 && ms % size === 0);
      return unit ? `${ms / unit[1]}${unit[0]}` : `${ms}ms`;
    })
    .join(',');
}
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
