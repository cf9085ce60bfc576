/**
 * Throttle accuracy, run by hand: how close the rate a receiver sees stays to an endpoint's
 * `throttleRate` with 1, 2 and 4 `orbit worker` processes sharing the work.
 *
 *   node bench/throttle.ts [--rate=20] [--messages=300] [--workers=1,2,4] [--log-level=warn]
 *
 * For each worker count: a fresh database on one embedded PostgreSQL, one `orbit api` process and
 * the workers; one run whose webhook has `throttleRate` = rate gets run.started and then
 * node.completed events until there are `messages` messages, reported as fast as the API takes them
 * (so the backlog is far larger than the rate). A receiver in this process stamps each first
 * arrival. Reported: the mean rate from the first to the last arrival, the busiest 1 s and 5 s
 * windows (sliding, each starting at an arrival) against rate × 1 s and rate × 5 s, how many
 * attempts each worker made (its orbit_attempts_total), duplicates and failed attempts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { createBenchDatabase, deploymentEnv, postAsAdmin, startRole } from './lib/deployment.ts';
import { freePort, startEmbeddedPostgres } from '../src/db/embedded.ts';

const ADMIN_KEY = 'gx_bench_throttle_admin_key_0123456789';

function option(name: string, fallback: string): string {
  const prefix = `--${name}=`;
  return process.argv.find((arg) => arg.startsWith(prefix))?.slice(prefix.length) ?? fallback;
}

const RATE = Number(option('rate', '20'));
const MESSAGES = Number(option('messages', '300'));
const WORKERS = option('workers', '1,2,4').split(',').map(Number);
const LOG_LEVEL = option('log-level', 'warn');

interface Receiver {
  url: string;
  arrivals: number[];
  requests: number;
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const seen = new Set<string>();
  const receiver: Receiver = { url: '', arrivals: [], requests: 0, close: async () => undefined };
  const server = http.createServer((req, res) => {
    const at = performance.timeOrigin + performance.now();
    receiver.requests++;
    const id = String(req.headers['svix-id']);
    if (!seen.has(id)) {
      seen.add(id);
      receiver.arrivals.push(at);
    }
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  receiver.url = `http://127.0.0.1:${address.port}/hook`;
  receiver.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return receiver;
}

function call(base: string, path: string, body: unknown): Promise<Record<string, unknown>> {
  return postAsAdmin(base, ADMIN_KEY, path, body);
}

/** The most arrivals in any window of `ms` that starts at an arrival. */
function busiest(times: readonly number[], ms: number): number {
  let most = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while ((times[j] as number) <= (times[i] as number) - ms) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

function metricSum(text: string, name: string): number {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

interface Result {
  workers: number;
  delivered: number;
  seconds: number;
  meanRate: number;
  busiest1s: number;
  busiest5s: number;
  perWorker: number[];
  duplicates: number;
  failedAttempts: number;
}

async function scenario(serverUrl: string, workerCount: number): Promise<Result> {
  const name = `orbit_throttle_${workerCount}_${Date.now()}`;
  const databaseUrl = await createBenchDatabase(serverUrl, name);
  const env = deploymentEnv(databaseUrl, ADMIN_KEY, LOG_LEVEL);
  const receiver = await startReceiver();
  const api = startRole('api', env);
  const workers = Array.from({ length: workerCount }, () => startRole('worker', env));
  try {
    const base = (await api.waitFor(/listening on (http:\/\/\S+)/, 120_000))[1] as string;
    const metricsUrls = await Promise.all(
      workers.map(async (worker) => (await worker.waitFor(/health and metrics on (http:\/\/\S+)/, 120_000))[1] as string),
    );
    const run = await call(base, '/v1/runs', { workflowId: 'wf_throttle', webhook: { url: receiver.url, throttleRate: RATE } });
    const path = `/v1/runs/${String(run.id)}/events`;
    await call(base, path, { type: 'run.started' });
    for (let n = 1; n < MESSAGES; n++) await call(base, path, { type: 'node.completed', data: { nodeId: `node_${n}` } });
    const deadline = Date.now() + (MESSAGES / RATE) * 1000 + 60_000;
    while (receiver.arrivals.length < MESSAGES && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const perWorker = await Promise.all(
      metricsUrls.map(async (url) => metricSum(await (await fetch(`${url}/metrics`)).text(), 'orbit_attempts_total')),
    );
    const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
    const [row] = await sql<{ failed: number }[]>`select count(*)::int as failed from attempts where outcome = 'failed'`;
    await sql.end();
    const times = [...receiver.arrivals].sort((a, b) => a - b);
    const seconds = ((times.at(-1) ?? 0) - (times[0] ?? 0)) / 1000;
    return {
      workers: workerCount,
      delivered: times.length,
      seconds,
      meanRate: (times.length - 1) / seconds,
      busiest1s: busiest(times, 1_000),
      busiest5s: busiest(times, 5_000),
      perWorker,
      duplicates: receiver.requests - times.length,
      failedAttempts: row?.failed ?? -1,
    };
  } finally {
    await Promise.all([...workers, api].map((process) => process.stop('SIGTERM')));
    await receiver.close();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'orbit-throttle-'));
const pg = await startEmbeddedPostgres({ dataDir: join(dir, 'data'), port: await freePort() });
console.log(
  `Orbit throttle bench: throttleRate ${RATE}/s, ${MESSAGES} messages, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load ${loadavg()
    .map((value) => value.toFixed(2))
    .join(' / ')}`,
);
const results: Result[] = [];
try {
  for (const count of WORKERS) {
    const result = await scenario(pg.url, count);
    console.log(
      `${count} worker(s): ${result.delivered} in ${result.seconds.toFixed(2)} s, mean ${result.meanRate.toFixed(2)}/s, busiest 1 s ${result.busiest1s}, busiest 5 s ${result.busiest5s}`,
    );
    results.push(result);
  }
} finally {
  await pg.stop();
  rmSync(dir, { recursive: true, force: true });
}
console.log(
  `\n| worker processes | delivered | mean rate (/s) | busiest 1 s (limit ${RATE}) | busiest 5 s (limit ${5 * RATE}) | worst 5 s deviation | attempts per worker | duplicates | failed attempts |`,
);
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of results) {
  const deviation = ((r.busiest5s - 5 * RATE) / (5 * RATE)) * 100;
  console.log(
    `| ${r.workers} | ${r.delivered} | ${r.meanRate.toFixed(2)} | ${r.busiest1s} | ${r.busiest5s} | ${deviation >= 0 ? '+' : ''}${deviation.toFixed(1)} % | ${r.perWorker.join(' / ')} | ${r.duplicates} | ${r.failedAttempts} |`,
  );
}
process.exit(0);
