/**
 * The delivery worker: one fetch loop per delivery queue keeps up to `concurrency` attempts in
 * flight, and every attempt is settled on its own as soon as it ends (recorded with whatever else
 * ended meanwhile, then completed in pg-boss). So a slow receiver holds its own slots only: never a
 * batch, a fetch loop, or a fast receiver's record.
 *
 * Jobs carry their URL's origin as pg-boss group, and every fetch passes `groupConcurrency`: one
 * origin has at most `maxPerOrigin` attempts in flight per queue, counted in the database across
 * all workers. A slow or dead origin therefore can never take all slots, and its backlog is skipped
 * by the fetch while its cap is reached.
 */
import type { Job, JobAttempt } from 'pg-boss';
import {
  attemptDelivery,
  earliestRetry,
  prepareDeliveries,
  recordDeliveries,
  type AttemptResult,
  type DeliveryDeps,
  type FetchedDelivery,
} from '../services/delivery.ts';
import { DELIVERY_QUEUES, parseDeliveryJob } from '../queue/delivery-queue.ts';
import { analyzeDeliveryQueues, BOSS_SCHEMA } from '../queue/boss.ts';

export interface DeliveryWorkerOptions {
  /** Attempts in flight at most from the first-attempt queue; the retry queue gets half as many. */
  concurrency: number;
  /** Attempts in flight per destination origin and queue, across all workers (default 32). */
  maxPerOrigin?: number;
  /** Jobs per fetch at most (default 50). */
  batchSize?: number;
}

export interface DeliveryWorker {
  /** Makes the first-attempt loop fetch now; use it as `ServiceDeps.onEnqueued`. */
  wake(): void;
  /** Stops fetching and waits (at most the delivery deadline + 10 s) for in-flight attempts to be recorded. */
  stop(): Promise<void>;
}

/** One fetched job this worker holds until it is settled. */
interface Claim {
  loop: QueueLoop;
  job: JobAttempt;
  controller: AbortController;
}

/** How a claim ends: completed (recorded or nothing to do) or failed (pg-boss runs it again). */
interface Settlement {
  claim: Claim;
  outcome: 'completed' | 'failed';
  result: AttemptResult | null;
}

interface QueueLoop {
  name: string;
  capacity: number;
  pollMs: number;
  claims: Map<string, Claim>;
  wake(): void;
  idle(ms: number): Promise<void>;
  done: Promise<void> | null;
}

// Backlog statistics go stale fast (STACK.md trap 12): refresh them at most this often while full
// batches keep coming.
const ANALYZE_EVERY_MS = 30_000;
// Half the queues' heartbeatSeconds (10): a dead worker's jobs come back, a live one's never do.
const HEARTBEAT_MS = 5_000;
// Rows per record statement at most; more finished attempts wait for the next one.
const MAX_RECORD = 500;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function createLoop(name: string, capacity: number, pollMs: number): QueueLoop {
  let woken = false;
  let wakeUp: (() => void) | null = null;
  return {
    name,
    capacity,
    pollMs,
    claims: new Map(),
    done: null,
    wake() {
      woken = true;
      wakeUp?.();
    },
    /** Waits `ms`, or less when woken (also by a wake that came while the loop was busy). */
    async idle(ms) {
      if (!woken) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(finish, ms);
          function finish(): void {
            clearTimeout(timer);
            wakeUp = null;
            resolve();
          }
          wakeUp = finish;
        });
      }
      woken = false;
    },
  };
}

/** pg-boss's NOTIFY channel (its notifier derives it the same way from the schema name). */
async function notifyChannel(deps: DeliveryDeps): Promise<string> {
  const [row] = await deps.sql<{ channel: string }[]>`select ('pgboss_' || left(encode(sha224(${BOSS_SCHEMA}::bytea), 'hex'), 24)) as channel`;
  if (row === undefined) throw new Error('no channel');
  return row.channel;
}

/** Starts the fetch loops; `deps.boss` must be started with `startBoss`. */
export async function startDeliveryWorker(deps: DeliveryDeps, options: DeliveryWorkerOptions): Promise<DeliveryWorker> {
  const { boss, logger, clock } = deps;
  const batchSize = Math.max(1, options.batchSize ?? 50);
  const maxPerOrigin = Math.max(1, options.maxPerOrigin ?? 32);
  let stopping = false;
  // Set when stop() gives up waiting: records are no longer retried.
  let abandoned = false;
  let lastAnalyze = 0;
  let retryTimer: NodeJS.Timeout | null = null;
  let retryWakeAt = Number.POSITIVE_INFINITY;

  // A NOTIFY wakes a loop in ms whatever process enqueued; polling is the floor (and the only way
  // delayed retries come due).
  let unlisten: (() => Promise<void>) | null = null;
  const loops = new Map<string, QueueLoop>();
  try {
    const channel = await notifyChannel(deps);
    const listening = await deps.sql.listen(
      channel,
      (queue) => loops.get(queue)?.wake(),
      // (Re)connected: notifications may have been missed meanwhile.
      () => {
        for (const loop of loops.values()) loop.wake();
      },
    );
    unlisten = () => listening.unlisten();
  } catch (error) {
    logger.warn({ err: error }, 'LISTEN for new deliveries failed; polling only');
  }
  const first = createLoop(DELIVERY_QUEUES.first, Math.max(1, options.concurrency), unlisten ? 1_000 : 500);
  const retry = createLoop(DELIVERY_QUEUES.retry, Math.max(1, Math.ceil(options.concurrency / 2)), 500);
  loops.set(first.name, first);
  loops.set(retry.name, retry);

  /** Retries due sooner than the retry queue's polling interval would be late without this. */
  function wakeRetriesAt(at: Date): void {
    const when = at.getTime();
    if (stopping || when >= retryWakeAt) return;
    if (retryTimer !== null) clearTimeout(retryTimer);
    retryWakeAt = when;
    // A few ms late, so the job is due by the database's clock too.
    retryTimer = setTimeout(() => {
      retryTimer = null;
      retryWakeAt = Number.POSITIVE_INFINITY;
      retry.wake();
    }, Math.max(0, when - clock.now().getTime() + 15));
    retryTimer.unref();
  }

  function analyzeIfStale(): void {
    const now = clock.now().getTime();
    if (now - lastAnalyze < ANALYZE_EVERY_MS) return;
    lastAnalyze = now;
    analyzeDeliveryQueues(boss).catch((error: unknown) => logger.warn({ err: error }, 'analyze of the delivery queues failed'));
  }

  // ------------------------------------------------------------------------------------------
  // Settling: attempts that end while a record statement runs share the next one (group commit).

  const ended: Settlement[] = [];
  let recording: Promise<void> | null = null;

  function settle(settlement: Settlement): void {
    ended.push(settlement);
    recording ??= recordEnded().finally(() => {
      recording = null;
    });
  }

  async function recordEnded(): Promise<void> {
    // Attempts ending in the same tick go into one statement.
    await new Promise((resolve) => setImmediate(resolve));
    while (ended.length > 0) await settleBatch(ended.splice(0, MAX_RECORD));
  }

  async function settleBatch(batch: Settlement[]): Promise<void> {
    const results = batch.flatMap((settlement) => (settlement.result === null ? [] : [settlement.result]));
    // The receivers have answered: keep the claims and try again while the database is away, so a
    // short outage costs no duplicate. Past the stop deadline, give up: pg-boss runs the jobs again.
    for (let tries = 0; ; tries++) {
      try {
        await recordDeliveries(deps, results);
        break;
      } catch (error) {
        if (tries === 0 || tries % 10 === 0) logger.warn({ err: error, attempts: results.length }, 'recording attempts failed; trying again');
        if (abandoned) {
          release(batch);
          return;
        }
        await sleep(Math.min(250 * 2 ** tries, 5_000));
      }
    }
    const nextRetry = earliestRetry(results);
    if (nextRetry !== null) wakeRetriesAt(nextRetry);

    for (const loop of loops.values()) {
      const mine = batch.filter((settlement) => settlement.claim.loop === loop);
      const completed = mine.filter((settlement) => settlement.outcome === 'completed').map((settlement) => settlement.claim.job);
      const failed = mine.filter((settlement) => settlement.outcome === 'failed').map((settlement) => settlement.claim.job);
      try {
        // Fenced to the fetched attempt: a claim lost meanwhile is left to its new holder.
        if (completed.length > 0) await boss.complete(loop.name, completed);
        if (failed.length > 0) await boss.fail(loop.name, failed);
      } catch (error) {
        // Recorded already: when the job comes back after its heartbeat, it is skipped as stale.
        logger.warn({ err: error, queue: loop.name }, 'settling delivery jobs failed; they come back after their heartbeat');
      }
      if (mine.length > 0) {
        for (const settlement of mine) loop.claims.delete(settlement.claim.job.id);
        // Slots and origin caps are free again (counted from the settled rows): fetch now.
        loop.wake();
      }
    }
  }

  /** Drops claims without settling them; their heartbeat lapses and pg-boss runs them again. */
  function release(batch: readonly Settlement[]): void {
    for (const { claim } of batch) claim.loop.claims.delete(claim.job.id);
  }

  // ------------------------------------------------------------------------------------------
  // Attempting: each fetched batch is prepared together, then every attempt runs on its own.

  function start(loop: QueueLoop, jobs: readonly Job<unknown>[]): void {
    const fetched: { delivery: FetchedDelivery; claim: Claim }[] = [];
    for (const job of jobs) {
      const claim: Claim = { loop, job: { id: job.id, retryCount: job.retryCount }, controller: new AbortController() };
      loop.claims.set(job.id, claim);
      const data = parseDeliveryJob(job.data);
      if (data === null) {
        logger.error({ jobId: job.id, data: job.data }, 'delivery job with invalid data dropped');
        settle({ claim, outcome: 'completed', result: null });
      } else {
        fetched.push({ delivery: { ...data, jobId: job.id, signal: claim.controller.signal }, claim });
      }
    }
    void attemptAll(fetched);
  }

  async function attemptAll(fetched: readonly { delivery: FetchedDelivery; claim: Claim }[]): Promise<void> {
    const claims = new Map(fetched.map(({ delivery, claim }) => [delivery.jobId, claim]));
    const claimOf = (job: FetchedDelivery): Claim => claims.get(job.jobId) as Claim;
    let prepared;
    try {
      prepared = await prepareDeliveries(deps, fetched.map(({ delivery }) => delivery));
    } catch (error) {
      // Infrastructure trouble (the database away): hand the jobs back for pg-boss to retry.
      logger.warn({ err: error }, 'loading deliveries failed; jobs handed back');
      for (const { claim } of fetched) settle({ claim, outcome: 'failed', result: null });
      return;
    }
    for (const job of prepared.skipped) settle({ claim: claimOf(job), outcome: 'completed', result: null });
    for (const job of prepared.released) settle({ claim: claimOf(job), outcome: 'failed', result: null });
    for (const ready of prepared.ready) {
      const claim = claimOf(ready.job);
      attemptDelivery(deps, ready).then(
        // Null: cut short by its signal (shutdown, lost claim), so run again rather than recorded.
        (result) => settle({ claim, outcome: result === null ? 'failed' : 'completed', result }),
        (error: unknown) => {
          logger.error({ err: error, messageId: ready.job.messageId }, 'delivery attempt threw');
          settle({ claim, outcome: 'failed', result: null });
        },
      );
    }
  }

  // ------------------------------------------------------------------------------------------
  // Fetching.

  async function run(loop: QueueLoop): Promise<void> {
    let failures = 0;
    while (!stopping) {
      const room = Math.min(batchSize, loop.capacity - loop.claims.size);
      let fetched = 0;
      if (room > 0) {
        try {
          const jobs = await boss.fetch<unknown>(loop.name, { batchSize: room, groupConcurrency: maxPerOrigin });
          failures = 0;
          fetched = jobs.length;
          if (stopping) {
            // Fetched as stop began: hand straight back.
            if (jobs.length > 0) await boss.fail(loop.name, jobs.map((job) => ({ id: job.id, retryCount: job.retryCount })));
            break;
          }
          if (jobs.length >= batchSize) analyzeIfStale();
          if (jobs.length > 0) start(loop, jobs);
        } catch (error) {
          failures++;
          if (failures === 1 || failures % 20 === 0) logger.warn({ err: error, queue: loop.name }, 'fetching delivery jobs failed');
          await sleep(Math.min(250 * 2 ** failures, 5_000));
          continue;
        }
      }
      // Something came: more may be waiting (a fetch stops at origins whose cap it reached).
      if (fetched > 0) continue;
      await loop.idle(loop.pollMs);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Heartbeat: keeps held claims alive; a claim pg-boss no longer sees as ours is aborted.

  const heartbeat = setInterval(() => {
    for (const loop of loops.values()) {
      const claims = [...loop.claims.values()];
      if (claims.length === 0) continue;
      boss.touch(loop.name, claims.map((claim) => claim.job)).then(
        (response) => {
          const touched = (response as { settled?: unknown }).settled;
          if (!Array.isArray(touched)) return;
          const alive = new Set(touched.map(String));
          for (const claim of claims) {
            if (!alive.has(claim.job.id) && loop.claims.has(claim.job.id)) claim.controller.abort();
          }
        },
        (error: unknown) => logger.warn({ err: error, queue: loop.name }, 'heartbeat of delivery jobs failed'),
      );
    }
  }, HEARTBEAT_MS);
  heartbeat.unref();

  for (const loop of loops.values()) loop.done = run(loop);

  const held = (): number => [...loops.values()].reduce((sum, loop) => sum + loop.claims.size, 0);

  return {
    wake: () => first.wake(),
    async stop() {
      if (stopping) return;
      stopping = true;
      if (retryTimer !== null) clearTimeout(retryTimer);
      for (const loop of loops.values()) loop.wake();
      await Promise.all([...loops.values()].map((loop) => loop.done));
      await unlisten?.().catch(() => undefined);
      // In-flight attempts end within their deadline; then they are recorded.
      const limit = performance.now() + deps.delivery.deliveryTimeoutMs + 10_000;
      while (held() > 0 && performance.now() < limit) await sleep(20);
      if (held() > 0) {
        // Still stuck (the database away?): cut attempts short and stop retrying records.
        abandoned = true;
        for (const loop of loops.values()) for (const claim of loop.claims.values()) claim.controller.abort();
        const last = performance.now() + 5_000;
        while (held() > 0 && performance.now() < last) await sleep(20);
      }
      clearInterval(heartbeat);
      await recording;
    },
  };
}
