/**
 * The delivery worker: pg-boss handlers on both delivery queues that hand each fetched batch to
 * `attemptDeliveries`. Several fetch loops per queue, because a batch is settled only when its
 * slowest attempt ends: one hanging receiver holds one loop, never the whole worker.
 */
import type { Job, JobResult } from 'pg-boss';
import { attemptDeliveries, type DeliveryDeps, type FetchedDelivery } from '../services/delivery.ts';
import { DELIVERY_QUEUES, parseDeliveryJob } from '../queue/delivery-queue.ts';
import { analyzeDeliveryQueues } from '../queue/boss.ts';

export interface DeliveryWorkerOptions {
  /** Attempts in flight at most from the first-attempt queue; the retry queue gets half as many. */
  concurrency: number;
  /** Jobs per fetch (default 50). */
  batchSize?: number;
}

export interface DeliveryWorker {
  /** Makes a first-attempt loop fetch now; use it as `ServiceDeps.onEnqueued`. */
  wake(): void;
  /** Stops fetching and waits (at most the delivery deadline + 10 s) for in-flight attempts to be recorded. */
  stop(): Promise<void>;
}

// Backlog statistics go stale fast (STACK.md trap 12): refresh them at most this often while full
// batches keep coming.
const ANALYZE_EVERY_MS = 30_000;

/**
 * Registers the handlers; `deps.boss` must be started with `startBoss`. The worker's own `wake` is
 * what `deps.onEnqueued` should call in a process that also serves the API.
 */
export async function startDeliveryWorker(deps: DeliveryDeps, options: DeliveryWorkerOptions): Promise<DeliveryWorker> {
  const { boss, logger, clock } = deps;
  const batchSize = Math.max(1, Math.min(options.batchSize ?? 50, options.concurrency));
  const firstLoops = Math.max(1, Math.ceil(options.concurrency / batchSize));
  let stopped = false;
  let lastAnalyze = 0;
  let retryTimer: NodeJS.Timeout | null = null;
  let retryWakeAt = Number.POSITIVE_INFINITY;

  /** Wakes one idle loop of a queue; with none idle, every busy loop re-fetches right after its batch. */
  function wakeQueue(name: string): void {
    if (stopped) return;
    const loops = boss.getWipData().filter((worker) => worker.name === name && worker.state === 'active');
    const idle = loops.find((worker) => worker.count === 0);
    for (const worker of idle ? [idle] : loops) boss.notifyWorker(worker.id);
  }

  /** Retries due sooner than the retry queue's polling interval would be late without this. */
  function wakeRetriesAt(at: Date): void {
    const when = at.getTime();
    if (stopped || when >= retryWakeAt) return;
    if (retryTimer !== null) clearTimeout(retryTimer);
    retryWakeAt = when;
    // A few ms late, so the job is due by the database's clock too.
    retryTimer = setTimeout(() => {
      retryTimer = null;
      retryWakeAt = Number.POSITIVE_INFINITY;
      wakeQueue(DELIVERY_QUEUES.retry);
    }, Math.max(0, when - clock.now().getTime() + 15));
    retryTimer.unref();
  }

  function analyzeIfStale(): void {
    const now = clock.now().getTime();
    if (now - lastAnalyze < ANALYZE_EVERY_MS) return;
    lastAnalyze = now;
    analyzeDeliveryQueues(boss).catch((error: unknown) => logger.warn({ err: error }, 'analyze of the delivery queues failed'));
  }

  async function handle(jobs: Job<unknown>[]): Promise<JobResult[]> {
    const results: JobResult[] = [];
    const fetched: FetchedDelivery[] = [];
    for (const job of jobs) {
      const data = parseDeliveryJob(job.data);
      if (data === null) {
        logger.error({ jobId: job.id, data: job.data }, 'delivery job with invalid data dropped');
        results.push({ id: job.id, status: 'deadletter' });
      } else {
        fetched.push({ ...data, jobId: job.id, signal: job.signal });
      }
    }
    if (jobs.length >= batchSize) analyzeIfStale();
    // A throw here (database away) fails the whole batch: pg-boss retries it with backoff.
    const outcome = await attemptDeliveries(deps, fetched);
    if (outcome.nextRetryAt !== null) wakeRetriesAt(outcome.nextRetryAt);
    const released = new Set(outcome.released);
    for (const job of fetched) {
      // A released job fails in pg-boss, which runs it again after its retry delay.
      results.push({ id: job.jobId, status: released.has(job.jobId) ? 'failed' : 'completed' });
    }
    return results;
  }

  const common = { batchSize, burstWhenBatchFull: true, perJobResults: true } as const;
  await boss.work<unknown>(
    DELIVERY_QUEUES.first,
    // NOTIFY and wake() bring fresh jobs in ms; polling is the floor if LISTEN is unavailable.
    { ...common, localConcurrency: firstLoops, pollingIntervalSeconds: 1, notifyPollingIntervalSeconds: 2 },
    handle,
  );
  await boss.work<unknown>(
    DELIVERY_QUEUES.retry,
    // Delayed jobs never NOTIFY when they come due: poll at pg-boss's minimum (trap 8).
    {
      ...common,
      localConcurrency: Math.max(1, Math.ceil(firstLoops / 2)),
      pollingIntervalSeconds: 0.5,
      notifyPollingIntervalSeconds: 0.5,
    },
    handle,
  );

  return {
    wake: () => wakeQueue(DELIVERY_QUEUES.first),
    async stop() {
      if (stopped) return;
      stopped = true;
      if (retryTimer !== null) clearTimeout(retryTimer);
      const drained = Promise.all(Object.values(DELIVERY_QUEUES).map((name) => boss.offWork(name, { wait: true })));
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, deps.delivery.deliveryTimeoutMs + 10_000);
      });
      // Past the limit, boss.stop() fails what is still active and pg-boss runs it again later.
      await Promise.race([drained, limit]);
      clearTimeout(timer);
    },
  };
}
