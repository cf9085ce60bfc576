/**
 * What one worker holds and runs of each destination origin on one delivery queue: claims held
 * (fetched, not settled yet), attempts in flight, and prepared attempts waiting for a slot (FIFO).
 * The caps keep one slow or hot origin from taking the slots the others need. Pure bookkeeping.
 */

export interface OriginLimits {
  /** Attempts in flight per origin at most (this worker's share of the deployment's cap). */
  running: number;
  /** Claims held per origin at most; at this many the origin is left out of the next fetch. */
  held: number;
}

interface Origin<T> {
  key: string;
  held: number;
  running: number;
  waiting: (T | undefined)[];
  head: number;
}

/** Jobs without an origin (no URL known when queued) are capped in flight but never left out of a fetch. */
export const NO_ORIGIN = '';

export class OriginSlots<T> {
  limits: OriginLimits;
  /** Attempts in flight, all origins together. */
  running = 0;
  private readonly origins = new Map<string, Origin<T>>();
  /** Origins with attempts waiting. */
  private readonly ready = new Set<Origin<T>>();

  constructor(limits: OriginLimits) {
    this.limits = limits;
  }

  private origin(key: string): Origin<T> {
    let origin = this.origins.get(key);
    if (origin === undefined) {
      origin = { key, held: 0, running: 0, waiting: [], head: 0 };
      this.origins.set(key, origin);
    }
    return origin;
  }

  private forgetIfIdle(origin: Origin<T>): void {
    if (origin.held === 0 && origin.running === 0 && origin.head >= origin.waiting.length) this.origins.delete(origin.key);
  }

  /** A claim of this origin was fetched. */
  hold(key: string): void {
    this.origin(key).held++;
  }

  /** A claim of this origin was settled (or handed back); true when that freed a saturated origin. */
  release(key: string): boolean {
    const origin = this.origins.get(key);
    if (origin === undefined) return false;
    const wasSaturated = this.isSaturated(key);
    origin.held--;
    this.forgetIfIdle(origin);
    return wasSaturated;
  }

  isSaturated(key: string): boolean {
    return key !== NO_ORIGIN && (this.origins.get(key)?.held ?? 0) >= this.limits.held;
  }

  /** The origins a fetch must leave out: those holding their share of claims. */
  saturated(): string[] {
    const keys: string[] = [];
    for (const origin of this.origins.values()) if (this.isSaturated(origin.key)) keys.push(origin.key);
    return keys;
  }

  /** A prepared attempt waits for a slot of its origin. */
  enqueue(key: string, item: T): void {
    const origin = this.origin(key);
    origin.waiting.push(item);
    this.ready.add(origin);
  }

  /**
   * Takes the waiting attempts that may start now — origins in the order they became ready, FIFO
   * within one — while the worker has fewer than `maxRunning` in flight; marks them running.
   */
  take(maxRunning: number): { key: string; item: T }[] {
    const taken: { key: string; item: T }[] = [];
    for (const origin of this.ready) {
      if (this.running >= maxRunning) break;
      while (origin.running < this.limits.running && this.running < maxRunning && origin.head < origin.waiting.length) {
        const item = origin.waiting[origin.head] as T;
        // Released for the garbage collector before the whole queue is drained.
        origin.waiting[origin.head++] = undefined;
        origin.running++;
        this.running++;
        taken.push({ key: origin.key, item });
      }
      if (origin.head >= origin.waiting.length) {
        origin.waiting = [];
        origin.head = 0;
        this.ready.delete(origin);
      } else if (origin.head > 1024) {
        origin.waiting = origin.waiting.slice(origin.head);
        origin.head = 0;
      }
    }
    return taken;
  }

  /** An attempt of this origin ended. */
  finished(key: string): void {
    const origin = this.origins.get(key);
    if (origin === undefined) return;
    origin.running--;
    this.running--;
    this.forgetIfIdle(origin);
  }

  /** Every attempt still waiting (stopping: they are handed back), in FIFO order per origin. */
  drainWaiting(): T[] {
    const drained: T[] = [];
    for (const origin of this.ready) {
      for (let i = origin.head; i < origin.waiting.length; i++) {
        const item = origin.waiting[i];
        if (item !== undefined) drained.push(item);
      }
      origin.waiting = [];
      origin.head = 0;
      this.forgetIfIdle(origin);
    }
    this.ready.clear();
    return drained;
  }

  /** Claims held by origin, for the heartbeat and metrics. */
  heldBy(key: string): number {
    return this.origins.get(key)?.held ?? 0;
  }
}
