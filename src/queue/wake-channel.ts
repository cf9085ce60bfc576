/**
 * The wake-up a process sends after it enqueued deliveries, so a worker in another process fetches
 * at once instead of at its next poll. One NOTIFY per queue and tick, sent after the enqueueing
 * transaction committed (a NOTIFY inside a transaction serialises every commit behind it), naming the
 * origins the new jobs go to so a worker can tell a fresh event to an origin with room (fetch now)
 * from more backlog for a capped one (fetch when a slot frees).
 */
export const DELIVERY_WAKE_CHANNEL = 'orbit_delivery_wake';

export interface WakeNotice {
  queue: string;
  /** The jobs' origins; null when unknown or too many to name (any origin). */
  origins: string[] | null;
}

// A NOTIFY payload holds at most 8,000 bytes.
const MAX_PAYLOAD = 7_000;

export function encodeWake(notice: WakeNotice): string {
  const text = JSON.stringify(notice);
  return text.length <= MAX_PAYLOAD ? text : JSON.stringify({ queue: notice.queue, origins: null });
}

/** The notice in a payload; null for anything else (a foreign or corrupt NOTIFY). */
export function parseWake(payload: string): WakeNotice | null {
  try {
    const value = JSON.parse(payload) as unknown;
    if (typeof value !== 'object' || value === null) return null;
    const { queue, origins } = value as Record<string, unknown>;
    if (typeof queue !== 'string') return null;
    if (origins === null) return { queue, origins: null };
    if (!Array.isArray(origins) || !origins.every((origin) => typeof origin === 'string')) return null;
    return { queue, origins };
  } catch {
    return null;
  }
}
