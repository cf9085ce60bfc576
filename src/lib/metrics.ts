/**
 * Orbit's Prometheus metrics: one registry per process (create it once in cli.ts and hand it to
 * the API and the worker, so `orbit serve` exposes both on one /metrics).
 *
 * Label values are bounded by construction: routes are route patterns, methods and outcomes come
 * from closed sets, error kinds from the domain's list. Nothing here ever takes an id or a URL.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const METRIC_PREFIX = 'orbit_';

/** What /metrics reads from the database, once per scrape. */
export interface GaugeSnapshot {
  /** Messages in status `pending`. */
  pending: number;
  /** Age of the oldest pending message in seconds; 0 when none is pending. */
  oldestPendingAgeSeconds: number;
  /** Jobs waiting per queue name (a closed set: Orbit's own queues). */
  queueDepth: Record<string, number>;
}

export interface MetricsOptions {
  /**
   * Reads the database-derived gauges. Called at most once per scrape (the three gauges share the
   * call). Leave it out in processes that do not serve /metrics from the database (a worker): the
   * gauges are then not registered at all, rather than exported as misleading zeros.
   * If it throws, the scrape fails (Prometheus records `up == 0`): a stale or zero "oldest pending
   * age" would silence exactly the alert it exists for.
   */
  collectGauges?: () => Promise<GaugeSnapshot>;
  /** Process metrics (CPU, memory, event loop, GC); on by default. */
  defaultMetrics?: boolean;
}

export interface AttemptObservation {
  /** An attempt outcome; the caller passes only the closed set of the domain. */
  outcome: string;
  /** An attempt error kind of the domain's closed set; null when the attempt succeeded. */
  errorKind: string | null;
  durationSeconds: number;
}

export interface HttpObservation {
  /** The matched route pattern (`/v1/runs/:runId`), never the path; `unmatched` for a 404 without a route. */
  route: string;
  method: string;
  status: number;
  durationSeconds: number;
}

export interface Metrics {
  registry: Registry;
  /** The Content-Type of `registry.metrics()`'s text. */
  contentType: string;
  /** An event was accepted by the API (recorded, whether or not a webhook subscribes to it). */
  eventAccepted(type: string): void;
  /** One HTTP attempt ended (its outcome and error kind). */
  attemptFinished(observation: AttemptObservation): void;
  /** A message was delivered: seconds from its event's acceptance to the successful attempt's end. */
  messageDelivered(latencySeconds: number): void;
  /** One HTTP request to the API was answered. */
  httpRequest(observation: HttpObservation): void;
}

// Attempts end within the delivery timeout (default 30 s, at most 5 min).
const ATTEMPT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
// End to end spans the retry ladder: immediate successes up to the last step hours later.
const LATENCY_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600, 7200, 14_400, 28_800, 86_400];
const HTTP_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** Any other method a client invents collapses into one label value. */
function methodLabel(method: string): string {
  const upper = method.toUpperCase();
  return HTTP_METHODS.has(upper) ? upper : 'OTHER';
}

/** Durations from two clocks (event accepted in one process, delivered in another) may disagree slightly. */
function seconds(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 0;
}

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];

  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });

  const eventsAccepted = new Counter({
    name: 'orbit_events_accepted_total',
    help: 'Run events accepted by the API, by event type',
    labelNames: ['type'] as const,
    registers,
  });
  const attempts = new Counter({
    name: 'orbit_attempts_total',
    help: 'Delivery attempts by outcome and error kind (none when succeeded)',
    labelNames: ['outcome', 'error_kind'] as const,
    registers,
  });
  const attemptDuration = new Histogram({
    name: 'orbit_attempt_duration_seconds',
    help: 'Duration of one delivery attempt: connect, send, headers and body',
    buckets: ATTEMPT_BUCKETS,
    registers,
  });
  const deliveryLatency = new Histogram({
    name: 'orbit_delivery_latency_seconds',
    help: 'Time from an event being accepted to its message being delivered successfully',
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const httpRequests = new Counter({
    name: 'orbit_http_requests_total',
    help: 'HTTP requests answered by the API, by route pattern, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers,
  });
  const httpRequestDuration = new Histogram({
    name: 'orbit_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by route pattern, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: HTTP_BUCKETS,
    registers,
  });

  const collectGauges = options.collectGauges;
  if (collectGauges) registerDatabaseGauges(registry, collectGauges);

  return {
    registry,
    contentType: registry.contentType,
    eventAccepted(type) {
      eventsAccepted.inc({ type });
    },
    attemptFinished({ outcome, errorKind, durationSeconds }) {
      // A failure without a kind is what classifyAttempt calls `connection` (no answer at all).
      attempts.inc({ outcome, error_kind: outcome === 'succeeded' ? 'none' : (errorKind ?? 'connection') });
      attemptDuration.observe(seconds(durationSeconds));
    },
    messageDelivered(latencySeconds) {
      deliveryLatency.observe(seconds(latencySeconds));
    },
    httpRequest({ route, method, status, durationSeconds }) {
      const labels = { route, method: methodLabel(method), status: String(status) };
      httpRequests.inc(labels);
      httpRequestDuration.observe(labels, seconds(durationSeconds));
    },
  };
}

function registerDatabaseGauges(registry: Registry, collectGauges: () => Promise<GaugeSnapshot>): void {
  // prom-client asks every metric in the same tick (Promise.all), so the three gauges join one
  // in-flight read; the next scrape starts a fresh one.
  let inFlight: Promise<GaugeSnapshot> | null = null;
  const snapshot = (): Promise<GaugeSnapshot> => {
    inFlight ??= collectGauges().finally(() => {
      inFlight = null;
    });
    return inFlight;
  };

  const pending: Gauge = new Gauge({
    name: 'orbit_messages_pending',
    help: 'Messages with an attempt planned or running',
    registers: [registry],
    async collect() {
      pending.set((await snapshot()).pending);
    },
  });
  const oldestPendingAge: Gauge = new Gauge({
    name: 'orbit_oldest_pending_age_seconds',
    help: 'Age of the oldest pending message in seconds (0 when none is pending)',
    registers: [registry],
    async collect() {
      oldestPendingAge.set((await snapshot()).oldestPendingAgeSeconds);
    },
  });
  const queueDepth: Gauge<'queue'> = new Gauge({
    name: 'orbit_queue_depth',
    help: 'Jobs waiting in each delivery queue',
    labelNames: ['queue'] as const,
    registers: [registry],
    async collect() {
      const depths = (await snapshot()).queueDepth;
      // A queue that is gone must not keep its last value.
      queueDepth.reset();
      for (const [queue, depth] of Object.entries(depths)) queueDepth.set({ queue }, depth);
    },
  });
}
