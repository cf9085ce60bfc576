/**
 * Seeds a big delivery log directly in SQL (generate_series), for bench/log-queries.ts.
 *
 *   node bench/seed-log.ts <database url> [--messages 1000000] [--attempts-per-message 3]
 *
 * The database is created if missing and migrated first. The data is shaped like a busy install:
 * 30 days of messages, 10 tenants (one has half the traffic, several are small), 5 messages per
 * run, 200 workflows, node.completed common and run.canceled rare, ~3% failed, pending ones
 * mostly recent, and attempts mixing 2xx, 5xx, 4xx, redirects and no-response failures.
 * Ends with VACUUM ANALYZE: fresh statistics, and a visibility map like a table autovacuum keeps.
 */
import postgres from 'postgres';
import { migrateDatabase } from '../src/db/migrate.ts';

export interface SeedOptions {
  messages: number;
  attemptsPerMessage: number;
}

export const BENCH_TENANTS = Array.from({ length: 10 }, (_, i) => `ten_bench_${i}`);

function argument(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  if (index < 0) return fallback;
  const value = Number(process.argv[index + 1]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} takes a positive integer`);
  return value;
}

/** Creates the database named in the URL when it does not exist (connecting to `postgres`). */
export async function ensureDatabase(url: string): Promise<void> {
  const parsed = new URL(url);
  const name = decodeURIComponent(parsed.pathname.slice(1));
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`unexpected database name ${JSON.stringify(name)}`);
  parsed.pathname = '/postgres';
  const admin = postgres(parsed.toString(), { max: 1, onnotice: () => {} });
  try {
    const [found] = await admin`select 1 as found from pg_database where datname = ${name}`;
    if (!found) await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.end();
  }
}

export async function seedLog(url: string, options: SeedOptions): Promise<void> {
  await ensureDatabase(url);
  await migrateDatabase(url);
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  const started = performance.now();
  const step = async (label: string, run: () => Promise<unknown>) => {
    const at = performance.now();
    await run();
    console.log(`${label}: ${((performance.now() - at) / 1000).toFixed(1)} s`);
  };
  try {
    await sql`set synchronous_commit = off`;
    await sql`set maintenance_work_mem = '256MB'`;
    await step('truncate', () => sql`truncate attempts, messages, runs, signing_secrets, api_keys, tenants cascade`);
    await step(
      'tenants',
      () => sql`
      insert into tenants (id, name, created_at)
      select 'ten_bench_' || t, 'bench tenant ' || t, now() - interval '400 days' from generate_series(0, 9) t`,
    );
    const runCount = Math.ceil(options.messages / 5);
    // Tenant of run r: 50% tenant 0, 20% tenant 1, 10% tenant 2, the rest spread over 3..9.
    const tenantOfRun = `'ten_bench_' || (case when (r * 7919) % 100 < 50 then 0 when (r * 7919) % 100 < 70 then 1
      when (r * 7919) % 100 < 80 then 2 else 3 + (r * 7919) % 7 end)`;
    await step(`runs (${runCount})`, () =>
      sql.unsafe(
        `
      insert into runs (id, tenant_id, workflow_id, status, completed_nodes, failed_nodes, webhook, created_at)
      select 'run_b' || lpad(r::text, 9, '0'), ${tenantOfRun}, 'wf_' || (r * 31) % 200, 'COMPLETED', 3, 0,
        '{"url":"https://receiver.example/hooks","events":[],"metadata":null,"headers":{}}'::jsonb,
        now() - interval '30 days' + (r * 5) * (interval '30 days' / $1::int)
      from generate_series(0, $2::int - 1) r`,
        [options.messages, runCount],
      ),
    );
    // Message i belongs to run i / 5; k = i % 5 is its place in the run.
    await step(`messages (${options.messages})`, () =>
      sql.unsafe(
        `
      insert into messages (id, tenant_id, run_id, workflow_id, event_id, event_type, url, headers, payload, status,
        attempt_count, next_attempt_at, created_at, delivered_at)
      select
        'msg_' || lpad(i::text, 10, '0') || substr(md5(i::text), 1, 12),
        ${tenantOfRun},
        'run_b' || lpad(r::text, 9, '0'),
        'wf_' || (r * 31) % 200,
        'evt_' || lpad(i::text, 10, '0'),
        case k when 0 then 'run.started' when 1 then 'node.completed' when 2 then 'node.completed'
          when 3 then case when r % 10 = 0 then 'node.failed' else 'node.completed' end
          else case when r % 10 = 0 then 'run.failed' when r % 100 = 1 then 'run.canceled' else 'run.completed' end end,
        'https://receiver.example/hooks',
        '{}'::jsonb,
        '{"success":true,"type":"node.completed","runId":"run_b' || lpad(r::text, 9, '0')
          || '","workflowId":"wf_x","data":{"status":"COMPLETED","completedNodes":3,"failedNodes":0},'
          || '"metadata":{"orderId":"order_' || i || '"},"error":null,"createdAt":"2026-01-01T00:00:00.000Z"}',
        status,
        3,
        case when status = 'pending' then created + interval '5 minutes' end,
        created,
        case when status = 'succeeded' then created + interval '10 seconds' end
      from (
        select i, i / 5 as r, i % 5 as k,
          now() - interval '30 days' + i * (interval '30 days' / $1::int) as created,
          case when i >= $1::int - 2000 and i % 2 = 0 then 'pending'
               when (i::bigint * 2654435761) % 1000 = 999 then 'pending'
               when (i::bigint * 2654435761) % 100 < 3 then 'failed'
               else 'succeeded' end as status
        from generate_series(0, $1::int - 1) i
      ) s`,
        [options.messages],
      ),
    );
    // Attempt n of a message: the last one of a succeeded message succeeded, every other failed.
    await step(`attempts (${options.messages * options.attemptsPerMessage})`, () =>
      sql.unsafe(
        `
      insert into attempts (id, message_id, tenant_id, attempt, trigger, outcome, started_at, duration_ms,
        response_status, response_body, error_kind, error_message, next_attempt_at)
      select
        'att_' || lpad((j.seq)::text, 11, '0') || substr(md5(j.seq::text), 1, 11),
        j.message_id, j.tenant_id, j.n, 'scheduled',
        case when j.ok then 'succeeded' else 'failed' end,
        j.started, j.duration,
        j.status,
        case when j.status is null then null else 'answer ' || j.status end,
        case when j.ok then null when j.status is null then (array['timeout', 'connection', 'dns', 'tls'])[1 + j.h % 4]
             when j.status between 300 and 399 then 'redirect'
             when j.status between 200 and 299 then 'timeout' else 'http_status' end,
        case when j.ok then null else 'failed' end,
        null
      from (
        select m.id as message_id, m.tenant_id, n,
          (row_number() over ()) as seq,
          m.created_at + (n - 1) * interval '7 seconds' as started,
          (m.status = 'succeeded' and n = $1::int) as ok,
          h,
          5 + (h * 13) % 3000 as duration,
          case when m.status = 'succeeded' and n = $1::int then (case when h % 10 = 0 then 204 else 200 end)
               when h % 100 < 40 then 500 when h % 100 < 55 then 503 when h % 100 < 65 then 404
               when h % 100 < 70 then 429 when h % 100 < 72 then 302 when h % 100 < 73 then 200
               else null end as status
        from messages m
        cross join generate_series(1, $1::int) n
        cross join lateral (select hashtext(m.id || n)::bigint & 2147483647 as h) hh
      ) j`,
        [options.attemptsPerMessage],
      ),
    );
    await step('vacuum analyze', async () => {
      for (const table of ['tenants', 'runs', 'messages', 'attempts']) await sql.unsafe(`vacuum (analyze) ${table}`);
    });
    const [size] = await sql`select pg_size_pretty(pg_total_relation_size('messages')) as messages,
      pg_size_pretty(pg_total_relation_size('attempts')) as attempts`;
    console.log(
      `done in ${((performance.now() - started) / 1000).toFixed(1)} s; messages ${size?.messages}, attempts ${size?.attempts} (with indexes)`,
    );
  } finally {
    await sql.end();
  }
}

if (import.meta.main) {
  const url = process.argv[2];
  if (!url || !/^postgres(ql)?:\/\//.test(url)) {
    console.error('usage: node bench/seed-log.ts <postgres url> [--messages N] [--attempts-per-message N]');
    process.exit(2);
  }
  await seedLog(url, { messages: argument('messages', 1_000_000), attemptsPerMessage: argument('attempts-per-message', 3) });
}
