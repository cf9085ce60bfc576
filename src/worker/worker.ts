/**
 * What `orbit serve` / `orbit worker` start: the delivery worker with a sender of its own.
 * Stopping it drains in-flight attempts, then closes the sender's connections.
 */
import type { ServiceDeps } from '../services/deps.ts';
import { createDeliverySender } from '../services/delivery.ts';
import { startDeliveryWorker, type DeliveryWorker } from './delivery-worker.ts';

export type { DeliveryWorker } from './delivery-worker.ts';

export interface WorkerOptions {
  /** ORBIT_WORKER_CONCURRENCY: attempts in flight from the first-attempt queue. */
  concurrency: number;
  /**
   * ORBIT_MAX_CONNECTIONS_PER_ORIGIN: attempts in flight to one origin per delivery queue in this
   * worker (so the connections it needs per origin); claims of one origin across all workers are
   * capped at HOLD_FACTOR times it (see delivery-worker.ts).
   */
  maxConnectionsPerOrigin: number;
  batchSize?: number;
  /** Where job claims, settles and heartbeats go (a pool without synchronous commit); else `services.sql`. */
  claims?: ServiceDeps['sql'];
}

export async function startWorker(services: ServiceDeps, options: WorkerOptions): Promise<DeliveryWorker> {
  const sender = createDeliverySender(services, options.maxConnectionsPerOrigin);
  const worker = await startDeliveryWorker(
    { ...services, sender },
    {
      concurrency: options.concurrency,
      maxPerOrigin: options.maxConnectionsPerOrigin,
      ...(options.batchSize ? { batchSize: options.batchSize } : {}),
      ...(options.claims ? { claims: options.claims } : {}),
    },
  );
  return {
    wake: () => worker.wake(),
    async stop() {
      await worker.stop();
      await sender.close();
    },
  };
}
