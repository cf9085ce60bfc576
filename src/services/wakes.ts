/**
 * Wake-ups across processes (queue/wake-channel.ts). The enqueuing side tells the delivery workers
 * of other processes that jobs were enqueued: one NOTIFY per queue and tick, sent after the
 * enqueueing transaction committed. The worker side LISTENs. Losing one costs nothing but latency:
 * the workers poll as a floor.
 */
import type { Logger } from '../lib/logger.ts';
import { DELIVERY_QUEUES, wakeTargets, type PlannedDelivery } from '../queue/delivery-queue.ts';
import { DELIVERY_WAKE_CHANNEL, encodeWake, parseWake, type WakeNotice } from '../queue/wake-channel.ts';
import type { ServiceDeps } from './deps.ts';

export interface WakePublisher {
  publish(jobs?: readonly PlannedDelivery[]): void;
}

/** Every queue, any origin: what a wake-up without jobs means. */
const ANY: ReadonlyMap<string, null> = new Map(Object.values(DELIVERY_QUEUES).map((queue) => [queue, null]));

export function createWakePublisher(deps: Pick<ServiceDeps, 'sql'>, logger: Logger): WakePublisher {
  let pending: Map<string, Set<string> | null> | null = null;
  let failing = false;

  async function flush(): Promise<void> {
    const targets = pending ?? new Map();
    pending = null;
    for (const [queue, origins] of targets) {
      try {
        await deps.sql`select pg_notify(${DELIVERY_WAKE_CHANNEL}, ${encodeWake({ queue, origins: origins === null ? null : [...origins] })})`;
        failing = false;
      } catch (error) {
        if (!failing) logger.warn({ err: error }, 'waking the delivery workers failed; they will poll');
        failing = true;
      }
    }
  }

  return {
    publish(jobs) {
      const targets = jobs === undefined ? ANY : wakeTargets(jobs);
      const first = pending === null;
      pending ??= new Map();
      for (const [queue, origins] of targets) {
        const known = pending.has(queue) ? pending.get(queue) : new Set<string>();
        // Null (any origin) absorbs everything else for that queue.
        if (origins === null || known === null || known === undefined) {
          pending.set(queue, null);
        } else {
          for (const origin of origins) known.add(origin);
          pending.set(queue, known);
        }
      }
      if (first) setImmediate(() => void flush());
    },
  };
}

/** LISTENs for the wake notices of the processes that enqueue; returns how to stop. Never throws. */
export async function listenForWakes(
  deps: Pick<ServiceDeps, 'sql'>,
  logger: Logger,
  on: { notice(notice: WakeNotice): void; reconnected(): void },
): Promise<() => Promise<void>> {
  try {
    const listening = await deps.sql.listen(
      DELIVERY_WAKE_CHANNEL,
      (payload) => {
        const notice = parseWake(payload);
        if (notice !== null) on.notice(notice);
      },
      // (Re)connected: notifications may have been missed meanwhile.
      () => on.reconnected(),
    );
    return () => listening.unlisten().catch(() => undefined);
  } catch (error) {
    logger.warn({ err: error }, 'LISTEN for new deliveries failed; polling only');
    return async () => undefined;
  }
}
