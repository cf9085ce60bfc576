/**
 * Soak test (issue 5 item 7), not part of `npm test`:
 *   node bench/soak.ts            (SOAK_RATE=1000 events/s, SOAK_SECONDS=60 by default)
 *
 * Starts `orbit serve` as a child process with an embedded PostgreSQL in a temp dir, receivers in
 * another process (one of them answers 500 to 20 % of requests), then sends a steady stream of run
 * events through the public HTTP API and reports: events accepted, delivered, still retrying,
 * failed, duplicates, and Orbit's RSS at start and end.
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { Agent, request } from 'undici';
import { startOrbit, type OrbitProcess } from '../scripts/lib/orbit-process.ts';
import { freePort } from '../src/db/embedded.ts';

const RATE = Number(process.env['SOAK_RATE'] ?? 1000);
const SECONDS = Number(process.env['SOAK_SECONDS'] ?? 60);
const DRAIN_SECONDS = Number(process.env['SOAK_DRAIN_SECONDS'] ?? 60);
// Requests kept going at once; each run posts its events one after another.
const SLOTS = Number(process.env['SOAK_SLOTS'] ?? 300);
const NODES_PER_RUN = 8;

const root = fileURLToPath(new URL('..', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'orbit-soak-'));
const adminKey = `gx_soak_${randomBytes(18).toString('base64url')}`;
const httpPort = await freePort();
const pgPort = await freePort();

function rssKiB(pid: number): number {
  try {
    return Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Orbit's resident memory: `orbit serve` and its API and worker processes (not the database's helper). */
function rssMiB(pid: number): number {
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    // not Linux, or gone
  }
  const orbitChildren = children.filter((child) => {
    try {
      return readFileSync(`/proc/${child}/cmdline`, 'utf8').includes('main.ts');
    } catch {
      return false;
    }
  });
  const kb = [pid, ...orbitChildren].reduce((sum, one) => sum + rssKiB(one), 0);
  return Math.round((kb / 1024) * 10) / 10;
}

function say(line: string): void {
  process.stderr.write(`[soak] ${line}\n`);
}

// ---------------------------------------------------------------------------------------------
// Receivers, then Orbit.

const receiverProcess = fork(join(root, 'bench/soak-receiver.ts'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
const receiverUrls = await new Promise<string[]>((resolve) => {
  receiverProcess.once('message', (message) => resolve((message as { urls: string[] }).urls));
});

interface ReceiverReport {
  url: string;
  failing: boolean;
  requests: number;
  answered2xx: number;
  answered5xx: number;
  messagesDelivered: number;
  duplicates: number;
}

function receiverReport(): Promise<ReceiverReport[]> {
  return new Promise((resolve) => {
    receiverProcess.once('message', (message) => resolve((message as { receivers: ReceiverReport[] }).receivers));
    receiverProcess.send('report');
  });
}

// Started as `npm start` runs it (the same V8 flag).
const orbit: OrbitProcess = startOrbit({
  args: ['serve'],
  baseEnv: 'inherit',
  env: {
    ORBIT_DATA_DIR: dataDir,
    ORBIT_EMBEDDED_PG_PORT: String(pgPort),
    PORT: String(httpPort),
    HOST: '127.0.0.1',
    ORBIT_ALLOW_HTTP: 'true',
    ORBIT_ALLOW_PRIVATE_NETWORKS: '127.0.0.0/8',
    ORBIT_ADMIN_KEY: adminKey,
    ORBIT_RETRY_SCHEDULE: '1s,2s,4s',
    LOG_LEVEL: process.env['SOAK_LOG_LEVEL'] ?? 'warn',
  },
  stderr: 'inherit',
  captureLimit: 65_536,
  onLine: (line, stream) => {
    if (stream === 'stdout' && !line.startsWith('{') && !/listening on/.test(line)) say(`orbit: ${line}`);
  },
});
const orbitPid = orbit.pid;
await orbit.listening(60_000);
const base = `http://127.0.0.1:${httpPort}`;
const password = readFileSync(join(dataDir, 'pg-password'), 'utf8').trim();
const db = postgres(`postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${pgPort}/postgres`, { max: 1, onnotice: () => {} });
const rssStart = rssMiB(orbitPid);
say(`orbit pid ${orbitPid} on ${base}, RSS ${rssStart} MiB; ${RATE} events/s for ${SECONDS} s to ${receiverUrls.length} receivers`);

// ---------------------------------------------------------------------------------------------
// Load: SLOTS runs at a time, each posting its events in order; a token bucket sets the pace.

const agent = new Agent({ connections: SLOTS, keepAliveTimeout: 60_000 });

async function call(method: 'POST' | 'GET', path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const response = await request(`${base}${path}`, {
    method,
    dispatcher: agent,
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.body.text();
  return { status: response.statusCode, json: text === '' ? null : (JSON.parse(text) as unknown) };
}

const counts = { accepted: 0, refused: 0, errors: 0, runs: 0, runErrors: 0 };
const refusedByStatus = new Map<number, number>();
const latencies: number[] = [];
let done = false;
let released = 0;
const waiters: (() => void)[] = [];
const started = performance.now();

// Tokens come at RATE per second; at most one second of them is banked when Orbit falls behind.
const pacer = setInterval(() => {
  const due = Math.floor(((performance.now() - started) / 1000) * RATE);
  released = Math.max(released, due - RATE);
  while (released < due && waiters.length > 0) {
    released++;
    waiters.shift()?.();
  }
}, 2);

function token(): Promise<void> {
  if (done) return Promise.resolve();
  return new Promise((resolve) => waiters.push(resolve));
}

const SEQUENCE = [
  { type: 'run.started' },
  ...Array.from({ length: NODES_PER_RUN }, (_, i) => ({ type: 'node.completed', data: { nodeId: `node_${i}`, nodeType: 'llm' } })),
  { type: 'run.completed' },
];

async function slot(index: number): Promise<void> {
  let n = 0;
  while (!done) {
    const url = receiverUrls[(index + n++) % receiverUrls.length] as string;
    let runId: string;
    try {
      const created = await call('POST', '/v1/runs', { workflowId: 'wf_soak', webhook: { url, metadata: { slot: index } } });
      if (created.status !== 201) throw new Error(`create answered ${created.status}`);
      runId = (created.json as { id: string }).id;
      counts.runs++;
    } catch {
      counts.runErrors++;
      await new Promise((resolve) => setTimeout(resolve, 100));
      continue;
    }
    for (const event of SEQUENCE) {
      await token();
      if (done) return;
      const sent = performance.now();
      try {
        const answer = await call('POST', `/v1/runs/${runId}/events`, event);
        latencies.push(performance.now() - sent);
        if (answer.status === 202) counts.accepted++;
        else {
          counts.refused++;
          refusedByStatus.set(answer.status, (refusedByStatus.get(answer.status) ?? 0) + 1);
        }
      } catch {
        counts.errors++;
      }
    }
  }
}

const progress = setInterval(() => {
  const elapsed = (performance.now() - started) / 1000;
  say(
    `${elapsed.toFixed(0)} s: ${counts.accepted} events accepted (${(counts.accepted / elapsed).toFixed(0)}/s), ${counts.refused} refused, ${counts.errors} errors, RSS ${rssMiB(orbitPid)} MiB`,
  );
}, 10_000);

const slots = Array.from({ length: SLOTS }, (_, i) => slot(i));
await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
done = true;
const sendSeconds = (performance.now() - started) / 1000;
clearInterval(pacer);
for (const wake of waiters.splice(0)) wake();
await Promise.all(slots);
clearInterval(progress);

// ---------------------------------------------------------------------------------------------
// Drain: every message ends delivered or failed once its ladder (1 s, 2 s, 4 s) has run.

async function messageCounts(): Promise<Record<string, number>> {
  const rows = await db<{ status: string; n: number }[]>`select status, count(*)::int as n from deliveries group by status`;
  return Object.fromEntries(rows.map((row) => [row.status, row.n]));
}

const drainStarted = performance.now();
let byStatus = await messageCounts();
while ((byStatus['pending'] ?? 0) > 0 && performance.now() - drainStarted < DRAIN_SECONDS * 1000) {
  await new Promise((resolve) => setTimeout(resolve, 1000));
  byStatus = await messageCounts();
}
const drainSeconds = (performance.now() - drainStarted) / 1000;
const rssEnd = rssMiB(orbitPid);
const receivers = await receiverReport();
const [attemptRow] = await db<{ n: number }[]>`select count(*)::int as n from attempts`;

latencies.sort((a, b) => a - b);
const pct = (p: number): number => Math.round(latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0);
const report = {
  target: { eventsPerSecond: RATE, seconds: SECONDS },
  eventsAccepted: counts.accepted,
  achievedEventsPerSecond: Math.round(counts.accepted / sendSeconds),
  eventsRefused: counts.refused,
  refusedByStatus: Object.fromEntries(refusedByStatus),
  requestErrors: counts.errors + counts.runErrors,
  runsCreated: counts.runs,
  eventApiLatencyMs: { p50: pct(50), p99: pct(99), max: Math.round(latencies.at(-1) ?? 0) },
  messages: {
    total: Object.values(byStatus).reduce((a, b) => a + b, 0),
    delivered: byStatus['succeeded'] ?? 0,
    stillRetrying: byStatus['pending'] ?? 0,
    failed: byStatus['failed'] ?? 0,
  },
  attempts: attemptRow?.n ?? 0,
  duplicates: receivers.reduce((sum, receiver) => sum + receiver.duplicates, 0),
  drainSeconds: Math.round(drainSeconds),
  orbitRssMiB: { start: rssStart, end: rssEnd },
  receivers,
};
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);

// ---------------------------------------------------------------------------------------------

await db.end();
await agent.close();
const exited = await orbit.stop('SIGTERM', 45_000);
if (exited.signal === 'SIGKILL') say('orbit did not stop within 45 s of SIGTERM: killed');
else say(`orbit exited with ${exited.code} after SIGTERM`);
receiverProcess.disconnect();
rmSync(dataDir, { recursive: true, force: true });
