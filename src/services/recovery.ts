/**
 * `POST /v1/admin/recover` (and an endpoint's recover): re-queue every `failed` delivery (a message
 * at an endpoint) created in a window as a fresh attempt.
 *
 * The answer comes at once with how many deliveries are failed in the window; the re-queueing runs
 * in the background in batches, each one short transaction that flips up to BATCH_SIZE deliveries
 * to `pending` and enqueues their jobs, so 100,000 of them never make one huge transaction or block
 * the API. A process that dies half-way leaves the rest `failed`: running recover again picks them up.
 *
 * The job is a step of the retry schedule (steps so far + 1) with trigger `recover`, so the log tells
 * it apart, and not a `manual` one: the worker leaves a message's status alone after a failed manual
 * attempt, so a message set `pending` for a manual job would stay pending forever. That step was
 * never enqueued (the schedule stopped before it), so its deterministic job id is fresh and a
 * repeated batch is still idempotent. If it fails, the schedule decides again: an exhausted message
 * is `failed` again at once; one stopped early by a 410 resumes its remaining delays.
 *
 * At an ordered endpoint a recovered delivery does not go at once: it waits in line, and the chain
 * (services/ordering.ts) sends the waiting ones one at a time in creation order.
 */
import { and, desc, eq, gte, lt, sql } from 'drizzle-orm';
import { deliveries, tenants } from '../db/schema.ts';
import { notFound, validationFailed } from '../domain/errors.ts';
import { analyzeDeliveryQueues } from '../queue/boss.ts';
import { enqueueDeliveries, type PlannedDelivery } from '../queue/delivery-queue.ts';
import type { ServiceDeps } from './deps.ts';
import { advanceHeads } from './ordering.ts';

export interface RecoverInput {
  since: Date;
  until?: Date | undefined;
  tenantId?: string | undefined;
  /** Only this endpoint's failed deliveries (an application endpoint's recover). */
  endpointId?: string | undefined;
}

export interface RecoverAccepted {
  /** Failed deliveries in the window when the request came: the number being re-queued. */
  recovered: number;
  since: string;
  until: string;
  tenantId: string | null;
  /** Settles when the background re-queueing ends (the API does not wait; tests and logs do). */
  finished: Promise<number>;
}

const BATCH_SIZE = 1_000;
/** Above this many jobs at once, refresh pg-boss's planner statistics (docs/operations.md). */
const ANALYZE_AFTER = 10_000;

export async function recover(deps: ServiceDeps, input: RecoverInput, options: { batchSize?: number } = {}): Promise<RecoverAccepted> {
  const now = deps.clock.now();
  // The window is fixed now, so the loop works through a bounded set.
  const until = input.until !== undefined && input.until < now ? input.until : now;
  if (input.since >= until) throw validationFailed('since', 'must be before until (and before now)');
  if (input.tenantId !== undefined) {
    const [tenant] = await deps.db.select({ id: tenants.id }).from(tenants).where(eq(tenants.id, input.tenantId));
    if (!tenant) throw notFound('tenant');
  }
  const window = and(
    eq(deliveries.status, 'failed'),
    gte(deliveries.createdAt, input.since),
    lt(deliveries.createdAt, until),
    input.tenantId !== undefined ? eq(deliveries.tenantId, input.tenantId) : undefined,
    input.endpointId !== undefined ? eq(deliveries.endpointId, input.endpointId) : undefined,
  );
  const [counted] = await deps.db
    .select({ n: sql<number>`count(*)::int` })
    .from(deliveries)
    .where(window);
  const recovered = counted?.n ?? 0;
  const finished = recovered === 0 ? Promise.resolve(0) : requeueAll(deps, window, options.batchSize ?? BATCH_SIZE);
  // Background work must never become an unhandled rejection; the error is logged, the rest stays failed.
  finished.catch((error: unknown) => deps.logger.error({ err: error }, 'recover: re-queueing stopped; run it again for the rest'));
  return { recovered, since: input.since.toISOString(), until: until.toISOString(), tenantId: input.tenantId ?? null, finished };
}

async function requeueAll(deps: ServiceDeps, window: ReturnType<typeof and>, batchSize: number): Promise<number> {
  // Yield first: the caller answers 202 before any batch runs.
  await new Promise((resolve) => setImmediate(resolve));
  let total = 0;
  // Keyset over the window: every delivery is looked at once, even one that fails again meanwhile.
  let after: { at: string; id: string; endpointId: string } | undefined;
  for (;;) {
    const keyset = after
      ? sql`(${deliveries.createdAt}, ${deliveries.messageId}, ${deliveries.endpointId}) < (${after.at}::timestamptz, ${after.id}, ${after.endpointId})`
      : undefined;
    const picked = await deps.db
      .select({
        messageId: deliveries.messageId,
        endpointId: deliveries.endpointId,
        at: sql<string>`to_char(${deliveries.createdAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
      })
      .from(deliveries)
      .where(and(window, keyset))
      .orderBy(desc(deliveries.createdAt), desc(deliveries.messageId), desc(deliveries.endpointId))
      .limit(batchSize);
    if (picked.length === 0) break;
    const now = deps.clock.now();
    const requeued = await deps.sql.begin(async (tx) => {
      // Ordered endpoints' rows first (the lock order of every chain move).
      const ordered = await tx.unsafe<{ id: string }[]>(
        `select id from endpoints where id = any($1::text[]) and ordered order by id for update`,
        [[...new Set(picked.map((row) => row.endpointId))]],
        { prepare: true },
      );
      // Still failed under the row lock (a manual retry may have delivered it meanwhile). At an
      // ordered endpoint it waits in line (by creation order) rather than going at once.
      const rows = await tx.unsafe<{ message_id: string; endpoint_id: string; steps: number; url: string; ordered: boolean }[]>(
        `update deliveries d set status = 'pending', failure_reason = null,
           next_attempt_at = case when e.ordered then null else $3::timestamptz end
         from unnest($1::text[], $2::text[]) as x(message_id, endpoint_id), endpoints e
         where d.message_id = x.message_id and d.endpoint_id = x.endpoint_id and d.status = 'failed' and e.id = d.endpoint_id
         returning d.message_id, d.endpoint_id, d.steps, e.url, e.ordered`,
        [picked.map((row) => row.messageId), picked.map((row) => row.endpointId), now.toISOString()],
        { prepare: true },
      );
      const jobs: PlannedDelivery[] = rows
        .filter((row) => !row.ordered)
        .map((row) => ({
          messageId: row.message_id,
          endpointId: row.endpoint_id,
          step: row.steps + 1,
          trigger: 'recover' as const,
          url: row.url,
        }));
      jobs.push(
        ...(await advanceHeads(
          { postgres: tx },
          ordered.map((row) => row.id),
          now,
        )),
      );
      await enqueueDeliveries(deps.boss, jobs, { postgres: tx });
      return { jobs, count: rows.length };
    });
    total += requeued.count;
    if (requeued.jobs.length > 0) deps.onEnqueued(requeued.jobs);
    const last = picked.at(-1);
    if (picked.length < batchSize || !last) break;
    after = { at: last.at, id: last.messageId, endpointId: last.endpointId };
  }
  if (total >= ANALYZE_AFTER) await analyzeDeliveryQueues(deps.boss);
  deps.logger.info({ requeued: total }, 'recover: failed deliveries re-queued');
  return total;
}
