/**
 * Orbit's benchmark (issue 6): `npm run bench`, or `node bench/run.ts [phase…] [--cpu-prof]`.
 *
 * Starts Orbit as a user would (`node src/main.ts serve`, embedded PostgreSQL in a fresh temp
 * ORBIT_DATA_DIR, LOG_LEVEL=warn), a receiver in its own process (bench/receiver.ts), and drives
 * the public HTTP API with undici. Phases (all by default, in this order):
 *   relay       the in-memory relay ceiling (bench/relay.ts: same API, no database) with the
 *               throughput workload
 *   throughput  20,000 events (4,000 runs × run.started, 3 × node.completed, run.completed), 64
 *               concurrent clients, first request → last receipt; statements per delivery from
 *               pg_stat_statements over the phase
 *   ordered     the throughput workload again with every run's webhook `"ordered": true` (each run's
 *               messages one at a time, in order): what ordered delivery costs beside it
 *   latency     a fixed 1,000 events/s for 10 s, request sent → receipt (by svix-id = messageId)
 *   curve       the same at 100, 500, 1,000 and 2,000 events/s, 5 s each: p50/p99 against offered
 *               load, drawn as bench/latency-curve.svg
 *   fanout      the Svix-compatible API: one application with 10 endpoints, 2,000 messages sent by
 *               64 concurrent clients (POST /api/v1/app/{app}/msg with an idempotency-key, as the
 *               svix SDK sends them), first request → last receipt as deliveries/s (20,000)
 *   drain       200,000 messages queued while no worker runs (`orbit api` up; rows inserted by SQL
 *               in the shape recordEvent writes, jobs by the queue's own `enqueueDeliveries`),
 *               then one `orbit worker`: deliveries/s and the worker's peak RSS
 *   origin      one receiver origin: 30,000 messages queued, drained by 1, 2 and 4 `orbit worker`
 *               processes sharing its cap: deliveries/s for each; then again with each worker held
 *               to a quarter core by a cgroup quota (root only), where the workers are the limit
 * Every phase reports CPU time per delivery for each process (the API and worker processes of
 * `orbit serve`, PostgreSQL, the receiver), and the summary leads with Orbit / the relay ceiling.
 * Prints the results and, for a run of every phase, writes bench/RESULTS.md.
 *
 * --cpu-prof: runs the Orbit processes with `node --cpu-prof` (profiles under bench/profiles/) and
 * appends a summary of each to the output.
 * Knobs (environment): BENCH_RUNS, BENCH_CLIENTS, BENCH_LATENCY_RATE, BENCH_LATENCY_SECONDS,
 * BENCH_FANOUT_MESSAGES, BENCH_DRAIN_MESSAGES, BENCH_DRAIN_TIMEOUT (s); ORBIT_* variables pass
 * through to Orbit.
 */
import { fork, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PgBoss } from 'pg-boss';
import postgres from 'postgres';
import { Pool } from 'undici';
import { buildPayload } from '../src/domain/payload.ts';
import type { EventType } from '../src/domain/run.ts';
import { newId } from '../src/lib/ids.ts';
import { enqueueDeliveries, type PlannedDelivery } from '../src/queue/delivery-queue.ts';
import { startOrbit as startOrbitProcess } from '../scripts/lib/orbit-process.ts';
import { openCpuQuota, type CpuQuota } from './lib/cpu-quota.ts';
import { formatProfileSummary, summarizeProfile } from './profile-summary.ts';

// ---------------------------------------------------------------------------------------------
// Settings

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const envNumber = (name: string, fallback: number): number => {
  const value = process.env[name];
  return value === undefined || value === '' ? fallback : Number(value);
};
const RUNS = envNumber('BENCH_RUNS', 4_000);
const NODES_PER_RUN = 3;
const EVENTS_PER_RUN = NODES_PER_RUN + 2;
const CLIENTS = envNumber('BENCH_CLIENTS', 64);
const LATENCY_RATE = envNumber('BENCH_LATENCY_RATE', 1_000);
const LATENCY_SECONDS = envNumber('BENCH_LATENCY_SECONDS', 10);
const DRAIN_MESSAGES = envNumber('BENCH_DRAIN_MESSAGES', 200_000);
const FANOUT_MESSAGES = envNumber('BENCH_FANOUT_MESSAGES', 2_000);
const FANOUT_ENDPOINTS = 10;
const DRAIN_TIMEOUT_S = envNumber('BENCH_DRAIN_TIMEOUT', 150);
// Receiver origins (ports): 1 by default, so one origin's cap (ORBIT_MAX_CONNECTIONS_PER_ORIGIN) applies.
const ORIGINS = envNumber('BENCH_ORIGINS', 1);
// `npm run bench` must end within 5 minutes even while Orbit is slow: every phase is capped, and the
// drain gets what is left of this budget.
const BUDGET_S = envNumber('BENCH_BUDGET', 900);
const CREATE_CAP_S = 25;
const THROUGHPUT_CAP_S = envNumber('BENCH_THROUGHPUT_CAP', 45);
const TAIL_CAP_S = 30;

// Server settings to try on top of Orbit's (`BENCH_PG_SETTINGS='commit_delay=100 wal_compression=lz4'`),
// set with the bench's own before its one restart.
const EXTRA_PG_SETTINGS: [string, string][] = (process.env['BENCH_PG_SETTINGS'] ?? '')
  .split(/\s+/)
  .filter(Boolean)
  .map((setting) => {
    const match = /^([a-z_][a-z0-9_.]*)=(.+)$/.exec(setting);
    if (!match) throw new Error(`BENCH_PG_SETTINGS: "${setting}" is not name=value`);
    return [match[1] as string, match[2] as string];
  });

const TARGETS = {
  ratio: 0.35,
  throughput: 5_000,
  latencyP50: 10,
  latencyP99: 50,
  drain: 8_000,
  rssMiB: 300,
  statements: 3,
  originScale: 1.6,
};
// The latency curve: offered loads (events/s), each held this long.
const CURVE_RATES = [100, 500, 1_000, 2_000];
const CURVE_SECONDS = envNumber('BENCH_CURVE_SECONDS', 5);
// One origin, 1/2/4 worker processes: messages queued for each run.
const ORIGIN_WORKERS = [1, 2, 4];
const ORIGIN_MESSAGES = envNumber('BENCH_ORIGIN_MESSAGES', 30_000);
// The origin phase's second series: each worker held to this much of one core (a cgroup quota), so
// that the workers, not the two shared cores, are what limits the origin's throughput.
const ORIGIN_WORKER_CPU = envNumber('BENCH_ORIGIN_WORKER_CPU', 0.25);

const PHASES = ['relay', 'throughput', 'ordered', 'latency', 'curve', 'fanout', 'drain', 'origin'] as const;
type Phase = (typeof PHASES)[number];
/** The phases one `orbit serve` runs, in order (the others start `orbit api` and `orbit worker`). */
const SERVE_PHASES: readonly Phase[] = ['throughput', 'ordered', 'latency', 'curve', 'fanout'];
const args = process.argv.slice(2);
const USAGE = `usage: node bench/run.ts [phase…] [--cpu-prof] [--keep]; phases: ${PHASES.join(', ')} (all by default)\n`;
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const CPU_PROF = args.includes('--cpu-prof');
const KEEP = args.includes('--keep');
const chosen = args.filter((arg) => !arg.startsWith('-'));
// A mistyped flag or phase must not start a run of every phase.
for (const arg of args) {
  const known = arg.startsWith('-') ? arg === '--cpu-prof' || arg === '--keep' : (PHASES as readonly string[]).includes(arg);
  if (!known) {
    process.stderr.write(`unknown ${arg.startsWith('-') ? 'flag' : 'phase'} ${arg}; ${USAGE}`);
    process.exit(2);
  }
}
const selected = new Set<Phase>(chosen.length === 0 ? PHASES : (chosen as Phase[]));
const FULL_RUN = selected.size === PHASES.length;

if (Number(process.versions.node.split('.')[0]) < 24) {
  process.stderr.write(`bench: Node 24 needed (this is ${process.version}); run it with npm run bench or node_modules/.bin/node\n`);
  process.exit(1);
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/** Epoch milliseconds with sub-millisecond precision: the receiver stamps arrivals the same way. */
const now = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const say = (line: string): void => void process.stderr.write(`[bench] ${line}\n`);
const round = (value: number, digits = 0): number => Math.round(value * 10 ** digits) / 10 ** digits;
const fmt = (value: number): string => Math.round(value).toLocaleString('en-US');

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Child processes we start (and only those are stopped, by pid).

const children = new Set<ChildProcess>();

function killChildren(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}
process.on('SIGINT', () => {
  killChildren();
  process.exit(130);
});

/** A forked helper (receiver, relay) with a request/answer IPC channel. */
class Helper {
  readonly proc: ChildProcess;
  readonly url: string;
  readonly urls: string[];
  private seq = 0;
  private readonly waiting = new Map<number, (answer: Record<string, unknown>) => void>();

  private constructor(proc: ChildProcess, urls: string[]) {
    this.proc = proc;
    this.url = urls[0] as string;
    this.urls = urls;
    proc.on('message', (raw) => {
      const message = raw as { seq?: number };
      if (message.seq === undefined) return;
      const resolve = this.waiting.get(message.seq);
      this.waiting.delete(message.seq);
      resolve?.(message as Record<string, unknown>);
    });
  }

  static async start(file: string, profileDir?: string): Promise<Helper> {
    const nodeOptions = profileDir ? `--cpu-prof --cpu-prof-dir=${profileDir}` : '';
    const proc = fork(join(ROOT, file), [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, NODE_OPTIONS: nodeOptions },
    });
    children.add(proc);
    const urls = await new Promise<string[]>((resolve, reject) => {
      proc.once('message', (message) => {
        const ready = message as { url: string; urls?: string[] };
        resolve(ready.urls ?? [ready.url]);
      });
      proc.once('exit', (code) => reject(new Error(`${file} exited (${code}) before it was ready`)));
    });
    return new Helper(proc, urls);
  }

  request<T = Record<string, unknown>>(command: Record<string, unknown>): Promise<T> {
    const seq = ++this.seq;
    return new Promise((resolve) => {
      this.waiting.set(seq, resolve as (answer: Record<string, unknown>) => void);
      this.proc.send({ ...command, seq });
    });
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    const exited = new Promise((resolve) => this.proc.once('exit', resolve));
    this.proc.disconnect();
    await Promise.race([exited, sleep(3_000)]);
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
    children.delete(this.proc);
  }
}

interface ReceiverStats {
  unique: number;
  requests: number;
  duplicates: number;
  firstAt: number;
  lastAt: number;
  timedOut?: number;
}

/** One Orbit process (`serve`, `api` or `worker`) started the way a user starts it. */
interface Orbit {
  role: string;
  proc: ChildProcess;
  pid: number;
  url: string | null;
  readyAt: number;
  logs: string[];
  /** Event loop utilisation and delay since the previous call, per Orbit process (bench/probe.ts). */
  probe(): Promise<EventLoops>;
  stop(): Promise<number | null>;
}

interface EventLoopStats {
  eventLoopUtilization: number;
  delayMs: { p50: number; p99: number; max: number; mean: number };
  heapMiB?: Record<string, number>;
  memoryMiB?: Record<string, number>;
}

/** Each Orbit process's event loop, by role (`supervisor`, `api`, `worker`; `api 2` for a second API child). */
type EventLoops = Record<string, EventLoopStats>;

async function startOrbit(role: 'serve' | 'api' | 'worker', env: Record<string, string>, profileDir?: string): Promise<Orbit> {
  // bench/probe.ts measures the event loop; --cpu-prof on request.
  const probeFile = join(env['ORBIT_DATA_DIR'] ?? tmpdir(), `probe-${role}-${Date.now()}`);
  const nodeOptions = [
    `--import=${pathToFileURL(join(ROOT, 'bench/probe.ts')).href}`,
    ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
    // As `npm start` and the bin run it; more for experiments with BENCH_ORBIT_NODE_OPTIONS.
    '--max-semi-space-size=16',
    ...(process.env['BENCH_ORBIT_NODE_OPTIONS'] ?? '').split(' ').filter(Boolean),
  ].join(' ');
  const logs: string[] = [];
  const keep = (line: string): void => {
    logs.push(line);
    if (logs.length > 200) logs.shift();
  };
  const orbit = startOrbitProcess({
    args: [role],
    baseEnv: 'inherit',
    env: { ...env, NODE_OPTIONS: nodeOptions, BENCH_PROBE_FILE: probeFile },
    // The V8 flag comes with NODE_OPTIONS above.
    nodeArgs: [],
    captureLimit: 65_536,
    onLine: (line, stream) => {
      keep(line);
      // LOG_LEVEL=warn: anything logged is worth seeing.
      if (stream === 'stderr') process.stderr.write(`[orbit ${role}] ${line}\n`);
      else if (line.startsWith('{')) process.stderr.write(`[orbit ${role}] ${line.slice(0, 400)}\n`);
    },
  });
  const proc = orbit.child;
  children.add(proc);
  const exited = orbit.exit.then(({ code }) => code);
  let url: string | null;
  try {
    const started = await orbit.waitFor(/listening on (http:\/\/\S+)|delivery worker running/, 90_000);
    url = started[1] ?? null;
  } catch {
    throw new Error(`orbit ${role} ${orbit.exited ? 'exited' : 'did not start within 90 s'} during start-up:\n${logs.join('\n')}`);
  }
  return {
    role,
    proc,
    pid: proc.pid as number,
    url,
    readyAt: now(),
    logs,
    async probe() {
      if (proc.exitCode !== null) return {};
      // Under `orbit serve`, the supervisor and each child; otherwise the one process.
      const roles = role === 'serve' ? serveRoles(proc.pid as number) : { [role]: [proc.pid as number] };
      const targets = Object.entries(roles).flatMap(([name, pids]) =>
        pids.map((pid, index) => ({ name: index === 0 ? name : `${name} ${index + 1}`, pid })),
      );
      const loops: EventLoops = {};
      await Promise.all(
        targets.map(async ({ name, pid }) => {
          const file = `${probeFile}.${pid}.json`;
          rmSync(file, { force: true });
          try {
            process.kill(pid, 'SIGUSR2');
          } catch {
            return; // gone meanwhile
          }
          for (let waited = 0; waited < 2_000; waited += 10) {
            await sleep(10);
            try {
              loops[name] = JSON.parse(readFileSync(file, 'utf8')) as EventLoopStats;
              return;
            } catch {
              // not written yet
            }
          }
        }),
      );
      return loops;
    },
    async stop() {
      if (proc.exitCode !== null) return proc.exitCode;
      proc.kill('SIGTERM');
      const code = await Promise.race([exited, sleep(60_000).then(() => 'timeout' as const)]);
      children.delete(proc);
      if (code === 'timeout') {
        proc.kill('SIGKILL');
        say(`orbit ${role} did not stop within 60 s of SIGTERM: killed`);
        return null;
      }
      return code;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// /proc: CPU time per process group, memory of one process.

const CLOCK_TICKS = 100;

function procTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

function processTable(): { pid: number; ppid: number; comm: string }[] {
  const table: { pid: number; ppid: number; comm: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      table.push({ pid: Number(entry), ppid, comm });
    } catch {
      // gone meanwhile
    }
  }
  return table;
}

/** `orbit serve` and its API and delivery worker child processes (not the database's helper). */
function orbitProcesses(root: number): number[] {
  // node:cluster children name their main thread `MainThread`.
  const children = processTable().filter((row) => row.ppid === root && (row.comm === 'node' || row.comm === 'MainThread'));
  const orbitChildren = children.filter((row) => {
    try {
      return readFileSync(`/proc/${row.pid}/cmdline`, 'utf8').includes('main.ts');
    } catch {
      return false;
    }
  });
  return [root, ...orbitChildren.map((row) => row.pid)];
}

/** Every postgres process below `root` (the Orbit process that runs the embedded database). */
function postgresUnder(root: number): number[] {
  const table = processTable();
  const below = new Set<number>([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const row of table) {
      if (!below.has(row.pid) && below.has(row.ppid)) {
        below.add(row.pid);
        grew = true;
      }
    }
  }
  return table.filter((row) => below.has(row.pid) && row.comm.startsWith('postgres')).map((row) => row.pid);
}

interface CpuGroup {
  label: string;
  pids: () => number[];
}

/**
 * CPU used per group between start() and stop(): stop() answers % of one core; microsPer(n) the
 * CPU time per unit of work (µs per delivery), from the same ticks.
 */
function cpuMeter(groups: CpuGroup[]) {
  const startTicks = new Map<string, Map<number, number>>();
  const usedSeconds = new Map<string, number>();
  let startedAt = 0;
  let selfStart = process.cpuUsage();
  return {
    start() {
      startedAt = now();
      selfStart = process.cpuUsage();
      for (const group of groups) startTicks.set(group.label, new Map(group.pids().map((pid) => [pid, procTicks(pid)])));
    },
    stop(): Record<string, number> {
      const seconds = (now() - startedAt) / 1000;
      const result: Record<string, number> = {};
      for (const group of groups) {
        const before = startTicks.get(group.label) ?? new Map<number, number>();
        let ticks = 0;
        for (const pid of group.pids()) ticks += procTicks(pid) - (before.get(pid) ?? 0);
        usedSeconds.set(group.label, ticks / CLOCK_TICKS);
        result[group.label] = round((100 * ticks) / CLOCK_TICKS / seconds);
      }
      const self = process.cpuUsage(selfStart);
      usedSeconds.set('bench driver', (self.user + self.system) / 1e6);
      result['bench driver'] = round((100 * (self.user + self.system)) / 1e6 / seconds);
      return result;
    },
    /** CPU µs per unit of work, per group, over the last start()–stop(). */
    microsPer(units: number): Record<string, number> {
      const result: Record<string, number> = {};
      for (const [label, seconds] of usedSeconds) result[label] = round((seconds * 1e6) / Math.max(1, units));
      return result;
    },
  };
}

/** The processes of `orbit serve` by role: the supervisor, its API children and its worker children. */
function serveRoles(root: number): { supervisor: number[]; api: number[]; worker: number[] } {
  const roles = { supervisor: [root], api: [] as number[], worker: [] as number[] };
  for (const pid of orbitProcesses(root).slice(1)) {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (args.includes('worker')) roles.worker.push(pid);
      else roles.api.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  return roles;
}

/** CPU groups for a phase served by `orbit serve`: each Orbit role, PostgreSQL and the receiver. */
function serveGroups(orbit: Orbit, receiver: Helper): CpuGroup[] {
  return [
    { label: 'orbit API process', pids: () => serveRoles(orbit.pid).api },
    { label: 'orbit worker process', pids: () => serveRoles(orbit.pid).worker },
    { label: 'orbit supervisor', pids: () => serveRoles(orbit.pid).supervisor },
    { label: 'postgres (all processes)', pids: () => postgresUnder(orbit.pid) },
    { label: 'receiver', pids: () => [receiver.proc.pid as number] },
  ];
}

function memoryKiB(pid: number): { rss: number; hwm: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return {
      rss: Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0),
      hwm: Number(/^VmHWM:\s+(\d+)/m.exec(status)?.[1] ?? 0),
    };
  } catch {
    return { rss: 0, hwm: 0 };
  }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL statistics: pg_stat_statements (Orbit's own statements: database `postgres`, role
// `postgres`; the bench connects as role `bench` so its own queries never count) and samples of
// pg_stat_activity's wait events.

interface Db {
  monitor: postgres.Sql;
  orbit: postgres.Sql;
  superUrl: string;
  benchUrl: string;
}

interface StatementRow {
  query: string;
  calls: number;
  totalMs: number;
  rows: number;
  /** Times it was planned (a prepared statement that keeps its plan is planned once per connection). */
  plans: number;
  planMs: number;
}

const TABLE_COUNTERS = [
  'seqScans',
  'seqRowsRead',
  'indexScans',
  'inserted',
  'updated',
  'hotUpdated',
  'deleted',
  'vacuums',
  'analyzes',
] as const;
type TableCounter = (typeof TABLE_COUNTERS)[number];

/** What the window did to one table: scans, row writes and how many updates were HOT. */
type TableActivity = { table: string } & Record<TableCounter, number>;

function tableCounts(value: (counter: TableCounter) => number): Record<TableCounter, number> {
  return Object.fromEntries(TABLE_COUNTERS.map((counter) => [counter, value(counter)])) as Record<TableCounter, number>;
}

interface StatementWindow {
  statements: number;
  transactionControl: number;
  transactions: number;
  top: StatementRow[];
  tables: TableActivity[];
  wal: WalActivity;
}

interface WindowStart {
  transactions: number;
  tables: TableActivity[];
  wal: WalActivity;
}

/** The server's WAL over a window: records, full-page images, bytes, and its writes and flushes to disk. */
interface WalActivity {
  records: number;
  fullPageImages: number;
  bytes: number;
  writes: number;
  syncs: number;
}

/** Cluster-wide (pg_stat_wal, and pg_stat_io's WAL rows on PostgreSQL 18): the bench's own share is a few statements. */
async function walCounters(db: Db): Promise<WalActivity> {
  const [wal] = await db.monitor<{ records: string; fpi: string; bytes: string }[]>`
    select wal_records::text as records, wal_fpi::text as fpi, wal_bytes::text as bytes from pg_stat_wal`;
  const [io] = await db.monitor<{ writes: string; syncs: string }[]>`
    select coalesce(sum(writes), 0)::text as writes, coalesce(sum(fsyncs), 0)::text as syncs
    from pg_stat_io where object = 'wal'`;
  return {
    records: Number(wal?.records ?? 0),
    fullPageImages: Number(wal?.fpi ?? 0),
    bytes: Number(wal?.bytes ?? 0),
    writes: Number(io?.writes ?? 0),
    syncs: Number(io?.syncs ?? 0),
  };
}

async function tableCounters(db: Db): Promise<TableActivity[]> {
  const rows = await db.orbit<Record<keyof TableActivity, string>[]>`
    select schemaname || '.' || relname as "table", seq_scan::text as "seqScans", seq_tup_read::text as "seqRowsRead",
      coalesce(idx_scan, 0)::text as "indexScans", n_tup_ins::text as inserted, n_tup_upd::text as updated,
      n_tup_hot_upd::text as "hotUpdated", n_tup_del::text as deleted,
      (vacuum_count + autovacuum_count)::text as vacuums, (analyze_count + autoanalyze_count)::text as analyzes
    from pg_stat_user_tables`;
  return rows.map((row) => ({ table: row.table, ...tableCounts((counter) => Number(row[counter])) }));
}

async function resetStatements(db: Db): Promise<WindowStart> {
  await db.monitor`select pg_stat_statements_reset()`;
  const [row] = await db.monitor<
    { n: string }[]
  >`select (xact_commit + xact_rollback)::text as n from pg_stat_database where datname = 'postgres'`;
  return { transactions: Number(row?.n ?? 0), tables: await tableCounters(db), wal: await walCounters(db) };
}

async function statementWindow(db: Db, start: WindowStart, ownTransactions: number): Promise<StatementWindow> {
  // Cumulative statistics are flushed by each backend at most once a second.
  await sleep(1_200);
  const before = new Map(start.tables.map((table) => [table.table, table]));
  const tables = (await tableCounters(db))
    .map((after) => {
      const was = before.get(after.table);
      return { table: after.table, ...tableCounts((counter) => after[counter] - (was?.[counter] ?? 0)) };
    })
    .filter((table) => table.seqScans + table.indexScans + table.inserted + table.updated + table.deleted > 0)
    .sort((a, b) => b.seqRowsRead + b.inserted + b.updated - (a.seqRowsRead + a.inserted + a.updated));
  const rows = await db.monitor<{ query: string; calls: string; total: number; rows: string; plans: string; plan: number }[]>`
    select s.query, s.calls::text as calls, s.total_exec_time as total, s.rows::text as rows,
      s.plans::text as plans, s.total_plan_time as plan
    from pg_stat_statements s
    where s.dbid = (select oid from pg_database where datname = 'postgres')
      and s.userid = (select oid from pg_roles where rolname = 'postgres')`;
  const [xact] = await db.monitor<
    { n: string }[]
  >`select (xact_commit + xact_rollback)::text as n from pg_stat_database where datname = 'postgres'`;
  const walAfter = await walCounters(db);
  const wal: WalActivity = {
    records: walAfter.records - start.wal.records,
    fullPageImages: walAfter.fullPageImages - start.wal.fullPageImages,
    bytes: walAfter.bytes - start.wal.bytes,
    writes: walAfter.writes - start.wal.writes,
    syncs: walAfter.syncs - start.wal.syncs,
  };
  const all = rows.map((row) => ({
    query: row.query.replace(/\s+/g, ' ').trim(),
    calls: Number(row.calls),
    totalMs: row.total,
    rows: Number(row.rows),
    plans: Number(row.plans),
    planMs: row.plan,
  }));
  const control = all.filter((row) => /^(begin|commit|rollback|savepoint|release)\b/i.test(row.query));
  return {
    statements: all.reduce((sum, row) => sum + row.calls, 0),
    transactionControl: control.reduce((sum, row) => sum + row.calls, 0),
    transactions: Number(xact?.n ?? 0) - start.transactions - ownTransactions,
    top: all.sort((a, b) => b.totalMs + b.planMs - (a.totalMs + a.planMs)).slice(0, 14),
    tables,
    wal,
  };
}

/** Samples what Orbit's backends are doing (20 per second) until stopped. */
function waitSampler(db: Db) {
  const counts = new Map<string, number>();
  let samples = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const rows = await db.monitor<{ what: string; n: number }[]>`
          select application_name || ' ' || state || ': ' || coalesce(wait_event_type || '/' || wait_event, 'on CPU') as what, count(*)::int as n
          from pg_stat_activity
          where datname = 'postgres' and usename = 'postgres' and backend_type = 'client backend' and pid <> pg_backend_pid()
          group by 1`;
        samples++;
        for (const row of rows) counts.set(row.what, (counts.get(row.what) ?? 0) + row.n);
      } catch {
        // the database is restarting or gone: stop sampling quietly
      }
      await sleep(50);
    }
  })();
  return {
    async stop(): Promise<{ what: string; backends: number }[]> {
      running = false;
      await loop;
      return [...counts.entries()]
        .map(([what, n]) => ({ what, backends: round(n / Math.max(1, samples), 2) }))
        .sort((a, b) => b.backends - a.backends);
    },
  };
}

/** Enables pg_stat_statements (needs a restart, done by the caller) and the bench's own role. */
async function prepareDatabase(superUrl: string, benchPassword: string): Promise<void> {
  const sql = postgres(superUrl, { max: 1, onnotice: () => {} });
  await sql.unsafe(`alter system set shared_preload_libraries = 'pg_stat_statements'`);
  // Planning counted apart from execution: a statement planned on every call shows here.
  await sql.unsafe(`alter system set pg_stat_statements.track_planning = on`);
  for (const [name, value] of EXTRA_PG_SETTINGS) await sql.unsafe(`alter system set ${name} = '${value.replaceAll("'", "''")}'`);
  await sql.unsafe(`create role bench login superuser password '${benchPassword}'`);
  await sql.unsafe('create database bench');
  await sql.end();
}

async function openDb(pgPort: number, password: string, benchPassword: string): Promise<Db> {
  const superUrl = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${pgPort}/postgres`;
  const benchUrl = `postgres://bench:${benchPassword}@127.0.0.1:${pgPort}/postgres`;
  const monitor = postgres(`postgres://bench:${benchPassword}@127.0.0.1:${pgPort}/bench`, { max: 1, onnotice: () => {} });
  await monitor`create extension if not exists pg_stat_statements`;
  const orbit = postgres(benchUrl, { max: 4, onnotice: () => {} });
  return { monitor, orbit, superUrl, benchUrl };
}

// ---------------------------------------------------------------------------------------------
// Driving the API

interface Api {
  pool: Pool;
  key: string;
  receiverUrls: string[];
}

async function post(
  api: Api,
  path: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown> | null }> {
  const response = await api.pool.request({
    method: 'POST',
    path,
    headers: { authorization: `Bearer ${api.key}`, 'content-type': 'application/json', ...headers },
    body,
  });
  const text = await response.body.text();
  let json: Record<string, unknown> | null;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = null;
  }
  return { status: response.statusCode, json };
}

const EVENT_BODIES: string[] = [
  JSON.stringify({ type: 'run.started' }),
  ...Array.from({ length: NODES_PER_RUN }, (_, index) =>
    JSON.stringify({ type: 'node.completed', data: { nodeId: `node_${index + 1}`, nodeType: 'llm' } }),
  ),
  JSON.stringify({ type: 'run.completed' }),
];

/** Creates up to `count` runs (stopping after CREATE_CAP_S), their webhooks spread over the receiver's origins. */
async function createRuns(api: Api, count: number, clients: number, ordered = false): Promise<{ ids: string[]; seconds: number }> {
  const bodies = api.receiverUrls.map((url) =>
    JSON.stringify({ workflowId: 'wf_bench', webhook: { url, metadata: { bench: true }, ...(ordered ? { ordered: true } : {}) } }),
  );
  const ids: string[] = [];
  let next = 0;
  const started = now();
  const deadline = started + CREATE_CAP_S * 1000;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let index = next++; index < count && now() < deadline; index = next++) {
        const { status, json } = await post(api, '/v1/runs', bodies[index % bodies.length] as string);
        if (status !== 201 || typeof json?.['id'] !== 'string')
          throw new Error(`POST /v1/runs answered ${status}: ${JSON.stringify(json)}`);
        ids.push(json['id']);
      }
    }),
  );
  if (ids.length < count) say(`only ${fmt(ids.length)} of ${fmt(count)} runs created within ${CREATE_CAP_S} s`);
  return { ids, seconds: (now() - started) / 1000 };
}

interface ClosedLoopResult {
  startedAt: number;
  answeredAt: number;
  accepted: number;
  expected: number;
  errors: Record<string, number>;
  ackMs: number[];
  capped: boolean;
}

/** `clients` workers, each taking the next run and posting its events one after another. */
async function driveClosedLoop(
  api: Api,
  runIds: readonly string[],
  clients: number,
  capSeconds = Number.POSITIVE_INFINITY,
): Promise<ClosedLoopResult> {
  const errors: Record<string, number> = {};
  const ackMs: number[] = [];
  let accepted = 0;
  let expected = 0;
  let next = 0;
  const startedAt = now();
  const deadline = startedAt + capSeconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      // Past the cap no new run is started; runs under way finish their events.
      for (let index = next++; index < runIds.length && now() < deadline; index = next++) {
        const path = `/v1/runs/${runIds[index]}/events`;
        for (const body of EVENT_BODIES) {
          const sent = now();
          let status: number;
          let json: Record<string, unknown> | null;
          try {
            ({ status, json } = await post(api, path, body));
          } catch (error) {
            const key = `transport: ${(error as Error).message}`;
            errors[key] = (errors[key] ?? 0) + 1;
            break;
          }
          ackMs.push(now() - sent);
          if (status === 202) {
            accepted++;
            if (typeof json?.['messageId'] === 'string') expected++;
          } else {
            const key = `${status} ${String((json?.['error'] as { code?: string } | undefined)?.code ?? '')}`;
            errors[key] = (errors[key] ?? 0) + 1;
            break;
          }
        }
      }
    }),
  );
  return {
    startedAt,
    answeredAt: now(),
    accepted,
    expected,
    errors,
    ackMs,
    capped: now() >= deadline && accepted < runIds.length * EVENTS_PER_RUN,
  };
}

// ---------------------------------------------------------------------------------------------
// Results

interface LatencyResult {
  /** The offered load, events/s. */
  rate: number;
  events: number;
  sendRate: number;
  delivered: number;
  missing: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  ackP50: number;
  ackP99: number;
  waitedForPrevious: number;
  errors: Record<string, number>;
  cpu: Record<string, number>;
  cpuMicros: Record<string, number>;
  eventLoop: EventLoops;
  /** p50 / p99 of the events sent in each second of the run: a slow start shows in the first. */
  bySecond: { p50: number; p99: number; ackP50: number }[];
  /** The latency phase's statements (not the curve's rates). */
  window?: StatementWindow;
}

interface Results {
  environment: Record<string, string>;
  /** Peak resident memory (VmHWM) of each `orbit serve` process over the phases it served, in MiB. */
  servePeakRssMiB?: { phases: string; supervisor: number; api: number; worker: number };
  relay?: {
    deliveriesPerSecond: number;
    seconds: number;
    received: number;
    duplicates: number;
    cpu: Record<string, number>;
    cpuMicros: Record<string, number>;
  };
  throughput?: {
    events: number;
    capped: boolean;
    accepted: number;
    deliveries: number;
    seconds: number;
    ingestSeconds: number;
    deliveriesPerSecond: number;
    ingestPerSecond: number;
    ackP50: number;
    ackP99: number;
    duplicates: number;
    errors: Record<string, number>;
    recordedAfterMs: number;
    runsCreatePerSecond: number;
    statementsPerDelivery: number;
    statementsPerDeliveryNoTxControl: number;
    transactionsPerDelivery: number;
    window: StatementWindow;
    waits: { what: string; backends: number }[];
    cpu: Record<string, number>;
    cpuMicros: Record<string, number>;
    eventLoop: EventLoops;
  };
  /** The throughput workload with `"ordered": true` webhooks. */
  ordered?: Results['throughput'];
  latency?: LatencyResult;
  curve?: LatencyResult[];
  /** Why the origin phase ran no CPU-quota series, when it did not. */
  originQuotaUnavailable?: string;
  origin?: {
    workers: number;
    /** Each worker's CPU quota (cores), or null when unlimited. */
    cpuPerWorker: number | null;
    messages: number;
    delivered: number;
    seconds: number;
    deliveriesPerSecond: number;
    cpuMicros: Record<string, number>;
  }[];
  fanout?: {
    messages: number;
    endpoints: number;
    accepted: number;
    deliveries: number;
    seconds: number;
    ingestSeconds: number;
    deliveriesPerSecond: number;
    messagesPerSecond: number;
    ackP50: number;
    ackP99: number;
    duplicates: number;
    errors: Record<string, number>;
    cpu: Record<string, number>;
    cpuMicros: Record<string, number>;
    eventLoop: EventLoops;
  };
  drain?: {
    messages: number;
    fillSeconds: number;
    fillMethod: string;
    delivered: number;
    finished: boolean;
    seconds: number;
    deliveriesPerSecond: number;
    firstReceiptAfterMs: number;
    recordedPerSecond: number | null;
    peakRssMiB: number;
    endRssMiB: number;
    startRssMiB: number;
    duplicates: number;
    statementsPerDelivery: number;
    statementsPerDeliveryNoTxControl: number;
    transactionsPerDelivery: number;
    window: StatementWindow;
    waits: { what: string; backends: number }[];
    cpu: Record<string, number>;
    cpuMicros: Record<string, number>;
    eventLoop: EventLoops;
  };
  profiles: string[];
}

const results: Results = { environment: {}, profiles: [] };
const benchStarted = now();
let drainCapSeconds = DRAIN_TIMEOUT_S;

// ---------------------------------------------------------------------------------------------
// Phases

async function relayPhase(receiver: Helper, profileDir: string | undefined): Promise<void> {
  say('relay: starting the in-memory relay');
  const relay = await Helper.start('bench/relay.ts', profileDir);
  const api: Api = { pool: new Pool(relay.url, { connections: CLIENTS }), key: 'gx_not_checked_by_the_relay', receiverUrls: receiver.urls };
  try {
    const { ids } = await createRuns(api, RUNS, CLIENTS);
    await receiver.request({ cmd: 'reset' });
    const meter = cpuMeter([
      { label: 'relay', pids: () => [relay.proc.pid as number] },
      { label: 'receiver', pids: () => [receiver.proc.pid as number] },
    ]);
    meter.start();
    const driven = await driveClosedLoop(api, ids, CLIENTS);
    const stats = await receiver.request<ReceiverStats>({ cmd: 'wait', unique: driven.expected, timeoutMs: 60_000 });
    const cpu = meter.stop();
    const seconds = (stats.lastAt - driven.startedAt) / 1000;
    results.relay = {
      deliveriesPerSecond: round(stats.unique / seconds),
      seconds: round(seconds, 2),
      received: stats.unique,
      duplicates: stats.duplicates,
      cpu,
      cpuMicros: meter.microsPer(stats.unique),
    };
    say(`relay: ${fmt(stats.unique)} deliveries in ${seconds.toFixed(2)} s → ${fmt(stats.unique / seconds)}/s`);
  } finally {
    await api.pool.close();
    await relay.stop();
    if (profileDir !== undefined) summariseProfiles(profileDir, relay.proc.pid as number, 'in-memory relay');
  }
}

/** The throughput workload; `ordered`: every run's webhook asks for ordered delivery (the `ordered` phase). */
async function throughputPhase(orbit: Orbit, api: Api, receiver: Helper, db: Db, ordered = false): Promise<void> {
  const phase = ordered ? 'ordered' : 'throughput';
  say(`${phase}: creating ${fmt(RUNS)} runs${ordered ? ' with ordered webhooks' : ''}`);
  const created = await createRuns(api, RUNS, CLIENTS, ordered);
  await receiver.request({ cmd: 'reset' });
  const meter = cpuMeter(serveGroups(orbit, receiver));
  const windowStart = await resetStatements(db);
  const sampler = waitSampler(db);
  await orbit.probe();
  meter.start();
  say(`${phase}: ${fmt(RUNS * EVENTS_PER_RUN)} events, ${CLIENTS} clients`);
  const driven = await driveClosedLoop(api, created.ids, CLIENTS, THROUGHPUT_CAP_S);
  if (driven.capped) say(`${phase}: capped at ${THROUGHPUT_CAP_S} s: ${fmt(driven.accepted)} events sent`);
  const stats = await receiver.request<ReceiverStats>({ cmd: 'wait', unique: driven.expected, timeoutMs: TAIL_CAP_S * 1000 });
  const cpu = meter.stop();
  const eventLoop = await orbit.probe();
  const waits = await sampler.stop();
  // Every attempt recorded (no pending message left): the end of the statement window.
  let probes = 0;
  const recordStart = now();
  for (;;) {
    probes++;
    const [row] = await db.orbit<{ n: number }[]>`select count(*)::int as n from deliveries where status = 'pending'`;
    if ((row?.n ?? 0) === 0 || now() - recordStart > TAIL_CAP_S * 1000) break;
    await sleep(20);
  }
  const recordedAfterMs = now() - stats.lastAt;
  const window = await statementWindow(db, windowStart, probes);
  const seconds = (stats.lastAt - driven.startedAt) / 1000;
  const ingestSeconds = (driven.answeredAt - driven.startedAt) / 1000;
  const ack = [...driven.ackMs].sort((a, b) => a - b);
  const deliveries = stats.unique;
  const result: NonNullable<Results['throughput']> = {
    events: RUNS * EVENTS_PER_RUN,
    capped: driven.capped,
    accepted: driven.accepted,
    deliveries,
    seconds: round(seconds, 2),
    ingestSeconds: round(ingestSeconds, 2),
    deliveriesPerSecond: round(deliveries / seconds),
    ingestPerSecond: round(driven.accepted / ingestSeconds),
    ackP50: round(percentile(ack, 50), 1),
    ackP99: round(percentile(ack, 99), 1),
    duplicates: stats.duplicates,
    errors: driven.errors,
    recordedAfterMs: round(recordedAfterMs),
    runsCreatePerSecond: round(RUNS / created.seconds),
    statementsPerDelivery: round(window.statements / deliveries, 2),
    statementsPerDeliveryNoTxControl: round((window.statements - window.transactionControl) / deliveries, 2),
    transactionsPerDelivery: round(window.transactions / deliveries, 2),
    window,
    waits,
    cpu,
    cpuMicros: meter.microsPer(deliveries),
    eventLoop,
  };
  results[phase] = result;
  say(
    `${phase}: ${fmt(deliveries)} deliveries in ${seconds.toFixed(2)} s → ${fmt(deliveries / seconds)}/s ` +
      `(ingest ${fmt(driven.accepted / ingestSeconds)} events/s); ${result.statementsPerDelivery} statements/delivery`,
  );
  if (stats.timedOut) say(`${phase}: only ${stats.unique} of ${driven.expected} deliveries arrived within the timeout`);
}

/**
 * Events sent open-loop at `rate` per second for `seconds`: request sent → receipt, by svix-id.
 * `beforeSend` is called once the runs exist, just before the events go out.
 */
async function measureLatency(
  api: Api,
  receiver: Helper,
  orbit: Orbit,
  rate: number,
  seconds: number,
  beforeSend?: () => Promise<void>,
): Promise<LatencyResult> {
  const total = rate * seconds;
  const runCount = Math.ceil(total / EVENTS_PER_RUN);
  say(`latency: creating ${fmt(runCount)} runs`);
  const { ids } = await createRuns(api, runCount, CLIENTS);
  await receiver.request({ cmd: 'reset' });
  const sentAt = new Float64Array(total);
  const ackAt = new Float64Array(total);
  const messageIds: (string | null)[] = new Array<string | null>(total).fill(null);
  const errors: Record<string, number> = {};
  // The previous event of each run, so a run's events stay in order even when Orbit falls behind.
  const previous: (Promise<void> | null)[] = new Array<Promise<void> | null>(runCount).fill(null);
  const settled: boolean[] = new Array<boolean>(runCount).fill(true);
  let waitedForPrevious = 0;
  const inFlight: Promise<void>[] = [];

  const fire = (index: number): void => {
    // Round-robin over the runs: a run's next event comes runCount events (≈ 2 s) after its last.
    const run = index % runCount;
    const step = Math.floor(index / runCount);
    const send = async (): Promise<void> => {
      sentAt[index] = now();
      try {
        const { status, json } = await post(api, `/v1/runs/${ids[run]}/events`, EVENT_BODIES[step] as string);
        ackAt[index] = now();
        if (status === 202) messageIds[index] = typeof json?.['messageId'] === 'string' ? json['messageId'] : null;
        else {
          const key = `${status} ${String((json?.['error'] as { code?: string } | undefined)?.code ?? '')}`;
          errors[key] = (errors[key] ?? 0) + 1;
        }
      } catch (error) {
        const key = `transport: ${(error as Error).message}`;
        errors[key] = (errors[key] ?? 0) + 1;
      }
    };
    let promise: Promise<void>;
    const before = previous[run];
    if (before !== null && before !== undefined && !settled[run]) {
      waitedForPrevious++;
      promise = before.then(send);
    } else {
      promise = send();
    }
    settled[run] = false;
    previous[run] = promise;
    void promise.then(() => {
      if (previous[run] === promise) settled[run] = true;
    });
    inFlight.push(promise);
  };

  await beforeSend?.();
  const meter = cpuMeter(serveGroups(orbit, receiver));
  say(`latency: ${fmt(rate)} events/s for ${seconds} s`);
  await orbit.probe();
  meter.start();
  const startedAt = now();
  let index = 0;
  while (index < total) {
    const due = Math.min(total, Math.floor(((now() - startedAt) * rate) / 1000) + 1);
    while (index < due) fire(index++);
    await sleep(1);
  }
  const sendSeconds = (now() - startedAt) / 1000;
  // Answers still owed are waited for TAIL_CAP_S at most; later ones count as missing.
  const allAnswered = await Promise.race([Promise.all(inFlight).then(() => true), sleep(TAIL_CAP_S * 1000).then(() => false)]);
  if (!allAnswered) say(`latency: not every event was answered within ${TAIL_CAP_S} s of the last send`);
  const expected = messageIds.filter((id) => id !== null).length;
  const stats = await receiver.request<ReceiverStats>({ cmd: 'wait', unique: expected, timeoutMs: TAIL_CAP_S * 1000 });
  const cpu = meter.stop();
  const eventLoop = await orbit.probe();
  const wanted = messageIds.map((id) => id ?? '');
  const { times } = await receiver.request<{ times: (number | null)[] }>({ cmd: 'times', ids: wanted });
  const latencies: number[] = [];
  // The last few events may go out just past the last whole second: they count in it.
  const sendingSeconds = Math.ceil(seconds);
  const secondOf = (at: number): number => Math.min(sendingSeconds - 1, Math.floor((at - startedAt) / 1000));
  const perSecond: number[][] = [];
  let missing = 0;
  for (let i = 0; i < total; i++) {
    if (messageIds[i] === null) continue;
    const at = times[i];
    if (at === null || at === undefined) missing++;
    else {
      const latency = at - (sentAt[i] as number);
      latencies.push(latency);
      (perSecond[secondOf(sentAt[i] as number)] ??= []).push(latency);
    }
  }
  latencies.sort((a, b) => a - b);
  const acks: number[] = [];
  const acksPerSecond: number[][] = [];
  for (let i = 0; i < total; i++) {
    if ((ackAt[i] as number) <= 0) continue;
    const ack = (ackAt[i] as number) - (sentAt[i] as number);
    acks.push(ack);
    (acksPerSecond[secondOf(sentAt[i] as number)] ??= []).push(ack);
  }
  // Every second of sending, one whose events all went missing included (its p50 reads NaN).
  const bySecond = Array.from({ length: sendingSeconds }, (_, index) => {
    const second = (perSecond[index] ?? []).sort((a, b) => a - b);
    const secondAcks = (acksPerSecond[index] ?? []).sort((a, b) => a - b);
    return { p50: round(percentile(second, 50), 1), p99: round(percentile(second, 99), 1), ackP50: round(percentile(secondAcks, 50), 1) };
  });
  // Events never answered within the tail wait count as not delivered.
  missing += total - acks.length;
  acks.sort((a, b) => a - b);
  const result: LatencyResult = {
    rate,
    events: total,
    sendRate: round(total / sendSeconds),
    delivered: latencies.length,
    missing,
    p50: round(percentile(latencies, 50), 1),
    p95: round(percentile(latencies, 95), 1),
    p99: round(percentile(latencies, 99), 1),
    max: round(percentile(latencies, 100), 1),
    ackP50: round(percentile(acks, 50), 1),
    ackP99: round(percentile(acks, 99), 1),
    waitedForPrevious,
    errors,
    cpu,
    cpuMicros: meter.microsPer(latencies.length),
    eventLoop,
    bySecond,
  };
  say(`latency at ${fmt(rate)}/s: p50 ${result.p50} ms, p95 ${result.p95} ms, p99 ${result.p99} ms (${stats.duplicates} duplicates)`);
  return result;
}

async function latencyPhase(api: Api, receiver: Helper, orbit: Orbit, db: Db): Promise<void> {
  let windowStart: WindowStart | null = null;
  const result = await measureLatency(api, receiver, orbit, LATENCY_RATE, LATENCY_SECONDS, async () => {
    windowStart = await resetStatements(db);
  });
  results.latency = { ...result, ...(windowStart ? { window: await statementWindow(db, windowStart, 0) } : {}) };
}

/** Latency against offered load: each rate of CURVE_RATES for CURVE_SECONDS. */
async function curvePhase(api: Api, receiver: Helper, orbit: Orbit): Promise<void> {
  results.curve = [];
  for (const rate of CURVE_RATES) results.curve.push(await measureLatency(api, receiver, orbit, rate, CURVE_SECONDS));
}

/**
 * The Svix-compatible API's fan-out: one application with FANOUT_ENDPOINTS endpoints (no filters),
 * FANOUT_MESSAGES messages sent by CLIENTS concurrent clients as the svix SDK sends them (JSON body,
 * an idempotency-key per message); first request → last receipt, counting one delivery per message
 * and endpoint (the receiver tells endpoints apart by their URL's query).
 */
async function fanoutPhase(orbit: Orbit, api: Api, receiver: Helper): Promise<void> {
  const app = await post(api, '/api/v1/app', JSON.stringify({ name: 'bench fan-out', uid: `bench-fanout-${Date.now()}` }));
  const appId = app.json?.['id'];
  if (app.status !== 201 || typeof appId !== 'string')
    throw new Error(`POST /api/v1/app answered ${app.status}: ${JSON.stringify(app.json)}`);
  for (let i = 0; i < FANOUT_ENDPOINTS; i++) {
    const url = `${api.receiverUrls[i % api.receiverUrls.length] as string}?endpoint=${i}`;
    const endpoint = await post(api, `/api/v1/app/${appId}/endpoint`, JSON.stringify({ url, description: `bench ${i}` }));
    if (endpoint.status !== 201) throw new Error(`POST …/endpoint answered ${endpoint.status}: ${JSON.stringify(endpoint.json)}`);
  }
  await receiver.request({ cmd: 'reset' });
  const meter = cpuMeter(serveGroups(orbit, receiver));
  const path = `/api/v1/app/${appId}/msg`;
  const errors: Record<string, number> = {};
  const ackMs: number[] = [];
  let accepted = 0;
  let next = 0;
  say(`fanout: ${fmt(FANOUT_MESSAGES)} messages × ${FANOUT_ENDPOINTS} endpoints, ${CLIENTS} clients`);
  await orbit.probe();
  meter.start();
  const startedAt = now();
  const deadline = startedAt + THROUGHPUT_CAP_S * 1000;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      for (let index = next++; index < FANOUT_MESSAGES && now() < deadline; index = next++) {
        const body = JSON.stringify({
          eventType: 'invoice.paid',
          eventId: `inv_${index}`,
          payload: {
            type: 'invoice.paid',
            invoiceId: `inv_${index}`,
            amount: 4200,
            currency: 'EUR',
            customer: { id: 'cus_1', plan: 'pro' },
          },
        });
        const sent = now();
        try {
          const { status, json } = await post(api, path, body, { 'idempotency-key': `bench-fanout-${index}` });
          ackMs.push(now() - sent);
          if (status === 202) accepted++;
          else {
            const key = `${status} ${String(json?.['code'] ?? '')}`;
            errors[key] = (errors[key] ?? 0) + 1;
          }
        } catch (error) {
          const key = `transport: ${(error as Error).message}`;
          errors[key] = (errors[key] ?? 0) + 1;
        }
      }
    }),
  );
  const answeredAt = now();
  const expected = accepted * FANOUT_ENDPOINTS;
  const stats = await receiver.request<ReceiverStats>({ cmd: 'wait', unique: expected, timeoutMs: TAIL_CAP_S * 1000 });
  const cpu = meter.stop();
  const eventLoop = await orbit.probe();
  const seconds = (stats.lastAt - startedAt) / 1000;
  const ack = [...ackMs].sort((a, b) => a - b);
  results.fanout = {
    messages: FANOUT_MESSAGES,
    endpoints: FANOUT_ENDPOINTS,
    accepted,
    deliveries: stats.unique,
    seconds: round(seconds, 2),
    ingestSeconds: round((answeredAt - startedAt) / 1000, 2),
    deliveriesPerSecond: round(stats.unique / seconds),
    messagesPerSecond: round(accepted / ((answeredAt - startedAt) / 1000)),
    ackP50: round(percentile(ack, 50), 1),
    ackP99: round(percentile(ack, 99), 1),
    duplicates: stats.duplicates,
    errors,
    cpu,
    cpuMicros: meter.microsPer(stats.unique),
    eventLoop,
  };
  say(`fanout: ${fmt(stats.unique)} deliveries in ${seconds.toFixed(2)} s → ${fmt(stats.unique / seconds)}/s`);
  if (stats.timedOut) say(`fanout: only ${fmt(stats.unique)} of ${fmt(expected)} deliveries arrived within the timeout`);
}

interface DrainContext {
  orbitEnv: Record<string, string>;
  receiver: Helper;
  db: Db;
  profileDir: string | undefined;
}

/** Inserts `count` messages exactly as recordEvent would leave them, and their first delivery jobs. */
async function fillBacklog(db: Db, receiverUrls: readonly string[], count: number): Promise<number> {
  const started = now();
  const [key] = await db.orbit<
    { tenantId: string }[]
  >`select tenant_id as "tenantId" from api_keys where scope = 'admin' order by created_at limit 1`;
  if (key === undefined) throw new Error('no admin key in the database');
  const tenantId = key.tenantId;
  const webhookOf = (url: string) => ({
    url,
    events: ['run.started', 'node.completed', 'node.failed', 'run.completed', 'run.failed', 'run.canceled'],
    metadata: { bench: true },
    headers: {},
  });
  const boss = new PgBoss({ connectionString: db.benchUrl, schema: 'pgboss', supervise: false, schedule: false, migrate: false, max: 2 });
  boss.on('error', (error) => say(`fill: pg-boss error ${String(error)}`));
  await boss.start();
  const runsPerChunk = 2_000;
  const runCount = Math.ceil(count / EVENTS_PER_RUN);
  let made = 0;
  let rowsMs = 0;
  let jobsMs = 0;
  let inflight: Promise<void> = Promise.resolve();
  try {
    for (let first = 0; first < runCount && made < count; first += runsPerChunk) {
      const runRows: Record<string, unknown>[] = [];
      const endpointRows: Record<string, unknown>[] = [];
      const eventRows: Record<string, unknown>[] = [];
      const messageRows: Record<string, unknown>[] = [];
      const deliveryRows: Record<string, unknown>[] = [];
      const jobs: PlannedDelivery[] = [];
      for (let r = first; r < Math.min(runCount, first + runsPerChunk) && made < count; r++) {
        const created = new Date();
        const runId = newId('run', created.getTime());
        const receiverUrl = receiverUrls[r % receiverUrls.length] as string;
        const webhook = webhookOf(receiverUrl);
        const endpointId = newId('ep', created.getTime());
        runRows.push({
          id: runId,
          tenant_id: tenantId,
          workflow_id: 'wf_bench_backlog',
          status: 'COMPLETED',
          completed_nodes: NODES_PER_RUN,
          failed_nodes: 0,
          webhook,
          endpoint_id: endpointId,
          created_at: created.toISOString(),
          started_at: created.toISOString(),
          finished_at: created.toISOString(),
        });
        endpointRows.push({
          id: endpointId,
          tenant_id: tenantId,
          run_id: runId,
          url: receiverUrl,
          filter_types: webhook.events,
          created_at: created.toISOString(),
        });
        for (let step = 0; step < EVENTS_PER_RUN && made < count; step++, made++) {
          const at = new Date();
          const type: EventType = step === 0 ? 'run.started' : step === EVENTS_PER_RUN - 1 ? 'run.completed' : 'node.completed';
          const data = type === 'node.completed' ? { nodeId: `node_${step}`, nodeType: 'llm' } : undefined;
          const completedNodes = type === 'run.started' ? 0 : Math.min(step, NODES_PER_RUN);
          const eventId = newId('evt', at.getTime());
          const messageId = newId('msg', at.getTime());
          eventRows.push({
            id: eventId,
            tenant_id: tenantId,
            run_id: runId,
            type,
            data: data ?? null,
            error: null,
            created_at: at.toISOString(),
          });
          messageRows.push({
            id: messageId,
            tenant_id: tenantId,
            run_id: runId,
            workflow_id: 'wf_bench_backlog',
            event_id: eventId,
            event_type: type,
            payload: buildPayload({
              type,
              runId,
              workflowId: 'wf_bench_backlog',
              run: { status: type === 'run.completed' ? 'COMPLETED' : 'RUNNING', completedNodes, failedNodes: 0 },
              data,
              error: undefined,
              metadata: { bench: true },
              createdAt: at,
            }),
            created_at: at.toISOString(),
          });
          deliveryRows.push({ message_id: messageId, endpoint_id: endpointId, tenant_id: tenantId, created_at: at.toISOString() });
          jobs.push({ messageId, endpointId, step: 1, trigger: 'scheduled', url: receiverUrl });
        }
      }
      // Rows and jobs go in on separate connections while the next chunk is built.
      await inflight;
      inflight = Promise.all([
        (async () => {
          const rowsStarted = now();
          await db.orbit.unsafe(
            `insert into runs (id, tenant_id, workflow_id, status, completed_nodes, failed_nodes, webhook, endpoint_id, created_at, started_at, finished_at)
             select id, tenant_id, workflow_id, status, completed_nodes, failed_nodes, webhook, endpoint_id, created_at, started_at, finished_at
             from jsonb_to_recordset($1::text::jsonb) as x(id text, tenant_id text, workflow_id text, status text, completed_nodes int,
               failed_nodes int, webhook jsonb, endpoint_id text, created_at timestamptz, started_at timestamptz, finished_at timestamptz)`,
            [JSON.stringify(runRows)],
          );
          await db.orbit.unsafe(
            `insert into endpoints (id, tenant_id, kind, run_id, url, filter_types, created_at, updated_at)
             select id, tenant_id, 'run', run_id, url, array(select jsonb_array_elements_text(filter_types)), created_at, created_at
             from jsonb_to_recordset($1::text::jsonb) as x(id text, tenant_id text, run_id text, url text, filter_types jsonb, created_at timestamptz)`,
            [JSON.stringify(endpointRows)],
          );
          await db.orbit.unsafe(
            `insert into events (id, tenant_id, run_id, type, data, error, created_at)
             select id, tenant_id, run_id, type, data, error, created_at
             from jsonb_to_recordset($1::text::jsonb) as x(id text, tenant_id text, run_id text, type text, data jsonb, error text, created_at timestamptz)`,
            [JSON.stringify(eventRows)],
          );
          await db.orbit.unsafe(
            `insert into messages (id, tenant_id, run_id, workflow_id, event_id, event_type, payload, created_at)
             select id, tenant_id, run_id, workflow_id, event_id, event_type, payload, created_at
             from jsonb_to_recordset($1::text::jsonb) as x(id text, tenant_id text, run_id text, workflow_id text, event_id text, event_type text,
               payload text, created_at timestamptz)`,
            [JSON.stringify(messageRows)],
          );
          await db.orbit.unsafe(
            `insert into deliveries (message_id, endpoint_id, tenant_id, status, next_attempt_at, created_at)
             select message_id, endpoint_id, tenant_id, 'pending', created_at, created_at
             from jsonb_to_recordset($1::text::jsonb) as x(message_id text, endpoint_id text, tenant_id text, created_at timestamptz)`,
            [JSON.stringify(deliveryRows)],
          );
          rowsMs += now() - rowsStarted;
        })(),
        (async () => {
          const jobsStarted = now();
          // The queue's own enqueue path (what recordEvent calls), a chunk at a time.
          for (let at = 0; at < jobs.length; at += 5_000) await enqueueDeliveries(boss, jobs.slice(at, at + 5_000));
          jobsMs += now() - jobsStarted;
        })(),
      ]).then(() => undefined);
    }
    await inflight;
  } finally {
    await inflight.catch(() => undefined);
    await boss.stop({ graceful: false, close: true }).catch(() => undefined);
  }
  // What autovacuum would have done over the minutes an API fill takes (docs/operations.md, "Queue statistics").
  const analyzeStarted = now();
  await db.orbit.unsafe('analyze runs, endpoints, events, messages, deliveries, pgboss.job');
  say(`fill: rows ${round(rowsMs / 1000, 1)} s, jobs ${round(jobsMs / 1000, 1)} s, analyze ${round((now() - analyzeStarted) / 1000, 1)} s`);
  return (now() - started) / 1000;
}

async function drainPhase(context: DrainContext): Promise<void> {
  const { orbitEnv, receiver, db } = context;
  say('drain: starting orbit api (no worker)');
  const api = await startOrbit('api', orbitEnv, context.profileDir);
  let worker: Orbit | null = null;
  try {
    say(`drain: queueing ${fmt(DRAIN_MESSAGES)} messages`);
    const fillSeconds = await fillBacklog(db, receiver.urls, DRAIN_MESSAGES);
    const [pending] = await db.orbit<{ n: number }[]>`select count(*)::int as n from deliveries where status = 'pending'`;
    say(`drain: filled in ${fillSeconds.toFixed(1)} s (${fmt(pending?.n ?? 0)} pending); starting one orbit worker`);
    await receiver.request({ cmd: 'reset' });
    const windowStart = await resetStatements(db);
    const sampler = waitSampler(db);
    const spawnedAt = now();
    worker = await startOrbit('worker', { ...orbitEnv, DATABASE_URL: db.superUrl }, context.profileDir);
    const workerPid = worker.pid;
    const meter = cpuMeter([
      { label: 'orbit worker (node)', pids: () => [workerPid] },
      { label: 'orbit api (node, idle)', pids: () => [api.pid] },
      { label: 'postgres (all processes)', pids: () => postgresUnder(api.pid) },
      { label: 'receiver', pids: () => [receiver.proc.pid as number] },
    ]);
    await worker.probe();
    meter.start();
    const startRss = memoryKiB(workerPid).rss;
    let peak = 0;
    let lastRss = 0;
    const poll = setInterval(() => {
      const memory = memoryKiB(workerPid);
      if (memory.rss > 0) lastRss = memory.rss;
      peak = Math.max(peak, memory.hwm, memory.rss);
    }, 100);
    const target = pending?.n ?? DRAIN_MESSAGES;
    const capSeconds = Math.max(20, Math.min(DRAIN_TIMEOUT_S, BUDGET_S - (now() - benchStarted) / 1000 - 15));
    if (capSeconds < DRAIN_TIMEOUT_S) say(`drain: capped at ${Math.round(capSeconds)} s to stay within the bench's time budget`);
    drainCapSeconds = capSeconds;
    const stats = await receiver.request<ReceiverStats>({ cmd: 'wait', unique: target, timeoutMs: capSeconds * 1000 });
    const cpu = meter.stop();
    const eventLoop = await worker.probe();
    const finished = stats.unique >= target;
    const endAt = finished ? stats.lastAt : now();
    const seconds = (endAt - worker.readyAt) / 1000;
    let probes = 0;
    let recordedAt: number | null = null;
    if (finished) {
      const recordStart = now();
      for (;;) {
        probes++;
        const [row] = await db.orbit<{ n: number }[]>`select count(*)::int as n from deliveries where status = 'pending'`;
        if ((row?.n ?? 0) === 0) {
          recordedAt = now();
          break;
        }
        if (now() - recordStart > 30_000) break;
        await sleep(20);
      }
    }
    const waits = await sampler.stop();
    const window = await statementWindow(db, windowStart, probes);
    clearInterval(poll);
    peak = Math.max(peak, memoryKiB(workerPid).hwm);
    const delivered = stats.unique;
    results.drain = {
      messages: target,
      fillSeconds: round(fillSeconds, 1),
      fillMethod:
        'runs, events and messages rows inserted by SQL exactly as recordEvent writes them; jobs by src/queue `enqueueDeliveries` (boss.insert, 5,000 per call); then ANALYZE',
      delivered,
      finished,
      seconds: round(seconds, 2),
      deliveriesPerSecond: round(delivered / seconds),
      firstReceiptAfterMs: round(stats.firstAt - worker.readyAt),
      recordedPerSecond: recordedAt === null ? null : round(delivered / ((recordedAt - worker.readyAt) / 1000)),
      peakRssMiB: round(peak / 1024, 1),
      endRssMiB: round(lastRss / 1024, 1),
      startRssMiB: round(startRss / 1024, 1),
      duplicates: stats.duplicates,
      statementsPerDelivery: round(window.statements / Math.max(1, delivered), 2),
      statementsPerDeliveryNoTxControl: round((window.statements - window.transactionControl) / Math.max(1, delivered), 2),
      transactionsPerDelivery: round(window.transactions / Math.max(1, delivered), 2),
      window,
      waits,
      cpu,
      cpuMicros: meter.microsPer(delivered),
      eventLoop,
    };
    say(
      `drain: ${fmt(delivered)} of ${fmt(target)} delivered in ${seconds.toFixed(1)} s → ${fmt(delivered / seconds)}/s; ` +
        `peak RSS ${results.drain.peakRssMiB} MiB (spawned → ready ${round(worker.readyAt - spawnedAt)} ms)`,
    );
  } finally {
    if (worker !== null) {
      const code = await worker.stop();
      if (code !== 0) say(`drain: orbit worker exited with ${code}`);
    }
    await api.stop();
    if (context.profileDir !== undefined) {
      for (const proc of [worker, api]) if (proc !== null) summariseProfiles(context.profileDir, proc.pid, `drain, orbit ${proc.role}`);
    }
  }
}

/**
 * One receiver origin with a backlog, drained by 1, 2 and 4 `orbit worker` processes (each run its
 * own backlog): how an origin's throughput grows with workers sharing its cap
 * (ORBIT_MAX_CONNECTIONS_PER_ORIGIN, the deployment's).
 */
async function originPhase(context: DrainContext): Promise<void> {
  say('origin: starting orbit api (no worker)');
  const api = await startOrbit('api', context.orbitEnv);
  results.origin = [];
  try {
    for (const count of ORIGIN_WORKERS) await originRun(context, api, count, null);
    // Each worker in a cgroup of its own with a quota: what more workers give when they are the limit.
    const probe = openCpuQuota('orbit-bench-probe', ORIGIN_WORKER_CPU);
    if (typeof probe === 'string') {
      results.originQuotaUnavailable = probe;
      say(`origin: no CPU-quota series: ${probe}`);
    } else {
      probe.remove();
      for (const count of ORIGIN_WORKERS) await originRun(context, api, count, ORIGIN_WORKER_CPU);
    }
  } finally {
    await api.stop();
  }
}

async function originRun(context: DrainContext, api: Orbit, count: number, cpuPerWorker: number | null): Promise<void> {
  const { orbitEnv, receiver, db } = context;
  await fillBacklog(db, [receiver.url], ORIGIN_MESSAGES);
  const [pending] = await db.orbit<{ n: number }[]>`select count(*)::int as n from deliveries where status = 'pending'`;
  const target = pending?.n ?? ORIGIN_MESSAGES;
  await receiver.request({ cmd: 'reset' });
  const limited = cpuPerWorker === null ? '' : `, ${cpuPerWorker} of a core each`;
  say(`origin: ${fmt(target)} messages for one origin; starting ${count} orbit worker process${count === 1 ? '' : 'es'}${limited}`);
  const quotas: CpuQuota[] = [];
  const workers = await Promise.all(
    Array.from({ length: count }, async (_, index) => {
      const worker = await startOrbit('worker', { ...orbitEnv, DATABASE_URL: db.superUrl, PORT: '0' });
      if (cpuPerWorker !== null) {
        const quota = openCpuQuota(`orbit-bench-worker-${index}`, cpuPerWorker);
        if (typeof quota === 'string') throw new Error(`origin: ${quota}`);
        quota.place(worker.pid);
        quotas.push(quota);
      }
      return worker;
    }),
  );
  const meter = cpuMeter([
    { label: 'orbit worker processes', pids: () => workers.map((worker) => worker.pid) },
    { label: 'postgres (all processes)', pids: () => postgresUnder(api.pid) },
    { label: 'receiver', pids: () => [receiver.proc.pid as number] },
  ]);
  meter.start();
  const startedAt = Math.max(...workers.map((worker) => worker.readyAt));
  const stats = await receiver.request<ReceiverStats>({ cmd: 'wait', unique: target, timeoutMs: 120_000 });
  meter.stop();
  const seconds = (stats.lastAt - startedAt) / 1000;
  results.origin?.push({
    workers: count,
    cpuPerWorker,
    messages: target,
    delivered: stats.unique,
    seconds: round(seconds, 2),
    deliveriesPerSecond: round(stats.unique / seconds),
    cpuMicros: meter.microsPer(stats.unique),
  });
  say(
    `origin: ${count} worker${count === 1 ? '' : 's'}${limited}: ${fmt(stats.unique)} in ${seconds.toFixed(1)} s → ${fmt(stats.unique / seconds)}/s`,
  );
  await Promise.all(workers.map((worker) => worker.stop()));
  for (const quota of quotas) quota.remove();
  // Anything still pending (a capped run) must not count in the next run's backlog.
  await db.orbit`update deliveries set status = 'failed', failure_reason = 'bench: left over' where status = 'pending'`;
}

function summariseProfiles(dir: string, pid: number, title: string): void {
  if (!existsSync(dir)) return;
  const file = readdirSync(dir).find((name) => name.includes(`.${pid}.`) && name.endsWith('.cpuprofile'));
  if (file === undefined) {
    say(`no CPU profile of pid ${pid} in ${dir}`);
    return;
  }
  const path = join(dir, file);
  const text = formatProfileSummary(`${title} (${path.slice(ROOT.length)})`, summarizeProfile(path, 25), 25);
  results.profiles.push(text);
  process.stdout.write(`\n${text}\n`);
}

// ---------------------------------------------------------------------------------------------
// Report

function status(met: boolean): string {
  return met ? 'met' : '**not met**';
}

function statementTable(window: StatementWindow, deliveries: number): string[] {
  const lines = ['| calls / delivery | total ms | mean ms | plans / call | planning ms | statement |', '|---:|---:|---:|---:|---:|---|'];
  for (const row of window.top) {
    const text = row.query.length > 150 ? `${row.query.slice(0, 150)}…` : row.query;
    const calls = Math.max(1, row.calls);
    lines.push(
      `| ${round(row.calls / deliveries, 3)} | ${fmt(row.totalMs)} | ${round(row.totalMs / calls, 3)} | ${round(row.plans / calls, 2)} | ${fmt(row.planMs)} | \`${text.replaceAll('|', '\\|')}\` |`,
    );
  }
  return lines;
}

/**
 * Rows read by sequential scans, the share of updates that were HOT (no index entry written), and
 * how often (auto)vacuum and (auto)analyze ran on the table.
 */
function tableActivity(window: StatementWindow, deliveries: number): string[] {
  const per = (n: number): number => round(n / deliveries, 2);
  const lines = [
    '| table | seq scans | rows read by seq scans | index scans | inserted | updated | of them HOT | deleted | vacuums in the phase | analyzes in the phase |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const row of window.tables.slice(0, 12)) {
    const hot = row.updated === 0 ? '' : `${Math.round((100 * row.hotUpdated) / row.updated)} %`;
    lines.push(
      `| ${row.table} | ${per(row.seqScans)} | ${per(row.seqRowsRead)} | ${per(row.indexScans)} | ${per(row.inserted)} | ${per(row.updated)} | ${hot} | ${per(row.deleted)} | ${row.vacuums} | ${row.analyzes} |`,
    );
  }
  return lines;
}

function walLine(window: StatementWindow, deliveries: number): string {
  const { wal } = window;
  const per = (n: number): number => round(n / deliveries, 2);
  return `WAL over the phase (pg_stat_wal, pg_stat_io), per delivery: ${per(wal.records)} records, ${per(wal.fullPageImages)} full-page images, ${fmt(Math.round(wal.bytes / deliveries))} bytes, ${per(wal.writes)} writes, ${per(wal.syncs)} flushes to disk (${fmt(wal.syncs)} in all).`;
}

function loopLine(stats: EventLoopStats): string {
  const heap = stats.heapMiB
    ? `; heap spaces at the end (MiB): new ${stats.heapMiB['new_space'] ?? '?'}, old ${stats.heapMiB['old_space'] ?? '?'}, code ${stats.heapMiB['code_space'] ?? '?'}, large ${stats.heapMiB['large_object_space'] ?? '?'}`
    : '';
  return `utilisation ${round(stats.eventLoopUtilization * 100)} %, delay p50 ${round(stats.delayMs.p50, 1)} ms, p99 ${round(stats.delayMs.p99, 1)} ms, max ${round(stats.delayMs.max, 1)} ms${heap}`;
}

/** One report line per Orbit process's event loop. */
function loopLines(loops: EventLoops): string[] {
  const entries = Object.entries(loops);
  if (entries.length === 0) return ["- Orbit's event loops: not measured"];
  return entries.map(([name, stats]) => `- event loop of the orbit ${name} process: ${loopLine(stats)}`);
}

function cpuLine(cpu: Record<string, number>): string {
  return Object.entries(cpu)
    .map(([label, value]) => `${label} ${value} %`)
    .join(' · ');
}

/** p50 and p99 latency against offered load, as a small SVG line chart (log scales). */
function latencyChart(points: readonly LatencyResult[]): string {
  const width = 640;
  const height = 360;
  const margin = { left: 70, right: 20, top: 40, bottom: 50 };
  const rates = points.map((point) => point.rate);
  const values = points.flatMap((point) => [point.p50, point.p99]).filter((value) => Number.isFinite(value) && value > 0);
  const lo = Math.min(1, ...values);
  const hi = Math.max(100, ...values);
  const x = (rate: number): number =>
    margin.left +
    ((Math.log10(rate) - Math.log10(Math.min(...rates))) /
      Math.max(1e-9, Math.log10(Math.max(...rates)) - Math.log10(Math.min(...rates)))) *
      (width - margin.left - margin.right);
  const y = (ms: number): number =>
    height -
    margin.bottom -
    ((Math.log10(Math.max(ms, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (height - margin.top - margin.bottom);
  const line = (pick: (point: LatencyResult) => number, color: string): string =>
    `<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.map((point) => `${x(point.rate).toFixed(1)},${y(pick(point)).toFixed(1)}`).join(' ')}"/>` +
    points.map((point) => `<circle cx="${x(point.rate).toFixed(1)}" cy="${y(pick(point)).toFixed(1)}" r="3" fill="${color}"/>`).join('');
  const ticks: number[] = [];
  for (let decade = 10 ** Math.floor(Math.log10(lo)); decade <= hi; decade *= 10) ticks.push(decade);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="${width / 2}" y="22" text-anchor="middle" font-size="14">Orbit: event → receipt latency against offered load</text>
${ticks.map((tick) => `<line x1="${margin.left}" x2="${width - margin.right}" y1="${y(tick)}" y2="${y(tick)}" stroke="#ddd"/><text x="${margin.left - 8}" y="${y(tick) + 4}" text-anchor="end">${tick} ms</text>`).join('\n')}
${rates.map((rate) => `<text x="${x(rate)}" y="${height - margin.bottom + 18}" text-anchor="middle">${fmt(rate)}</text>`).join('\n')}
<text x="${width / 2}" y="${height - 12}" text-anchor="middle">offered events/s (log scale)</text>
${line((point) => point.p50, '#1f77b4')}
${line((point) => point.p99, '#d62728')}
<text x="${width - margin.right - 90}" y="${margin.top + 4}" fill="#1f77b4">p50</text>
<text x="${width - margin.right - 50}" y="${margin.top + 4}" fill="#d62728">p99</text>
</svg>
`;
}

function report(): string {
  const lines: string[] = [];
  const env = results.environment;
  lines.push('# Orbit benchmark results', '');
  lines.push(`Generated by \`npm run bench\` (bench/run.ts) on ${env['date']}.`, '');
  lines.push('| machine | |', '|---|---|');
  for (const [key, value] of Object.entries(env)) if (key !== 'date') lines.push(`| ${key} | ${value} |`);
  lines.push('');
  lines.push('## Summary', '', '| metric | result | target | |', '|---|---:|---:|---|');
  const t = results.throughput;
  const l = results.latency;
  const d = results.drain;
  const r = results.relay;
  const ord = results.ordered;
  const o = results.origin;
  if (r && t) {
    const ratio = t.deliveriesPerSecond / r.deliveriesPerSecond;
    lines.push(
      `| **Orbit end to end / in-memory relay ceiling, same run** | **${round(ratio, 2)}** (${fmt(t.deliveriesPerSecond)} / ${fmt(r.deliveriesPerSecond)} deliveries/s) | ≥ ${TARGETS.ratio} | ${status(ratio >= TARGETS.ratio)} |`,
    );
  }
  if (t)
    lines.push(
      `| throughput, end to end (${fmt(t.events)} events, ${CLIENTS} clients${t.capped ? `, capped at ${THROUGHPUT_CAP_S} s: ${fmt(t.accepted)} sent` : ''}) | ${fmt(t.deliveriesPerSecond)} deliveries/s | ≥ ${fmt(TARGETS.throughput)} | ${status(t.deliveriesPerSecond >= TARGETS.throughput)} |`,
    );
  if (ord)
    lines.push(
      `| throughput with \`"ordered": true\` webhooks (same workload${ord.capped ? `, capped at ${THROUGHPUT_CAP_S} s: ${fmt(ord.accepted)} sent` : ''}) | ${fmt(ord.deliveriesPerSecond)} deliveries/s | | |`,
    );
  if (l) {
    const complete = l.missing <= l.events * 0.01;
    if (!complete)
      lines.push(
        `| latency: events not delivered within ${TAIL_CAP_S} s of the last send | ${fmt(l.missing)} of ${fmt(l.events)} | 0 | **not met** |`,
      );
    lines.push(
      `| latency at ${fmt(LATENCY_RATE)} events/s, p50 | ${l.p50} ms | ≤ ${TARGETS.latencyP50} ms | ${status(complete && l.p50 <= TARGETS.latencyP50)} |`,
    );
    lines.push(`| latency at ${fmt(LATENCY_RATE)} events/s, p95 | ${l.p95} ms | | |`);
    lines.push(
      `| latency at ${fmt(LATENCY_RATE)} events/s, p99 | ${l.p99} ms${complete ? '' : ' (of those delivered)'} | ≤ ${TARGETS.latencyP99} ms | ${status(complete && l.p99 <= TARGETS.latencyP99)} |`,
    );
  }
  const f = results.fanout;
  if (f)
    lines.push(
      `| fan-out, Svix-compatible API, end to end (${fmt(f.accepted)} messages × ${f.endpoints} endpoints, ${CLIENTS} clients) | ${fmt(f.deliveriesPerSecond)} deliveries/s | | |`,
    );
  const m = results.servePeakRssMiB;
  if (m)
    lines.push(
      `| \`orbit serve\` peak RSS over ${m.phases}: supervisor · API · worker | ${m.supervisor} · ${m.api} · ${m.worker} MiB | ≤ ${TARGETS.rssMiB} MiB each | ${status(Math.max(m.supervisor, m.api, m.worker) <= TARGETS.rssMiB)} |`,
    );
  if (d) {
    lines.push(
      `| backlog drain (${fmt(d.messages)} queued, one worker) | ${fmt(d.deliveriesPerSecond)} deliveries/s${d.finished ? '' : ` (stopped after ${Math.round(drainCapSeconds)} s: ${fmt(d.delivered)} delivered)`} | ≥ ${fmt(TARGETS.drain)} | ${status(d.finished && d.deliveriesPerSecond >= TARGETS.drain)} |`,
    );
    lines.push(
      `| worker peak RSS during the drain | ${d.peakRssMiB} MiB | ≤ ${TARGETS.rssMiB} MiB | ${status(d.peakRssMiB <= TARGETS.rssMiB)} |`,
    );
  }
  if (t)
    lines.push(
      `| SQL statements per delivery (throughput phase, all included) | ${t.statementsPerDelivery} | ≤ ${TARGETS.statements} | ${status(t.statementsPerDelivery <= TARGETS.statements)} |`,
    );
  if (d)
    lines.push(
      `| SQL statements per delivery (drain phase) | ${d.statementsPerDelivery} | ≤ ${TARGETS.statements} | ${status(d.statementsPerDelivery <= TARGETS.statements)} |`,
    );
  if (r) lines.push(`| in-memory relay ceiling (same workload, no database) | ${fmt(r.deliveriesPerSecond)} deliveries/s | | |`);
  if (o && o.length > 0) {
    // The 2-worker target is judged where the workers are the limit: the CPU-quota series when it ran.
    const judged = o.some((run) => run.cpuPerWorker !== null) ? 'quota' : 'unlimited';
    for (const series of ['unlimited', 'quota'] as const) {
      const runs = o.filter((run) => (run.cpuPerWorker === null) === (series === 'unlimited'));
      const one = runs.find((run) => run.workers === 1);
      for (const run of runs) {
        const scale = one ? run.deliveriesPerSecond / one.deliveriesPerSecond : Number.NaN;
        const target = series === judged && run.workers === 2;
        const label = run.cpuPerWorker === null ? '' : `, ${run.cpuPerWorker} of a core each`;
        lines.push(
          `| one receiver origin, ${run.workers} worker process${run.workers === 1 ? '' : 'es'}${label} | ${fmt(run.deliveriesPerSecond)} deliveries/s${run.workers === 1 ? '' : ` (${round(scale, 2)}× one)`} | ${target ? `≥ ${TARGETS.originScale}× one` : ''} | ${target ? status(scale >= TARGETS.originScale) : ''} |`,
        );
      }
    }
  }
  lines.push('');

  const perDelivery: [string, Record<string, number>][] = [];
  if (r) perDelivery.push(['in-memory relay', r.cpuMicros]);
  if (t) perDelivery.push(['throughput', t.cpuMicros]);
  if (l) perDelivery.push([`latency at ${fmt(l.rate)}/s`, l.cpuMicros]);
  if (results.fanout) perDelivery.push(['fan-out', results.fanout.cpuMicros]);
  if (d) perDelivery.push(['drain', d.cpuMicros]);
  if (perDelivery.length > 0) {
    const labels = [...new Set(perDelivery.flatMap(([, micros]) => Object.keys(micros)))];
    lines.push('## CPU time per delivery (µs of CPU, by process)', '');
    lines.push(`| phase | ${labels.join(' | ')} | Orbit + PostgreSQL |`, `|---|${labels.map(() => '---:').join('|')}|---:|`);
    for (const [phase, micros] of perDelivery) {
      const own = Object.entries(micros)
        .filter(([label]) => label.startsWith('orbit') || label.startsWith('postgres') || label === 'relay')
        .reduce((sum, [, value]) => sum + value, 0);
      lines.push(
        `| ${phase} | ${labels.map((label) => (micros[label] === undefined ? '' : fmt(micros[label] as number))).join(' | ')} | **${fmt(own)}** |`,
      );
    }
    lines.push('');
  }
  const curve = results.curve;
  if (curve && curve.length > 0) {
    lines.push('## Latency against offered load', '');
    lines.push(`Each rate held ${CURVE_SECONDS} s, request sent → receipt. Chart: [latency-curve.svg](latency-curve.svg).`, '');
    lines.push('| offered events/s | achieved | p50 ms | p99 ms | missing |', '|---:|---:|---:|---:|---:|');
    for (const point of curve)
      lines.push(`| ${fmt(point.rate)} | ${fmt(point.sendRate)} | ${point.p50} | ${point.p99} | ${fmt(point.missing)} |`);
    lines.push('');
  }
  if (o && o.length > 0) {
    lines.push('## One receiver origin, 1, 2 and 4 workers', '');
    lines.push(
      `\`orbit api\` runs the embedded database; for each run ${fmt(ORIGIN_MESSAGES)} messages for one receiver origin are queued by SQL, then that many \`orbit worker\` processes drain them, sharing the origin's cap (\`ORBIT_MAX_CONNECTIONS_PER_ORIGIN\`, the deployment's: each worker runs its share). On a 2-core machine the workers, PostgreSQL, the receiver and the driver share the same two cores, so unlimited workers can only add what idle CPU there is.`,
      '',
      results.originQuotaUnavailable === undefined
        ? `The second series holds each worker to ${ORIGIN_WORKER_CPU} of a core (a cgroup CPU quota of its own, \`BENCH_ORIGIN_WORKER_CPU\`): the workers are then what limits the origin, as on a machine where each worker has a core of its own and PostgreSQL has room, and the series shows what each added worker brings to one origin. Without fair claims one worker could hold all of the origin's claims (the deployment's limit), and a second would find none to fetch. The series varies from run to run on this machine: read it with the run-to-run spread in docs/operations.md.`
        : `No CPU-quota series: ${results.originQuotaUnavailable}.`,
      '',
      '| workers | CPU per worker | deliveries/s | CPU µs per delivery (workers · postgres · receiver) |',
      '|---:|---|---:|---|',
    );
    for (const run of o)
      lines.push(
        `| ${run.workers} | ${run.cpuPerWorker === null ? 'unlimited' : `${run.cpuPerWorker} core`} | ${fmt(run.deliveriesPerSecond)} | ${Object.values(
          run.cpuMicros,
        )
          .slice(0, 3)
          .map((value) => fmt(value))
          .join(' · ')} |`,
      );
    lines.push('');
  }

  if (r) {
    lines.push('## In-memory relay ceiling', '');
    lines.push(
      `bench/relay.ts serves the same two routes with the same state machine, payload and signature, answers 202, and POSTs to the receiver (no database, no queue, no attempt log). ` +
        `${fmt(r.received)} deliveries in ${r.seconds} s → **${fmt(r.deliveriesPerSecond)}/s**. CPU (% of one core): ${cpuLine(r.cpu)}.`,
      '',
    );
  }
  if (t) {
    lines.push('## Throughput', '');
    lines.push(
      `${fmt(RUNS)} runs created first (${fmt(t.runsCreatePerSecond)} runs/s, not timed), then ${fmt(t.events)} events (run.started, ${NODES_PER_RUN} × node.completed, run.completed per run) by ${CLIENTS} clients, each posting one run's events in order.`,
      '',
      `- first request → last receipt: ${t.seconds} s → **${fmt(t.deliveriesPerSecond)} deliveries/s** (${fmt(t.deliveries)} delivered, ${t.duplicates} duplicates)`,
      `- ingest: all ${fmt(t.accepted)} events answered 202 in ${t.ingestSeconds} s (${fmt(t.ingestPerSecond)} events/s); 202 latency p50 ${t.ackP50} ms, p99 ${t.ackP99} ms`,
      `- every attempt recorded ${fmt(t.recordedAfterMs)} ms after the last receipt`,
      `- errors: ${Object.keys(t.errors).length === 0 ? 'none' : JSON.stringify(t.errors)}`,
      `- statements per delivery: **${t.statementsPerDelivery}** (${t.statementsPerDeliveryNoTxControl} without BEGIN/COMMIT), transactions per delivery ${t.transactionsPerDelivery} (${fmt(t.window.statements)} statements, ${fmt(t.window.transactions)} transactions)`,
      `- CPU (% of one core, 2 cores = 200 %): ${cpuLine(t.cpu)}`,
      ...loopLines(t.eventLoop),
      `- Orbit's database sessions, average number in each state (pg_stat_activity sampled every 50 ms): ${t.waits
        .slice(0, 12)
        .map((w) => `${w.what} ${w.backends}`)
        .join(' · ')}`,
      '',
      'Top statements by execution and planning time (pg_stat_statements over the phase):',
      '',
      ...statementTable(t.window, t.deliveries),
      '',
      'Table activity over the phase (pg_stat_user_tables), per delivery:',
      '',
      ...tableActivity(t.window, t.deliveries),
      '',
      walLine(t.window, t.deliveries),
      '',
    );
  }
  if (ord) {
    lines.push('## Ordered delivery', '');
    lines.push(
      `The throughput workload with every run's webhook \`"ordered": true\`: each run's messages go one at a time, the next once the one before it is recorded (a chain serialised on the run's endpoint row).`,
      '',
      `- first request → last receipt: ${ord.seconds} s → **${fmt(ord.deliveriesPerSecond)} deliveries/s** (${fmt(ord.deliveries)} delivered, ${ord.duplicates} duplicates)${t ? `; unordered: ${fmt(t.deliveriesPerSecond)}/s` : ''}`,
      `- ingest: ${fmt(ord.accepted)} events answered 202 in ${ord.ingestSeconds} s (${fmt(ord.ingestPerSecond)} events/s); 202 latency p50 ${ord.ackP50} ms, p99 ${ord.ackP99} ms`,
      `- statements per delivery: **${ord.statementsPerDelivery}** (${ord.statementsPerDeliveryNoTxControl} without BEGIN/COMMIT), transactions per delivery ${ord.transactionsPerDelivery}`,
      `- CPU (% of one core): ${cpuLine(ord.cpu)}`,
      '',
      'Top statements by execution and planning time:',
      '',
      ...statementTable(ord.window, Math.max(1, ord.deliveries)),
      '',
    );
  }
  if (l) {
    lines.push('## Latency', '');
    lines.push(
      `${fmt(l.events)} events sent open-loop at ${fmt(LATENCY_RATE)}/s (achieved ${fmt(l.sendRate)}/s) over ${fmt(Math.ceil(l.events / EVENTS_PER_RUN))} runs in round-robin; latency from the request being sent to the receiver getting the message (matched by svix-id = the 202's messageId).`,
      '',
      `- **p50 ${l.p50} ms, p95 ${l.p95} ms, p99 ${l.p99} ms**, max ${l.max} ms (${fmt(l.delivered)} delivered, ${l.missing} missing)`,
      `- by second of sending, p50 / p99 (ms): ${l.bySecond.map((second) => `${second.p50} / ${second.p99}`).join(' · ')}; the 202's p50: ${l.bySecond.map((second) => second.ackP50).join(' · ')}`,
      `- 202 answer: p50 ${l.ackP50} ms, p99 ${l.ackP99} ms; ${l.waitedForPrevious} events waited for their run's previous answer`,
      `- errors: ${Object.keys(l.errors).length === 0 ? 'none' : JSON.stringify(l.errors)}`,
      `- CPU (% of one core): ${cpuLine(l.cpu)}`,
      ...loopLines(l.eventLoop),
      '',
      ...(l.window
        ? ['Top statements by execution and planning time:', '', ...statementTable(l.window, Math.max(1, l.delivered)), '']
        : []),
    );
  }
  if (f) {
    lines.push('## Fan-out (Svix-compatible API)', '');
    lines.push(
      `One application with ${f.endpoints} endpoints (no filters, one receiver origin), ${fmt(f.messages)} messages sent by ${CLIENTS} clients as the svix SDK sends them (\`POST /api/v1/app/{app}/msg\`, an \`idempotency-key\` each); one delivery per message and endpoint.`,
      '',
      `- first request → last receipt: ${f.seconds} s → **${fmt(f.deliveriesPerSecond)} deliveries/s** (${fmt(f.deliveries)} delivered, ${f.duplicates} duplicates)`,
      `- ingest: ${fmt(f.accepted)} messages answered 202 in ${f.ingestSeconds} s (${fmt(f.messagesPerSecond)} messages/s); 202 latency p50 ${f.ackP50} ms, p99 ${f.ackP99} ms`,
      `- errors: ${Object.keys(f.errors).length === 0 ? 'none' : JSON.stringify(f.errors)}`,
      `- CPU (% of one core): ${cpuLine(f.cpu)}`,
      ...loopLines(f.eventLoop),
      '',
    );
  }
  if (d) {
    lines.push('## Backlog drain', '');
    lines.push(
      `\`orbit api\` running (it hosts the embedded database), no worker. ${fmt(d.messages)} messages queued in ${d.fillSeconds} s: ${d.fillMethod}. Then one \`orbit worker\` (DATABASE_URL = the embedded database).`,
      '',
      `- worker ready → last receipt: ${d.seconds} s → **${fmt(d.deliveriesPerSecond)} deliveries/s**${d.finished ? '' : ` (**not finished** within ${Math.round(drainCapSeconds)} s)`}; first receipt ${fmt(d.firstReceiptAfterMs)} ms after ready; ${d.duplicates} duplicates`,
      `- all attempts recorded: ${d.recordedPerSecond === null ? 'not within the wait' : `${fmt(d.recordedPerSecond)} deliveries/s`}`,
      `- worker RSS: ${d.startRssMiB} MiB at start, **peak ${d.peakRssMiB} MiB** (VmHWM), ${d.endRssMiB} MiB at the end`,
      `- statements per delivery: **${d.statementsPerDelivery}** (${d.statementsPerDeliveryNoTxControl} without BEGIN/COMMIT), transactions per delivery ${d.transactionsPerDelivery}`,
      `- CPU (% of one core): ${cpuLine(d.cpu)}`,
      ...loopLines(d.eventLoop),
      `- Orbit's database sessions (average number in each state): ${d.waits
        .slice(0, 12)
        .map((w) => `${w.what} ${w.backends}`)
        .join(' · ')}`,
      '',
      'Top statements by execution and planning time:',
      '',
      ...statementTable(d.window, Math.max(1, d.delivered)),
      '',
    );
  }
  if (results.profiles.length > 0) lines.push('## CPU profiles (node --cpu-prof)', '', ...results.profiles, '');
  lines.push(
    '## Method',
    '',
    '- Every process runs on this machine: the bench driver (undici), Orbit, its embedded PostgreSQL, and the receiver (bench/receiver.ts, node:http answering 204, its own process). They share the CPUs; the CPU lines above say who used what.',
    "- PostgreSQL runs as Orbit configures it, plus `shared_preload_libraries = pg_stat_statements` with `pg_stat_statements.track_planning = on` (ALTER SYSTEM and one restart before the phases), and any `BENCH_PG_SETTINGS` (`name=value` pairs, space-separated) set the same way. Statements are counted for Orbit's role and database only; the bench connects as a role of its own. WAL figures are the whole server's.",
    '- Rerun: `npm run bench` (all phases, writes this file) or `node bench/run.ts throughput latency fanout` (some phases, prints only); `--cpu-prof` adds CPU profiles of the Orbit processes.',
    '',
  );
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'orbit-bench-'));
  const profileRoot = join(ROOT, 'bench/profiles', new Date().toISOString().replace(/[:.]/g, '-'));
  if (CPU_PROF) mkdirSync(profileRoot, { recursive: true });
  const adminKey = `gx_bench_${randomBytes(18).toString('base64url')}`;
  const benchPassword = randomBytes(12).toString('hex');
  const pgPort = await freePort();
  const orbitEnv: Record<string, string> = {
    ORBIT_DATA_DIR: dataDir,
    ORBIT_EMBEDDED_PG_PORT: String(pgPort),
    HOST: '127.0.0.1',
    PORT: '0',
    ORBIT_ALLOW_HTTP: 'true',
    ORBIT_ALLOW_PRIVATE_NETWORKS: '127.0.0.0/8',
    ORBIT_ADMIN_KEY: adminKey,
    LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'warn',
  };
  const cpuModel = cpus()[0]?.model ?? 'unknown';
  results.environment = {
    date: new Date().toISOString(),
    CPU: `${cpus().length} × ${cpuModel}`,
    memory: `${round(totalmem() / 2 ** 30, 1)} GiB`,
    // Other work on the machine skews every figure: the load average when the bench began.
    'load average at start (1/5/15 min)': loadavg()
      .map((value) => value.toFixed(2))
      .join(' / '),
    Node: process.version,
    'Orbit commit': (() => {
      try {
        const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
        const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).trim() !== '';
        return dirty ? `${head} + uncommitted changes in src/` : head;
      } catch {
        return 'unknown';
      }
    })(),
    'receiver origins': String(ORIGINS),
    'Orbit settings': [
      'ORBIT_WORKER_CONCURRENCY',
      'ORBIT_MAX_CONNECTIONS_PER_ORIGIN',
      'ORBIT_DB_POOL_SIZE',
      'BENCH_ORBIT_NODE_OPTIONS',
      'BENCH_PG_SETTINGS',
    ]
      .map((name) => `${name}=${process.env[name] ?? 'default'}`)
      .join(', '),
  };
  say(`data dir ${dataDir}; phases: ${[...selected].join(', ')}`);

  process.env['BENCH_ORIGINS'] = String(ORIGINS);
  const receiver = await Helper.start('bench/receiver.ts');
  let serve: Orbit | null = null;
  let db: Db | null = null;
  try {
    if (selected.has('relay')) await relayPhase(receiver, CPU_PROF ? join(profileRoot, 'relay') : undefined);

    // First start: creates the database; then pg_stat_statements is enabled, which needs a restart.
    say('starting orbit serve (first start: creates the database)');
    serve = await startOrbit('serve', orbitEnv);
    const password = readFileSync(join(dataDir, 'pg-password'), 'utf8').trim();
    await prepareDatabase(`postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${pgPort}/postgres`, benchPassword);
    await serve.stop();
    serve = null;

    const serveProfileDir = CPU_PROF ? join(profileRoot, 'serve') : undefined;
    const servePhases = SERVE_PHASES.filter((phase) => selected.has(phase));
    if (servePhases.length > 0) {
      serve = await startOrbit('serve', orbitEnv, serveProfileDir);
    } else {
      // The database must run for openDb: a short serve without a profile.
      serve = await startOrbit('serve', orbitEnv);
    }
    db = await openDb(pgPort, password, benchPassword);
    const [version] = await db.monitor<{ v: string }[]>`select current_setting('server_version') as v`;
    results.environment['PostgreSQL'] = `${version?.v ?? '?'} (embedded)`;
    const bossVersion = (JSON.parse(readFileSync(join(ROOT, 'node_modules/pg-boss/package.json'), 'utf8')) as { version: string }).version;
    results.environment['pg-boss'] = bossVersion;

    if (servePhases.length > 0) {
      const api: Api = { pool: new Pool(serve.url as string, { connections: 256 }), key: adminKey, receiverUrls: receiver.urls };
      try {
        if (selected.has('throughput')) await throughputPhase(serve, api, receiver, db);
        if (selected.has('ordered')) await throughputPhase(serve, api, receiver, db, true);
        if (selected.has('latency')) await latencyPhase(api, receiver, serve, db);
        if (selected.has('curve')) await curvePhase(api, receiver, serve);
        if (selected.has('fanout')) await fanoutPhase(serve, api, receiver);
      } finally {
        await api.pool.close();
      }
    }
    const roles = serveRoles(serve.pid);
    if (servePhases.length > 0) {
      const peak = (pids: number[]): number => round(Math.max(0, ...pids.map((pid) => memoryKiB(pid).hwm)) / 1024, 1);
      results.servePeakRssMiB = {
        phases: servePhases.join(', '),
        supervisor: peak(roles.supervisor),
        api: peak(roles.api),
        worker: peak(roles.worker),
      };
    }
    const code = await serve.stop();
    if (code !== 0) say(`orbit serve exited with ${code}`);
    if (serveProfileDir !== undefined) {
      const phases = servePhases.join(' + ');
      for (const pid of roles.api) summariseProfiles(serveProfileDir, pid, `orbit serve's API process (${phases})`);
      for (const pid of roles.worker) summariseProfiles(serveProfileDir, pid, `orbit serve's worker process (${phases})`);
    }
    serve = null;

    if (selected.has('drain')) await drainPhase({ orbitEnv, receiver, db, profileDir: CPU_PROF ? join(profileRoot, 'drain') : undefined });
    if (selected.has('origin')) await originPhase({ orbitEnv, receiver, db, profileDir: undefined });
  } finally {
    if (serve !== null) await serve.stop();
    if (db !== null) {
      await db.monitor.end({ timeout: 1 }).catch(() => undefined);
      await db.orbit.end({ timeout: 1 }).catch(() => undefined);
    }
    await receiver.stop();
    killChildren();
    if (!KEEP) rmSync(dataDir, { recursive: true, force: true });
  }

  const text = report();
  process.stdout.write(`\n${text}\n`);
  if (FULL_RUN) {
    writeFileSync(join(ROOT, 'bench/RESULTS.md'), text);
    say('wrote bench/RESULTS.md');
    if (results.curve !== undefined) {
      writeFileSync(join(ROOT, 'bench/latency-curve.svg'), latencyChart(results.curve));
      say('wrote bench/latency-curve.svg');
    }
  }
}

try {
  await main();
  say(`done in ${((now() - benchStarted) / 1000).toFixed(0)} s`);
  process.exit(0);
} catch (error) {
  say(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  killChildren();
  process.exit(1);
}
