import { asc, inArray, sql } from 'drizzle-orm';
import { events, messages, runs } from '../db/schema.ts';
import type { Transaction } from '../db/client.ts';
import { notFound } from '../domain/errors.ts';
import { buildPayload } from '../domain/payload.ts';
import { applyEvent, type ReportedEvent, type RunState } from '../domain/run.ts';
import { newId } from '../lib/ids.ts';
import { enqueueDeliveries, type PlannedDelivery } from '../queue/delivery-queue.ts';
import type { ServiceDeps } from './deps.ts';

export type RunRow = typeof runs.$inferSelect;

export interface DeliveryCounts {
  pending: number;
  succeeded: number;
  failed: number;
}

/** What one accepted event became: its id, its message (if the webhook subscribes) and the run after it. */
export interface IngestedEvent {
  eventId: string;
  messageId: string | null;
  createdAt: Date;
  run: RunRow;
  /** The run's messages by status once the batch committed. */
  deliveries: DeliveryCounts;
}

interface Pending {
  tenantId: string;
  runId: string;
  event: ReportedEvent;
  resolve: (accepted: IngestedEvent) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit. Concurrent event reports share one transaction: while a transaction is in flight,
 * new reports queue up, and the next transaction takes them all — one row lock statement, one
 * multi-row insert each for events and messages, one bulk enqueue. Each caller is answered only
 * after the transaction holding its event has committed; a refused event (409, 404) is refused on
 * its own without touching the others. Under light load a batch holds one event, so latency is that
 * of a plain transaction.
 */
const MAX_BATCH = 500;
// Two transactions in flight let one batch's commit (fsync) overlap the next batch's work.
const MAX_IN_FLIGHT = 2;

interface Batcher {
  queue: Pending[];
  inFlight: number;
}

const batchers = new WeakMap<ServiceDeps['db'], Batcher>();

export function ingestEvent(deps: ServiceDeps, tenantId: string, runId: string, event: ReportedEvent): Promise<IngestedEvent> {
  let batcher = batchers.get(deps.db);
  if (!batcher) {
    batcher = { queue: [], inFlight: 0 };
    batchers.set(deps.db, batcher);
  }
  const promise = new Promise<IngestedEvent>((resolve, reject) => {
    (batcher as Batcher).queue.push({ tenantId, runId, event, resolve, reject });
  });
  pump(deps, batcher);
  return promise;
}

function pump(deps: ServiceDeps, batcher: Batcher): void {
  while (batcher.inFlight < MAX_IN_FLIGHT && batcher.queue.length > 0) {
    const batch = batcher.queue.splice(0, MAX_BATCH);
    batcher.inFlight++;
    void commitBatch(deps, batch).finally(() => {
      batcher.inFlight--;
      pump(deps, batcher);
    });
  }
}

type Outcome = { ok: IngestedEvent } | { error: unknown };

async function commitBatch(deps: ServiceDeps, batch: Pending[]): Promise<void> {
  let outcomes: Outcome[];
  let enqueued = false;
  try {
    outcomes = await deps.db.transaction(async (tx) => {
      const result = await applyBatch(deps, tx, batch);
      enqueued = result.enqueued;
      return result.outcomes;
    });
  } catch (error) {
    for (const pending of batch) pending.reject(error);
    return;
  }
  if (enqueued) deps.onEnqueued();
  batch.forEach((pending, index) => {
    const outcome = outcomes[index] as Outcome;
    if ('ok' in outcome) pending.resolve(outcome.ok);
    else pending.reject(outcome.error);
  });
}

function stateOf(row: RunRow): RunState {
  return {
    status: row.status,
    completedNodes: row.completedNodes,
    failedNodes: row.failedNodes,
    error: row.error,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
  };
}

async function applyBatch(deps: ServiceDeps, tx: Transaction, batch: Pending[]): Promise<{ outcomes: Outcome[]; enqueued: boolean }> {
  const runIds = [...new Set(batch.map((pending) => pending.runId))];
  // Locked in id order, so two batches sharing runs never deadlock.
  const locked = await tx.select().from(runs).where(inArray(runs.id, runIds)).orderBy(asc(runs.id)).for('update');
  const current = new Map(locked.map((row) => [row.id, row]));
  const now = deps.clock.now();

  const changed = new Set<string>();
  const eventRows: Array<typeof events.$inferInsert> = [];
  const messageRows: Array<typeof messages.$inferInsert> = [];
  const jobs: PlannedDelivery[] = [];
  const outcomes: Outcome[] = [];

  // In arrival order: several events of one run in one batch apply one after the other.
  for (const { tenantId, runId, event } of batch) {
    const row = current.get(runId);
    if (!row || row.tenantId !== tenantId) {
      outcomes.push({ error: notFound('run') });
      continue;
    }
    let next: RunState;
    try {
      next = applyEvent(stateOf(row), event, now);
    } catch (error) {
      outcomes.push({ error });
      continue;
    }
    const updated: RunRow = { ...row, ...next };
    current.set(runId, updated);
    changed.add(runId);

    const eventId = newId('evt', now.getTime());
    eventRows.push({ id: eventId, tenantId, runId, type: event.type, data: event.data ?? null, error: event.error ?? null, createdAt: now });
    let messageId: string | null = null;
    const webhook = row.webhook;
    if (webhook && webhook.events.includes(event.type)) {
      messageId = newId('msg', now.getTime());
      const payload = buildPayload({
        type: event.type,
        runId,
        workflowId: row.workflowId,
        run: next,
        data: event.data,
        error: event.error,
        metadata: webhook.metadata,
        createdAt: now,
      });
      messageRows.push({
        id: messageId,
        tenantId,
        runId,
        workflowId: row.workflowId,
        eventId,
        eventType: event.type,
        url: webhook.url,
        headers: webhook.headers,
        payload,
        status: 'pending',
        nextAttemptAt: now,
        createdAt: now,
      });
      jobs.push({ messageId, step: 1, trigger: 'scheduled', url: webhook.url });
    }
    outcomes.push({ ok: { eventId, messageId, createdAt: now, run: updated, deliveries: { pending: 0, succeeded: 0, failed: 0 } } });
  }

  if (changed.size > 0) {
    const states = [...changed].map((id) => {
      const run = current.get(id) as RunRow;
      return {
        id,
        status: run.status,
        completed_nodes: run.completedNodes,
        failed_nodes: run.failedNodes,
        error: run.error,
        started_at: run.startedAt?.toISOString() ?? null,
        finished_at: run.finishedAt?.toISOString() ?? null,
      };
    });
    await tx.execute(sql`
      update runs r set status = x.status, completed_nodes = x.completed_nodes, failed_nodes = x.failed_nodes,
        error = x.error, started_at = x.started_at, finished_at = x.finished_at
      from jsonb_to_recordset(${JSON.stringify(states)}::jsonb) as x(id text, status text, completed_nodes integer,
        failed_nodes integer, error text, started_at timestamptz, finished_at timestamptz)
      where r.id = x.id`);
  }
  if (eventRows.length > 0) await tx.insert(events).values(eventRows);
  if (messageRows.length > 0) await tx.insert(messages).values(messageRows);
  if (jobs.length > 0) await enqueueDeliveries(deps.boss, jobs, tx);
  if (changed.size > 0) {
    // One grouped count for every run of the batch, instead of one query per answer.
    const counts = await tx
      .select({ runId: messages.runId, status: messages.status, n: sql<number>`count(*)::int` })
      .from(messages)
      .where(inArray(messages.runId, [...changed]))
      .groupBy(messages.runId, messages.status);
    for (const outcome of outcomes) {
      if (!('ok' in outcome)) continue;
      for (const count of counts) if (count.runId === outcome.ok.run.id) outcome.ok.deliveries[count.status] = count.n;
    }
  }
  return { outcomes, enqueued: jobs.length > 0 };
}
