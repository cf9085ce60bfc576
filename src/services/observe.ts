/**
 * What operators see of delivery: one log line and the metrics per recorded attempt, and the
 * database-derived gauges that /metrics reads when it is scraped.
 */
import { eq, sql } from 'drizzle-orm';
import { deliveries } from '../db/schema.ts';
import {
  ATTEMPT_ERROR_KINDS,
  onSchedule,
  type AttemptErrorKind,
  type AttemptOutcome,
  type AttemptTrigger,
  type MessageStatus,
} from '../domain/delivery.ts';
import type { GaugeSnapshot } from '../lib/metrics.ts';
import { DELIVERY_QUEUES } from '../queue/delivery-queue.ts';
import type { ServiceDeps } from './deps.ts';

/**
 * One attempt as the record statement stored it. A `type` (not an interface) so that it satisfies
 * `db.execute<RecordedAttempt>()`'s row constraint: the statement's `select` names its columns so.
 */
export type RecordedAttempt = {
  messageId: string;
  endpointId: string;
  tenantId: string;
  runId: string | null;
  /** The 1-based number the statement gave the attempt; null when not known. */
  attempt: number | null;
  trigger: AttemptTrigger;
  outcome: AttemptOutcome;
  /** The receiver's HTTP status; null when no answer came. */
  responseStatus: number | null;
  /** The attempt's error kind (domain/delivery.ts); null when it succeeded. */
  errorKind: string | null;
  durationMs: number;
  /** The message's status after this attempt (`failed` = exhausted); null when not known. */
  messageStatus?: MessageStatus | null;
  /**
   * Seconds from the event's acceptance to the end of this attempt, only when this attempt is the
   * one that delivered the message (a manual retry of a delivered message does not count twice).
   */
  latencySeconds: number | null;
};

const ERROR_KINDS: ReadonlySet<string> = new Set(ATTEMPT_ERROR_KINDS);

function errorKindOf(value: string | null): AttemptErrorKind | null {
  return value !== null && ERROR_KINDS.has(value) ? (value as AttemptErrorKind) : null;
}

/** PostgreSQL numerics may arrive as strings depending on the column type: normalise once here. */
function numberOrNull(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  const number = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(number) ? number : null;
}

/**
 * Called once a batch of attempts is recorded (never before: a line or a count must match a row
 * in `attempts`). Never throws: observing must not fail a batch that is already durable.
 */
export function observeAttempts(deps: Pick<ServiceDeps, 'logger' | 'metrics'>, recorded: readonly RecordedAttempt[]): void {
  for (const row of recorded) {
    try {
      const durationMs = numberOrNull(row.durationMs) ?? 0;
      const errorKind = row.outcome === 'succeeded' ? null : (errorKindOf(row.errorKind) ?? 'connection');
      const exhausted = onSchedule(row.trigger) && row.outcome === 'failed' && row.messageStatus === 'failed';
      const line = {
        tenantId: row.tenantId,
        messageId: row.messageId,
        runId: row.runId ?? undefined,
        attempt: numberOrNull(row.attempt) ?? undefined,
        trigger: row.trigger,
        outcome: row.outcome,
        status: numberOrNull(row.responseStatus),
        errorKind,
        durationMs,
        ...(row.messageStatus ? { messageStatus: row.messageStatus } : {}),
      };
      // A failed attempt with retries left is routine; a message that failed for good is not.
      if (exhausted) deps.logger.warn(line, 'attempt failed; no attempts left, message failed');
      else deps.logger.info(line, 'attempt');

      deps.metrics?.attemptFinished({ outcome: row.outcome, errorKind, durationSeconds: durationMs / 1000 });
      const latency = numberOrNull(row.latencySeconds);
      if (row.outcome === 'succeeded' && latency !== null) deps.metrics?.messageDelivered(latency);
    } catch (error) {
      deps.logger.warn({ err: error, messageId: row.messageId }, 'observing an attempt failed');
    }
  }
}

/**
 * The /metrics gauges, read when Prometheus scrapes (never on a timer). Pending count and oldest
 * age ride `deliveries_status_idx`; queue depths are pg-boss's counts, refreshed by its monitor pass
 * (every 10 s here, see queue/boss.ts), so they may lag that much.
 */
export async function readDeliveryGauges(deps: Pick<ServiceDeps, 'db' | 'boss' | 'clock'>): Promise<GaugeSnapshot> {
  const [pending, queues] = await Promise.all([
    deps.db
      .select({
        n: sql<number>`count(*)::int`,
        oldest: sql<Date | null>`min(${deliveries.createdAt})`.mapWith(deliveries.createdAt),
      })
      .from(deliveries)
      .where(eq(deliveries.status, 'pending')),
    deps.boss.getQueues(Object.values(DELIVERY_QUEUES)),
  ]);
  const oldest = pending[0]?.oldest ?? null;
  const queueDepth: Record<string, number> = {};
  // Both queues always appear, at 0 when pg-boss has not counted one yet.
  for (const name of Object.values(DELIVERY_QUEUES)) queueDepth[name] = 0;
  for (const queue of queues) queueDepth[queue.name] = queue.queuedCount;
  return {
    pending: pending[0]?.n ?? 0,
    oldestPendingAgeSeconds: oldest === null ? 0 : Math.max(0, (deps.clock.now().getTime() - oldest.getTime()) / 1000),
    queueDepth,
  };
}
