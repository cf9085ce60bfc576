/**
 * The delivery workers of the deployment, from pg-boss's instance registry: each worker's pg-boss
 * registers under WORKER_INSTANCE_NAME, and every worker re-reads the live ones every few seconds
 * to know its share of each origin's cap (fair-share.ts).
 */
import { hostname } from 'node:os';
import type { PgBoss } from 'pg-boss';
import type { Logger } from '../lib/logger.ts';
import { rankAmong } from './fair-share.ts';

export const WORKER_INSTANCE_NAME = 'orbit-worker';
const REFRESH_MS = 5_000;

export interface PeerCount {
  peers: number;
  rank: number;
}

/** Calls `changed` with the count now and whenever it changes; returns a stop function. */
export function watchPeers(boss: PgBoss, logger: Logger, changed: (count: PeerCount) => void): () => void {
  const host = hostname();
  let last = '';
  let warned = false;
  const refresh = async (): Promise<void> => {
    try {
      const instances = (await boss.getInstances()).filter((instance) => instance.name === WORKER_INSTANCE_NAME);
      const self = instances.find((instance) => instance.pid === process.pid && instance.host === host && instance.live);
      const count = rankAmong(
        instances.map((instance) => ({ id: instance.id, live: instance.live })),
        self?.id ?? null,
      );
      const key = `${count.peers}/${count.rank}`;
      if (key !== last) {
        last = key;
        logger.info(count, 'delivery workers in the deployment');
        changed(count);
      }
      warned = false;
    } catch (error) {
      if (!warned) logger.warn({ err: error }, 'reading the delivery workers failed; keeping the last count');
      warned = true;
    }
  };
  changed({ peers: 1, rank: 0 });
  void refresh();
  const timer = setInterval(() => void refresh(), REFRESH_MS);
  timer.unref();
  return () => clearInterval(timer);
}
