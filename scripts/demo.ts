/**
 * `npm run demo`: the whole product in one command, for a newcomer.
 *
 * Starts Orbit (`orbit serve` with an embedded PostgreSQL in a temp dir) and a local receiver that
 * verifies every delivery with the official `svix` package, creates a run with a webhook, reports
 * run.started, two node.completed and run.completed, prints each delivery as it arrives, then the
 * attempt log from the admin API, and stops Orbit. Everything lives on 127.0.0.1 and in a temp
 * dir that is removed at the end.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'svix';
import { startOrbit, type OrbitProcess } from './lib/orbit-process.ts';

// Made up now and handed to Orbit, so the receiver knows the secret Orbit signs with.
const SIGNING_SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const ADMIN_KEY = `gx_demo_${randomBytes(16).toString('hex')}`;

const color = process.stdout.isTTY && process.env.NO_COLOR === undefined;
const paint = (code: number) => (text: string) => (color ? `\u001b[${code}m${text}\u001b[0m` : text);
const bold = paint(1);
const dim = paint(2);
const green = paint(32);
const red = paint(31);
const cyan = paint(36);

function say(text = ''): void {
  process.stdout.write(`${text}\n`);
}

function step(text: string): void {
  say(`\n${bold(`▸ ${text}`)}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------------------------
// The receiver: what your application would run.

interface Delivery {
  type: string;
  svixId: string;
  verified: boolean;
  answered: number;
}

interface Receiver {
  url: string;
  deliveries: Delivery[];
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const webhook = new Webhook(SIGNING_SECRET);
  const deliveries: Delivery[] = [];
  // To show a retry: the first try of run.completed is answered 503, Orbit tries again.
  let refusedOnce = false;
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      // Verify the raw bytes, exactly as received: re-serialised JSON would not match the signature.
      const raw = Buffer.concat(chunks).toString('utf8');
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers[name] = value;
      let verified = true;
      try {
        webhook.verify(raw, headers);
      } catch {
        verified = false;
      }
      let type = '?';
      try {
        type = String((JSON.parse(raw) as { type?: unknown }).type);
      } catch {
        // not JSON: shown as '?'
      }
      const status = !verified ? 400 : type === 'run.completed' && !refusedOnce ? 503 : 204;
      if (status === 503) refusedOnce = true;
      const delivery: Delivery = { type, svixId: headers['svix-id'] ?? '?', verified, answered: status };
      deliveries.push(delivery);
      const mark = verified ? green('✓ signature verified') : red('✗ signature NOT verified');
      const answer = status === 204 ? green('204') : red(String(status));
      say(
        `  ${cyan('⇠ webhook')} ${type.padEnd(15)} svix-id ${delivery.svixId}  ${mark}  answered ${answer}${status === 503 ? dim('  (on purpose, to show a retry)') : ''}`,
      );
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/webhooks/orbit`,
    deliveries,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// Orbit, as a child process.

type Orbit = OrbitProcess;

function startDemoOrbit(dataDir: string): Orbit {
  // Only what the demo sets (and PATH/HOME/TMPDIR): a DATABASE_URL or ORBIT_* of the caller's
  // shell must not point the demo at a real database.
  return startOrbit({
    args: ['serve'],
    env: {
      HOST: '127.0.0.1',
      PORT: '0',
      ORBIT_DATA_DIR: dataDir,
      ORBIT_ADMIN_KEY: ADMIN_KEY,
      ORBIT_SIGNING_SECRET: SIGNING_SECRET,
      ORBIT_ALLOW_HTTP: 'true',
      ORBIT_ALLOW_PRIVATE_NETWORKS: '127.0.0.0/8',
      // A short ladder, so the demo's retry comes after 2 s rather than 5 s.
      ORBIT_RETRY_SCHEDULE: '2s,10s,30s',
      ORBIT_RETRY_JITTER: '0',
      LOG_LEVEL: 'warn',
    },
  });
}

async function listening(orbit: Orbit): Promise<string> {
  try {
    return await orbit.listening(120_000);
  } catch {
    throw new Error(`Orbit did not start:\n${orbit.stdout}${orbit.stderr}`);
  }
}

// Answers are JSON whose fields the demo prints; each read names the fields it expects.
type Json = Record<string, unknown>;

async function call(base: string, method: string, path: string, body?: unknown): Promise<Json> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const answer = (await response.json()) as Json;
  say(`  ${dim(`${method} ${path}`)} → ${response.ok ? green(String(response.status)) : red(String(response.status))}`);
  if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${JSON.stringify(answer)}`);
  return answer;
}

async function waitForDeliveries(receiver: Receiver, count: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (receiver.deliveries.length < count) {
    if (Date.now() > deadline) throw new Error(`expected ${count} deliveries, got ${receiver.deliveries.length}`);
    await sleep(25);
  }
}

/**
 * The receiver answers before the worker records the attempt: wait until each delivered message
 * has left `pending`, so the log below shows what the receiver saw. Quiet (no request lines), and
 * bounded: after the timeout the log is printed as it stands.
 */
async function waitForRecorded(base: string, messageIds: readonly string[], timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const waiting = new Set(messageIds);
  while (waiting.size > 0 && Date.now() < deadline) {
    for (const id of [...waiting]) {
      const response = await fetch(`${base}/v1/admin/messages/${encodeURIComponent(id)}`, {
        headers: { authorization: `Bearer ${ADMIN_KEY}` },
      });
      const answer = (await response.json()) as Json;
      if (response.ok && answer.status !== 'pending') waiting.delete(id);
    }
    if (waiting.size > 0) await sleep(50);
  }
  if (waiting.size > 0) say(dim(`  (still pending after ${timeoutMs / 1000} s: ${[...waiting].join(', ')})`));
}

function text(value: unknown): string {
  return value === null || value === undefined ? '–' : String(value);
}

function table(rows: readonly string[][]): void {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  rows.forEach((row, index) => {
    const line = row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ');
    say(`    ${index === 0 ? bold(line) : line}`);
  });
}

// ---------------------------------------------------------------------------------------------

async function demo(orbit: Orbit, receiver: Receiver): Promise<void> {
  const base = await listening(orbit);
  say(`  Orbit is listening on ${base}  ${dim('(API docs at /docs, metrics at /metrics)')}`);

  step('2. Your workflow platform creates a run whose webhook points at the receiver');
  const run = await call(base, 'POST', '/v1/runs', {
    workflowId: 'wf_newsletter',
    webhook: { url: receiver.url, metadata: { orderId: 'order_456' } },
    input: { topic: 'webhooks' },
  });
  const runId = String(run.id);
  say(`  run ${bold(runId)} is ${text(run.status)}; its webhook subscribes to every event type`);

  step('3. The workflow runs and reports its progress; each accepted event becomes a signed webhook');
  const events: { type: string; data?: Json }[] = [
    { type: 'run.started' },
    { type: 'node.completed', data: { nodeId: 'fetch-sources', nodeType: 'http' } },
    { type: 'node.completed', data: { nodeId: 'write-summary', nodeType: 'llm' } },
    { type: 'run.completed' },
  ];
  let expected = 0;
  for (const event of events) {
    await call(base, 'POST', `/v1/runs/${runId}/events`, event);
    expected += 1;
    await waitForDeliveries(receiver, expected);
  }
  say(dim('  … Orbit retries run.completed after 2 s (the first delay of ORBIT_RETRY_SCHEDULE here)'));
  await waitForDeliveries(receiver, expected + 1);
  const retried = receiver.deliveries[receiver.deliveries.length - 1];
  const first = receiver.deliveries.find((delivery) => delivery.type === 'run.completed');
  if (retried && first && retried.svixId === first.svixId) say(dim(`  same svix-id on the retry: receivers deduplicate on it`));

  await waitForRecorded(base, [...new Set(receiver.deliveries.map((delivery) => delivery.svixId))]);

  step('4. The delivery log, from the admin API');
  const list = await call(base, 'GET', `/v1/admin/messages?runId=${runId}`);
  const messages = (list.data as Json[]).slice().reverse();
  say('');
  table([
    ['message (svix-id)', 'event', 'status', 'attempts', 'created'],
    ...messages.map((message) => [
      text(message.id),
      text(message.eventType),
      text(message.status),
      text(message.attemptCount),
      text(message.createdAt),
    ]),
  ]);

  const completed = messages.find((message) => message.eventType === 'run.completed');
  if (completed === undefined) throw new Error('no run.completed message in the log');
  say('');
  const detail = await call(base, 'GET', `/v1/admin/messages/${String(completed.id)}`);
  say(`\n  ${bold('run.completed')} → ${text(detail.url)}, ${text(detail.status)}; its attempts:`);
  say('');
  table([
    ['#', 'trigger', 'outcome', 'status', 'ms', 'error', 'next attempt'],
    ...(detail.attempts as Json[]).map((attempt) => {
      const error = attempt.error as { kind?: unknown; message?: unknown } | null;
      return [
        text(attempt.attempt),
        text(attempt.trigger),
        attempt.outcome === 'succeeded' ? green('succeeded') : red('failed   '),
        text(attempt.responseStatus),
        text(attempt.durationMs),
        error === null ? '–' : `${text(error.kind)}: ${text(error.message)}`,
        text(attempt.nextAttemptAt),
      ];
    }),
  ]);
  say(`\n  payload (the exact bytes every attempt sent):\n    ${dim(text(detail.payload))}`);

  say('');
  const finalRun = await call(base, 'GET', `/v1/runs/${runId}`);
  const deliveries = finalRun.deliveries as Json;
  say(
    `\n  run ${runId}: ${text(finalRun.status)}, ${text(finalRun.completedNodes)} nodes completed; deliveries ${text(deliveries.succeeded)} succeeded, ${text(deliveries.pending)} pending, ${text(deliveries.failed)} failed`,
  );

  const unverified = receiver.deliveries.filter((delivery) => !delivery.verified).length;
  if (unverified > 0) throw new Error(`${unverified} deliveries failed signature verification`);
}

async function main(): Promise<number> {
  say(bold('Orbit demo: a workflow run, its webhooks, and the delivery log'));
  const dir = mkdtempSync(join(tmpdir(), 'orbit-demo-'));
  const receiver = await startReceiver();
  step('1. Starting Orbit and a receiver');
  say(`  receiver ${receiver.url} verifies signatures with the svix package (new Webhook(secret).verify(rawBody, headers))`);
  say(`  orbit serve, with an embedded PostgreSQL under ${dir} ${dim('(its first start takes a few seconds)')}`);
  const orbit = startDemoOrbit(join(dir, 'data'));
  const interrupt = (): void => {
    orbit.signal('SIGTERM');
  };
  process.once('SIGINT', interrupt);
  let code = 0;
  try {
    await demo(orbit, receiver);
  } catch (error) {
    code = 1;
    say(`\n${red('The demo failed:')} ${error instanceof Error ? error.message : String(error)}`);
  }
  step('5. Stopping Orbit (SIGTERM: it finishes in-flight attempts, stops its database and exits 0)');
  const { code: exit } = await orbit.stop('SIGTERM');
  await receiver.close();
  rmSync(dir, { recursive: true, force: true });
  say(`  Orbit exited with ${exit === 0 ? green('0') : red(String(exit))}`);
  if (exit !== 0) {
    code = 1;
    say(dim(`${orbit.stdout}${orbit.stderr}`));
  }
  if (code === 0)
    say(
      `\n${green('Done.')} Next: README.md (configuration, receiving webhooks) and the README sections "Running in production" and "Scaling".`,
    );
  return code;
}

process.exit(await main());
