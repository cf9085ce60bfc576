/**
 * Wake-ups of a queue loop. A loop sleeps until its next fetch is due (see fetch-policy.ts); a wake
 * ends the sleep early. `urgent` wakes end even a back-off: a freed slot of a capped origin, a fresh
 * event to an origin with room, stopping.
 */
export interface Waker {
  wake(urgent?: boolean): void;
  /** Sleeps `ms`, or less when woken (by an urgent wake only, with `urgentOnly`). */
  sleep(ms: number, urgentOnly?: boolean): Promise<void>;
  /** Whether a wake (an urgent one) came since the last `clear`. */
  readonly woken: boolean;
  readonly urgent: boolean;
  /** Forgets past wakes: called as a fetch starts, so a wake during it is kept for after. */
  clear(): void;
}

export function createWaker(): Waker {
  let woken = false;
  let urgent = false;
  let resume: ((urgentWake: boolean) => void) | null = null;
  return {
    get woken() {
      return woken;
    },
    get urgent() {
      return urgent;
    },
    wake(isUrgent = false) {
      woken = true;
      if (isUrgent) urgent = true;
      resume?.(isUrgent);
    },
    clear() {
      woken = false;
      urgent = false;
    },
    async sleep(ms, urgentOnly = false) {
      if (urgentOnly ? urgent : woken) return;
      if (ms <= 0) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(finish, ms);
        function finish(): void {
          clearTimeout(timer);
          resume = null;
          resolve();
        }
        resume = (urgentWake) => {
          if (urgentWake || !urgentOnly) finish();
        };
      });
    },
  };
}

/** Calls `ring` at the earliest moment asked for (retries due before the queue's next poll). */
export interface Alarm {
  at(when: Date, now: Date): void;
  cancel(): void;
}

export function createAlarm(ring: () => void): Alarm {
  let timer: NodeJS.Timeout | null = null;
  let ringAt = Number.POSITIVE_INFINITY;
  return {
    at(when, now) {
      const at = when.getTime();
      if (at >= ringAt) return;
      if (timer !== null) clearTimeout(timer);
      ringAt = at;
      // A few ms late, so the job is due by the database's clock too.
      timer = setTimeout(
        () => {
          timer = null;
          ringAt = Number.POSITIVE_INFINITY;
          ring();
        },
        Math.max(0, at - now.getTime() + 15),
      );
      timer.unref();
    },
    cancel() {
      if (timer !== null) clearTimeout(timer);
      timer = null;
      ringAt = Number.POSITIVE_INFINITY;
    },
  };
}
