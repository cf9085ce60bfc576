/**
 * The in-memory relay: Orbit's upper bound on this machine. It serves the two routes the benchmark
 * drives (`POST /v1/runs`, `POST /v1/runs/{id}/events`) with the same request and answer shapes,
 * applies the same run state machine, builds the same payload and signs it the same way, answers
 * 202 with the `messageId`, and POSTs the message to the webhook URL with undici (64 connections,
 * like Orbit's default per-origin cap on two queues). No database, no queue, no attempt log.
 *
 * Forked by bench/run.ts with an IPC channel: sends `{ type: 'ready', url }` once listening, and
 * answers `{ cmd: 'stats' }` with `{ forwarded, failed }`.
 */
import http from 'node:http';
import { Agent, request } from 'undici';
import { buildPayload } from '../src/domain/payload.ts';
import { applyEvent, type ReportedEvent, type RunState } from '../src/domain/run.ts';
import { generateSigningSecret, signPayload } from '../src/domain/signing.ts';
import { newId } from '../src/lib/ids.ts';

interface Run {
  id: string;
  workflowId: string;
  webhook: { url: string; events: string[]; metadata: Record<string, unknown> | null; headers: Record<string, string> } | null;
  state: RunState;
}

const secrets = [generateSigningSecret()];
const runs = new Map<string, Run>();
const agent = new Agent({ connections: 64, allowH2: false, pipelining: 1 });
let forwarded = 0;
let failed = 0;

function answer(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function forward(url: string, messageId: string, payload: string, custom: Record<string, string>): Promise<void> {
  const timestamp = Math.floor(Date.now() / 1000);
  const signature = signPayload(secrets, messageId, timestamp, payload);
  const stamp = String(timestamp);
  try {
    const response = await request(url, {
      method: 'POST',
      dispatcher: agent,
      body: payload,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Orbit-relay/bench',
        ...custom,
        'svix-id': messageId,
        'svix-timestamp': stamp,
        'svix-signature': signature,
        'webhook-id': messageId,
        'webhook-timestamp': stamp,
        'webhook-signature': signature,
      },
      signal: AbortSignal.timeout(30_000),
    });
    await response.body.dump();
    if (response.statusCode >= 200 && response.statusCode < 300) forwarded++;
    else failed++;
  } catch {
    failed++;
  }
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const path = req.url ?? '/';
  if (req.method !== 'POST') return answer(res, 404, { error: { code: 'not_found' } });
  const text = await readBody(req);
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return answer(res, 400, { error: { code: 'malformed_request' } });
  }
  const now = new Date();
  if (path === '/v1/runs') {
    const hook = body['webhook'] as
      { url: string; events?: string[]; metadata?: Record<string, unknown>; headers?: Record<string, string> } | undefined;
    const run: Run = {
      id: newId('run', now.getTime()),
      workflowId: String(body['workflowId']),
      webhook: hook
        ? {
            url: hook.url,
            events: hook.events ?? ['run.started', 'node.completed', 'node.failed', 'run.completed', 'run.failed', 'run.canceled'],
            metadata: hook.metadata ?? null,
            headers: hook.headers ?? {},
          }
        : null,
      state: { status: 'QUEUED', completedNodes: 0, failedNodes: 0, error: null, startedAt: null, finishedAt: null },
    };
    runs.set(run.id, run);
    return answer(res, 201, { id: run.id, workflowId: run.workflowId, status: run.state.status, createdAt: now.toISOString() });
  }
  const match = /^\/v1\/runs\/([^/]+)\/events$/.exec(path);
  const run = match ? runs.get(match[1] as string) : undefined;
  if (run === undefined) return answer(res, 404, { error: { code: 'not_found' } });
  const event = body as unknown as ReportedEvent;
  try {
    run.state = applyEvent(run.state, event, now);
  } catch (error) {
    return answer(res, 409, { error: { code: (error as { code?: string }).code ?? 'invalid_transition' } });
  }
  const eventId = newId('evt', now.getTime());
  let messageId: string | null = null;
  if (run.webhook && run.webhook.events.includes(event.type)) {
    messageId = newId('msg', now.getTime());
    const payload = buildPayload({
      type: event.type,
      runId: run.id,
      workflowId: run.workflowId,
      run: run.state,
      data: event.data,
      error: event.error,
      metadata: run.webhook.metadata,
      createdAt: now,
    });
    void forward(run.webhook.url, messageId, payload, run.webhook.headers);
  }
  answer(res, 202, { id: eventId, runId: run.id, type: event.type, createdAt: now.toISOString(), messageId });
}

const server = http.createServer((req, res) => {
  handle(req, res).catch(() => answer(res, 500, { error: { code: 'internal_error' } }));
});
server.keepAliveTimeout = 120_000;

process.on('message', (raw) => {
  const command = raw as { seq: number; cmd: string };
  if (command.cmd === 'stats') process.send?.({ seq: command.seq, forwarded, failed });
});
process.on('disconnect', () => process.exit(0));

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  process.send?.({ type: 'ready', url: `http://127.0.0.1:${address.port}` });
});
