/**
 * Seeds a big delivery log directly in SQL (generate_series), for bench/log-queries.ts.
 *
 *   node bench/seed-log.ts <database url> [--messages 1000000] [--attempts-per-message 3]
 *
 * The database is created if missing and migrated first. The data is shaped like a busy install:
 * 30 days of messages, 10 tenants (one has half the traffic, several are small); four in five
 * messages belong to runs (5 per run, 200 workflows, node.completed common and run.canceled rare),
 * one in five to applications (2 per tenant, 3 endpoints each, each message fanned out to 2 of
 * them); ~3% of deliveries failed, pending ones mostly recent, and attempts mixing 2xx, 5xx, 4xx,
 * redirects and no-response failures.
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
    await step(
      'truncate',
      () => sql`truncate attempts, deliveries, messages, endpoints, applications, runs, signing_secrets, api_keys, tenants cascade`,
    );
    await step(
      'tenants',
      () => sql`
      insert into tenants (id, name, created_at)
      select 'ten_bench_' || t, 'bench tenant ' || t, now() - interval '400 days' from generate_series(0, 9) t`,
    );
    const runMessages = options.messages - Math.floor(options.messages / 5);
    const appMessages = options.messages - runMessages;
    const runCount = Math.ceil(runMessages / 5);
    // Tenant of run r: 50% tenant 0, 20% tenant 1, 10% tenant 2, the rest spread over 3..9.
    const tenantOfRun = `'ten_bench_' || (case when (r * 7919) % 100 < 50 then 0 when (r * 7919) % 100 < 70 then 1
      when (r * 7919) % 100 < 80 then 2 else 3 + (r * 7919) % 7 end)`;
    // A delivery's status from its number i among n: pending mostly recent, ~3% failed.
    const statusOf = (i: string, n: string) => `case when ${i} >= ${n} - 2000 and ${i} % 2 = 0 then 'pending'
               when (${i}::bigint * 2654435761) % 1000 = 999 then 'pending'
               when (${i}::bigint * 2654435761) % 100 < 3 then 'failed'
               else 'succeeded' end`;
    await step(`runs and their webhook endpoints (${runCount})`, async () => {
      await sql.unsafe(
        `
      insert into runs (id, tenant_id, workflow_id, status, completed_nodes, failed_nodes, webhook, endpoint_id, created_at)
      select 'run_b' || lpad(r::text, 9, '0'), ${tenantOfRun}, 'wf_' || (r * 31) % 200, 'COMPLETED', 3, 0,
        '{"url":"https://receiver.example/hooks","events":[],"metadata":null,"headers":{}}'::jsonb,
        'ep_r' || lpad(r::text, 9, '0'),
        now() - interval '30 days' + (r * 5) * (interval '30 days' / $1::int)
      from generate_series(0, $2::int - 1) r`,
        [runMessages, runCount],
      );
      await sql`
      insert into endpoints (id, tenant_id, kind, run_id, url, created_at, updated_at)
      select endpoint_id, tenant_id, 'run', id, 'https://receiver.example/hooks', created_at, created_at from runs`;
    });
    // Run message i belongs to run i / 5; k = i % 5 is its place in the run.
    await step(`run messages and deliveries (${runMessages})`, async () => {
      await sql.unsafe(
        `
      insert into messages (id, tenant_id, run_id, workflow_id, event_id, event_type, payload, created_at)
      select
        'msg_' || lpad(i::text, 10, '0') || substr(md5(i::text), 1, 12),
        ${tenantOfRun},
        'run_b' || lpad(r::text, 9, '0'),
        'wf_' || (r * 31) % 200,
        'evt_' || lpad(i::text, 10, '0'),
        case k when 0 then 'run.started' when 1 then 'node.completed' when 2 then 'node.completed'
          when 3 then case when r % 10 = 0 then 'node.failed' else 'node.completed' end
          else case when r % 10 = 0 then 'run.failed' when r % 100 = 1 then 'run.canceled' else 'run.completed' end end,
        '{"success":true,"type":"node.completed","runId":"run_b' || lpad(r::text, 9, '0')
          || '","workflowId":"wf_x","data":{"status":"COMPLETED","completedNodes":3,"failedNodes":0},'
          || '"metadata":{"orderId":"order_' || i || '"},"error":null,"createdAt":"2026-01-01T00:00:00.000Z"}',
        now() - interval '30 days' + i * (interval '30 days' / $1::int)
      from (select i, i / 5 as r, i % 5 as k from generate_series(0, $1::int - 1) i) s`,
        [runMessages],
      );
      await sql.unsafe(
        `
      insert into deliveries (message_id, endpoint_id, tenant_id, status, attempt_count, steps, next_attempt_at, created_at, delivered_at)
      select m.id, 'ep_r' || lpad((i / 5)::text, 9, '0'), m.tenant_id, status, $2::int, $2::int,
        case when status = 'pending' then m.created_at + interval '5 minutes' end, m.created_at,
        case when status = 'succeeded' then m.created_at + interval '10 seconds' end
      from (select m.*, substr(m.id, 5, 10)::int as i, ${statusOf('substr(m.id, 5, 10)::int', '$1::int')} as status
            from messages m where m.run_id is not null) m`,
        [runMessages, options.attemptsPerMessage],
      );
    });
    // Two applications per tenant with three endpoints each; application message j goes to two of
    // its application's endpoints (fan-out under one message id).
    await step(`applications, endpoints, application messages (${appMessages}) and their deliveries`, async () => {
      await sql`
      insert into applications (id, tenant_id, uid, name, created_at, updated_at)
      select 'app_b' || t || a, 'ten_bench_' || t, 'customer-' || t || '-' || a, 'Customer ' || t || '-' || a,
        now() - interval '60 days', now() - interval '60 days'
      from generate_series(0, 9) t cross join generate_series(0, 1) a`;
      await sql`
      insert into endpoints (id, tenant_id, kind, app_id, url, created_at, updated_at)
      select 'ep_b' || t || a || e, 'ten_bench_' || t, 'app', 'app_b' || t || a, 'https://customer-' || t || a || '.example/hooks/' || e,
        now() - interval '60 days', now() - interval '60 days'
      from generate_series(0, 9) t cross join generate_series(0, 1) a cross join generate_series(0, 2) e`;
      await sql.unsafe(
        `
      insert into messages (id, tenant_id, app_id, event_id, event_type, payload, created_at)
      select 'msg_a' || lpad(j::text, 9, '0') || substr(md5(j::text), 1, 12), 'ten_bench_' || t, 'app_b' || t || a,
        'order-' || j, (array['invoice.paid', 'invoice.created', 'customer.updated'])[1 + j % 3],
        '{"type":"invoice.paid","id":"' || j || '"}',
        now() - interval '30 days' + j * (interval '30 days' / $1::int)
      from (select j, (case when (j * 7919) % 100 < 50 then 0 else (j * 7919) % 10 end) as t, j % 2 as a
            from generate_series(0, $1::int - 1) j) s`,
        [appMessages],
      );
      await sql.unsafe(
        `
      insert into deliveries (message_id, endpoint_id, tenant_id, status, attempt_count, steps, next_attempt_at, created_at, delivered_at)
      select m.id, m.app_ep || ((j + e) % 3), m.tenant_id, status, $2::int, $2::int,
        case when status = 'pending' then m.created_at + interval '5 minutes' end, m.created_at,
        case when status = 'succeeded' then m.created_at + interval '10 seconds' end
      from (select m.*, 'ep_b' || substr(m.app_id, 6) as app_ep, substr(m.id, 6, 9)::int as j from messages m where m.app_id is not null) m
      cross join generate_series(0, 1) e
      cross join lateral (select ${statusOf('(2 * j + e)', '2 * $1::int')} as status) st`,
        [appMessages, options.attemptsPerMessage],
      );
    });
    // Attempt n of a delivery: the last one of a succeeded delivery succeeded, every other failed.
    await step(`attempts (${options.attemptsPerMessage} per delivery)`, () =>
      sql.unsafe(
        `
      insert into attempts (id, message_id, endpoint_id, tenant_id, url, attempt, trigger, outcome, started_at, duration_ms,
        response_status, response_body, error_kind, error_message, next_attempt_at)
      select
        'atmpt_' || lpad((j.seq)::text, 11, '0') || substr(md5(j.seq::text), 1, 12),
        j.message_id, j.endpoint_id, j.tenant_id, j.url, j.n, 'scheduled',
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
        select d.message_id, d.endpoint_id, d.tenant_id, e.url, n,
          (row_number() over ()) as seq,
          d.created_at + (n - 1) * interval '7 seconds' as started,
          (d.status = 'succeeded' and n = $1::int) as ok,
          h,
          5 + (h * 13) % 3000 as duration,
          case when d.status = 'succeeded' and n = $1::int then (case when h % 10 = 0 then 204 else 200 end)
               when h % 100 < 40 then 500 when h % 100 < 55 then 503 when h % 100 < 65 then 404
               when h % 100 < 70 then 429 when h % 100 < 72 then 302 when h % 100 < 73 then 200
               else null end as status
        from deliveries d
        join endpoints e on e.id = d.endpoint_id
        cross join generate_series(1, $1::int) n
        cross join lateral (select hashtext(d.message_id || d.endpoint_id || n)::bigint & 2147483647 as h) hh
      ) j`,
        [options.attemptsPerMessage],
      ),
    );
    await step('vacuum analyze', async () => {
      for (const table of ['tenants', 'runs', 'applications', 'endpoints', 'messages', 'deliveries', 'attempts']) {
        await sql.unsafe(`vacuum (analyze) ${table}`);
      }
    });
    const [size] = await sql`select pg_size_pretty(pg_total_relation_size('messages')) as messages,
      pg_size_pretty(pg_total_relation_size('deliveries')) as deliveries,
      pg_size_pretty(pg_total_relation_size('attempts')) as attempts`;
    console.log(
      `done in ${((performance.now() - started) / 1000).toFixed(1)} s; messages ${size?.messages}, deliveries ${size?.deliveries}, attempts ${size?.attempts} (with indexes)`,
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
