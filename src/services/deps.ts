import type { PgBoss } from 'pg-boss';
import type { PlannedDelivery } from '../queue/delivery-queue.ts';
import type { Database, Sql } from '../db/client.ts';
import type { Cidr } from '../domain/network.ts';
import { createSecretCipher, type SecretCipher } from '../lib/cipher.ts';
import { systemClock, type Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import type { Metrics } from '../lib/metrics.ts';

export interface DeliverySettings {
  /** Delays (ms) between attempts after the first, immediate one. */
  retrySchedule: readonly number[];
  retryJitter: number;
  deliveryTimeoutMs: number;
  /**
   * ORBIT_ENDPOINT_DISABLE_AFTER: an application's endpoint whose deliveries have all failed for this
   * long (since its first failure after its last success) is disabled. Default 5 days.
   */
  endpointDisableAfterMs?: number;
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

export interface ServiceSettings {
  logger: Logger;
  /** ORBIT_ENCRYPTION_KEY: seals signing secrets at rest; undefined stores them in clear. */
  encryptionKey: Buffer | undefined;
  delivery: DeliverySettings;
  webhookRules: WebhookRules;
  clock?: Clock;
  random?: () => number;
  onEnqueued?: (jobs?: readonly PlannedDelivery[]) => void;
  metrics?: Metrics;
}

/** The one way to assemble ServiceDeps (the composition root and the tests alike). */
export function createServiceDeps(parts: { db: Database; sql: Sql; boss: PgBoss }, settings: ServiceSettings): ServiceDeps {
  const deps: ServiceDeps = {
    db: parts.db,
    sql: parts.sql,
    boss: parts.boss,
    clock: settings.clock ?? systemClock,
    logger: settings.logger,
    random: settings.random ?? Math.random,
    cipher: createSecretCipher(settings.encryptionKey),
    delivery: settings.delivery,
    webhookRules: settings.webhookRules,
    onEnqueued: settings.onEnqueued ?? (() => undefined),
  };
  if (settings.metrics !== undefined) deps.metrics = settings.metrics;
  return deps;
}
