/**
 * Throttling (`throttleRate`, messages per second) enforced across every worker process with
 * nothing but PostgreSQL: a GCRA whose state, the theoretical arrival time (TAT), lives on the
 * row of the throttle's key — the endpoint when it has a rate of its own (a run's webhook too),
 * else its application. Reserving n slots is one UPDATE that moves the TAT n intervals past
 * max(TAT, now) and tells where the first slot is. A worker sends at its slot: it waits locally
 * when the slot is near (within HORIZON_MS; holding no connection slot meanwhile), else it hands the job back to the queue to run just
 * before the slot, carrying the slot with it so it is not reserved twice. Throttled messages
 * wait; they never fail for it, and waiting is never an attempt. Only throttled deliveries pay
 * the statement. Times are PostgreSQL's, so workers on machines with skewed clocks agree.
 */
import type postgres from 'postgres';

/** A slot nearer than this is waited for in the worker; a later one goes back to the queue. */
export const HORIZON_MS = 2_000;
/**
 * A handed-back job becomes due this long before its slot, so that the queue's poll (every second
 * at most) fetches it before the slot, and the worker then waits for the slot itself.
 */
export const LEAD_MS = 1_500;

export type ThrottleScope = 'endpoint' | 'app';

export interface ThrottleKey {
  scope: ThrottleScope;
  /** The endpoint's or application's id. */
  id: string;
  /** Messages per second. */
  rate: number;
}

export interface SlotRequest {
  key: ThrottleKey;
  /** A slot reserved earlier (epoch ms, PostgreSQL's clock), carried by a handed-back job. */
  reservedAt?: number | undefined;
}

export interface Slots {
  /** PostgreSQL's now (epoch ms) when the slots were reserved. */
  nowMs: number;
  /** Per request: ms from `nowMs` to its slot (0 or less: now). */
  delays: number[];
}

/**
 * Reserves one slot per request that carries none (in request order per key) and answers, for
 * every request, how far from now its slot is. One statement.
 */
export async function reserveSlots(sql: postgres.Sql, requests: readonly SlotRequest[]): Promise<Slots> {
  const counts = new Map<string, { key: ThrottleKey; n: number }>();
  const keyText = (key: ThrottleKey): string => `${key.scope} ${key.id}`;
  for (const request of requests) {
    if (request.reservedAt !== undefined) continue;
    const entry = counts.get(keyText(request.key)) ?? { key: request.key, n: 0 };
    entry.n++;
    counts.set(keyText(request.key), entry);
  }
  const wanted = [...counts.values()];
  const rows = await sql.unsafe<{ scope: ThrottleScope; id: string; first_ms: number | null; now_ms: number }[]>(
    RESERVE,
    [wanted.map((w) => w.key.scope), wanted.map((w) => w.key.id), wanted.map((w) => w.n), wanted.map((w) => w.key.rate)],
    { prepare: true },
  );
  const nowMs = rows[0]?.now_ms ?? Date.now();
  const next = new Map<string, { at: number; interval: number }>();
  for (const row of rows) {
    if (row.first_ms === null) continue;
    const rate = counts.get(`${row.scope} ${row.id}`)?.key.rate ?? 1;
    next.set(`${row.scope} ${row.id}`, { at: row.first_ms, interval: 1000 / rate });
  }
  const delays = requests.map((request) => {
    if (request.reservedAt !== undefined) return request.reservedAt - nowMs;
    const slot = next.get(keyText(request.key));
    // The key's row is gone (endpoint or application deleted): nothing to wait for.
    if (slot === undefined) return 0;
    const at = slot.at;
    slot.at += slot.interval;
    return at - nowMs;
  });
  return { nowMs, delays };
}

// Each key's TAT moves n intervals past max(TAT, now); the first slot is where it stood. The row
// with now_ms only is there so that a call whose requests all carry slots still reads the time.
const RESERVE = `
  with wanted as (
    select x.scope, x.id, x.n, x.rate from unnest($1::text[], $2::text[], $3::int[], $4::int[]) as x(scope, id, n, rate)
  ),
  endpoint_slots as (
    update endpoints e set throttle_tat = greatest(coalesce(e.throttle_tat, now()), now()) + make_interval(secs => w.n::float8 / w.rate)
    from wanted w where w.scope = 'endpoint' and e.id = w.id
    returning 'endpoint'::text as scope, e.id, e.throttle_tat - make_interval(secs => w.n::float8 / w.rate) as first
  ),
  app_slots as (
    update applications a set throttle_tat = greatest(coalesce(a.throttle_tat, now()), now()) + make_interval(secs => w.n::float8 / w.rate)
    from wanted w where w.scope = 'app' and a.id = w.id
    returning 'app'::text as scope, a.id, a.throttle_tat - make_interval(secs => w.n::float8 / w.rate) as first
  ),
  slots as (select * from endpoint_slots union all select * from app_slots)
  select s.scope, s.id, extract(epoch from s.first)::float8 * 1000 as first_ms, extract(epoch from now())::float8 * 1000 as now_ms
  from slots s
  union all
  select null, null, null, extract(epoch from now())::float8 * 1000`;
