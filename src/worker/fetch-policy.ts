/**
 * When a queue loop fetches next. A fetch is cheap when jobs are waiting; it is costly when the
 * only jobs left belong to origins at their claim cap, because the query must skip their whole
 * backlog (82 ms with 200,000 queued) to find nothing. So after a short fetch with such an origin
 * the loop waits for a slot of it to free (an urgent wake), for a fresh event to an origin with
 * room (also urgent), or for a back-off; anything else waits for the poll. Pure.
 */

export type FetchMode =
  /** More jobs may be waiting: fetch at once. */
  | 'now'
  /** Nothing is waiting: fetch on any wake, or at the poll. */
  | 'on-wake'
  /** What is left may only be capped origins' backlog: fetch on an urgent wake or after the back-off. */
  | 'scan-prone';

export interface FetchPlan {
  mode: FetchMode;
  backoffMs: number;
}

/** A short fetch slower than this has likely scanned past a capped origin's backlog. */
export const SLOW_FETCH_MS = 20;
export const MIN_BACKOFF_MS = 250;
export const MAX_BACKOFF_MS = 500;

export interface FetchObservation {
  /** Jobs the fetch returned. */
  fetched: number;
  /** Jobs it asked for. */
  room: number;
  tookMs: number;
  /** Origins at their claim cap in this worker (left out of the fetch). */
  saturatedOrigins: number;
}

export function planAfterFetch(observed: FetchObservation): FetchPlan {
  if (observed.fetched >= observed.room) return { mode: 'now', backoffMs: MIN_BACKOFF_MS };
  if (observed.saturatedOrigins > 0 || observed.tookMs >= SLOW_FETCH_MS) {
    return { mode: 'scan-prone', backoffMs: Math.min(MAX_BACKOFF_MS, Math.max(MIN_BACKOFF_MS, 5 * observed.tookMs)) };
  }
  return { mode: 'on-wake', backoffMs: MIN_BACKOFF_MS };
}

/** The loop has no room for a claim: a settle wakes it. */
export const FULL: FetchPlan = { mode: 'on-wake', backoffMs: MIN_BACKOFF_MS };

export interface FetchWait {
  /** Wait this long for an urgent wake only. */
  urgentOnlyMs: number;
  /** Then this long (counted from the same moment) for any wake. */
  anyWakeMs: number;
}

export function waitBeforeFetch(plan: FetchPlan, sinceLastFetchMs: number, pollMs: number): FetchWait {
  switch (plan.mode) {
    case 'now':
      return { urgentOnlyMs: 0, anyWakeMs: 0 };
    case 'on-wake':
      return { urgentOnlyMs: 0, anyWakeMs: pollMs };
    case 'scan-prone':
      return { urgentOnlyMs: Math.max(0, plan.backoffMs - sinceLastFetchMs), anyWakeMs: Math.max(0, pollMs - sinceLastFetchMs) };
  }
}

/** After a failed fetch (the database away): back off, 0.5 s doubling to 5 s. */
export function delayAfterFailure(failures: number): number {
  return Math.min(250 * 2 ** failures, 5_000);
}
