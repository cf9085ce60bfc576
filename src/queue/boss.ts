/**
 * pg-boss set-up: one instance per process, in its own `pgboss` schema of Orbit's database, with the
 * delivery queues created (or updated) at start. pg-boss is the scheduler only; the retry ladder is
 * ours (docs/architecture.md, "The retry schedule").
 */
import { PgBoss, type Queue } from 'pg-boss';
import { repeatFilter, type Logger } from '../lib/logger.ts';
import { DELIVERY_QUEUES } from './delivery-queue.ts';

export const BOSS_SCHEMA = 'pgboss';

export interface BossOptions {
  /** PostgreSQL connection string (Orbit's database). */
  connectionString: string;
  /** pg-boss's own pool (the retention and overview jobs, queue counts, schedules, maintenance); the LISTEN connection comes on top. */
  poolSize?: number;
  applicationName?: string;
  /** The name it registers under (delivery workers use worker/peers.ts's WORKER_INSTANCE_NAME). */
  instanceName?: string;
  logger: Logger;
}

export function createBoss(options: BossOptions): PgBoss {
  const boss = new PgBoss({
    connectionString: options.connectionString,
    schema: BOSS_SCHEMA,
    max: options.poolSize ?? 10,
    application_name: options.applicationName ?? 'orbit-queue',
    // No queue of Orbit's asks pg-boss to NOTIFY (see deliveryQueueOptions): no LISTEN connection.
    useListenNotify: false,
    // Delivery workers find each other in pg-boss's instance registry (worker/peers.ts); a worker
    // that died without stopping drops out after three missed heartbeats.
    ...(options.instanceName !== undefined ? { instanceName: options.instanceName, instanceHeartbeatSeconds: 5 } : {}),
    // Retention runs on a pg-boss cron schedule (src/worker/retention.ts).
    schedule: true,
    // A crashed worker's jobs come back once their heartbeat is stale; the expiry sweep runs with the
    // monitor pass, so both set how fast (default 60 s each).
    superviseIntervalSeconds: 10,
    monitorIntervalSeconds: 10,
  });
  // Without listeners an EventEmitter 'error' would throw; pg-boss reports and carries on, and
  // keeps trying while the database is away. One line per kind of error and interval (10 s, doubling
  // up to 5 min): an outage must not write an error a second. The logger's serializer keeps an
  // error's message and code only (pg-boss's errors carry the whole client object).
  const repeats = repeatFilter({ firstMs: 10_000, maxMs: 300_000 });
  boss.on('error', (error) => {
    const code = (error as { code?: unknown }).code;
    const { log, suppressed } = repeats.admit(typeof code === 'string' ? code : error.message);
    if (log) options.logger.error({ err: error, ...(suppressed > 0 ? { repeated: suppressed } : {}) }, 'pg-boss error');
  });
  boss.on('warning', (warning) => {
    const { log, suppressed } = repeats.admit(`warning:${warning.message}`);
    if (log)
      options.logger.warn({ data: warning.data, ...(suppressed > 0 ? { repeated: suppressed } : {}) }, `pg-boss: ${warning.message}`);
  });
  return boss;
}

export interface QueueSettings {
  deliveryTimeoutMs: number;
}

/**
 * A worker may hold (claim) up to this many times `ORBIT_MAX_CONNECTIONS_PER_ORIGIN` jobs of one
 * origin and run them that many at a time: a deep enough pipeline to drain one origin's backlog
 * fast, so a held job may wait this many deadlines, less one, before its attempt starts.
 */
export const HOLD_FACTOR = 16;

/** Queue options shared by both delivery queues; they depend on the delivery deadline. */
export function deliveryQueueOptions(settings: QueueSettings): Omit<Queue, 'name' | 'partition' | 'policy' | 'deadLetter'> {
  const deadlineSeconds = Math.ceil(settings.deliveryTimeoutMs / 1000);
  return {
    // Counted from the fetch, heartbeat or not: a job held behind (HOLD_FACTOR - 1) rounds of its
    // origin's attempts, then its own, must never expire while live (the worker also refuses to
    // start one too close to its expiry).
    expireInSeconds: (HOLD_FACTOR + 1) * deadlineSeconds + 60,
    // pg-boss refreshes it every 5 s for long batches only; a dead worker's jobs return within ~20 s.
    heartbeatSeconds: 10,
    // pg-boss's own retries cover infrastructure trouble only (a crash, the database away): keep
    // trying for days rather than leave a message pending with no job.
    retryLimit: 1000,
    retryDelay: 1,
    retryBackoff: true,
    retryDelayMax: 300,
    // Ladder steps can wait up to 7 days each; never let a planned job be dropped before it runs.
    retentionSeconds: 30 * 86_400,
    // Completed jobs only serve to debug; a few hours keep the job tables (and stats scans) small.
    deleteAfterSeconds: 6 * 3600,
    // No NOTIFY inside the enqueueing transaction (it serialises every commit behind it): the
    // enqueuing process sends its own, after the commit (queue/wake-channel.ts).
    notify: false,
  };
}

/**
 * Starts pg-boss (installing or migrating its schema) and makes sure both delivery queues exist with
 * the current options. `createQueue` ignores options on an existing queue, hence `updateQueue`.
 */
export async function startBoss(boss: PgBoss, settings: QueueSettings): Promise<void> {
  await boss.start({ attempts: 5 });
  const options = deliveryQueueOptions(settings);
  for (const name of Object.values(DELIVERY_QUEUES)) {
    const existing = await boss.getQueue(name);
    // Its own table per queue: a retry backlog never bloats the first-attempt queue's indexes.
    if (existing === null) await boss.createQueue(name, { ...options, partition: true });
    else await boss.updateQueue(name, options);
  }
  await tuneQueueTables(boss);
}

// Stale planner statistics on a job table that filled quickly made each fetch ~80x slower (docs/operations.md,
// "Queue statistics"): analyse after ~1% change instead of autovacuum's default 10%.
const STORAGE_OPTIONS = [
  'autovacuum_analyze_scale_factor=0.01',
  'autovacuum_analyze_threshold=500',
  'autovacuum_vacuum_scale_factor=0.02',
  'autovacuum_vacuum_threshold=1000',
];

async function queueTables(boss: PgBoss): Promise<string[]> {
  const queues = await boss.getQueues(Object.values(DELIVERY_QUEUES));
  return queues.map((queue) => queue.table).filter((table) => /^[a-z0-9_]+$/i.test(table));
}

async function tuneQueueTables(boss: PgBoss): Promise<void> {
  const db = boss.getDb();
  for (const table of await queueTables(boss)) {
    // ALTER TABLE takes a short exclusive lock: only when the options are not set yet.
    const { rows } = await db.executeSql(
      `select coalesce(reloptions, '{}') @> $1::text[] as tuned from pg_class c
         join pg_namespace n on n.oid = c.relnamespace where n.nspname = $2 and c.relname = $3`,
      [STORAGE_OPTIONS, BOSS_SCHEMA, table],
    );
    const row = rows[0] as { tuned: boolean } | undefined;
    if (row && !row.tuned) await db.executeSql(`alter table ${BOSS_SCHEMA}.${table} set (${STORAGE_OPTIONS.join(', ')})`);
  }
}

/** Refreshes the planner statistics of the delivery job tables; call after a bulk enqueue. */
export async function analyzeDeliveryQueues(boss: PgBoss): Promise<void> {
  const db = boss.getDb();
  for (const table of await queueTables(boss)) await db.executeSql(`analyze ${BOSS_SCHEMA}.${table}`);
}
