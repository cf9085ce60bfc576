/**
 * What operators see: /metrics (API and worker ops server), request log lines, per-attempt log
 * lines and metrics from observeAttempts, and the database gauges read at scrape time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.ts';
import { createOpsApp } from '../../src/api/ops-app.ts';
import { createLogger, type Logger } from '../../src/lib/logger.ts';
import { createMetrics, type Metrics } from '../../src/lib/metrics.ts';
import type { ServiceDeps } from '../../src/services/deps.ts';
import { observeAttempts, readDeliveryGauges, type RecordedAttempt } from '../../src/services/observe.ts';
import { startTestApi, type TestApi } from '../support/api.ts';

type LogLine = Record<string, unknown>;

function capturingLogger(level = 'debug'): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = createLogger(level, { write: (text: string) => void lines.push(JSON.parse(text) as LogLine) });
  return { logger, lines };
}

/** Sample lines of one metric name (exact, not its _bucket/_sum siblings unless asked). */
function samples(text: string, name: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `));
}

function value(text: string, name: string, labels = ''): number | undefined {
  const line = samples(text, name).find((sample) => sample.startsWith(labels === '' ? `${name} ` : `${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

let api: TestApi;
let services: ServiceDeps;
let metrics: Metrics;
let lines: LogLine[];
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  api = await startTestApi({ allowHttp: true, allowPrivateNetworks: '127.0.0.0/8' });
  const captured = capturingLogger();
  lines = captured.lines;
  metrics = createMetrics({ defaultMetrics: false, collectGauges: () => readDeliveryGauges(api.deps) });
  services = { ...api.deps, logger: captured.logger, metrics };
  app = createApp({ services, logger: captured.logger, version: '0.0.0-test' });
});

afterAll(async () => {
  await api?.close();
});

function call(
  path: string,
  init: { method?: string; body?: unknown; key?: string | null; headers?: Record<string, string> } = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...init.headers };
  const key = init.key === undefined ? api.adminKey : init.key;
  if (key !== null) headers.authorization = `Bearer ${key}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  return Promise.resolve(
    app.request(path, { method: init.method ?? 'GET', headers, ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}) }),
  );
}

function requestLines(): LogLine[] {
  return lines.filter((line) => line.msg === 'request');
}

describe('GET /metrics on the API', () => {
  it('answers the Prometheus text format without a key, with the database gauges', async () => {
    const response = await call('/metrics', { key: null });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    const text = await response.text();
    expect(value(text, 'orbit_messages_pending')).toBe(0);
    expect(value(text, 'orbit_oldest_pending_age_seconds')).toBe(0);
    expect(value(text, 'orbit_queue_depth', 'queue="orbit-delivery"')).toBe(0);
    expect(value(text, 'orbit_queue_depth', 'queue="orbit-delivery-retry"')).toBe(0);
  });

  it('counts accepted events by type, pending messages, and requests by route pattern (never by id)', async () => {
    const created = await call('/v1/runs', {
      method: 'POST',
      body: { workflowId: 'wf_metrics', webhook: { url: 'http://127.0.0.1:9/hook', events: ['run.started'] } },
    });
    expect(created.status).toBe(201);
    const runId = ((await created.json()) as { id: string }).id;
    expect((await call(`/v1/runs/${runId}/events`, { method: 'POST', body: { type: 'run.started' } })).status).toBe(202);
    // Refused: not counted as accepted.
    expect((await call(`/v1/runs/${runId}/events`, { method: 'POST', body: { type: 'run.started' } })).status).toBe(409);
    expect((await call(`/v1/runs/${runId}/cancel`, { method: 'POST' })).status).toBe(200);
    expect((await call(`/v1/runs/${runId}`, { key: null })).status).toBe(401);
    expect((await call('/v1/no/such/route')).status).toBe(404);

    const text = await (await call('/metrics', { key: null })).text();
    expect(value(text, 'orbit_events_accepted_total', 'type="run.started"')).toBe(1);
    expect(value(text, 'orbit_events_accepted_total', 'type="run.canceled"')).toBe(1);
    expect(value(text, 'orbit_messages_pending')).toBe(1);
    expect(value(text, 'orbit_oldest_pending_age_seconds')).toBeGreaterThanOrEqual(0);
    expect(value(text, 'orbit_http_requests_total', 'route="/v1/runs/:runId/events",method="POST",status="202"')).toBe(1);
    expect(value(text, 'orbit_http_requests_total', 'route="/v1/runs/:runId/events",method="POST",status="409"')).toBe(1);
    // A middleware's 401 is still counted under the route the path would have reached.
    expect(value(text, 'orbit_http_requests_total', 'route="/v1/runs/:runId",method="GET",status="401"')).toBe(1);
    expect(value(text, 'orbit_http_requests_total', 'route="unmatched",method="GET",status="404"')).toBe(1);
    expect(samples(text, 'orbit_http_request_duration_seconds_count').length).toBeGreaterThan(0);
    expect(text).not.toContain(runId);
    expect(text).not.toContain('/no/such/route');
  });

  it('fails the scrape (503) rather than export stale gauges when the database cannot be read', async () => {
    const broken = createMetrics({ defaultMetrics: false, collectGauges: () => Promise.reject(new Error('database away')) });
    const { logger, lines: own } = capturingLogger();
    const brokenApp = createApp({ services: { ...api.deps, logger, metrics: broken }, logger, version: 'test' });
    const response = await brokenApp.request('/metrics');
    expect(response.status).toBe(503);
    expect(own.some((line) => line.msg === 'metrics scrape failed')).toBe(true);
  });

  it('is documented in the OpenAPI document as an operations route', async () => {
    const doc = (await (await call('/openapi.json', { key: null })).json()) as {
      paths: Record<string, { get?: { tags?: string[]; security?: unknown[] } }>;
    };
    expect(doc.paths['/metrics']?.get?.tags).toEqual(['Operations']);
    expect(doc.paths['/metrics']?.get?.security).toEqual([]);
  });
});

describe('request log lines', () => {
  it('carry requestId, tenantId, runId, route, status and durationMs; never the key', async () => {
    const created = await call('/v1/runs', { method: 'POST', body: { workflowId: 'wf_logs' } });
    const runId = ((await created.json()) as { id: string }).id;
    const response = await call(`/v1/runs/${runId}`, { headers: { 'x-request-id': 'req-from-client.1' } });
    expect(response.headers.get('x-request-id')).toBe('req-from-client.1');

    const line = requestLines().find((entry) => entry.requestId === 'req-from-client.1');
    expect(line).toMatchObject({
      level: 'info',
      method: 'GET',
      path: `/v1/runs/${runId}`,
      route: '/v1/runs/:runId',
      status: 200,
      tenantId: api.tenantId,
      runId,
    });
    expect(typeof line?.durationMs).toBe('number');
    expect(JSON.stringify(lines)).not.toContain(api.adminKey);
  });

  it('name the message of an admin message route, and make up a request id when the client sent none or a bad one', async () => {
    await call('/v1/admin/messages/msg_doesnotexist', { headers: { 'x-request-id': 'bad id with spaces' } });
    const line = requestLines().find((entry) => entry.path === '/v1/admin/messages/msg_doesnotexist');
    expect(line).toMatchObject({ route: '/v1/admin/messages/:messageId', messageId: 'msg_doesnotexist', status: 404 });
    expect(line?.requestId).toMatch(/^req_/);
  });

  it('log probes and scrapes at debug, so LOG_LEVEL=info keeps them out', async () => {
    await call('/healthz', { key: null });
    const probe = requestLines().find((entry) => entry.route === '/healthz');
    expect(probe?.level).toBe('debug');

    const { logger, lines: infoLines } = capturingLogger('info');
    const quiet = createApp({ services: { ...api.deps, logger }, logger, version: 'test' });
    await quiet.request('/healthz');
    await quiet.request('/v1/runs');
    expect(infoLines.filter((entry) => entry.msg === 'request').map((entry) => entry.route)).toEqual(['/v1/runs']);
  });
});

describe('observeAttempts', () => {
  const base: RecordedAttempt = {
    messageId: 'msg_a',
    endpointId: 'ep_a',
    tenantId: 'ten_a',
    runId: 'run_a',
    attempt: 1,
    trigger: 'scheduled',
    outcome: 'succeeded',
    responseStatus: 204,
    errorKind: null,
    durationMs: 42,
    messageStatus: 'succeeded',
    latencySeconds: 0.5,
  };

  it('writes one line per attempt and counts attempts, durations and deliveries', async () => {
    const { logger, lines: own } = capturingLogger();
    const local = createMetrics({ defaultMetrics: false });
    observeAttempts({ logger, metrics: local }, [
      base,
      {
        ...base,
        messageId: 'msg_b',
        outcome: 'failed',
        responseStatus: 500,
        errorKind: 'http_status',
        messageStatus: 'pending',
        latencySeconds: null,
      },
      {
        ...base,
        messageId: 'msg_c',
        attempt: 6,
        outcome: 'failed',
        responseStatus: null,
        errorKind: 'timeout',
        durationMs: 30_000,
        messageStatus: 'failed',
        latencySeconds: null,
      },
      // A manual retry of a delivered message: an attempt, not a second delivery.
      { ...base, messageId: 'msg_a', attempt: 2, trigger: 'manual', latencySeconds: null },
    ]);
    expect(own.map((line) => [line.messageId, line.level, line.outcome, line.status, line.errorKind])).toEqual([
      ['msg_a', 'info', 'succeeded', 204, null],
      ['msg_b', 'info', 'failed', 500, 'http_status'],
      ['msg_c', 'warn', 'failed', null, 'timeout'],
      ['msg_a', 'info', 'succeeded', 204, null],
    ]);
    expect(own[0]).toMatchObject({ tenantId: 'ten_a', runId: 'run_a', attempt: 1, trigger: 'scheduled', durationMs: 42 });
    expect(own[0]).not.toHaveProperty('requestId');

    const text = await local.registry.metrics();
    expect(value(text, 'orbit_attempts_total', 'outcome="succeeded",error_kind="none"')).toBe(2);
    expect(value(text, 'orbit_attempts_total', 'outcome="failed",error_kind="http_status"')).toBe(1);
    expect(value(text, 'orbit_attempts_total', 'outcome="failed",error_kind="timeout"')).toBe(1);
    expect(value(text, 'orbit_attempt_duration_seconds_count')).toBe(4);
    expect(value(text, 'orbit_delivery_latency_seconds_count')).toBe(1);
    expect(value(text, 'orbit_delivery_latency_seconds_sum')).toBe(0.5);
  });

  it('reads numbers that PostgreSQL sent as strings, and works without metrics', () => {
    const { logger, lines: own } = capturingLogger();
    const fromDriver = { ...base, attempt: '3', durationMs: '17' } as unknown as RecordedAttempt;
    observeAttempts({ logger }, [fromDriver]);
    expect(own[0]).toMatchObject({ attempt: 3, durationMs: 17 });
  });
});

describe('the worker ops server', () => {
  it('serves /healthz, /readyz and /metrics (without database gauges), and nothing of the API', async () => {
    const { logger } = capturingLogger();
    const workerMetrics = createMetrics({ defaultMetrics: false });
    const ops = createOpsApp({ services: { ...api.deps, logger, metrics: workerMetrics }, logger });
    expect((await ops.request('/healthz')).status).toBe(200);
    expect((await ops.request('/readyz')).status).toBe(200);
    const scrape = await ops.request('/metrics');
    expect(scrape.status).toBe(200);
    const text = await scrape.text();
    expect(text).toContain('orbit_attempts_total');
    expect(text).not.toContain('orbit_messages_pending');
    expect(value(text, 'orbit_http_requests_total', 'route="/readyz",method="GET",status="200"')).toBe(1);
    const api404 = await ops.request('/v1/runs', { headers: { authorization: `Bearer ${api.adminKey}` } });
    expect(api404.status).toBe(404);
    expect(((await api404.json()) as { error: { code: string } }).error.code).toBe('not_found');
  });
});
