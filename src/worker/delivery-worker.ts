/**
 * The delivery worker: a fetch loop per delivery queue (queue-loop.ts), one record batcher that
 * records every finished attempt and settles its job (record-batcher.ts), wake-ups from the
 * processes that enqueue (wake.ts, queue/wake-channel.ts), a heartbeat for held claims
 * (heartbeat.ts), and this worker's share of each origin's cap among the deployment's workers
 * (fair-share.ts, peers.ts). docs/architecture.md, "The delivery worker", tells the whole story.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { analyzeDeliveryQueues, HOLD_FACTOR } from '../queue/boss.ts';
import { bossConnection, DELIVERY_QUEUES, replaceJobs, wakeTargets, type PlannedDelivery } from '../queue/delivery-queue.ts';
import {
  attemptDelivery,
  earliestRetry,
  prepareDeliveries,
  recordDeliveries,
  type AttemptResult,
  type DeliveryDeps,
} from '../services/delivery.ts';
import { shareOf } from './fair-share.ts';
import { startHeartbeat } from './heartbeat.ts';
import { watchPeers } from './peers.ts';
import { QueueLoop, settleClaims, type Claim } from './queue-loop.ts';
import { createRecordBatcher } from './record-batcher.ts';
import { createAlarm } from './wake.ts';
import { listenForWakes } from '../services/wakes.ts';

export interface DeliveryWorkerOptions {
  /** Attempts in flight at most from the first-attempt queue; the retry queue gets half as many. */
  concurrency: number;
  /** Attempts in flight per destination origin and queue, for the whole deployment (default 32). */
  maxPerOrigin?: number;
  /** Jobs per fetch at most (default 200). */
  batchSize?: number;
  /**
   * Where the loops' job fetch, deleteJob, fail and touch go: a pool whose commits do not wait for
   * the WAL flush (openClaimsPool in db/client.ts, which says why that is safe). Default: `deps.sql`.
   */
  claims?: DeliveryDeps['sql'];
}

export interface DeliveryWorker {
  /** Makes the loops these jobs go to fetch now (all loops when none are named): `ServiceDeps.onEnqueued`. */
  wake(jobs?: readonly PlannedDelivery[]): void;
  /** Stops fetching and waits (at most the delivery deadline + 10 s) for in-flight attempts to be recorded. */
  stop(): Promise<void>;
}

// Backlog statistics go stale fast (docs/operations.md): refresh them at most this often.
const ANALYZE_EVERY_MS = 30_000;

export async function startDeliveryWorker(deps: DeliveryDeps, options: DeliveryWorkerOptions): Promise<DeliveryWorker> {
  const { boss, logger } = deps;
  const maxPerOrigin = Math.max(1, options.maxPerOrigin ?? 32);
  let abandoned = false;
  let lastAnalyze = 0;

  const batcher = createRecordBatcher<Claim, AttemptResult>({
    async record(results, again) {
      await recordDeliveries(deps, results, { again });
      const next = earliestRetry(results);
      if (next !== null) retryAlarm.at(next, deps.clock.now());
    },
    settle: (batch) => settleClaims(boss, logger, loops, batch),
    drop: (batch) => batch.forEach(({ claim }) => claim.loop.forget(claim)),
    abandoned: () => abandoned,
    onRecordError(error, tries, attempts) {
      if (tries === 0 || tries % 10 === 0) logger.warn({ err: error, attempts }, 'recording attempts failed; trying again');
    },
  });

  const connection = bossConnection(options.claims ?? deps.sql);
  const loopOf = (name: string, concurrency: number, pollMs: number): QueueLoop => {
    const maxRunning = Math.max(1, concurrency);
    const capacity = 4 * maxRunning;
    return new QueueLoop({
      name,
      boss,
      connection,
      logger,
      maxRunning,
      capacity,
      // Across all workers; each worker holds its share (below) and leaves the rest to the others.
      holdPerOrigin: HOLD_FACTOR * maxPerOrigin,
      share: maxPerOrigin,
      batchSize: Math.max(1, options.batchSize ?? 200),
      pollMs,
      deadlineMs: deps.delivery.deliveryTimeoutMs,
      prepare: (jobs) => prepareDeliveries(deps, jobs),
      attempt: (ready) => attemptDelivery(deps, ready),
      settle: (settlement) => batcher.add(settlement),
      // Due again LEAD_MS before their slots (services/throttle.ts): the loops' polls find them in time.
      replace: (queue, items) => replaceJobs(boss, deps.sql, queue, items),
      fetchedMuch() {
        const now = Date.now();
        if (now - lastAnalyze < ANALYZE_EVERY_MS) return;
        lastAnalyze = now;
        analyzeDeliveryQueues(boss).catch((error: unknown) => logger.warn({ err: error }, 'analyze of the delivery queues failed'));
      },
    });
  };
  const first = loopOf(DELIVERY_QUEUES.first, options.concurrency, 1_000);
  const retry = loopOf(DELIVERY_QUEUES.retry, Math.ceil(options.concurrency / 2), 500);
  const loops = [first, retry];
  const byName = new Map(loops.map((loop) => [loop.name, loop]));
  // Retries due sooner than the retry queue's poll would be late without this.
  const retryAlarm = createAlarm(() => retry.wake());

  // A NOTIFY from whichever process enqueued wakes a loop in ms; polling is the floor.
  const unlisten = await listenForWakes(deps, logger, {
    notice: (notice) => byName.get(notice.queue)?.wakeFor(notice.origins),
    reconnected: () => loops.forEach((loop) => loop.wake()),
  });

  const stopPeers = watchPeers(boss, logger, ({ peers, rank }) =>
    loops.forEach((loop) => loop.setShare(shareOf(maxPerOrigin, peers, rank))),
  );
  const stopHeartbeat = startHeartbeat(boss, loops, logger);
  for (const loop of loops) loop.start();

  const held = (): number => loops.reduce((sum, loop) => sum + loop.claims.size, 0);

  return {
    wake(jobs) {
      if (jobs === undefined) return loops.forEach((loop) => loop.wake());
      for (const [queue, origins] of wakeTargets(jobs)) byName.get(queue)?.wakeFor(origins === null ? null : [...origins]);
    },
    async stop() {
      retryAlarm.cancel();
      stopPeers();
      await Promise.all(loops.map((loop) => loop.stopFetching()));
      await unlisten();
      // Attempts in flight end within their deadline, then are recorded.
      const limit = performance.now() + deps.delivery.deliveryTimeoutMs + 10_000;
      while (held() > 0 && performance.now() < limit) {
        loops.forEach((loop) => loop.handBackWaiting());
        await sleep(20);
      }
      if (held() > 0) {
        // Still stuck (the database away?): cut attempts short and stop retrying records.
        abandoned = true;
        for (const loop of loops) for (const claim of loop.claims.values()) claim.controller.abort();
        const last = performance.now() + 5_000;
        while (held() > 0 && performance.now() < last) await sleep(20);
      }
      stopHeartbeat();
      await batcher.idle();
    },
  };
}
