/**
 * Keeps held claims alive (waiting ones too) with pg-boss's touch, so a live worker's jobs never
 * expire and a dead one's come back within the queues' heartbeat. A claim pg-boss no longer counts
 * as ours (taken over after a stall) is aborted: its attempt stops and is not recorded.
 */
import type { PgBoss } from 'pg-boss';
import type { Logger } from '../lib/logger.ts';
import type { QueueLoop } from './queue-loop.ts';

// Half the queues' heartbeatSeconds (10): a dead worker's jobs come back, a live one's never do.
const HEARTBEAT_MS = 5_000;

export function startHeartbeat(boss: PgBoss, loops: readonly QueueLoop[], logger: Logger): () => void {
  const timer = setInterval(() => {
    for (const loop of loops) {
      if (loop.claims.size === 0) continue;
      const claims = [...loop.claims.values()];
      boss
        .touch(
          loop.name,
          claims.map((claim) => claim.job),
          loop.connection,
        )
        .then(
          (response) => {
            const touched = (response as { settled?: unknown }).settled;
            if (!Array.isArray(touched)) return;
            const alive = new Set(touched.map(String));
            for (const claim of claims) {
              if (!alive.has(claim.job.id) && loop.claims.has(claim.job.id)) claim.controller.abort();
            }
          },
          (error: unknown) => logger.warn({ err: error, queue: loop.name }, 'heartbeat of delivery jobs failed'),
        );
    }
  }, HEARTBEAT_MS);
  timer.unref();
  return () => clearInterval(timer);
}
