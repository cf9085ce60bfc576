import { describe, expect, it } from 'vitest';
import { createMetrics, type GaugeSnapshot } from '../../src/lib/metrics.ts';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Exposition {
  types: Map<string, string>;
  samples: Sample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)$`);
const LABEL = new RegExp(`^(${NAME})="((?:[^"\\\\]|\\\\.)*)"(?:,|$)`);

/** A strict reader of the Prometheus text format 0.0.4: any line it cannot read fails the test. */
function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      if (meta[1] === 'TYPE') {
        expect(['counter', 'gauge', 'histogram', 'summary', 'untyped']).toContain(meta[3]);
        types.set(meta[2] as string, meta[3] as string);
      }
      continue;
    }
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    let rest = match[2] ?? '';
    while (rest !== '') {
      const label = LABEL.exec(rest);
      if (!label) throw new Error(`bad labels in: ${line}`);
      labels[label[1] as string] = label[2] as string;
      rest = rest.slice(label[0].length);
    }
    const raw = match[3] as string;
    // prom-client writes `Nan` (event loop lag before its first sample); Prometheus reads values
    // with Go's ParseFloat, which takes NaN in any case.
    const notANumber = raw.toLowerCase() === 'nan';
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    if (!notANumber && Number.isNaN(value)) throw new Error(`bad value in: ${line}`);
    samples.push({ name: match[1] as string, labels, value });
  }
  return { types, samples };
}

function find(exposition: Exposition, name: string, labels: Record<string, string> = {}): Sample[] {
  return exposition.samples.filter(
    (sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
}

function value(exposition: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = find(exposition, name, labels);
  expect(found.length).toBeLessThanOrEqual(1);
  return found[0]?.value;
}

const snapshot: GaugeSnapshot = { pending: 7, oldestPendingAgeSeconds: 612.5, queueDepth: { 'orbit-delivery': 5, 'orbit-retry': 2 } };

describe('createMetrics', () => {
  it('renders every Orbit metric, prefixed orbit_, in a parseable exposition', async () => {
    const metrics = createMetrics({ collectGauges: async () => snapshot });
    metrics.eventAccepted('run.completed');
    metrics.eventAccepted('run.completed');
    metrics.eventAccepted('node.failed');
    metrics.attemptFinished({ outcome: 'succeeded', errorKind: null, durationSeconds: 0.042 });
    metrics.attemptFinished({ outcome: 'failed', errorKind: 'timeout', durationSeconds: 30 });
    metrics.attemptFinished({ outcome: 'failed', errorKind: 'http_status', durationSeconds: 0.2 });
    metrics.messageDelivered(1.5);
    metrics.httpRequest({ route: '/v1/runs/:runId', method: 'get', status: 200, durationSeconds: 0.003 });
    metrics.httpRequest({ route: '/v1/runs', method: 'POST', status: 201, durationSeconds: 0.02 });

    const text = await metrics.registry.metrics();
    const exposition = parseExposition(text);

    expect(metrics.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    for (const name of exposition.types.keys()) expect(name).toMatch(/^orbit_/);
    expect(
      Object.fromEntries([...exposition.types].filter(([name]) => !name.startsWith('orbit_process') && !name.startsWith('orbit_nodejs'))),
    ).toEqual({
      orbit_events_accepted_total: 'counter',
      orbit_attempts_total: 'counter',
      orbit_attempt_duration_seconds: 'histogram',
      orbit_delivery_latency_seconds: 'histogram',
      orbit_http_requests_total: 'counter',
      orbit_http_request_duration_seconds: 'histogram',
      orbit_messages_pending: 'gauge',
      orbit_oldest_pending_age_seconds: 'gauge',
      orbit_queue_depth: 'gauge',
    });
    // The default process metrics come along, with the same prefix.
    expect(exposition.types.has('orbit_process_cpu_seconds_total')).toBe(true);
    expect(exposition.types.has('orbit_nodejs_eventloop_lag_seconds')).toBe(true);

    expect(value(exposition, 'orbit_events_accepted_total', { type: 'run.completed' })).toBe(2);
    expect(value(exposition, 'orbit_events_accepted_total', { type: 'node.failed' })).toBe(1);
    expect(value(exposition, 'orbit_attempts_total', { outcome: 'succeeded', error_kind: 'none' })).toBe(1);
    expect(value(exposition, 'orbit_attempts_total', { outcome: 'failed', error_kind: 'timeout' })).toBe(1);
    expect(value(exposition, 'orbit_attempts_total', { outcome: 'failed', error_kind: 'http_status' })).toBe(1);
    expect(value(exposition, 'orbit_attempt_duration_seconds_count')).toBe(3);
    expect(value(exposition, 'orbit_attempt_duration_seconds_sum')).toBeCloseTo(30.242);
    expect(value(exposition, 'orbit_attempt_duration_seconds_bucket', { le: '0.05' })).toBe(1);
    expect(value(exposition, 'orbit_attempt_duration_seconds_bucket', { le: '+Inf' })).toBe(3);
    expect(value(exposition, 'orbit_delivery_latency_seconds_count')).toBe(1);
    expect(value(exposition, 'orbit_delivery_latency_seconds_bucket', { le: '1' })).toBe(0);
    expect(value(exposition, 'orbit_delivery_latency_seconds_bucket', { le: '2.5' })).toBe(1);
    expect(value(exposition, 'orbit_http_requests_total', { route: '/v1/runs/:runId', method: 'GET', status: '200' })).toBe(1);
    expect(value(exposition, 'orbit_http_requests_total', { route: '/v1/runs', method: 'POST', status: '201' })).toBe(1);
    expect(value(exposition, 'orbit_http_request_duration_seconds_count', { route: '/v1/runs', method: 'POST', status: '201' })).toBe(1);
    expect(value(exposition, 'orbit_messages_pending')).toBe(7);
    expect(value(exposition, 'orbit_oldest_pending_age_seconds')).toBe(612.5);
    expect(value(exposition, 'orbit_queue_depth', { queue: 'orbit-delivery' })).toBe(5);
    expect(value(exposition, 'orbit_queue_depth', { queue: 'orbit-retry' })).toBe(2);
  });

  it('reads the database once per scrape, and only when scraped', async () => {
    let calls = 0;
    let depths: Record<string, number> = { a: 1, b: 2 };
    const metrics = createMetrics({
      defaultMetrics: false,
      collectGauges: async () => {
        calls += 1;
        return { pending: calls, oldestPendingAgeSeconds: 0, queueDepth: depths };
      },
    });
    expect(calls).toBe(0);

    const first = parseExposition(await metrics.registry.metrics());
    expect(calls).toBe(1);
    expect(value(first, 'orbit_messages_pending')).toBe(1);

    // A queue that disappears loses its series instead of keeping its last value.
    depths = { a: 4 };
    const second = parseExposition(await metrics.registry.metrics());
    expect(calls).toBe(2);
    expect(value(second, 'orbit_messages_pending')).toBe(2);
    expect(find(second, 'orbit_queue_depth').map((sample) => [sample.labels.queue, sample.value])).toEqual([['a', 4]]);
  });

  it('fails the scrape when the gauges cannot be read, and recovers on the next one', async () => {
    let broken = true;
    const metrics = createMetrics({
      defaultMetrics: false,
      collectGauges: async () => {
        if (broken) throw new Error('database unreachable');
        return snapshot;
      },
    });
    await expect(metrics.registry.metrics()).rejects.toThrow('database unreachable');
    broken = false;
    expect(value(parseExposition(await metrics.registry.metrics()), 'orbit_messages_pending')).toBe(7);
  });

  it('registers no database gauges without a collector (a worker-only process)', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const exposition = parseExposition(await metrics.registry.metrics());
    expect(exposition.types.has('orbit_messages_pending')).toBe(false);
    expect(exposition.types.has('orbit_oldest_pending_age_seconds')).toBe(false);
    expect(exposition.types.has('orbit_queue_depth')).toBe(false);
    expect(exposition.types.has('orbit_attempts_total')).toBe(true);
  });

  it('keeps labels bounded and values sane', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    metrics.httpRequest({ route: 'unmatched', method: 'BREW', status: 404, durationSeconds: 0.001 });
    metrics.httpRequest({ route: 'unmatched', method: 'PROPFIND', status: 404, durationSeconds: 0.001 });
    // Clocks of two processes may disagree: a negative latency counts as zero, never as an error.
    metrics.messageDelivered(-0.25);
    metrics.attemptFinished({ outcome: 'succeeded', errorKind: 'timeout', durationSeconds: Number.NaN });

    const exposition = parseExposition(await metrics.registry.metrics());
    expect(value(exposition, 'orbit_http_requests_total', { method: 'OTHER', status: '404' })).toBe(2);
    expect(value(exposition, 'orbit_delivery_latency_seconds_bucket', { le: '0.01' })).toBe(1);
    expect(value(exposition, 'orbit_delivery_latency_seconds_sum')).toBe(0);
    expect(value(exposition, 'orbit_attempts_total', { outcome: 'succeeded', error_kind: 'none' })).toBe(1);
    expect(value(exposition, 'orbit_attempt_duration_seconds_sum')).toBe(0);
  });

  it('gives each call its own registry, so tests and processes do not share counters', async () => {
    const one = createMetrics({ defaultMetrics: false });
    const two = createMetrics({ defaultMetrics: false });
    one.eventAccepted('run.started');
    expect(value(parseExposition(await two.registry.metrics()), 'orbit_events_accepted_total', { type: 'run.started' })).toBeUndefined();
  });
});
