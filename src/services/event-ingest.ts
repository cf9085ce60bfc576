import { asc, sql } from 'drizzle-orm';
import { runs } from '../db/schema.ts';
import type { Transaction } from '../db/client.ts';
import { notFound } from '../domain/errors.ts';
import { buildPayload } from '../domain/payload.ts';
import { applyEvent, type ReportedEvent, type RunState } from '../domain/run.ts';
import { errorCodes } from '../lib/error-codes.ts';
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
// Several transactions in flight let one batch's commit (fsync) overlap the next batches' work.
const MAX_IN_FLIGHT = 4;

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
    // A statement error caused by one report must not fail the others that shared its
    // transaction: retry each alone, so only the culprit gets the error.
    if (batch.length > 1 && isStatementError(error)) {
      for (const pending of batch) await commitBatch(deps, [pending]);
      return;
    }
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

/**
 * An error PostgreSQL raised for the statement's data (SQLSTATE classes 22 data exception and 23
 * integrity constraint), as opposed to the connection or the server being unavailable.
 */
function isStatementError(error: unknown): boolean {
  return errorCodes(error).some((code) => /^(22|23)[0-9A-Z]{3}$/.test(code));
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

/** A Postgres array literal of ids ([A-Za-z0-9_] only): one parameter, so the statement text is stable. */
function idArray(ids: Iterable<string>): string {
  return `{${[...ids].join(',')}}`;
}

async function applyBatch(deps: ServiceDeps, tx: Transaction, batch: Pending[]): Promise<{ outcomes: Outcome[]; enqueued: boolean }> {
  const runIds = new Set(batch.map((pending) => pending.runId));
  // Locked in id order, so two batches sharing runs never deadlock.
  const locked = await tx
    .select()
    .from(runs)
    .where(sql`${runs.id} = any(${idArray(runIds)}::text[])`)
    .orderBy(asc(runs.id))
    .for('update');
  const current = new Map(locked.map((row) => [row.id, row]));
  const now = deps.clock.now();
  const createdAt = now.toISOString();

  const changed = new Set<string>();
  const eventRows: object[] = [];
  const messageRows: object[] = [];
  const newMessages = new Map<string, number>();
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
    eventRows.push({
      id: eventId,
      tenant_id: tenantId,
      run_id: runId,
      type: event.type,
      data: event.data ?? null,
      error: event.error ?? null,
    });
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
        tenant_id: tenantId,
        run_id: runId,
        workflow_id: row.workflowId,
        event_id: eventId,
        event_type: event.type,
        url: webhook.url,
        headers: webhook.headers,
        payload,
      });
      newMessages.set(runId, (newMessages.get(runId) ?? 0) + 1);
      jobs.push({ messageId, step: 1, trigger: 'scheduled', url: webhook.url });
    }
    outcomes.push({ ok: { eventId, messageId, createdAt: now, run: updated, deliveries: { pending: 0, succeeded: 0, failed: 0 } } });
  }
  if (changed.size === 0) return { outcomes, enqueued: false };

  const runStates = [...changed].map((id) => {
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
  // One statement writes the whole batch: run updates, events, messages; and reads the runs'
  // message counts as they were before it (this batch's new messages are added from memory).
  const counts = await tx.execute<{ run_id: string; status: keyof DeliveryCounts; n: number }>(sql`
    with run_updates as (
      update runs r set status = x.status, completed_nodes = x.completed_nodes, failed_nodes = x.failed_nodes,
        error = x.error, started_at = x.started_at, finished_at = x.finished_at
      from jsonb_to_recordset(${JSON.stringify(runStates)}::jsonb) as x(id text, status text, completed_nodes integer,
        failed_nodes integer, error text, started_at timestamptz, finished_at timestamptz)
      where r.id = x.id
      returning r.id
    ), new_events as (
      insert into events (id, tenant_id, run_id, type, data, error, created_at)
      select x.id, x.tenant_id, x.run_id, x.type, x.data, x.error, ${createdAt}::timestamptz
      from jsonb_to_recordset(${JSON.stringify(eventRows)}::jsonb) as x(id text, tenant_id text, run_id text, type text,
        data jsonb, error text)
      returning id
    ), new_messages as (
      insert into messages (id, tenant_id, run_id, workflow_id, event_id, event_type, url, headers, payload, status,
        next_attempt_at, created_at)
      select x.id, x.tenant_id, x.run_id, x.workflow_id, x.event_id, x.event_type, x.url, x.headers, x.payload, 'pending',
        ${createdAt}::timestamptz, ${createdAt}::timestamptz
      from jsonb_to_recordset(${JSON.stringify(messageRows)}::jsonb) as x(id text, tenant_id text, run_id text,
        workflow_id text, event_id text, event_type text, url text, headers jsonb, payload text)
      returning id
    )
    select m.run_id, m.status, count(*)::int as n from messages m
    where m.run_id = any(${idArray(changed)}::text[])
    group by m.run_id, m.status`);
  if (jobs.length > 0) await enqueueDeliveries(deps.boss, jobs, tx);

  const byRun = new Map<string, DeliveryCounts>();
  for (const id of changed) byRun.set(id, { pending: newMessages.get(id) ?? 0, succeeded: 0, failed: 0 });
  for (const count of counts) {
    const entry = byRun.get(count.run_id);
    if (entry) entry[count.status] += count.n;
  }
  for (const outcome of outcomes) {
    if ('ok' in outcome) outcome.ok.deliveries = { ...(byRun.get(outcome.ok.run.id) as DeliveryCounts) };
  }
  return { outcomes, enqueued: jobs.length > 0 };
}
