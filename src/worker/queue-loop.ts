/**
 * One delivery queue's fetch loop: it claims jobs in batches, prepares them together, queues the
 * attempts per destination origin and starts them as slots free; each attempt, once ended, goes to
 * the record batcher on its own. So a slow receiver holds its own slots only: never a batch, the
 * loop, or a fast receiver's record.
 */
import type { ConnectionOptions, Job, JobAttempt, PgBoss } from 'pg-boss';
import type { Logger } from '../lib/logger.ts';
import { HOLD_FACTOR } from '../queue/boss.ts';
import { parseDeliveryJob, type PlannedDelivery } from '../queue/delivery-queue.ts';
import type { AttemptResult, FetchedDelivery, PreparedDeliveries, ReadyDelivery } from '../services/delivery.ts';
import { delayAfterFailure, FULL, planAfterFetch, waitBeforeFetch, SLOW_FETCH_MS, type FetchPlan } from './fetch-policy.ts';
import { NO_ORIGIN, OriginSlots, type OriginLimits } from './origin-slots.ts';
import type { Settlement } from './record-batcher.ts';
import { createWaker } from './wake.ts';

/** One fetched job this worker holds until it is settled. */
export interface Claim {
  loop: QueueLoop;
  job: JobAttempt;
  origin: string;
  controller: AbortController;
  /** performance.now() past which its attempt must not start: it could outlive the job's expiry. */
  startBy: number;
}

export type ClaimSettlement = Settlement<Claim, AttemptResult>;

export interface QueueLoopOptions {
  name: string;
  boss: PgBoss;
  /** Where its fetch, deleteJob, fail and touch calls go (queue/delivery-queue.ts, bossConnection). */
  connection: ConnectionOptions;
  logger: Logger;
  /** Attempts in flight at most. */
  maxRunning: number;
  /** Claims held at most: the pipeline beyond the attempts in flight that hides fetch and record latency. */
  capacity: number;
  /** Claims of one origin held at most across all workers (pg-boss's groupConcurrency). */
  holdPerOrigin: number;
  /** This worker's share of each origin's cap of attempts in flight (see setShare). */
  share: number;
  batchSize: number;
  pollMs: number;
  deadlineMs: number;
  prepare(jobs: FetchedDelivery[]): Promise<PreparedDeliveries>;
  attempt(ready: ReadyDelivery): Promise<AttemptResult | null>;
  settle(settlement: ClaimSettlement): void;
  /**
   * Completes the claimed jobs and enqueues their replacements in one transaction (a throttled
   * delivery handed back to wait for its slot); rejects when that failed and nothing changed.
   */
  replace(queue: string, items: { attempt: JobAttempt; next: PlannedDelivery }[]): Promise<void>;
  /** Called after a full or slow fetch: the queue's planner statistics may be stale. */
  fetchedMuch(): void;
}

// An attempt is not started when its job would expire within its deadline plus this margin.
const EXPIRY_MARGIN_MS = 30_000;

export class QueueLoop {
  readonly name: string;
  readonly connection: ConnectionOptions;
  readonly claims = new Map<string, Claim>();
  readonly slots: OriginSlots<{ claim: Claim; ready: ReadyDelivery }>;
  private readonly options: QueueLoopOptions;
  private readonly waker = createWaker();
  /** Throttled attempts waiting for their slot before they queue for their origin (they hold no origin slot meanwhile). */
  private readonly delayed = new Map<Claim, { timer: NodeJS.Timeout; ready: ReadyDelivery }>();
  private plan: FetchPlan = { mode: 'now', backoffMs: 0 };
  private lastFetchEnd = 0;
  private stopping = false;
  private done: Promise<void> | null = null;

  constructor(options: QueueLoopOptions) {
    this.options = options;
    this.name = options.name;
    this.connection = options.connection;
    this.slots = new OriginSlots(this.limitsFor(options.share));
  }

  /**
   * This worker's share of each origin's cap: that many attempts in flight, and a pipeline of
   * HOLD_FACTOR times as many claims (within half the loop's capacity, so other origins always find
   * room) — deep enough to keep the origin's connections busy while fetches and records run.
   */
  setShare(share: number): void {
    this.slots.limits = this.limitsFor(share);
  }

  private limitsFor(share: number): OriginLimits {
    const { capacity } = this.options;
    return { running: share, held: Math.max(Math.min(HOLD_FACTOR * share, Math.floor(capacity / 2)), Math.min(share, capacity)) };
  }

  start(): void {
    this.done ??= this.run();
  }

  wake(urgent = false): void {
    this.waker.wake(urgent);
  }

  /** A wake for new jobs of these origins (null: any): urgent when one of them has room here. */
  wakeFor(origins: readonly string[] | null): void {
    this.wake(origins === null || origins.some((origin) => !this.slots.isSaturated(origin)));
  }

  /** Stops fetching; attempts not started are handed back, those in flight go on. */
  async stopFetching(): Promise<void> {
    this.stopping = true;
    this.wake(true);
    await this.done;
    this.handBackWaiting();
  }

  handBackWaiting(): void {
    for (const [claim, { timer }] of this.delayed) {
      clearTimeout(timer);
      this.options.settle({ claim, outcome: 'failed', result: null });
    }
    this.delayed.clear();
    for (const { claim } of this.slots.drainWaiting()) this.options.settle({ claim, outcome: 'failed', result: null });
  }

  /** Forgets a settled or released claim; a freed slot of a capped origin makes the next fetch cheap: fetch now. */
  forget(claim: Claim): void {
    if (!this.claims.delete(claim.job.id)) return;
    if (this.slots.release(claim.origin)) this.wake(true);
  }

  private hold(job: Job<unknown>): Claim {
    const origin = job.groupId ?? NO_ORIGIN;
    this.slots.hold(origin);
    // Expiry runs from the fetch, heartbeat or not (pg-boss 12).
    const expiresInMs = (job.expireInSeconds > 0 ? job.expireInSeconds : Number.POSITIVE_INFINITY) * 1000;
    const claim: Claim = {
      loop: this,
      job: { id: job.id, retryCount: job.retryCount },
      origin,
      controller: new AbortController(),
      startBy: performance.now() + expiresInMs - this.options.deadlineMs - EXPIRY_MARGIN_MS,
    };
    this.claims.set(job.id, claim);
    return claim;
  }

  private accept(jobs: readonly Job<unknown>[]): void {
    const fetched: { delivery: FetchedDelivery; claim: Claim }[] = [];
    for (const job of jobs) {
      const claim = this.hold(job);
      const data = parseDeliveryJob(job.data);
      if (data === null) {
        this.options.logger.error({ jobId: job.id, data: job.data }, 'delivery job with invalid data dropped');
        this.options.settle({ claim, outcome: 'completed', result: null });
      } else {
        fetched.push({ delivery: { ...data, jobId: job.id, signal: claim.controller.signal }, claim });
      }
    }
    void this.prepareAll(fetched);
  }

  private async prepareAll(fetched: readonly { delivery: FetchedDelivery; claim: Claim }[]): Promise<void> {
    const claims = new Map(fetched.map(({ delivery, claim }) => [delivery.jobId, claim]));
    const claimOf = (job: FetchedDelivery): Claim => claims.get(job.jobId) as Claim;
    let prepared: PreparedDeliveries;
    try {
      prepared = await this.options.prepare(fetched.map(({ delivery }) => delivery));
    } catch (error) {
      // Infrastructure trouble (the database away): hand the jobs back for pg-boss to retry.
      this.options.logger.warn({ err: error }, 'loading deliveries failed; jobs handed back');
      for (const { claim } of fetched) this.options.settle({ claim, outcome: 'failed', result: null });
      return;
    }
    for (const job of prepared.skipped) this.options.settle({ claim: claimOf(job), outcome: 'completed', result: null });
    for (const job of prepared.released) this.options.settle({ claim: claimOf(job), outcome: 'failed', result: null });
    if (prepared.deferred.length > 0) void this.defer(prepared.deferred.map(({ job, next }) => ({ claim: claimOf(job), next })));
    for (const ready of prepared.ready) {
      const claim = claimOf(ready.job);
      const wait = ready.sendAt === undefined ? 0 : ready.sendAt - performance.now();
      if (wait > 1) this.delay(claim, ready, wait);
      else this.slots.enqueue(claim.origin, { claim, ready });
    }
    this.pump();
  }

  /** A throttled attempt queues for its origin at its slot, not before. */
  private delay(claim: Claim, ready: ReadyDelivery, wait: number): void {
    const timer = setTimeout(() => {
      if (!this.delayed.delete(claim)) return;
      this.slots.enqueue(claim.origin, { claim, ready });
      this.pump();
    }, wait);
    this.delayed.set(claim, { timer, ready });
  }

  /** Hands throttled jobs back to the queue to run at their slot: not an attempt, not a failure. */
  private async defer(items: readonly { claim: Claim; next: PlannedDelivery }[]): Promise<void> {
    try {
      await this.options.replace(
        this.name,
        items.map(({ claim, next }) => ({ attempt: claim.job, next })),
      );
      for (const { claim } of items) this.forget(claim);
    } catch (error) {
      this.options.logger.warn({ err: error }, 'handing throttled jobs back failed; they run again later');
      for (const { claim } of items) this.options.settle({ claim, outcome: 'failed', result: null });
    }
  }

  /** Starts waiting attempts while the loop and their origins have slots. */
  private pump(): void {
    for (const { key, item } of this.slots.take(this.options.maxRunning)) this.launch(key, item.claim, item.ready);
  }

  private launch(origin: string, claim: Claim, ready: ReadyDelivery): void {
    const done = (settlement: ClaimSettlement): void => {
      this.slots.finished(origin);
      this.options.settle(settlement);
      this.pump();
    };
    // Not started yet, so nothing to record: hand back on stop, a lost claim, or an expiry too near.
    if (this.stopping || claim.controller.signal.aborted || performance.now() > claim.startBy) {
      done({ claim, outcome: 'failed', result: null });
      return;
    }
    this.options.attempt(ready).then(
      // Null: cut short by its signal (shutdown, lost claim), so run again rather than recorded.
      (result) => done({ claim, outcome: result === null ? 'failed' : 'completed', result }),
      (error: unknown) => {
        this.options.logger.error({ err: error, messageId: ready.job.messageId }, 'delivery attempt threw');
        done({ claim, outcome: 'failed', result: null });
      },
    );
  }

  private async untilFetch(): Promise<void> {
    const wait = waitBeforeFetch(this.plan, performance.now() - this.lastFetchEnd, this.options.pollMs);
    await this.waker.sleep(wait.urgentOnlyMs, true);
    if (this.waker.urgent) return;
    await this.waker.sleep(wait.anyWakeMs - wait.urgentOnlyMs);
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      await this.untilFetch();
      if (this.stopping) break;
      const room = Math.min(this.options.batchSize, this.options.capacity - this.claims.size);
      this.waker.clear();
      if (room <= 0) {
        this.plan = FULL;
        continue;
      }
      const saturated = this.slots.saturated();
      const fetchStart = performance.now();
      try {
        const jobs = await this.options.boss.fetch<unknown>(this.name, {
          batchSize: room,
          groupConcurrency: this.options.holdPerOrigin,
          // This worker's share of those origins' claims is taken: leave them to the other workers.
          ...(saturated.length > 0 ? { ignoreGroups: saturated } : {}),
          ...this.connection,
        });
        failures = 0;
        if (this.stopping) {
          // Fetched as stop began: hand straight back.
          if (jobs.length > 0)
            await this.options.boss.fail(
              this.name,
              jobs.map((job) => ({ id: job.id, retryCount: job.retryCount })),
              null,
              this.connection,
            );
          break;
        }
        if (jobs.length > 0) this.accept(jobs);
        this.lastFetchEnd = performance.now();
        const tookMs = this.lastFetchEnd - fetchStart;
        if (jobs.length >= this.options.batchSize || tookMs >= SLOW_FETCH_MS) this.options.fetchedMuch();
        this.plan = planAfterFetch({ fetched: jobs.length, room, tookMs, saturatedOrigins: this.slots.saturated().length });
      } catch (error) {
        failures++;
        if (failures === 1 || failures % 20 === 0)
          this.options.logger.warn({ err: error, queue: this.name }, 'fetching delivery jobs failed');
        await new Promise((resolve) => setTimeout(resolve, delayAfterFailure(failures)));
        this.plan = { mode: 'now', backoffMs: 0 };
      }
    }
  }
}

/**
 * Settles a batch's jobs in the queue, forgets the claims, and lets the loops fetch again. A done
 * job is deleted rather than completed: the attempt log is the record, and a completed row would
 * cost one more index-writing update now and pg-boss's clean-up later (docs/operations.md, "Partitioning and retention").
 */
export async function settleClaims(boss: PgBoss, logger: Logger, loops: readonly QueueLoop[], batch: ClaimSettlement[]): Promise<void> {
  for (const loop of loops) {
    const completed: JobAttempt[] = [];
    const failed: JobAttempt[] = [];
    for (const { claim, outcome } of batch) if (claim.loop === loop) (outcome === 'completed' ? completed : failed).push(claim.job);
    if (completed.length + failed.length === 0) continue;
    try {
      // Fenced to the fetched attempt: a claim lost meanwhile is left to its new holder.
      if (completed.length > 0) await boss.deleteJob(loop.name, completed, loop.connection);
      if (failed.length > 0) await boss.fail(loop.name, failed, null, loop.connection);
    } catch (error) {
      // Recorded already: when the job comes back after its heartbeat, it is skipped as stale.
      logger.warn({ err: error, queue: loop.name }, 'settling delivery jobs failed; they come back after their heartbeat');
    }
    for (const { claim } of batch) if (claim.loop === loop) loop.forget(claim);
    // Slots are free again: fetch (at once if an origin's cap was freed, see forget).
    loop.wake();
  }
}
