import { sql as drizzleSql } from 'drizzle-orm';
import { fromDrizzle, type DrizzleTransactionLike, type JobInsert, type PgBoss } from 'pg-boss';
import { ATTEMPT_TRIGGERS, onSchedule, type AttemptTrigger } from '../domain/delivery.ts';
import { uuidFromName } from '../lib/ids.ts';

/** First attempts and retries use separate queues, so a retry backlog never delays fresh events. */
export const DELIVERY_QUEUES = { first: 'orbit-delivery', retry: 'orbit-delivery-retry' } as const;

export interface DeliveryJob {
  messageId: string;
  /** The step of the retry ladder this job performs (1 = first attempt); 0 for a manual attempt. */
  step: number;
  trigger: AttemptTrigger;
}

export interface PlannedDelivery extends DeliveryJob {
  startAfter?: Date;
  /** The message's target URL: its origin becomes the job's group, which caps attempts in flight per origin. */
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

/** The job id of a scheduled step is derived from message and step: a repeated enqueue is a no-op. */
export function deliveryJobId(job: DeliveryJob): string | undefined {
  return onSchedule(job.trigger) ? uuidFromName(`${job.messageId}:${job.step}`) : undefined;
}

function toInsert(job: PlannedDelivery): JobInsert<DeliveryJob> {
  const id = deliveryJobId(job);
  const group = deliveryGroup(job.url);
  return {
    ...(id ? { id } : {}),
    data: { messageId: job.messageId, step: job.step, trigger: job.trigger },
    ...(job.startAfter ? { startAfter: job.startAfter } : {}),
    ...(group ? { group: { id: group } } : {}),
  };
}

/**
 * Enqueues delivery jobs, inside the caller's drizzle transaction when one is given (so a job
 * exists exactly when the transaction that planned it commits).
 */
export async function enqueueDeliveries(boss: PgBoss, jobs: readonly PlannedDelivery[], tx?: DrizzleTransactionLike): Promise<void> {
  const options = tx ? { db: fromDrizzle(tx, drizzleSql) } : {};
  const first = jobs.filter((job) => !isRetry(job)).map(toInsert);
  const retry = jobs.filter(isRetry).map(toInsert);
  if (first.length > 0) await boss.insert(DELIVERY_QUEUES.first, first, options);
  if (retry.length > 0) await boss.insert(DELIVERY_QUEUES.retry, retry, options);
}

/** Later ladder steps go to the retry queue; first attempts and manual ones (asked for "now") do not. */
function isRetry(job: DeliveryJob): boolean {
  return onSchedule(job.trigger) && job.step > 1;
}

/** Job data as stored by `enqueueDeliveries`; null for anything else (a foreign or corrupt job). */
export function parseDeliveryJob(data: unknown): DeliveryJob | null {
  if (typeof data !== 'object' || data === null) return null;
  const { messageId, step, trigger } = data as Record<string, unknown>;
  if (typeof messageId !== 'string' || typeof step !== 'number' || !Number.isInteger(step) || step < 0) return null;
  if (!ATTEMPT_TRIGGERS.includes(trigger as AttemptTrigger)) return null;
  return { messageId, step, trigger: trigger as AttemptTrigger };
}
