/**
 * Group commit of finished attempts: attempts that end while a record statement runs share the
 * next one, so a slow record never holds up an attempt and a burst of answers costs one statement.
 * Then the jobs are settled in the queue (completed, or failed to run again). While the database is
 * away the record is tried again and the claims are kept — the receivers have answered, and a short
 * outage must cost no duplicate — until the worker gives up at its stop deadline.
 */

export interface Settlement<C, R> {
  claim: C;
  /** completed: recorded, or nothing to do; failed: pg-boss runs the job again. */
  outcome: 'completed' | 'failed';
  /** The attempt to record; null when there is none (nothing to do, or handed back). */
  result: R | null;
}

export interface RecordBatcherOptions<C, R> {
  /** Writes the attempts durably (one statement, or one short transaction); `again` after a failed try. */
  record(results: R[], again: boolean): Promise<void>;
  /** Completes or fails the batch's jobs in the queue, and forgets the claims. Must not throw. */
  settle(batch: Settlement<C, R>[]): Promise<void>;
  /** Forgets claims without settling them (the worker gave up: pg-boss runs them again). */
  drop(batch: Settlement<C, R>[]): void;
  /** True once the worker gave up waiting at stop. */
  abandoned(): boolean;
  onRecordError(error: unknown, tries: number, attempts: number): void;
  /** Rows per record statement at most (default 500). */
  maxBatch?: number;
  sleep?: (ms: number) => Promise<void>;
}

export interface RecordBatcher<C, R> {
  add(settlement: Settlement<C, R>): void;
  /** Resolves when nothing is being recorded. */
  idle(): Promise<void>;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function createRecordBatcher<C, R>(options: RecordBatcherOptions<C, R>): RecordBatcher<C, R> {
  const maxBatch = options.maxBatch ?? 500;
  const sleep = options.sleep ?? defaultSleep;
  let ended: Settlement<C, R>[] = [];
  let recording: Promise<void> | null = null;

  async function recordAndSettle(batch: Settlement<C, R>[]): Promise<void> {
    const results = batch.flatMap((settlement) => (settlement.result === null ? [] : [settlement.result]));
    for (let tries = 0; ; tries++) {
      try {
        if (results.length > 0) await options.record(results, tries > 0);
        break;
      } catch (error) {
        options.onRecordError(error, tries, results.length);
        if (options.abandoned()) {
          options.drop(batch);
          return;
        }
        await sleep(Math.min(250 * 2 ** tries, 5_000));
      }
    }
    await options.settle(batch);
  }

  async function drain(): Promise<void> {
    // Attempts ending in the same tick go into one statement.
    await new Promise((resolve) => setImmediate(resolve));
    while (ended.length > 0) {
      // Swapped rather than spliced: no copy of a long array per round.
      const batch = ended.length <= maxBatch ? ended : ended.slice(0, maxBatch);
      ended = ended.length <= maxBatch ? [] : ended.slice(maxBatch);
      await recordAndSettle(batch);
    }
  }

  return {
    add(settlement) {
      ended.push(settlement);
      recording ??= drain().finally(() => {
        recording = null;
      });
    },
    async idle() {
      while (recording !== null) await recording;
    },
  };
}
