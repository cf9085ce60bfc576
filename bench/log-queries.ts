/**
 * Explains every filter combination of the delivery log on a seeded database:
 * runs the exact SQL of GET /v1/admin/messages and GET /v1/admin/attempts (built by the service)
 * under EXPLAIN (ANALYZE, BUFFERS) and prints each plan's indexes, rows and time.
 *
 *   node bench/seed-log.ts <url>          # once: 1,000,000 messages, 3,000,000 attempts
 *   node bench/log-queries.ts <url> [--verbose] [--drop]
 *
 * Each query runs three times; the time reported is the best of them (planning + execution, warm
 * cache), the first run's is shown too. `--drop` drops the database afterwards.
 */
import postgres from 'postgres';
import { openDatabase } from '../src/db/client.ts';
import { attemptListQuery, messageListQuery, type AttemptFilter, type MessageFilter } from '../src/services/delivery-log.ts';

const LIMIT_MS = 50;

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Relation Name'?: string;
  Plans?: PlanNode[];
}

interface Explained {
  Plan: PlanNode & { 'Actual Rows': number };
  'Planning Time': number;
  'Execution Time': number;
}

interface Measured {
  label: string;
  bestMs: number;
  firstMs: number;
  rows: number;
  indexes: string[];
  seqScans: string[];
  sorts: number;
}

function walk(node: PlanNode, visit: (node: PlanNode) => void): void {
  visit(node);
  for (const child of node.Plans ?? []) walk(child, visit);
}

function describeFilter(filter: object): string {
  return (
    Object.entries(filter)
      .filter(([key]) => key !== 'limit')
      .map(
        ([key, value]) => `${key}=${value instanceof Date ? value.toISOString().slice(0, 16) : key === 'iterator' ? '…' : String(value)}`,
      )
      .join(' ') || '(no filter)'
  );
}

function subsets<T extends object>(filters: T): Partial<T>[] {
  const entries = Object.entries(filters);
  const result: Partial<T>[] = [];
  for (let mask = 0; mask < 1 << entries.length; mask++) {
    result.push(Object.fromEntries(entries.filter((_, i) => mask & (1 << i))) as Partial<T>);
  }
  return result;
}

async function main(): Promise<void> {
  const url = process.argv[2];
  if (!url || !/^postgres(ql)?:\/\//.test(url)) {
    console.error('usage: node bench/log-queries.ts <postgres url> [--verbose] [--drop]');
    process.exit(2);
  }
  const verbose = process.argv.includes('--verbose');
  const database = openDatabase(url, { poolSize: 1 });
  const raw = postgres(url, { max: 1, onnotice: () => {} });
  const results: Measured[] = [];

  async function measure(label: string, query: { toSQL(): { sql: string; params: unknown[] } }): Promise<Measured> {
    const { sql: text, params } = query.toSQL();
    const times: number[] = [];
    let last: Explained | undefined;
    for (let run = 0; run < 3; run++) {
      const [row] = await raw.unsafe(`explain (analyze, buffers, format json) ${text}`, params as postgres.ParameterOrJSON<never>[]);
      const plan = (row?.['QUERY PLAN'] as Explained[] | undefined)?.[0];
      if (!plan) throw new Error(`no plan for ${label}`);
      times.push(plan['Planning Time'] + plan['Execution Time']);
      last = plan;
    }
    const explained = last as Explained;
    const indexes = new Set<string>();
    const seqScans: string[] = [];
    let sorts = 0;
    walk(explained.Plan, (node) => {
      if (node['Index Name']) indexes.add(node['Index Name']);
      if (node['Node Type'] === 'Seq Scan') seqScans.push(node['Relation Name'] ?? '?');
      if (node['Node Type'].includes('Sort')) sorts++;
    });
    const measured = {
      label,
      bestMs: Math.min(...times),
      firstMs: times[0] as number,
      rows: explained.Plan['Actual Rows'],
      indexes: [...indexes],
      seqScans,
      sorts,
    };
    results.push(measured);
    const flag = measured.bestMs > LIMIT_MS || seqScans.length > 0 ? ' <<<' : '';
    console.log(
      `${measured.bestMs.toFixed(2).padStart(8)} ms (first ${measured.firstMs.toFixed(1).padStart(6)})  rows ${String(measured.rows).padStart(3)}  ` +
        `${(seqScans.length ? `SEQ SCAN ${seqScans.join(',')}` : measured.indexes.join('+')).padEnd(58)} ${label}${flag}`,
    );
    if (verbose) {
      const lines = await raw.unsafe(`explain (analyze, buffers) ${text}`, params as postgres.ParameterOrJSON<never>[]);
      for (const line of lines) console.log(`      ${String(line['QUERY PLAN'])}`);
    }
    return measured;
  }

  try {
    const [bounds] = await raw`select max(created_at) as newest, count(*)::int as n from messages`;
    if (!bounds || bounds.n === 0) throw new Error('the database has no messages: run bench/seed-log.ts first');
    const newest = bounds.newest as Date;
    const ago = (days: number) => new Date(newest.getTime() - days * 86_400_000);
    const [big] =
      await raw`select run_id, workflow_id from messages where tenant_id = 'ten_bench_0' and created_at < ${ago(15)} order by created_at desc limit 1`;
    const [small] =
      await raw`select run_id, workflow_id from messages where tenant_id = 'ten_bench_9' and created_at < ${ago(2)} order by created_at desc limit 1`;
    const [recent] =
      await raw`select m.run_id, m.workflow_id from messages m join deliveries d on d.message_id = m.id where d.tenant_id = 'ten_bench_1' and d.status = 'pending' order by d.created_at desc limit 1`;
    const [busy] = await raw`select message_id from attempts where started_at < ${ago(12)} order by started_at desc limit 1`;
    console.log(`${bounds.n} messages; newest ${newest.toISOString()}\n`);

    const messageSets: Array<Omit<MessageFilter, 'limit' | 'iterator'>> = [
      // Dense values: the big tenant, the common type, a 10-day window in the middle.
      {
        status: 'succeeded',
        tenantId: 'ten_bench_0',
        runId: big?.run_id,
        workflowId: big?.workflow_id,
        eventType: 'node.completed',
        since: ago(20),
        until: ago(10),
      },
      // Rare values: failed, a small tenant, the rarest type, a one-day window.
      {
        status: 'failed',
        tenantId: 'ten_bench_9',
        runId: small?.run_id,
        workflowId: small?.workflow_id,
        eventType: 'run.canceled',
        since: ago(3),
        until: ago(2),
      },
      // What on-call asks during an incident: pending, recent.
      {
        status: 'pending',
        tenantId: 'ten_bench_1',
        runId: recent?.run_id,
        workflowId: recent?.workflow_id,
        eventType: 'node.failed',
        since: ago(1 / 24),
      },
      // Values that match nothing together (an unknown workflow, a type the tenant never had).
      { status: 'pending', tenantId: 'ten_bench_9', workflowId: 'wf_unknown', eventType: 'run.canceled', until: ago(25) },
      // Applications: the big tenant's busy one and one of its endpoints; a small tenant's.
      { status: 'failed', tenantId: 'ten_bench_0', appId: 'app_b00', endpointId: 'ep_b001', eventType: 'invoice.paid', since: ago(7) },
      { status: 'pending', tenantId: 'ten_bench_9', appId: 'app_b91', endpointId: 'ep_b912', since: ago(1), until: ago(1 / 24) },
      { status: 'succeeded', appId: 'app_b50', endpointId: 'ep_b500', eventType: 'customer.updated', until: ago(10) },
    ];
    console.log('GET /v1/admin/messages, limit 50');
    let combos = 0;
    for (const values of messageSets) {
      for (const filter of subsets(values)) {
        combos++;
        await measure(`messages ${describeFilter(filter)}`, messageListQuery(database.db, { ...filter, limit: 50 }));
      }
    }
    // Page 2 of a few lists: the keyset condition must stay on the same index.
    for (const filter of [
      {},
      { status: 'failed' as const },
      { tenantId: 'ten_bench_0', eventType: 'node.completed' },
      { workflowId: big?.workflow_id as string },
      { appId: 'app_b00' },
      { endpointId: 'ep_b001', status: 'succeeded' as const },
    ]) {
      const first = await messageListQuery(database.db, { ...filter, limit: 50 });
      const last = first.at(-2);
      if (!last) continue;
      const iterator = Buffer.from(`${last.cursorAt}|${last.id}|${last.endpointId}`).toString('base64url');
      await measure(`messages page 2 ${describeFilter(filter)}`, messageListQuery(database.db, { ...filter, limit: 50, iterator }));
    }

    const attemptSets: Array<Omit<AttemptFilter, 'limit' | 'iterator'>> = [
      { messageId: busy?.message_id, status: 'failed', statusCodeClass: 5, since: ago(20), until: ago(10) },
      { endpointId: 'ep_b001', status: 'failed', since: ago(5) },
      { messageId: busy?.message_id, status: 'succeeded', statusCodeClass: 2, since: ago(3), until: ago(2) },
      // A 2xx that still failed (body timed out) is rare; succeeded with a 5xx never happens.
      { status: 'failed', statusCodeClass: 2, since: ago(20) },
      { status: 'succeeded', statusCodeClass: 5, until: ago(1) },
      { status: 'failed', statusCodeClass: 0 },
      { statusCodeClass: 1, since: ago(29) },
      { statusCodeClass: 3, until: ago(15) },
    ];
    console.log('\nGET /v1/admin/attempts, limit 50');
    for (const values of attemptSets) {
      for (const filter of subsets(values)) {
        combos++;
        await measure(`attempts ${describeFilter(filter)}`, attemptListQuery(database.db, { ...filter, limit: 50 }));
      }
    }

    const slow = results.filter((r) => r.bestMs > LIMIT_MS);
    const seq = results.filter((r) => r.seqScans.length > 0);
    const sorted = results.map((r) => r.bestMs).sort((a, b) => a - b);
    const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]?.toFixed(2);
    const usage = new Map<string, number>();
    for (const r of results) for (const index of r.indexes) usage.set(index, (usage.get(index) ?? 0) + 1);
    console.log(`\n${results.length} queries (${combos} filter combinations + page-2 checks)`);
    console.log(`time (best of 3): p50 ${pct(50)} ms, p95 ${pct(95)} ms, max ${sorted.at(-1)?.toFixed(2)} ms`);
    console.log(
      `over ${LIMIT_MS} ms: ${slow.length}; with a sequential scan: ${seq.length}; with a sort node: ${results.filter((r) => r.sorts > 0).length}`,
    );
    console.log(
      `indexes used: ${[...usage]
        .sort((a, b) => b[1] - a[1])
        .map(([name, n]) => `${name} ${n}`)
        .join(', ')}`,
    );
    for (const r of [...slow, ...seq]) console.log(`  !! ${r.label}: ${r.bestMs.toFixed(1)} ms ${r.seqScans.join(',')}`);
    process.exitCode = slow.length + seq.length > 0 ? 1 : 0;
  } finally {
    await raw.end();
    await database.close();
  }

  if (process.argv.includes('--drop')) {
    const parsed = new URL(url);
    const name = decodeURIComponent(parsed.pathname.slice(1));
    parsed.pathname = '/postgres';
    const admin = postgres(parsed.toString(), { max: 1, onnotice: () => {} });
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
    console.log(`dropped ${name}`);
  }
}

await main();
