import { sql as drizzleSql } from 'drizzle-orm';
import {
  fromDrizzle,
  type ConnectionOptions,
  type DrizzleTransactionLike,
  type Db,
  type JobAttempt,
  type JobInsert,
  type PgBoss,
} from 'pg-boss';
import type postgres from 'postgres';
import { ATTEMPT_TRIGGERS, onSchedule, type AttemptTrigger } from '../domain/delivery.ts';
import { uuidFromName } from '../lib/ids.ts';

/** First attempts and retries use separate queues, so a retry backlog never delays fresh events. */
export const DELIVERY_QUEUES = { first: 'orbit-delivery', retry: 'orbit-delivery-retry' } as const;

/** One attempt to make: a message at an endpoint (a delivery), at a step of its retry schedule. */
export interface DeliveryJob {
  messageId: string;
  /** Absent only in jobs queued before endpoints existed: the message's one delivery is meant. */
  endpointId?: string | undefined;
  /** The step of the retry schedule this job performs (1 = first attempt); 0 for a manual attempt. */
  step: number;
  trigger: AttemptTrigger;
  /** A throttle slot reserved for it (epoch ms, PostgreSQL's clock): a job handed back to wait for it. */
  slot?: number | undefined;
}

export interface PlannedDelivery extends DeliveryJob {
  startAfter?: Date;
  /** The endpoint's URL: its origin becomes the job's group, which caps attempts in flight per origin. */
  url?: string;
}

/**
 * The pg-boss group of a delivery: the URL's origin (scheme, host, port). Workers fetch with
 * `groupConcurrency`, so one slow or dead origin can hold only that many attempts at a time.
 */
export function deliveryGroup(url: string | undefined): string | undefined {
  if (url === undefined || !URL.canParse(url)) return undefined;
  const origin = new URL(url).origin;
  return origin === 'null' ? undefined : origin;
}

/** A scheduled step's job id derives from the delivery and the step: a repeated enqueue is a no-op. */
export function deliveryJobId(job: DeliveryJob): string | undefined {
  if (!onSchedule(job.trigger)) return undefined;
  const name = job.endpointId === undefined ? `${job.messageId}:${job.step}` : `${job.messageId}:${job.endpointId}:${job.step}`;
  // A step handed back to wait for its throttle slot is a job of its own (the first one exists still).
  return uuidFromName(job.slot === undefined ? name : `${name}:slot:${job.slot}`);
}

function toInsert(job: PlannedDelivery): JobInsert<DeliveryJob> {
  const id = deliveryJobId(job);
  const group = deliveryGroup(job.url);
  return {
    ...(id ? { id } : {}),
    data: {
      messageId: job.messageId,
      endpointId: job.endpointId,
      step: job.step,
      trigger: job.trigger,
      ...(job.slot === undefined ? {} : { slot: job.slot }),
    },
    ...(job.startAfter ? { startAfter: job.startAfter } : {}),
    ...(group ? { group: { id: group } } : {}),
  };
}

/**
 * A transaction to enqueue in: drizzle's, or postgres.js's (the hot paths use it directly), begun by
 * `sql.begin` or on a reserved connection (db/client.ts, pipelinedTransaction).
 */
export type EnqueueTransaction = { drizzle: DrizzleTransactionLike } | { postgres: postgres.TransactionSql | postgres.ReservedSql };

function bossDb(tx: EnqueueTransaction): Db {
  if ('drizzle' in tx) return fromDrizzle(tx.drizzle, drizzleSql);
  return preparedDb(tx.postgres);
}

/**
 * pg-boss's statements on a postgres.js connection, each a named prepared statement, parsed and
 * planned once per connection. pg-boss's own pool sends them unprepared, planned on every call, and
 * its job fetch cost more to plan than to run (docs/operations.md, "Planning").
 */
function preparedDb(client: postgres.Sql | postgres.TransactionSql | postgres.ReservedSql): Db {
  return {
    executeSql: async (text: string, values?: unknown[]) => ({
      rows: await client.unsafe(text, (values ?? []) as postgres.ParameterOrJSON<never>[], { prepare: true }),
    }),
  };
}

/** Where a worker's fetch, deleteJob, fail and touch calls go: Orbit's own pool, statements prepared. */
export function bossConnection(sql: postgres.Sql): ConnectionOptions {
  return { db: preparedDb(sql) };
}

/** Runs one statement in the caller's transaction, of either kind, and answers its rows. */
export async function queryIn<T>(tx: EnqueueTransaction, text: string, values: readonly unknown[]): Promise<T[]> {
  if ('postgres' in tx) return [...(await tx.postgres.unsafe(text, values as postgres.ParameterOrJSON<never>[], { prepare: true }))] as T[];
  return (await bossDb(tx).executeSql(text, [...values])).rows as T[];
}

/**
 * Enqueues delivery jobs, inside the caller's transaction when one is given (so a job exists exactly
 * when the transaction that planned it commits).
 */
export async function enqueueDeliveries(boss: PgBoss, jobs: readonly PlannedDelivery[], tx?: EnqueueTransaction): Promise<void> {
  const options = tx ? { db: bossDb(tx) } : {};
  const first = jobs.filter((job) => !isRetry(job)).map(toInsert);
  const retry = jobs.filter(isRetry).map(toInsert);
  if (first.length > 0) await boss.insert(DELIVERY_QUEUES.first, first, options);
  if (retry.length > 0) await boss.insert(DELIVERY_QUEUES.retry, retry, options);
}

/**
 * Completes fetched jobs and enqueues what replaces them, in one transaction: a job handed back to
 * wait for its throttle slot. A job whose claim was lost meanwhile is left to its new holder and
 * gets no replacement.
 */
export async function replaceJobs(
  boss: PgBoss,
  sql: postgres.Sql,
  queue: string,
  items: readonly { attempt: JobAttempt; next: PlannedDelivery }[],
): Promise<void> {
  if (items.length === 0) return;
  await sql.begin(async (tx) => {
    const db = bossDb({ postgres: tx });
    const result = (await boss.complete(
      queue,
      items.map((item) => item.attempt),
      null,
      { db },
    )) as { settled?: string[]; affected?: number };
    const settled = new Set(result.settled ?? (result.affected === items.length ? items.map((item) => item.attempt.id) : []));
    const next = items.filter((item) => settled.has(item.attempt.id)).map((item) => item.next);
    if (next.length > 0) await enqueueDeliveries(boss, next, { postgres: tx });
  });
}

/** Later steps of the schedule go to the retry queue; first attempts and manual ones (asked for "now") do not. */
function isRetry(job: DeliveryJob): boolean {
  return onSchedule(job.trigger) && job.step > 1;
}

/** The queue a job goes to. */
export function queueOf(job: DeliveryJob): string {
  return isRetry(job) ? DELIVERY_QUEUES.retry : DELIVERY_QUEUES.first;
}

/** The queues and origins of planned jobs (null: an origin is not known), as a wake-up names them. */
export function wakeTargets(jobs: readonly PlannedDelivery[]): Map<string, Set<string> | null> {
  const targets = new Map<string, Set<string> | null>();
  for (const job of jobs) {
    const queue = queueOf(job);
    const origin = deliveryGroup(job.url);
    const known = targets.has(queue) ? targets.get(queue) : new Set<string>();
    targets.set(queue, origin === undefined || known === null || known === undefined ? null : known.add(origin));
  }
  return targets;
}

/** Job data as stored by `enqueueDeliveries`; null for anything else (a foreign or corrupt job). */
export function parseDeliveryJob(data: unknown): DeliveryJob | null {
  if (typeof data !== 'object' || data === null) return null;
  const { messageId, endpointId, step, trigger, slot } = data as Record<string, unknown>;
  if (typeof messageId !== 'string' || typeof step !== 'number' || !Number.isInteger(step) || step < 0) return null;
  if (endpointId !== undefined && typeof endpointId !== 'string') return null;
  if (!ATTEMPT_TRIGGERS.includes(trigger as AttemptTrigger)) return null;
  if (slot !== undefined && (typeof slot !== 'number' || !Number.isFinite(slot))) return null;
  return { messageId, endpointId, step, trigger: trigger as AttemptTrigger, ...(slot === undefined ? {} : { slot }) };
}
