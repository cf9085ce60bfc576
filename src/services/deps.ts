import type { PgBoss } from 'pg-boss';
import type { PlannedDelivery } from '../queue/delivery-queue.ts';
import type { Database, Sql } from '../db/client.ts';
import type { Cidr } from '../domain/network.ts';
import type { SecretCipher } from '../lib/cipher.ts';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import type { Metrics } from '../lib/metrics.ts';

export interface DeliverySettings {
  /** Delays (ms) between attempts after the first, immediate one. */
  retrySchedule: readonly number[];
  retryJitter: number;
  deliveryTimeoutMs: number;
}

export interface WebhookRules {
  allowHttp: boolean;
  allowPrivateNetworks: readonly Cidr[];
}

/** Everything a use case may touch, passed in as one object (no globals, no Config). */
export interface ServiceDeps {
  db: Database;
  sql: Sql;
  boss: PgBoss;
  clock: Clock;
  logger: Logger;
  random: () => number;
  cipher: SecretCipher;
  delivery: DeliverySettings;
  webhookRules: WebhookRules;
  /**
   * Called after a transaction that enqueued deliveries commits, with the jobs (all of them when
   * omitted): wakes the workers, in this process and through a NOTIFY in the others.
   */
  onEnqueued: (jobs?: readonly PlannedDelivery[]) => void;
  /** The process's Prometheus metrics; absent in tests that do not look at them. */
  metrics?: Metrics;
}
