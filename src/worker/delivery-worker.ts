/**
 * The delivery worker: one fetch loop per delivery queue claims jobs in batches, and every attempt
 * is settled on its own as soon as it ends (recorded with whatever else ended meanwhile, then
 * completed in pg-boss). So a slow receiver holds its own slots only: never a batch, a fetch loop,
 * or a fast receiver's record.
 *
 * Two caps per destination origin (the job's pg-boss group):
 * - attempts in flight: at most `maxPerOrigin` per queue in this process, enforced here; claimed
 *   jobs beyond it wait in a local FIFO per origin (their heartbeat keeps them);
 * - claims held: at most `HOLD_FACTOR × maxPerOrigin` (and half the loop's claims) per queue across
 *   all workers, enforced by the fetch's `groupConcurrency`. Deep enough to keep one origin's
 *   connections busy while fetches and records run, small enough that a slow or dead origin never
 *   takes the slots other origins need.
 * A fetch while an origin is at its claim cap must skip that origin's whole backlog (a scan that
 * took 82 ms with 200,000 queued): after a short fetch with such an origin, the loop fetches again
 * only when one of its slots is settled, or after a back-off for anything else (new events).
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
  type ReadyDelivery,
} from '../services/delivery.ts';
import { DELIVERY_QUEUES, parseDeliveryJob } from '../queue/delivery-queue.ts';
import { analyzeDeliveryQueues, BOSS_SCHEMA, HOLD_FACTOR } from '../queue/boss.ts';

export interface DeliveryWorkerOptions {
  /** Attempts in flight at most from the first-attempt queue; the retry queue gets half as many. */
  concurrency: number;
  /** Attempts in flight per destination origin and queue in this worker (default 32). */
  maxPerOrigin?: number;
  /** Jobs per fetch at most (default 200). */
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
  origin: OriginSlots;
  controller: AbortController;
  /** performance.now() past which its attempt must not start: it could outlive the job's expiry. */
  startBy: number;
}

/** How a claim ends: completed (recorded or nothing to do) or failed (pg-boss runs it again). */
interface Settlement {
  claim: Claim;
  outcome: 'completed' | 'failed';
  result: AttemptResult | null;
}

/** One destination origin in one loop: what this worker holds of it and runs. */
interface OriginSlots {
  key: string;
  /** Claims held (counted by the fetch's groupConcurrency until settled). */
  held: number;
  /** Attempts in flight. */
  running: number;
  /** Prepared attempts waiting for a slot, FIFO from `head`. */
  waiting: (ReadyAttempt | undefined)[];
  head: number;
}

interface ReadyAttempt {
  claim: Claim;
  ready: ReadyDelivery;
}

/** When the next fetch may run: at once, on a wake (or poll), or only on a settle of a capped origin (or after a back-off). */
type FetchMode = 'now' | 'on-wake' | 'scan-prone';

interface QueueLoop {
  name: string;
  /** Claims held at most. */
  capacity: number;
  /** Attempts in flight at most. */
  maxRunning: number;
  running: number;
  /** groupConcurrency: claims of one origin held at most across all workers. */
  holdPerOrigin: number;
  pollMs: number;
  claims: Map<string, Claim>;
  origins: Map<string, OriginSlots>;
  /** Origins with attempts waiting. */
  ready: Set<OriginSlots>;
  /** Origins whose held claims reached `holdPerOrigin`. */
  saturated: number;
  mode: FetchMode;
  lastFetchEnd: number;
  backoffMs: number;
  /** Set by any wake; `urgent` by a settle that freed a capped origin's slot. Cleared as a fetch starts. */
  woken: boolean;
  urgent: boolean;
  wake(urgent?: boolean): void;
  /** Waits `ms`, or less when woken (by an urgent wake only, with `urgentOnly`). */
  idle(ms: number, urgentOnly?: boolean): Promise<void>;
  done: Promise<void> | null;
}

// Backlog statistics go stale fast (STACK.md trap 12): refresh them at most this often while full
// batches (or slow fetches) keep coming.
const ANALYZE_EVERY_MS = 30_000;
// Half the queues' heartbeatSeconds (10): a dead worker's jobs come back, a live one's never do.
const HEARTBEAT_MS = 5_000;
// Rows per record statement at most; more finished attempts wait for the next one.
const MAX_RECORD = 500;
// A short fetch slower than this has likely scanned past a capped origin's backlog (another
// worker's claims count too): treat the queue as scan-prone even with no origin capped here.
const SLOW_FETCH_MS = 20;
// Scan-prone: new events wait this long at most for a fetch (the fetch's cost × 5 within these bounds).
const MIN_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 500;
// An attempt is not started when its job would expire within its deadline plus this margin.
const EXPIRY_MARGIN_MS = 30_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function createLoop(name: string, limits: { capacity: number; maxRunning: number; holdPerOrigin: number; pollMs: number }): QueueLoop {
  let wakeUp: ((urgent: boolean) => void) | null = null;
  const loop: QueueLoop = {
    name,
    ...limits,
    running: 0,
    claims: new Map(),
    origins: new Map(),
    ready: new Set(),
    saturated: 0,
    mode: 'now',
    lastFetchEnd: 0,
    backoffMs: MIN_BACKOFF_MS,
    woken: false,
    urgent: false,
    done: null,
    wake(urgent = false) {
      loop.woken = true;
      if (urgent) loop.urgent = true;
      wakeUp?.(urgent);
    },
    async idle(ms, urgentOnly = false) {
      if (urgentOnly ? loop.urgent : loop.woken) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(finish, Math.max(0, ms));
        function finish(): void {
          clearTimeout(timer);
          wakeUp = null;
          resolve();
        }
        wakeUp = (urgent) => {
          if (urgent || !urgentOnly) finish();
        };
      });
    },
  };
  return loop;
}

/** pg-boss's NOTIFY channel (its notifier derives it the same way from the schema name). */
async function notifyChannel(deps: DeliveryDeps): Promise<string> {
  const [row] = await deps.sql<
    { channel: string }[]
  >`select ('pgboss_' || left(encode(sha224(${BOSS_SCHEMA}::bytea), 'hex'), 24)) as channel`;
  if (row === undefined) throw new Error('no channel');
  return row.channel;
}

/** Starts the fetch loops; `deps.boss` must be started with `startBoss`. */
export async function startDeliveryWorker(deps: DeliveryDeps, options: DeliveryWorkerOptions): Promise<DeliveryWorker> {
  const { boss, logger, clock } = deps;
  const batchSize = Math.max(1, options.batchSize ?? 200);
  const maxPerOrigin = Math.max(1, options.maxPerOrigin ?? 32);
  const deadlineMs = deps.delivery.deliveryTimeoutMs;
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

  function limits(concurrency: number, pollMs: number): Parameters<typeof createLoop>[1] {
    const maxRunning = Math.max(1, concurrency);
    // Claims beyond the attempts in flight are the pipeline that hides fetch and record latency.
    const capacity = 4 * maxRunning;
    // Half the claims at most for one origin, so others always find room; never below its own cap.
    const holdPerOrigin = Math.max(Math.min(HOLD_FACTOR * maxPerOrigin, Math.floor(capacity / 2)), Math.min(maxPerOrigin, capacity));
    return { capacity, maxRunning, holdPerOrigin, pollMs };
  }
  const first = createLoop(DELIVERY_QUEUES.first, limits(options.concurrency, unlisten ? 1_000 : 500));
  const retry = createLoop(DELIVERY_QUEUES.retry, limits(Math.ceil(options.concurrency / 2), 500));
  loops.set(first.name, first);
  loops.set(retry.name, retry);

  /** Retries due sooner than the retry queue's polling interval would be late without this. */
  function wakeRetriesAt(at: Date): void {
    const when = at.getTime();
    if (stopping || when >= retryWakeAt) return;
    if (retryTimer !== null) clearTimeout(retryTimer);
    retryWakeAt = when;
    // A few ms late, so the job is due by the database's clock too.
    retryTimer = setTimeout(
      () => {
        retryTimer = null;
        retryWakeAt = Number.POSITIVE_INFINITY;
        retry.wake();
      },
      Math.max(0, when - clock.now().getTime() + 15),
    );
    retryTimer.unref();
  }

  function analyzeIfStale(): void {
    const now = clock.now().getTime();
    if (now - lastAnalyze < ANALYZE_EVERY_MS) return;
    lastAnalyze = now;
    analyzeDeliveryQueues(boss).catch((error: unknown) => logger.warn({ err: error }, 'analyze of the delivery queues failed'));
  }

  // ------------------------------------------------------------------------------------------
  // Claims and their origins.

  function originOf(loop: QueueLoop, key: string): OriginSlots {
    let origin = loop.origins.get(key);
    if (origin === undefined) {
      origin = { key, held: 0, running: 0, waiting: [], head: 0 };
      loop.origins.set(key, origin);
    }
    return origin;
  }

  function hold(loop: QueueLoop, job: Job<unknown>): Claim {
    const origin = originOf(loop, job.groupId ?? '');
    origin.held++;
    // Jobs without a group are not capped by the fetch, so never count as a capped origin.
    if (origin.held === loop.holdPerOrigin && origin.key !== '') loop.saturated++;
    // Expiry runs from the fetch, heartbeat or not (pg-boss 12).
    const expiresInMs = (job.expireInSeconds > 0 ? job.expireInSeconds : Number.POSITIVE_INFINITY) * 1000;
    const claim: Claim = {
      loop,
      job: { id: job.id, retryCount: job.retryCount },
      origin,
      controller: new AbortController(),
      startBy: performance.now() + expiresInMs - deadlineMs - EXPIRY_MARGIN_MS,
    };
    loop.claims.set(job.id, claim);
    return claim;
  }

  /** Forgets a settled or released claim; a freed slot of a capped origin makes the next fetch cheap: fetch now. */
  function forget(claim: Claim): void {
    const { loop, origin } = claim;
    if (!loop.claims.delete(claim.job.id)) return;
    if (origin.held === loop.holdPerOrigin && origin.key !== '') {
      loop.saturated--;
      loop.wake(true);
    }
    origin.held--;
    if (origin.held === 0 && origin.running === 0 && origin.head >= origin.waiting.length) loop.origins.delete(origin.key);
  }

  // ------------------------------------------------------------------------------------------
  // Settling: attempts that end while a record statement runs share the next one (group commit).

  let ended: Settlement[] = [];
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
    while (ended.length > 0) {
      // Swapped rather than spliced: no copy of a long array per round.
      const batch = ended.length <= MAX_RECORD ? ended : ended.slice(0, MAX_RECORD);
      ended = ended.length <= MAX_RECORD ? [] : ended.slice(MAX_RECORD);
      await settleBatch(batch);
    }
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
        if (tries === 0 || tries % 10 === 0)
          logger.warn({ err: error, attempts: results.length }, 'recording attempts failed; trying again');
        if (abandoned) {
          for (const { claim } of batch) forget(claim);
          return;
        }
        await sleep(Math.min(250 * 2 ** tries, 5_000));
      }
    }
    const nextRetry = earliestRetry(results);
    if (nextRetry !== null) wakeRetriesAt(nextRetry);

    for (const loop of loops.values()) {
      const completed: JobAttempt[] = [];
      const failed: JobAttempt[] = [];
      for (const { claim, outcome } of batch) {
        if (claim.loop === loop) (outcome === 'completed' ? completed : failed).push(claim.job);
      }
      if (completed.length + failed.length === 0) continue;
      try {
        // Fenced to the fetched attempt: a claim lost meanwhile is left to its new holder.
        if (completed.length > 0) await boss.complete(loop.name, completed);
        if (failed.length > 0) await boss.fail(loop.name, failed);
      } catch (error) {
        // Recorded already: when the job comes back after its heartbeat, it is skipped as stale.
        logger.warn({ err: error, queue: loop.name }, 'settling delivery jobs failed; they come back after their heartbeat');
      }
      for (const { claim } of batch) if (claim.loop === loop) forget(claim);
      // Slots are free again: fetch (at once if an origin's cap was freed, see forget).
      loop.wake();
    }
  }

  // ------------------------------------------------------------------------------------------
  // Attempting: each fetched batch is prepared together, then queued per origin and run as slots free.

  function start(loop: QueueLoop, jobs: readonly Job<unknown>[]): void {
    const fetched: { delivery: FetchedDelivery; claim: Claim }[] = [];
    for (const job of jobs) {
      const claim = hold(loop, job);
      const data = parseDeliveryJob(job.data);
      if (data === null) {
        logger.error({ jobId: job.id, data: job.data }, 'delivery job with invalid data dropped');
        settle({ claim, outcome: 'completed', result: null });
      } else {
        fetched.push({ delivery: { ...data, jobId: job.id, signal: claim.controller.signal }, claim });
      }
    }
    void prepareAll(loop, fetched);
  }

  async function prepareAll(loop: QueueLoop, fetched: readonly { delivery: FetchedDelivery; claim: Claim }[]): Promise<void> {
    const claims = new Map(fetched.map(({ delivery, claim }) => [delivery.jobId, claim]));
    const claimOf = (job: FetchedDelivery): Claim => claims.get(job.jobId) as Claim;
    let prepared;
    try {
      prepared = await prepareDeliveries(
        deps,
        fetched.map(({ delivery }) => delivery),
      );
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
      claim.origin.waiting.push({ claim, ready });
      loop.ready.add(claim.origin);
    }
    pump(loop);
  }

  /** Starts waiting attempts while the loop and their origins have slots. */
  function pump(loop: QueueLoop): void {
    for (const origin of loop.ready) {
      if (loop.running >= loop.maxRunning) return;
      while (origin.running < maxPerOrigin && loop.running < loop.maxRunning && origin.head < origin.waiting.length) {
        const next = origin.waiting[origin.head] as ReadyAttempt;
        // Released for the garbage collector before the whole queue is drained.
        origin.waiting[origin.head++] = undefined;
        launch(loop, next);
      }
      if (origin.head >= origin.waiting.length) {
        origin.waiting = [];
        origin.head = 0;
        loop.ready.delete(origin);
      } else if (origin.head > 1024) {
        origin.waiting = origin.waiting.slice(origin.head);
        origin.head = 0;
      }
    }
  }

  function launch(loop: QueueLoop, { claim, ready }: ReadyAttempt): void {
    // Not started yet, so nothing to record: hand back on stop, a lost claim, or an expiry too near.
    if (stopping || claim.controller.signal.aborted || performance.now() > claim.startBy) {
      settle({ claim, outcome: 'failed', result: null });
      return;
    }
    const { origin } = claim;
    loop.running++;
    origin.running++;
    const done = (settlement: Settlement): void => {
      loop.running--;
      origin.running--;
      settle(settlement);
      pump(loop);
    };
    attemptDelivery(deps, ready).then(
      // Null: cut short by its signal (shutdown, lost claim), so run again rather than recorded.
      (result) => done({ claim, outcome: result === null ? 'failed' : 'completed', result }),
      (error: unknown) => {
        logger.error({ err: error, messageId: ready.job.messageId }, 'delivery attempt threw');
        done({ claim, outcome: 'failed', result: null });
      },
    );
  }

  /** Hands back every attempt not started yet (stopping). */
  function dropWaiting(loop: QueueLoop): void {
    for (const origin of loop.ready) {
      for (let i = origin.head; i < origin.waiting.length; i++) {
        const next = origin.waiting[i];
        if (next !== undefined) settle({ claim: next.claim, outcome: 'failed', result: null });
      }
      origin.waiting = [];
      origin.head = 0;
    }
    loop.ready.clear();
  }

  // ------------------------------------------------------------------------------------------
  // Fetching.

  /** Waits until the loop's next fetch is worth its cost (see FetchMode). */
  async function untilFetch(loop: QueueLoop): Promise<void> {
    if (loop.mode === 'now') return;
    if (loop.mode === 'scan-prone') {
      await loop.idle(loop.lastFetchEnd + loop.backoffMs - performance.now(), true);
      if (loop.urgent) return;
      // Past the back-off: fetch if anything may have come meanwhile, else at the next poll.
      await loop.idle(loop.lastFetchEnd + loop.pollMs - performance.now());
      return;
    }
    await loop.idle(loop.pollMs);
  }

  async function run(loop: QueueLoop): Promise<void> {
    let failures = 0;
    while (!stopping) {
      await untilFetch(loop);
      if (stopping) break;
      const room = Math.min(batchSize, loop.capacity - loop.claims.size);
      loop.woken = false;
      loop.urgent = false;
      if (room <= 0) {
        // Full: a settle wakes the loop.
        loop.mode = 'on-wake';
        continue;
      }
      const fetchStart = performance.now();
      try {
        const jobs = await boss.fetch<unknown>(loop.name, { batchSize: room, groupConcurrency: loop.holdPerOrigin });
        failures = 0;
        if (stopping) {
          // Fetched as stop began: hand straight back.
          if (jobs.length > 0)
            await boss.fail(
              loop.name,
              jobs.map((job) => ({ id: job.id, retryCount: job.retryCount })),
            );
          break;
        }
        if (jobs.length > 0) start(loop, jobs);
        const now = performance.now();
        const took = now - fetchStart;
        loop.lastFetchEnd = now;
        if (jobs.length >= batchSize || took >= SLOW_FETCH_MS) analyzeIfStale();
        if (jobs.length >= room) {
          // Full: more may be waiting.
          loop.mode = 'now';
        } else if (loop.saturated > 0 || took >= SLOW_FETCH_MS) {
          // Short with an origin at its cap: what is left may be only that origin's backlog, which
          // another fetch would scan to find nothing.
          loop.mode = 'scan-prone';
          loop.backoffMs = Math.min(MAX_BACKOFF_MS, Math.max(MIN_BACKOFF_MS, 5 * took));
        } else {
          loop.mode = 'on-wake';
        }
      } catch (error) {
        failures++;
        if (failures === 1 || failures % 20 === 0) logger.warn({ err: error, queue: loop.name }, 'fetching delivery jobs failed');
        await sleep(Math.min(250 * 2 ** failures, 5_000));
        loop.mode = 'now';
      }
    }
  }

  // ------------------------------------------------------------------------------------------
  // Heartbeat: keeps held claims alive (waiting ones too); a claim pg-boss no longer sees as ours is aborted.

  const heartbeat = setInterval(() => {
    for (const loop of loops.values()) {
      if (loop.claims.size === 0) continue;
      const claims = [...loop.claims.values()];
      boss
        .touch(
          loop.name,
          claims.map((claim) => claim.job),
        )
        .then(
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
      for (const loop of loops.values()) loop.wake(true);
      await Promise.all([...loops.values()].map((loop) => loop.done));
      await unlisten?.().catch(() => undefined);
      // Attempts not started go back at once; those in flight end within their deadline, then are recorded.
      for (const loop of loops.values()) dropWaiting(loop);
      const limit = performance.now() + deadlineMs + 10_000;
      while (held() > 0 && performance.now() < limit) {
        for (const loop of loops.values()) dropWaiting(loop);
        await sleep(20);
      }
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
