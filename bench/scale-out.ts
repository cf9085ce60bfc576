/**
 * Scale-out benchmark, run by hand: deliveries per second with one `orbit worker` process and with
 * two, against one PostgreSQL (embedded, in a temp dir).
 *
 *   node bench/scale-out.ts [--messages=10000] [--workers=1,2] [--origins=8] [--log-level=info]
 *
 * For each worker count: a fresh database, one `orbit api` process; the messages are queued through
 * the API (runs with a webhook, then run.started, two node.completed and run.completed: four messages
 * per run) while no worker runs; then the workers start together and drain the backlog into a
 * receiver in a process of its own (answers 204 at once, on several ports so the per-origin cap of
 * each worker is not the limit). Reported: the drain rate over all messages (first to last arrival)
 * and over the middle 80% (ramp-up and tail left out), duplicates, and the API's enqueue rate.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import type { OrbitProcess } from '../scripts/lib/orbit-process.ts';
import { createBenchDatabase, deploymentEnv, postAsAdmin, startRole } from './lib/deployment.ts';

const ADMIN_KEY = 'gx_bench_scale_out_admin_key_0123456789';

function option(name: string, fallback: string): string {
  const prefix = `--${name}=`;
  return process.argv.find((arg) => arg.startsWith(prefix))?.slice(prefix.length) ?? fallback;
}

// ---------------------------------------------------------------------------------------------
// Receiver mode: `node bench/scale-out.ts --receiver <ports>` (forked with an IPC channel).

type ReceiverCommand = { cmd: 'reset' } | { cmd: 'stats' };
interface ReceiverStats {
  unique: number;
  requests: number;
  duplicates: number;
  /** Arrival times (epoch ms) of each distinct svix-id, in arrival order. */
  arrivals: number[];
}

async function runReceiver(origins: number): Promise<void> {
  const seen = new Set<string>();
  let arrivals: number[] = [];
  let requests = 0;
  let duplicates = 0;
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    requests++;
    const id = String(req.headers['svix-id']);
    if (seen.has(id)) duplicates++;
    else {
      seen.add(id);
      arrivals.push(performance.timeOrigin + performance.now());
    }
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  };
  const urls: string[] = [];
  for (let i = 0; i < origins; i++) {
    const server = http.createServer(handler);
    server.keepAliveTimeout = 120_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no address');
    urls.push(`http://127.0.0.1:${address.port}/hook`);
  }
  process.on('message', (message: ReceiverCommand) => {
    if (message.cmd === 'reset') {
      seen.clear();
      arrivals = [];
      requests = 0;
      duplicates = 0;
      process.send?.({ ok: true });
    } else {
      const stats: ReceiverStats = { unique: seen.size, requests, duplicates, arrivals };
      process.send?.(stats);
    }
  });
  process.send?.({ urls });
}

// ---------------------------------------------------------------------------------------------
// Driver mode.

interface Receiver {
  urls: string[];
  reset(): Promise<void>;
  stats(): Promise<ReceiverStats>;
  stop(): void;
}

async function startReceiver(origins: number): Promise<Receiver> {
  const child = fork(fileURLToPath(import.meta.url), ['--receiver', `--origins=${origins}`], { stdio: 'inherit' });
  // One request at a time on the channel: each answer belongs to the last question.
  const ask = <T>(command: ReceiverCommand | null): Promise<T> =>
    new Promise((resolve) => {
      child.once('message', (answer) => resolve(answer as T));
      if (command !== null) child.send(command);
    });
  const { urls } = await ask<{ urls: string[] }>(null);
  return {
    urls,
    reset: async () => {
      await ask({ cmd: 'reset' });
    },
    stats: () => ask<ReceiverStats>({ cmd: 'stats' }),
    stop: () => child.kill('SIGTERM'),
  };
}

type Orbit = OrbitProcess;

async function waitFor(run: Orbit, pattern: RegExp): Promise<string> {
  const match = await run.waitFor(pattern, 120_000);
  return match[1] ?? match[0];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function stop(runs: readonly Orbit[]): Promise<void> {
  const codes = await Promise.all(runs.map(async (run) => (await run.stop('SIGTERM')).code));
  if (codes.some((code) => code !== 0)) console.warn(`  (an Orbit process exited with ${codes.join(', ')})`);
}

function call(base: string, path: string, body: unknown): Promise<Record<string, unknown>> {
  return postAsAdmin(base, ADMIN_KEY, path, body);
}

/** Runs `task` over 0..count-1 with at most `parallel` at a time. */
async function pool(count: number, parallel: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, count) }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

interface Result {
  workers: number;
  messages: number;
  enqueuePerSecond: number;
  drainSeconds: number;
  perSecond: number;
  middlePerSecond: number;
  duplicates: number;
}

async function scenario(serverUrl: string, workerCount: number, messages: number, receiver: Receiver, logLevel: string): Promise<Result> {
  const name = `orbit_scale_${workerCount}_${Date.now()}`;
  const databaseUrl = await createBenchDatabase(serverUrl, name);
  const env = deploymentEnv(databaseUrl, ADMIN_KEY, logLevel);

  const api = startRole('api', env);
  const apiUrl = await waitFor(api, /listening on (http:\/\/\S+)/);
  const runs = Math.ceil(messages / 4);
  const total = runs * 4;
  const enqueueStarted = performance.now();
  await pool(runs, 32, async (index) => {
    const url = receiver.urls[index % receiver.urls.length] as string;
    const run = await call(apiUrl, '/v1/runs', { workflowId: `wf_bench_${index % 10}`, webhook: { url } });
    const path = `/v1/runs/${String(run.id)}/events`;
    await call(apiUrl, path, { type: 'run.started' });
    await call(apiUrl, path, { type: 'node.completed', data: { nodeId: 'n1' } });
    await call(apiUrl, path, { type: 'node.completed', data: { nodeId: 'n2' } });
    await call(apiUrl, path, { type: 'run.completed' });
  });
  const enqueueSeconds = (performance.now() - enqueueStarted) / 1000;
  console.log(
    `  ${total} messages queued through the API in ${enqueueSeconds.toFixed(1)} s (${Math.round(total / enqueueSeconds)} events/s)`,
  );

  await receiver.reset();
  const workers = Array.from({ length: workerCount }, () => startRole('worker', env));
  await Promise.all(workers.map((worker) => waitFor(worker, /delivery worker running/)));
  let stats = await receiver.stats();
  const deadline = Date.now() + 30 * 60_000;
  while (stats.unique < total && Date.now() < deadline) {
    await sleep(200);
    stats = await receiver.stats();
  }
  // Moments more, so a late duplicate would be counted.
  await sleep(1_000);
  stats = await receiver.stats();

  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  const [row] =
    await sql`select count(*) filter (where status = 'succeeded')::int as succeeded, (select count(*)::int from attempts) as attempts from deliveries`;
  await sql.end();
  await stop([...workers, api]);
  if (row?.succeeded !== total) console.warn(`  only ${String(row?.succeeded)} of ${total} messages succeeded`);

  const times = stats.arrivals;
  const first = times[0] ?? 0;
  const last = times[times.length - 1] ?? 0;
  const low = times[Math.floor(times.length * 0.1)] ?? first;
  const high = times[Math.floor(times.length * 0.9)] ?? last;
  const drainSeconds = (last - first) / 1000;
  return {
    workers: workerCount,
    messages: stats.unique,
    enqueuePerSecond: total / enqueueSeconds,
    drainSeconds,
    perSecond: stats.unique / drainSeconds,
    middlePerSecond: (Math.floor(times.length * 0.9) - Math.floor(times.length * 0.1)) / ((high - low) / 1000),
    duplicates: stats.duplicates,
  };
}

async function main(): Promise<void> {
  const messages = Number(option('messages', '10000'));
  const workerCounts = option('workers', '1,2').split(',').map(Number);
  const origins = Number(option('origins', '8'));
  const logLevel = option('log-level', 'info');

  const { startEmbeddedPostgres, freePort } = await import('../src/db/embedded.ts');
  const dir = mkdtempSync(join(tmpdir(), 'orbit-scale-'));
  const pg = await startEmbeddedPostgres({ dataDir: join(dir, 'data'), port: await freePort() });
  const receiver = await startReceiver(origins);
  console.log(
    `Orbit scale-out bench: ${messages} messages, ${origins} receiver origins, LOG_LEVEL=${logLevel}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'})`,
  );
  const results: Result[] = [];
  try {
    for (const count of workerCounts) {
      console.log(`${count} worker process${count === 1 ? '' : 'es'}:`);
      const result = await scenario(pg.url, count, messages, receiver, logLevel);
      console.log(
        `  drained in ${result.drainSeconds.toFixed(2)} s: ${Math.round(result.perSecond)} deliveries/s (middle 80%: ${Math.round(result.middlePerSecond)}/s), ${result.duplicates} duplicates`,
      );
      results.push(result);
    }
  } finally {
    receiver.stop();
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log('\n| worker processes | messages | deliveries/s (all) | deliveries/s (middle 80%) | duplicates | API enqueue, events/s |');
  console.log('|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(
      `| ${r.workers} | ${r.messages} | ${Math.round(r.perSecond)} | ${Math.round(r.middlePerSecond)} | ${r.duplicates} | ${Math.round(r.enqueuePerSecond)} |`,
    );
  }
}

if (process.argv.includes('--receiver')) await runReceiver(Number(option('origins', '8')));
else await main();
