import { createHash } from 'node:crypto';
import { and, desc, eq, inArray, lt, sql } from 'drizzle-orm';
import { events, idempotencyKeys, messages, runs, type WebhookConfig } from '../db/schema.ts';
import type { Queryable } from '../db/client.ts';
import { notFound, OrbitError } from '../domain/errors.ts';
import { buildPayload } from '../domain/payload.ts';
import { applyEvent, type EventType, type ReportedEvent, type RunState, type RunStatus } from '../domain/run.ts';
import { newId } from '../lib/ids.ts';
import { enqueueDeliveries } from '../queue/delivery-queue.ts';
import type { ServiceDeps } from './deps.ts';

export interface CreateRunInput {
  workflowId: string;
  webhook?: WebhookConfig | undefined;
  input?: unknown;
}

export interface DeliveryCounts {
  pending: number;
  succeeded: number;
  failed: number;
}

export interface RunView {
  id: string;
  workflowId: string;
  status: RunStatus;
  completedNodes: number;
  failedNodes: number;
  error: string | null;
  input: unknown;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  webhook: { url: string; events: string[]; metadata: Record<string, unknown> | null } | null;
  deliveries: DeliveryCounts;
}

export interface EventAccepted {
  id: string;
  runId: string;
  type: EventType;
  createdAt: string;
  /** The message planned for this event, or null when the webhook does not subscribe to it. */
  messageId: string | null;
  run: RunView;
}

type RunRow = typeof runs.$inferSelect;

const iso = (date: Date | null): string | null => (date ? date.toISOString() : null);

function toRunView(row: RunRow, deliveries: DeliveryCounts): RunView {
  return {
    id: row.id,
    workflowId: row.workflowId,
    status: row.status,
    completedNodes: row.completedNodes,
    failedNodes: row.failedNodes,
    error: row.error,
    input: row.input ?? null,
    createdAt: row.createdAt.toISOString(),
    startedAt: iso(row.startedAt),
    finishedAt: iso(row.finishedAt),
    webhook: row.webhook ? { url: row.webhook.url, events: row.webhook.events, metadata: row.webhook.metadata } : null,
    deliveries,
  };
}

/** A stored first answer with its keys back in the order of a fresh one (jsonb sorts keys). */
function storedRunView(stored: RunView): RunView {
  const { webhook, deliveries } = stored;
  return {
    id: stored.id,
    workflowId: stored.workflowId,
    status: stored.status,
    completedNodes: stored.completedNodes,
    failedNodes: stored.failedNodes,
    error: stored.error,
    input: stored.input,
    createdAt: stored.createdAt,
    startedAt: stored.startedAt,
    finishedAt: stored.finishedAt,
    webhook: webhook ? { url: webhook.url, events: webhook.events, metadata: webhook.metadata } : null,
    deliveries: { pending: deliveries.pending, succeeded: deliveries.succeeded, failed: deliveries.failed },
  };
}

async function deliveryCounts(db: Queryable, runIds: string[]): Promise<Map<string, DeliveryCounts>> {
  const counts = new Map<string, DeliveryCounts>(runIds.map((id) => [id, { pending: 0, succeeded: 0, failed: 0 }]));
  if (runIds.length === 0) return counts;
  const rows = await db
    .select({ runId: messages.runId, status: messages.status, n: sql<number>`count(*)::int` })
    .from(messages)
    .where(inArray(messages.runId, runIds))
    .groupBy(messages.runId, messages.status);
  for (const row of rows) {
    const entry = counts.get(row.runId);
    if (entry) entry[row.status] = row.n;
  }
  return counts;
}

async function findRun(db: Queryable, tenantId: string, runId: string, forUpdate = false): Promise<RunRow> {
  const query = db.select().from(runs).where(and(eq(runs.id, runId), eq(runs.tenantId, tenantId)));
  const [row] = forUpdate ? await query.for('update') : await query;
  if (!row) throw notFound('run');
  return row;
}

export async function getRun(deps: ServiceDeps, tenantId: string, runId: string): Promise<RunView> {
  const row = await findRun(deps.db, tenantId, runId);
  const counts = await deliveryCounts(deps.db, [row.id]);
  return toRunView(row, counts.get(row.id) as DeliveryCounts);
}

export async function listRuns(
  deps: ServiceDeps,
  tenantId: string,
  filter: { workflowId?: string | undefined; status?: RunStatus | undefined; limit: number; iterator?: string | undefined },
): Promise<{ data: RunView[]; iterator: string | null; done: boolean }> {
  const rows = await deps.db
    .select()
    .from(runs)
    .where(
      and(
        eq(runs.tenantId, tenantId),
        filter.workflowId !== undefined ? eq(runs.workflowId, filter.workflowId) : undefined,
        filter.status !== undefined ? eq(runs.status, filter.status) : undefined,
        filter.iterator !== undefined ? lt(runs.id, filter.iterator) : undefined,
      ),
    )
    .orderBy(desc(runs.id))
    .limit(filter.limit + 1);
  const done = rows.length <= filter.limit;
  const page = rows.slice(0, filter.limit);
  const counts = await deliveryCounts(deps.db, page.map((row) => row.id));
  return {
    data: page.map((row) => toRunView(row, counts.get(row.id) as DeliveryCounts)),
    iterator: done ? null : (page.at(-1)?.id ?? null),
    done,
  };
}

/**
 * Creates a run. With an idempotency key, the first request's answer is stored in the same
 * transaction; a retry with the same key and body gets it back, a different body is a conflict.
 * Concurrent requests with one key serialise on the key's primary key.
 */
export async function createRun(
  deps: ServiceDeps,
  tenantId: string,
  input: CreateRunInput,
  idempotency?: { key: string; rawBody: string },
): Promise<{ run: RunView; replayed: boolean }> {
  const now = deps.clock.now();
  const runId = newId('run', now.getTime());
  return deps.db.transaction(async (tx) => {
    if (idempotency) {
      const requestHash = createHash('sha256').update(idempotency.rawBody).digest('hex');
      const claimed = await tx
        .insert(idempotencyKeys)
        .values({ tenantId, key: idempotency.key, requestHash, runId, response: {}, createdAt: now })
        .onConflictDoNothing()
        .returning({ runId: idempotencyKeys.runId });
      if (claimed.length === 0) {
        const [earlier] = await tx
          .select()
          .from(idempotencyKeys)
          .where(and(eq(idempotencyKeys.tenantId, tenantId), eq(idempotencyKeys.key, idempotency.key)));
        if (!earlier) throw new OrbitError('idempotency_conflict', 'the Idempotency-Key was used concurrently; retry the request');
        if (earlier.requestHash !== requestHash) {
          throw new OrbitError('idempotency_conflict', 'this Idempotency-Key was already used with a different request body');
        }
        return { run: storedRunView(earlier.response as RunView), replayed: true };
      }
    }
    const [row] = await tx
      .insert(runs)
      .values({
        id: runId,
        tenantId,
        workflowId: input.workflowId,
        status: 'QUEUED',
        input: input.input ?? null,
        webhook: input.webhook ?? null,
        createdAt: now,
      })
      .returning();
    const run = toRunView(row as RunRow, { pending: 0, succeeded: 0, failed: 0 });
    if (idempotency) {
      await tx
        .update(idempotencyKeys)
        .set({ response: run })
        .where(and(eq(idempotencyKeys.tenantId, tenantId), eq(idempotencyKeys.key, idempotency.key)));
    }
    return { run, replayed: false };
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

/**
 * Records an accepted event: in one transaction the run is updated, the event stored and, when
 * the run's webhook subscribes to the event, a pending message (its body fixed here) and its first
 * delivery job are created. A refused event changes nothing.
 */
export async function recordEvent(deps: ServiceDeps, tenantId: string, runId: string, event: ReportedEvent): Promise<EventAccepted> {
  const accepted = await deps.db.transaction(async (tx) => {
    const row = await findRun(tx, tenantId, runId, true);
    const now = deps.clock.now();
    const next = applyEvent(stateOf(row), event, now);
    const [updated] = await tx
      .update(runs)
      .set({
        status: next.status,
        completedNodes: next.completedNodes,
        failedNodes: next.failedNodes,
        error: next.error,
        startedAt: next.startedAt,
        finishedAt: next.finishedAt,
      })
      .where(eq(runs.id, row.id))
      .returning();
    const eventId = newId('evt', now.getTime());
    await tx.insert(events).values({
      id: eventId,
      tenantId,
      runId: row.id,
      type: event.type,
      data: event.data ?? null,
      error: event.error ?? null,
      createdAt: now,
    });
    let messageId: string | null = null;
    const webhook = row.webhook;
    if (webhook && webhook.events.includes(event.type)) {
      messageId = newId('msg', now.getTime());
      const payload = buildPayload({
        type: event.type,
        runId: row.id,
        workflowId: row.workflowId,
        run: next,
        data: event.data,
        error: event.error,
        metadata: webhook.metadata,
        createdAt: now,
      });
      await tx.insert(messages).values({
        id: messageId,
        tenantId,
        runId: row.id,
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
      await enqueueDeliveries(deps.boss, [{ messageId, step: 1, trigger: 'scheduled', url: webhook.url }], tx);
    }
    return { eventId, messageId, now, run: updated as RunRow };
  });
  if (accepted.messageId) deps.onEnqueued();
  const counts = await deliveryCounts(deps.db, [runId]);
  return {
    id: accepted.eventId,
    runId,
    type: event.type,
    createdAt: accepted.now.toISOString(),
    messageId: accepted.messageId,
    run: toRunView(accepted.run, counts.get(runId) as DeliveryCounts),
  };
}

export async function cancelRun(deps: ServiceDeps, tenantId: string, runId: string): Promise<RunView> {
  const accepted = await recordEvent(deps, tenantId, runId, { type: 'run.canceled' });
  return accepted.run;
}
