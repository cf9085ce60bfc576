/**
 * The console overview's rollup (services/overview.ts): whatever part of the log is rolled up,
 * the overview counts exactly what a direct count of the log gives, never counts a row twice, and
 * its percentiles stay within a bucket of the exact ones.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { overviewWatermark } from '../../src/db/schema.ts';
import { overview, rollUpDeliveryLog, type Overview } from '../../src/services/overview.ts';
import { createTenant } from '../../src/services/tenants.ts';
import { OVERVIEW_QUEUE, registerOverview } from '../../src/worker/overview.ts';
import { startTestApi, type TestApi } from '../support/api.ts';
import { insertAttempt, insertMessage, manualClock } from '../support/log-app.ts';

const NOW = new Date('2026-03-01T12:30:00.000Z');
const clock = manualClock(NOW);
let api: TestApi;
let tenants: string[];

// A small deterministic PRNG, so a failure reproduces.
function prng(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
}

async function seed(from: Date, to: Date, count: number, random: () => number): Promise<void> {
  const types = ['run.started', 'node.completed', 'run.completed', 'run.failed'];
  const answers = [200, 200, 204, 500, 503, 404, 302, null];
  for (let i = 0; i < count; i++) {
    const createdAt = new Date(from.getTime() + Math.floor(random() * (to.getTime() - from.getTime())));
    const tenantId = tenants[Math.floor(random() * tenants.length)] as string;
    const status = (['pending', 'succeeded', 'succeeded', 'failed'] as const)[Math.floor(random() * 4)];
    const id = await insertMessage(api.deps.db, { tenantId, status, eventType: types[Math.floor(random() * types.length)], createdAt });
    const attempts = 1 + Math.floor(random() * 3);
    for (let n = 1; n <= attempts; n++) {
      const startedAt = new Date(createdAt.getTime() + n * 7_000);
      if (startedAt > to) break;
      const responseStatus = answers[Math.floor(random() * answers.length)] ?? null;
      await insertAttempt(api.deps.db, {
        messageId: id,
        tenantId,
        attempt: n,
        responseStatus,
        startedAt,
        durationMs: Math.floor(random() * 5000),
      });
    }
  }
}

/** The same numbers counted directly from the log. */
async function exact(since: Date) {
  const at = since.toISOString();
  const [messages] = await api.deps.db.execute<{ total: number; pending: number; failed: number; succeeded: number }>(sql`
    select count(*)::int as total, (count(*) filter (where status = 'pending'))::int as pending,
           (count(*) filter (where status = 'failed'))::int as failed, (count(*) filter (where status = 'succeeded'))::int as succeeded
    from deliveries where created_at >= ${at}::timestamptz`);
  const [attempts] = await api.deps.db.execute<{ succeeded: number; failed: number; p50: number; p95: number; p99: number }>(sql`
    select (count(*) filter (where outcome = 'succeeded'))::int as succeeded, (count(*) filter (where outcome = 'failed'))::int as failed,
           percentile_disc(0.5) within group (order by duration_ms) as p50, percentile_disc(0.95) within group (order by duration_ms) as p95,
           percentile_disc(0.99) within group (order by duration_ms) as p99
    from attempts where started_at >= ${at}::timestamptz`);
  const kinds = await api.deps.db.execute<{ kind: string; n: number }>(sql`
    select error_kind as kind, count(*)::int as n from attempts where started_at >= ${at}::timestamptz and error_kind is not null group by 1`);
  const byTenant = await api.deps.db.execute<{ key: string; failed: number; succeeded: number }>(sql`
    select tenant_id as key, (count(*) filter (where outcome = 'failed'))::int as failed, (count(*) filter (where outcome = 'succeeded'))::int as succeeded
    from attempts where started_at >= ${at}::timestamptz group by 1 having count(*) filter (where outcome = 'failed') > 0
    order by 2 desc, 1 limit 5`);
  return { messages, attempts, kinds: Object.fromEntries(kinds.map((row) => [row.kind, row.n])), byTenant };
}

async function expectExact(o: Overview): Promise<void> {
  const truth = await exact(o.since);
  expect(o.messages).toEqual(truth.messages);
  expect(o.attempts.succeeded).toBe(truth.attempts?.succeeded);
  expect(o.attempts.failed).toBe(truth.attempts?.failed);
  for (const [kind, n] of Object.entries(o.attempts.byErrorKind)) expect(n, kind).toBe(truth.kinds[kind] ?? 0);
  expect(o.top.tenant).toEqual(truth.byTenant);
  const series = o.series.reduce((sum, point) => ({ s: sum.s + point.succeeded, f: sum.f + point.failed }), { s: 0, f: 0 });
  expect(series).toEqual({ s: truth.attempts?.succeeded, f: truth.attempts?.failed });
  // Bucket middles are within 12% of every duration in the bucket (1 ms of rounding aside).
  for (const q of ['p50', 'p95', 'p99'] as const) {
    const want = truth.attempts?.[q] as number;
    const got = o.latencyMs[q] as number;
    expect(Math.abs(got - want), `${q}: ${got} vs ${want}`).toBeLessThanOrEqual(want * 0.12 + 1);
  }
}

async function watermark(): Promise<Date | null> {
  const [row] = await api.deps.db.select().from(overviewWatermark);
  return row?.until ?? null;
}

beforeAll(async () => {
  api = await startTestApi({ clock });
  tenants = [api.tenantId];
  for (const name of ['b', 'c', 'd']) tenants.push((await createTenant(api.deps, name)).id);
  await seed(new Date(NOW.getTime() - 30 * 3_600_000), NOW, 400, prng(7));
});

afterAll(async () => {
  await api?.close();
});

describe('overview', () => {
  it('with nothing rolled up yet, counts the log directly', async () => {
    expect(await watermark()).toBeNull();
    expect((await overview(api.deps, '24h')).rollupLagMs).toBeNull();
    for (const range of ['1h', '24h', '7d', '30d'] as const) await expectExact(await overview(api.deps, range));
  });

  it('rolled up to a moment inside an hour, adds the rest live: still exact', async () => {
    // The job leaves the last few minutes (delivery timeout + 2 min) to the live count.
    const result = await rollUpDeliveryLog(api.deps, {});
    expect(result.caughtUp).toBe(true);
    expect(result.until.getTime()).toBe(NOW.getTime() - api.deps.delivery.deliveryTimeoutMs - 120_000);
    const [rows] = await api.deps.db.execute<{ n: number }>(sql`select count(*)::int as n from overview_hourly`);
    expect(rows?.n).toBeGreaterThan(0);
    for (const range of ['24h', '7d', '30d'] as const) await expectExact(await overview(api.deps, range));
  });

  it('never counts a row twice: repeated and concurrent runs change nothing', async () => {
    const before = await overview(api.deps, '7d');
    await Promise.all([rollUpDeliveryLog(api.deps, {}), rollUpDeliveryLog(api.deps, {}), rollUpDeliveryLog(api.deps, {})]);
    expect(await overview(api.deps, '7d')).toEqual({ ...before, until: expect.any(Date) });
  });

  it('attempts and messages that come later are rolled up by the next run', async () => {
    clock.advance(90 * 60_000);
    await seed(NOW, clock.now(), 60, prng(11));
    await expectExact(await overview(api.deps, '24h'));
    await rollUpDeliveryLog(api.deps, { settleMs: 0 });
    await expectExact(await overview(api.deps, '24h'));
    expect((await overview(api.deps, '24h')).rollupLagMs).toBe(0);
  });

  it('the 1 hour range has a point per minute, the others per hour (30 days: per 6 hours)', async () => {
    expect((await overview(api.deps, '1h')).stepMs).toBe(60_000);
    expect((await overview(api.deps, '1h')).series.length).toBeGreaterThanOrEqual(60);
    expect((await overview(api.deps, '24h')).series.length).toBe(24);
    expect((await overview(api.deps, '7d')).series.length).toBe(168);
    expect((await overview(api.deps, '30d')).series.length).toBe(120);
  });

  it('the pg-boss job rolls up on its schedule (here: sent by hand)', async () => {
    await api.deps.db.execute(sql`delete from overview_watermark`);
    await api.deps.db.execute(sql`delete from overview_hourly`);
    await api.deps.db.execute(sql`delete from overview_latency`);
    const stop = await registerOverview(api.deps.boss, api.deps);
    try {
      await api.deps.boss.send(OVERVIEW_QUEUE, null);
      await expect.poll(watermark, { timeout: 15_000 }).not.toBeNull();
      await expectExact(await overview(api.deps, '24h'));
    } finally {
      await stop();
    }
  });
});
