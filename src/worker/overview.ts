/**
 * The console's minute job, as a pg-boss schedule: rolls the delivery log up into the overview's
 * hourly rows (services/overview.ts), and deletes expired console sessions and portal links. The
 * schedule lives in the database, so with several processes it still fires once a minute, and the
 * `stately` queue keeps at most one run going. Needs pg-boss's cron processing on (`schedule: true`,
 * as queue/boss.ts sets it) in at least one process. Nothing of it runs on the delivery path.
 */
import type { PgBoss } from 'pg-boss';
import type { ServiceDeps } from '../services/deps.ts';
import { pruneRollup, rollUpDeliveryLog } from '../services/overview.ts';
import { prunePortalLinks } from '../services/portal.ts';
import { pruneSessions } from '../services/ui-sessions.ts';

export const OVERVIEW_QUEUE = 'orbit-overview';
export const OVERVIEW_CRON = '* * * * *';

/** Creates the queue and its schedule and starts handling its jobs. Returns a stop function. */
export async function registerOverview(
  boss: PgBoss,
  deps: Pick<ServiceDeps, 'db' | 'clock' | 'logger' | 'delivery'>,
  settings: { cron?: string } = {},
): Promise<() => Promise<void>> {
  if ((await boss.getQueue(OVERVIEW_QUEUE)) === null) {
    // A run stops itself after 45 s (the next minute continues), inside this expiry.
    await boss.createQueue(OVERVIEW_QUEUE, { policy: 'stately', expireInSeconds: 300, retryLimit: 1, retryDelay: 30 });
  }
  await boss.schedule(OVERVIEW_QUEUE, settings.cron ?? OVERVIEW_CRON, null, { tz: 'UTC' });
  await boss.work(OVERVIEW_QUEUE, async () => {
    const result = await rollUpDeliveryLog(deps, { maxRunMs: 45_000 });
    if (!result.caughtUp) deps.logger.info({ until: result.until.toISOString(), windows: result.windows }, 'overview: rollup catching up');
    await pruneSessions(deps);
    // Once an hour is enough for what only grows by a row per hour and key.
    if (deps.clock.now().getUTCMinutes() === 7) {
      await pruneRollup(deps);
      await prunePortalLinks(deps);
    }
  });
  return () => boss.offWork(OVERVIEW_QUEUE);
}
