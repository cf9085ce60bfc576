/**
 * The console's overview, and every aggregate query of the console, in one file.
 *
 * Counting a month of attempts on each page view is too slow (seconds with millions of rows), so a
 * job (worker/overview.ts, every minute) rolls the delivery log up into hourly rows: attempts by
 * outcome and messages created, in total and per tenant, event type, endpoint and error kind
 * (`overview_hourly`), and attempt durations in logarithmic buckets (`overview_latency`). The job
 * reads forward from a watermark, one short transaction per hour of log at most, and leaves the last
 * few minutes alone: an attempt row is written when its attempt ends, up to the delivery timeout
 * after its `started_at`. The page then sums the rollup rows of its range and counts live only what
 * lies after the watermark (a few minutes of log), so it costs the same on any size of log.
 *
 * Nothing here runs on the delivery path: the rollup reads the log after the fact.
 */
import { eq, sql, type SQL } from 'drizzle-orm';
import { overviewHourly, overviewLatency, overviewWatermark } from '../db/schema.ts';
import { ATTEMPT_ERROR_KINDS, type AttemptErrorKind } from '../domain/delivery.ts';
import { DELIVERY_QUEUES } from '../queue/delivery-queue.ts';
import type { ServiceDeps } from './deps.ts';

const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;
const WATERMARK = 'delivery-log';
/** The rollup never reaches back further than this (the longest range is 30 days). */
const BACKFILL_MS = 31 * 24 * HOUR_MS;
/** Rollup rows older than this are deleted. */
const KEEP_MS = 32 * 24 * HOUR_MS;

// ---- latency buckets --------------------------------------------------------------------------

/** Bucket b (1..) holds durations in [GROWTH^(b-1), GROWTH^b) ms; bucket 0 holds 0 ms. */
const GROWTH = 1.25;
const LAST_BUCKET = 63;

/**
 * The bucket of a duration, as SQL (the rollup and the live part must agree). Constants are inlined,
 * not parameters: the expression is grouped by, and each parameter would make it a different one.
 */
const latencyBucket = (duration: SQL): SQL =>
  sql`(case when ${duration} < 1 then 0 else least(${sql.raw(String(LAST_BUCKET))}, 1 + floor(ln(${duration}) / ln(${sql.raw(String(GROWTH))})))::int end)`;

/** A representative duration of a bucket: its geometric middle (within 12% of any member). */
function bucketValue(bucket: number): number {
  if (bucket <= 0) return 0;
  return Math.max(1, Math.round(GROWTH ** (bucket - 0.5)));
}

/** Percentiles from a histogram of bucket → count; null when empty. */
export function percentilesOf(histogram: ReadonlyMap<number, number>, quantiles: readonly number[]): Array<number | null> {
  const buckets = [...histogram.entries()].filter(([, n]) => n > 0).sort(([a], [b]) => a - b);
  const total = buckets.reduce((sum, [, n]) => sum + n, 0);
  if (total === 0) return quantiles.map(() => null);
  return quantiles.map((q) => {
    const rank = Math.max(1, Math.ceil(q * total));
    let seen = 0;
    for (const [bucket, n] of buckets) {
      seen += n;
      if (seen >= rank) return bucketValue(bucket);
    }
    return bucketValue(buckets.at(-1)?.[0] ?? 0);
  });
}

// ---- the rollup job ---------------------------------------------------------------------------

/** An endpoint as the overview groups it: the URL (attempted, `a.url`, or the endpoint's, `e.url`) without query or fragment. */
const urlKey = (url: SQL) => sql`left(split_part(split_part(${url}, '?', 1), '#', 1), 300)`;
const endpointOf = urlKey(sql`a.url`);
const deliveryEndpointOf = urlKey(sql`e.url`);
const hourOf = (column: SQL) => sql`date_bin('1 hour', ${column}, timestamptz '2000-01-01T00:00:00Z')`;
const ts = (date: Date) => sql`${date.toISOString()}::timestamptz`;

type Db = Pick<ServiceDeps, 'db'>['db'];

/** Adds the log of [from, to) to the rollup tables (inside the caller's transaction). */
async function rollUpWindow(tx: Parameters<Parameters<Db['transaction']>[0]>[0], from: Date, to: Date): Promise<void> {
  await tx.execute(sql`
    insert into ${overviewHourly} (dim, hour, key, succeeded, failed, messages)
    select
      case when grouping(a.tenant_id) = 0 then 'tenant' when grouping(m.event_type) = 0 then 'event_type'
           when grouping(${endpointOf}) = 0 then 'endpoint' when grouping(a.error_kind) = 0 then 'error_kind' else 'all' end,
      ${hourOf(sql`a.started_at`)},
      coalesce(case when grouping(a.tenant_id) = 0 then a.tenant_id end, case when grouping(m.event_type) = 0 then m.event_type end,
               case when grouping(${endpointOf}) = 0 then ${endpointOf} end, case when grouping(a.error_kind) = 0 then a.error_kind end, ''),
      count(*) filter (where a.outcome = 'succeeded'),
      count(*) filter (where a.outcome = 'failed'),
      0
    from attempts a
    join messages m on m.id = a.message_id
    where a.started_at >= ${ts(from)} and a.started_at < ${ts(to)}
    group by grouping sets (
      (${hourOf(sql`a.started_at`)}),
      (${hourOf(sql`a.started_at`)}, a.tenant_id),
      (${hourOf(sql`a.started_at`)}, m.event_type),
      (${hourOf(sql`a.started_at`)}, ${endpointOf}),
      (${hourOf(sql`a.started_at`)}, a.error_kind))
    having grouping(a.error_kind) = 1 or a.error_kind is not null
    on conflict (dim, hour, key) do update set
      succeeded = ${overviewHourly.succeeded} + excluded.succeeded,
      failed = ${overviewHourly.failed} + excluded.failed`);
  // Messages counted as deliveries (a message at an endpoint), by their creation time.
  await tx.execute(sql`
    insert into ${overviewHourly} (dim, hour, key, succeeded, failed, messages)
    select
      case when grouping(d.tenant_id) = 0 then 'tenant' when grouping(m.event_type) = 0 then 'event_type'
           when grouping(${deliveryEndpointOf}) = 0 then 'endpoint' else 'all' end,
      ${hourOf(sql`d.created_at`)},
      coalesce(case when grouping(d.tenant_id) = 0 then d.tenant_id end, case when grouping(m.event_type) = 0 then m.event_type end,
               case when grouping(${deliveryEndpointOf}) = 0 then ${deliveryEndpointOf} end, ''),
      0, 0, count(*)
    from messages m
    join deliveries d on d.message_id = m.id
    join endpoints e on e.id = d.endpoint_id
    -- A delivery's created_at is its message's: the window is a range of messages' creation index
    -- (deliveries have no index on created_at alone).
    where m.created_at >= ${ts(from)} and m.created_at < ${ts(to)}
    group by grouping sets (
      (${hourOf(sql`d.created_at`)}),
      (${hourOf(sql`d.created_at`)}, d.tenant_id),
      (${hourOf(sql`d.created_at`)}, m.event_type),
      (${hourOf(sql`d.created_at`)}, ${deliveryEndpointOf}))
    on conflict (dim, hour, key) do update set messages = ${overviewHourly.messages} + excluded.messages`);
  await tx.execute(sql`
    insert into ${overviewLatency} (hour, bucket, attempts)
    select ${hourOf(sql`a.started_at`)}, ${latencyBucket(sql`a.duration_ms`)}, count(*)
    from attempts a
    where a.started_at >= ${ts(from)} and a.started_at < ${ts(to)}
    group by 1, 2
    on conflict (hour, bucket) do update set attempts = ${overviewLatency.attempts} + excluded.attempts`);
}

/** Where a fresh rollup starts: the oldest log row (at most 31 days back), or now. */
async function firstWatermark(deps: Pick<ServiceDeps, 'db'>, target: Date): Promise<Date> {
  const [row] = await deps.db.execute<{ at: number | null }>(sql`
    select extract(epoch from least((select min(started_at) from attempts), (select min(created_at) from messages)))::float8 as at`);
  const oldest = row?.at === null || row?.at === undefined ? target.getTime() : row.at * 1000;
  const start = Math.max(oldest, target.getTime() - BACKFILL_MS);
  return new Date(Math.min(Math.floor(start / HOUR_MS) * HOUR_MS, target.getTime()));
}

export interface RollupResult {
  /** The watermark after this run. */
  until: Date;
  /** Windows rolled up in this run. */
  windows: number;
  /** False when the run stopped at its time budget with more left (the next run goes on). */
  caughtUp: boolean;
}

/**
 * Rolls the delivery log up to (now − delivery timeout − 2 minutes), an hour of log per transaction
 * at most. Each transaction locks the watermark row, so concurrent runs never count a row twice.
 */
export async function rollUpDeliveryLog(
  deps: Pick<ServiceDeps, 'db' | 'clock' | 'delivery'>,
  options: { maxRunMs?: number; settleMs?: number } = {},
): Promise<RollupResult> {
  const started = performance.now();
  const settleMs = options.settleMs ?? deps.delivery.deliveryTimeoutMs + 2 * MINUTE_MS;
  const target = new Date(deps.clock.now().getTime() - settleMs);
  const [existing] = await deps.db.select().from(overviewWatermark).where(eq(overviewWatermark.name, WATERMARK));
  if (!existing) {
    const initial = await firstWatermark(deps, target);
    await deps.db.insert(overviewWatermark).values({ name: WATERMARK, until: initial }).onConflictDoNothing();
  }
  let windows = 0;
  for (;;) {
    const next = await deps.db.transaction(async (tx) => {
      const [row] = await tx.execute<{ until: number }>(
        sql`select extract(epoch from until)::float8 as until from ${overviewWatermark} where name = ${WATERMARK} for update`,
      );
      const from = new Date((row?.until ?? target.getTime() / 1000) * 1000);
      if (from >= target) return null;
      // Up to the next hour boundary: a window never spans two hours of rollup rows.
      const to = new Date(Math.min(target.getTime(), Math.floor(from.getTime() / HOUR_MS) * HOUR_MS + HOUR_MS));
      await rollUpWindow(tx, from, to);
      await tx.execute(sql`update ${overviewWatermark} set until = ${ts(to)} where name = ${WATERMARK}`);
      return to;
    });
    if (next === null) return { until: (await readWatermark(deps)) ?? target, windows, caughtUp: true };
    windows++;
    if (performance.now() - started > (options.maxRunMs ?? 45_000)) return { until: next, windows, caughtUp: next >= target };
  }
}

async function readWatermark(deps: Pick<ServiceDeps, 'db'>): Promise<Date | null> {
  const [row] = await deps.db.execute<{ until: number }>(
    sql`select extract(epoch from until)::float8 as until from ${overviewWatermark} where name = ${WATERMARK}`,
  );
  return row ? new Date(row.until * 1000) : null;
}

/** Deletes rollup rows older than the longest range needs. */
export async function pruneRollup(deps: Pick<ServiceDeps, 'db' | 'clock'>): Promise<void> {
  const cutoff = new Date(deps.clock.now().getTime() - KEEP_MS);
  await deps.db.execute(sql`delete from ${overviewHourly} where hour < ${ts(cutoff)}`);
  await deps.db.execute(sql`delete from ${overviewLatency} where hour < ${ts(cutoff)}`);
}

// ---- the overview -----------------------------------------------------------------------------

export const OVERVIEW_RANGES = ['1h', '24h', '7d', '30d'] as const;
export type OverviewRange = (typeof OVERVIEW_RANGES)[number];

/** Each range's length and the width of its chart's points. */
const RANGES: Record<OverviewRange, { ms: number; stepMs: number }> = {
  '1h': { ms: HOUR_MS, stepMs: MINUTE_MS },
  '24h': { ms: 24 * HOUR_MS, stepMs: HOUR_MS },
  '7d': { ms: 7 * 24 * HOUR_MS, stepMs: HOUR_MS },
  '30d': { ms: 30 * 24 * HOUR_MS, stepMs: 6 * HOUR_MS },
};

export const TOP_DIMENSIONS = ['tenant', 'endpoint', 'event_type'] as const;
export type TopDimension = (typeof TOP_DIMENSIONS)[number];

export interface TopFailing {
  key: string;
  failed: number;
  succeeded: number;
}

export interface SeriesPoint {
  /** The point's start, ms since the epoch. */
  at: number;
  succeeded: number;
  failed: number;
}

export interface Overview {
  range: OverviewRange;
  since: Date;
  until: Date;
  /** Messages created in the range, by status now. */
  messages: { pending: number; succeeded: number; failed: number; total: number };
  /** succeeded / (succeeded + failed) of those messages; null when none has finished. */
  successRate: number | null;
  attempts: { succeeded: number; failed: number; byErrorKind: Record<AttemptErrorKind, number> };
  /** Approximate attempt duration percentiles (within about 12%), ms; null without attempts. */
  latencyMs: { p50: number | null; p95: number | null; p99: number | null };
  queue: { ready: number; deferred: number; active: number };
  oldestPendingAt: Date | null;
  stepMs: number;
  series: SeriesPoint[];
  top: Record<TopDimension, TopFailing[]>;
  /**
   * How far behind now the rollup is (ms): large when the overview job stopped running; null before
   * its first run (everything is then counted from the log).
   */
  rollupLagMs: number | null;
}

const TOP_SHOWN = 5;
/** Candidates per dimension taken from the rollup before the live part is merged in. */
const TOP_CANDIDATES = 50;

interface Counts {
  succeeded: number;
  failed: number;
}

function add(map: Map<string, Counts>, key: string, succeeded: number, failed: number): void {
  const counts = map.get(key) ?? { succeeded: 0, failed: 0 };
  counts.succeeded += succeeded;
  counts.failed += failed;
  map.set(key, counts);
}

export async function overview(deps: Pick<ServiceDeps, 'db' | 'boss' | 'clock'>, range: OverviewRange): Promise<Overview> {
  const now = deps.clock.now();
  const { ms, stepMs } = RANGES[range];
  // Longer ranges start on a boundary of their points (hours at least, the rollup's grain): 24 h is
  // this hour and the 23 before.
  const since = range === '1h' ? new Date(now.getTime() - ms) : new Date(Math.floor(now.getTime() / stepMs) * stepMs - ms + stepMs);
  const rolledUntil = await readWatermark(deps);
  const watermark = rolledUntil ?? since;
  // The rollup covers [since, watermark) for hour ranges; the rest is counted live.
  const useRollup = range !== '1h' && watermark > since;
  const liveFrom = useRollup ? watermark : since;
  const liveStepMs = range === '1h' ? MINUTE_MS : HOUR_MS;

  const [rolledAll, rolledTop, rolledLatency, live, liveMessages, statusCounts, oldest, queues] = await Promise.all([
    useRollup
      ? deps.db.execute<{ at: number; dim: string; key: string; succeeded: number; failed: number; messages: number }>(sql`
          select extract(epoch from hour)::float8 * 1000 as at, dim, key, succeeded::float8 as succeeded, failed::float8 as failed,
                 messages::float8 as messages
          from ${overviewHourly} where dim in ('all', 'error_kind') and hour >= ${ts(since)} and hour < ${ts(watermark)}`)
      : Promise.resolve([]),
    useRollup
      ? deps.db.execute<{ dim: TopDimension; key: string; succeeded: number; failed: number }>(sql`
          select dim, key, succeeded, failed from (
            select dim, key, sum(succeeded)::float8 as succeeded, sum(failed)::float8 as failed,
                   row_number() over (partition by dim order by sum(failed) desc, key) as rank
            from ${overviewHourly}
            where dim in ('tenant', 'endpoint', 'event_type') and hour >= ${ts(since)} and hour < ${ts(watermark)}
            group by dim, key) ranked
          where rank <= ${TOP_CANDIDATES} and failed > 0`)
      : Promise.resolve([]),
    useRollup
      ? deps.db.execute<{ bucket: number; attempts: number }>(sql`
          select bucket, sum(attempts)::float8 as attempts from ${overviewLatency}
          where hour >= ${ts(since)} and hour < ${ts(watermark)} group by bucket`)
      : Promise.resolve([]),
    // The live part in one pass over the attempts after the watermark.
    deps.db.execute<{ g: string; at: number | null; key: string | null; succeeded: number; failed: number }>(sql`
      select
        case when grouping(a.tenant_id) = 0 then 'tenant' when grouping(m.event_type) = 0 then 'event_type'
             when grouping(${endpointOf}) = 0 then 'endpoint' when grouping(a.error_kind) = 0 then 'error_kind'
             when grouping(${latencyBucket(sql`a.duration_ms`)}) = 0 then 'latency' else 'all' end as g,
        case when grouping(b.at) = 0 then extract(epoch from b.at)::float8 * 1000 end as at,
        coalesce(case when grouping(a.tenant_id) = 0 then a.tenant_id end, case when grouping(m.event_type) = 0 then m.event_type end,
                 case when grouping(${endpointOf}) = 0 then ${endpointOf} end, case when grouping(a.error_kind) = 0 then a.error_kind end,
                 case when grouping(${latencyBucket(sql`a.duration_ms`)}) = 0 then ${latencyBucket(sql`a.duration_ms`)}::text end) as key,
        (count(*) filter (where a.outcome = 'succeeded'))::float8 as succeeded,
        (count(*) filter (where a.outcome = 'failed'))::float8 as failed
      from attempts a
      join messages m on m.id = a.message_id
      cross join lateral (select date_bin(${`${liveStepMs / 1000} seconds`}::interval, a.started_at, timestamptz '2000-01-01T00:00:00Z') as at) b
      where a.started_at >= ${ts(liveFrom)}
      group by grouping sets ((b.at), (a.tenant_id), (m.event_type), (${endpointOf}), (a.error_kind), (${latencyBucket(sql`a.duration_ms`)}))`),
    // Deliveries by their message's creation time, read through the messages' index.
    deps.db.execute<{ n: number }>(
      sql`select count(*)::float8 as n from messages m join deliveries d on d.message_id = m.id where m.created_at >= ${ts(liveFrom)}`,
    ),
    deps.db.execute<{ status: 'pending' | 'failed'; n: number }>(sql`
      select 'pending' as status, count(*)::float8 as n from deliveries where status = 'pending' and created_at >= ${ts(since)}
      union all
      select 'failed', count(*)::float8 from deliveries where status = 'failed' and created_at >= ${ts(since)}`),
    deps.db.execute<{ at: number | null }>(
      sql`select extract(epoch from min(created_at))::float8 * 1000 as at from deliveries where status = 'pending'`,
    ),
    deps.boss.getQueues(Object.values(DELIVERY_QUEUES)),
  ]);

  // Totals and the chart.
  const points = new Map<number, SeriesPoint>();
  const first = Math.floor(since.getTime() / stepMs) * stepMs;
  for (let at = first; at <= now.getTime(); at += stepMs) points.set(at, { at, succeeded: 0, failed: 0 });
  const pointAt = (at: number) => points.get(Math.floor(at / stepMs) * stepMs);
  const byErrorKind = Object.fromEntries(ATTEMPT_ERROR_KINDS.map((kind) => [kind, 0])) as Record<AttemptErrorKind, number>;
  const attempts = { succeeded: 0, failed: 0, byErrorKind };
  let created = 0;
  for (const row of rolledAll) {
    if (row.dim === 'all') {
      attempts.succeeded += row.succeeded;
      attempts.failed += row.failed;
      created += row.messages;
      const point = pointAt(row.at);
      if (point) {
        point.succeeded += row.succeeded;
        point.failed += row.failed;
      }
    } else if (row.key in byErrorKind) {
      byErrorKind[row.key as AttemptErrorKind] += row.failed;
    }
  }
  created += liveMessages[0]?.n ?? 0;

  const histogram = new Map<number, number>();
  for (const row of rolledLatency) histogram.set(row.bucket, (histogram.get(row.bucket) ?? 0) + row.attempts);
  const top = new Map<TopDimension, Map<string, Counts>>(TOP_DIMENSIONS.map((dim) => [dim, new Map()]));
  for (const row of rolledTop) top.get(row.dim)?.set(row.key, { succeeded: row.succeeded, failed: row.failed });

  for (const row of live) {
    switch (row.g) {
      case 'all': {
        attempts.succeeded += row.succeeded;
        attempts.failed += row.failed;
        const point = row.at === null ? undefined : pointAt(row.at);
        if (point) {
          point.succeeded += row.succeeded;
          point.failed += row.failed;
        }
        break;
      }
      case 'latency': {
        const bucket = Number(row.key);
        histogram.set(bucket, (histogram.get(bucket) ?? 0) + row.succeeded + row.failed);
        break;
      }
      case 'error_kind':
        if (row.key !== null && row.key in byErrorKind) byErrorKind[row.key as AttemptErrorKind] += row.failed;
        break;
      default: {
        const dim = top.get(row.g as TopDimension);
        if (dim && row.key !== null && (row.failed > 0 || dim.has(row.key))) add(dim, row.key, row.succeeded, row.failed);
      }
    }
  }

  const pending = statusCounts.find((row) => row.status === 'pending')?.n ?? 0;
  const failed = statusCounts.find((row) => row.status === 'failed')?.n ?? 0;
  // Messages deleted by retention stay counted as created: never let that make a negative count.
  const total = Math.max(created, pending + failed);
  const succeeded = total - pending - failed;
  const [p50, p95, p99] = percentilesOf(histogram, [0.5, 0.95, 0.99]);
  const queue = { ready: 0, deferred: 0, active: 0 };
  for (const q of queues) {
    queue.ready += q.readyCount;
    queue.deferred += q.deferredCount;
    queue.active += q.activeCount;
  }
  const oldestAt = oldest[0]?.at ?? null;
  const topOf = (dim: TopDimension): TopFailing[] =>
    [...(top.get(dim) ?? new Map<string, Counts>()).entries()]
      .filter(([, counts]) => counts.failed > 0)
      .sort(([keyA, a], [keyB, b]) => b.failed - a.failed || keyA.localeCompare(keyB))
      .slice(0, TOP_SHOWN)
      .map(([key, counts]) => ({ key, ...counts }));

  return {
    range,
    since,
    until: now,
    messages: { pending, succeeded, failed, total },
    successRate: succeeded + failed === 0 ? null : succeeded / (succeeded + failed),
    attempts,
    latencyMs: { p50: p50 ?? null, p95: p95 ?? null, p99: p99 ?? null },
    queue,
    oldestPendingAt: oldestAt === null ? null : new Date(oldestAt),
    stepMs,
    series: [...points.values()],
    top: { tenant: topOf('tenant'), endpoint: topOf('endpoint'), event_type: topOf('event_type') },
    rollupLagMs: rolledUntil === null ? null : Math.max(0, now.getTime() - rolledUntil.getTime()),
  };
}

// ---- recover preview --------------------------------------------------------------------------

/** How many failed deliveries a recover of this window would re-queue (what the console shows first). */
export async function countFailedMessages(
  deps: Pick<ServiceDeps, 'db'>,
  window: { since: Date; until: Date; tenantId?: string | undefined },
): Promise<number> {
  const [row] = await deps.db.execute<{ n: number }>(sql`
    select count(*)::float8 as n from deliveries
    where status = 'failed' and created_at >= ${ts(window.since)} and created_at < ${ts(window.until)}
      ${window.tenantId !== undefined ? sql`and tenant_id = ${window.tenantId}` : sql``}`);
  return row?.n ?? 0;
}
