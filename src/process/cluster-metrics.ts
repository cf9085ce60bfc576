/**
 * /metrics under `orbit serve`: the API and the delivery worker run in separate child processes,
 * and a scrape reaches one API child only. That child asks the supervisor, which gathers every
 * child's registry over IPC (prom-client's AggregatorRegistry) and answers the sum: counters and
 * histograms of all processes, the database gauges once.
 */
import cluster from 'node:cluster';
import { AggregatorRegistry, Registry } from 'prom-client';
import type { Metrics } from '../lib/metrics.ts';

const REQUEST = 'orbit:metrics-request';
const ANSWER = 'orbit:metrics-answer';
const TIMEOUT_MS = 5_000;
/** Read from the database by every API child: the same value in each, so one is kept, not the sum. */
const DATABASE_GAUGES = ['orbit_messages_pending', 'orbit_oldest_pending_age_seconds', 'orbit_queue_depth'];

interface MetricsRequest {
  type: typeof REQUEST;
  id: number;
}
interface MetricsAnswer {
  type: typeof ANSWER;
  id: number;
  text?: string;
  error?: string;
}

/** In the supervisor: answers the children's requests for the whole cluster's metrics. */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, message: unknown) => {
    const request = message as Partial<MetricsRequest> | null;
    if (request?.type !== REQUEST || typeof request.id !== 'number') return;
    const id = request.id;
    aggregator.clusterMetrics().then(
      (text) => worker.isConnected() && worker.send({ type: ANSWER, id, text } satisfies MetricsAnswer),
      (error: unknown) => worker.isConnected() && worker.send({ type: ANSWER, id, error: String(error) } satisfies MetricsAnswer),
    );
  });
}

/**
 * In a child: its own registry is what the supervisor gathers; an API child's /metrics answers
 * the whole cluster's, asked of the supervisor.
 */
export function clusterMetrics(local: Metrics): Metrics {
  for (const name of DATABASE_GAUGES) {
    const gauge = local.registry.getSingleMetric(name) as { aggregator?: string } | undefined;
    if (gauge) gauge.aggregator = 'max';
  }
  // Installs the listener that answers the supervisor with this process's registry.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([local.registry]);

  let next = 0;
  const waiting = new Map<number, { resolve: (text: string) => void; reject: (error: Error) => void }>();
  process.on('message', (message: unknown) => {
    const answer = message as Partial<MetricsAnswer> | null;
    if (answer?.type !== ANSWER || typeof answer.id !== 'number') return;
    const entry = waiting.get(answer.id);
    waiting.delete(answer.id);
    if (answer.text !== undefined) entry?.resolve(answer.text);
    else entry?.reject(new Error(answer.error ?? 'no metrics'));
  });

  class ClusterRegistry extends Registry {
    override metrics(): Promise<string> {
      const id = ++next;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error('the supervisor did not answer with the metrics in time'));
        }, TIMEOUT_MS);
        waiting.set(id, {
          resolve: (text) => {
            clearTimeout(timer);
            resolve(text);
          },
          reject: (error) => {
            clearTimeout(timer);
            reject(error);
          },
        });
        process.send?.({ type: REQUEST, id } satisfies MetricsRequest);
      });
    }
  }
  return { ...local, registry: new ClusterRegistry() };
}
