/**
 * Retention (`ORBIT_RETENTION`, default 30 days): messages created longer ago than that whose every
 * delivery is finished (`succeeded`, `failed`) are deleted with their deliveries and attempts. A
 * message with a pending delivery is never deleted: nothing is dropped silently. Each batch is one
 * short statement over at most `batchSize` messages, and rows another session holds are skipped
 * (`SKIP LOCKED`), so deliveries never wait on retention.
 */
import { sql } from 'drizzle-orm';
import type { ServiceDeps } from './deps.ts';

export interface RetentionOptions {
  retentionMs: number;
  batchSize?: number;
  /** Stop after this long; the next scheduled run continues (keeps one run well inside its job expiry). */
  maxRunMs?: number;
}

export interface RetentionResult {
  messages: number;
  attempts: number;
  /** True when everything expired is gone; false when the run stopped at maxRunMs. */
  complete: boolean;
}

const DEFAULT_BATCH = 500;
const DEFAULT_MAX_RUN_MS = 5 * 60_000;

export async function deleteExpired(
  deps: Pick<ServiceDeps, 'db' | 'clock' | 'logger'>,
  options: RetentionOptions,
): Promise<RetentionResult> {
  const batchSize = options.batchSize ?? DEFAULT_BATCH;
  // A monotonic budget, not wall time: the clock may be a test's manual one.
  const started = performance.now();
  const cutoff = new Date(deps.clock.now().getTime() - options.retentionMs);
  const result: RetentionResult = { messages: 0, attempts: 0, complete: true };
  for (;;) {
    // One statement: a message, its deliveries and its attempts go together or not at all. Walks
    // messages_created_idx from the oldest row.
    const [row] = await deps.db.execute<{ messages: number; attempts: number }>(sql`
      with doomed as (
        select m.id from messages m
        where m.created_at < ${cutoff.toISOString()}::timestamptz
          and not exists (select 1 from deliveries d where d.message_id = m.id and d.status = 'pending')
        order by m.created_at
        limit ${batchSize}
        for update skip locked
      ),
      gone_attempts as (
        delete from attempts where message_id in (select id from doomed) returning 1
      ),
      gone_deliveries as (
        delete from deliveries where message_id in (select id from doomed) returning 1
      ),
      gone_messages as (
        delete from messages where id in (select id from doomed) returning 1
      )
      select (select count(*) from gone_messages)::int as messages,
             (select count(*) from gone_attempts)::int as attempts`);
    const deleted = row?.messages ?? 0;
    result.messages += deleted;
    result.attempts += row?.attempts ?? 0;
    if (deleted < batchSize) break;
    if (performance.now() - started > (options.maxRunMs ?? DEFAULT_MAX_RUN_MS)) {
      result.complete = false;
      break;
    }
  }
  if (result.messages > 0) deps.logger.info({ ...result, cutoff: cutoff.toISOString() }, 'retention: expired messages deleted');
  return result;
}
