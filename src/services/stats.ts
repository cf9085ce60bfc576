/**
 * `GET /v1/admin/stats`: how delivery is going since a moment. Messages are counted by creation
 * time, attempts by start time; the oldest pending message and the queue depths are as of now,
 * whatever the window.
 */
import { and, eq, gte, inArray, sql } from 'drizzle-orm';
import { attempts, deliveries, endpoints } from '../db/schema.ts';
import { ATTEMPT_ERROR_KINDS, type AttemptErrorKind } from '../domain/delivery.ts';
import { DELIVERY_QUEUES } from '../queue/delivery-queue.ts';
import type { ServiceDeps } from './deps.ts';

type ErrorKind = AttemptErrorKind;

export interface QueueDepth {
  name: string;
  /** Waiting jobs: ready now plus deferred (retries whose time has not come). */
  queued: number;
  ready: number;
  deferred: number;
  active: number;
}

export interface DeliveryStats {
  since: string;
  until: string;
  /** Deliveries (a message at an endpoint) created in the window, by status. */
  messages: { pending: number; succeeded: number; failed: number; total: number };
  /** succeeded / (succeeded + failed) of the window's deliveries; null when none has finished. */
  successRate: number | null;
  attempts: {
    total: number;
    succeeded: number;
    failed: number;
    /** Failed attempts per error kind, every kind present. */
    byErrorKind: Record<ErrorKind, number>;
    /** Attempt duration percentiles in ms; null when there was no attempt. */
    durationMs: { p50: number | null; p95: number | null; p99: number | null };
  };
  /** Age of the oldest message still pending (any time), ms; null when none is pending. */
  oldestPendingAgeMs: number | null;
  /** Queue depth as of pg-boss's last monitor pass (its counts refresh about once a minute). */
  queues: QueueDepth[];
}

export interface StatsInput {
  since: Date;
  /** Only this tenant's, application's or endpoint's deliveries and attempts. */
  tenantId?: string | undefined;
  appId?: string | undefined;
  endpointId?: string | undefined;
}

export async function deliveryStats(deps: Pick<ServiceDeps, 'db' | 'boss' | 'clock'>, input: StatsInput): Promise<DeliveryStats> {
  const now = deps.clock.now();
  // An application's endpoints, when the figures are scoped to one.
  const ofApp =
    input.appId === undefined ? undefined : sql`(select ${endpoints.id} from ${endpoints} where ${endpoints.appId} = ${input.appId})`;
  const deliveryScope = and(
    input.tenantId !== undefined ? eq(deliveries.tenantId, input.tenantId) : undefined,
    input.endpointId !== undefined ? eq(deliveries.endpointId, input.endpointId) : undefined,
    ofApp !== undefined ? inArray(deliveries.endpointId, ofApp) : undefined,
  );
  const attemptScope = and(
    gte(attempts.startedAt, input.since),
    input.tenantId !== undefined ? eq(attempts.tenantId, input.tenantId) : undefined,
    input.endpointId !== undefined ? eq(attempts.endpointId, input.endpointId) : undefined,
    ofApp !== undefined ? inArray(attempts.endpointId, ofApp) : undefined,
  );
  const [byStatus, attemptRows, percentiles, oldest, queues] = await Promise.all([
    deps.db
      .select({ status: deliveries.status, n: sql<number>`count(*)::int` })
      .from(deliveries)
      .where(and(gte(deliveries.createdAt, input.since), deliveryScope))
      .groupBy(deliveries.status),
    deps.db
      .select({ outcome: attempts.outcome, kind: attempts.errorKind, n: sql<number>`count(*)::int` })
      .from(attempts)
      .where(attemptScope)
      .groupBy(attempts.outcome, attempts.errorKind),
    deps.db
      .select({
        p: sql<number[] | null>`percentile_disc(array[0.5, 0.95, 0.99]::float8[]) within group (order by ${attempts.durationMs})`,
      })
      .from(attempts)
      .where(attemptScope),
    deps.db
      .select({ at: sql<Date | null>`min(${deliveries.createdAt})`.mapWith(deliveries.createdAt) })
      .from(deliveries)
      .where(and(eq(deliveries.status, 'pending'), deliveryScope)),
    deps.boss.getQueues(Object.values(DELIVERY_QUEUES)),
  ]);

  const counts = { pending: 0, succeeded: 0, failed: 0, total: 0 };
  for (const row of byStatus) {
    counts[row.status] = row.n;
    counts.total += row.n;
  }
  const byErrorKind = Object.fromEntries(ATTEMPT_ERROR_KINDS.map((kind) => [kind, 0])) as Record<ErrorKind, number>;
  let succeeded = 0;
  let failed = 0;
  for (const row of attemptRows) {
    if (row.outcome === 'succeeded') succeeded += row.n;
    else failed += row.n;
    if (row.kind !== null) byErrorKind[row.kind] += row.n;
  }
  const finished = counts.succeeded + counts.failed;
  const p = percentiles[0]?.p ?? null;
  const oldestAt = oldest[0]?.at ?? null;
  return {
    since: input.since.toISOString(),
    until: now.toISOString(),
    messages: counts,
    successRate: finished === 0 ? null : counts.succeeded / finished,
    attempts: {
      total: succeeded + failed,
      succeeded,
      failed,
      byErrorKind,
      durationMs: { p50: p?.[0] ?? null, p95: p?.[1] ?? null, p99: p?.[2] ?? null },
    },
    oldestPendingAgeMs: oldestAt ? Math.max(0, now.getTime() - oldestAt.getTime()) : null,
    queues: queues.map((queue) => ({
      name: queue.name,
      queued: queue.queuedCount,
      ready: queue.readyCount,
      deferred: queue.deferredCount,
      active: queue.activeCount,
    })),
  };
}
