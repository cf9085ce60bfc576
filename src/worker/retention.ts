/**
 * Retention as a pg-boss schedule: every 10 minutes one job deletes finished messages older than
 * ORBIT_RETENTION (see services/retention.ts). The schedule lives in the database, so with several
 * worker processes it still fires once per slot, and the `stately` queue keeps at most one run
 * going and one waiting. Needs pg-boss's cron processing on (`schedule: true` in its constructor)
 * in at least one process.
 */
import type { PgBoss } from 'pg-boss';
import type { ServiceDeps } from '../services/deps.ts';
import { deleteExpired } from '../services/retention.ts';

export const RETENTION_QUEUE = 'orbit-retention';
export const RETENTION_CRON = '*/10 * * * *';

export interface RetentionSettings {
  retentionMs: number;
  batchSize?: number;
  cron?: string;
}

/** Creates the queue and its schedule and starts handling its jobs. Returns a stop function. */
export async function registerRetention(
  boss: PgBoss,
  deps: Pick<ServiceDeps, 'db' | 'clock' | 'logger'>,
  settings: RetentionSettings,
): Promise<() => Promise<void>> {
  if ((await boss.getQueue(RETENTION_QUEUE)) === null) {
    // A run stops itself after 5 minutes (the next slot continues), far inside this expiry.
    await boss.createQueue(RETENTION_QUEUE, { policy: 'stately', expireInSeconds: 900, retryLimit: 2, retryDelay: 60 });
  }
  await boss.schedule(RETENTION_QUEUE, settings.cron ?? RETENTION_CRON, null, { tz: 'UTC' });
  await boss.work(RETENTION_QUEUE, async () => {
    await deleteExpired(deps, { retentionMs: settings.retentionMs, ...(settings.batchSize ? { batchSize: settings.batchSize } : {}) });
  });
  return () => boss.offWork(RETENTION_QUEUE);
}
