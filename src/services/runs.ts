import { createHash } from 'node:crypto';
import { and, desc, eq, inArray, lt, sql } from 'drizzle-orm';
import { deliveries, endpoints, idempotencyKeys, messages, runs, type WebhookConfig } from '../db/schema.ts';
import type { Queryable } from '../db/client.ts';
import { notFound, OrbitError } from '../domain/errors.ts';
import type { EventType, ReportedEvent, RunStatus } from '../domain/run.ts';
import { parseRetrySchedule } from '../domain/schedule.ts';
import { newId } from '../lib/ids.ts';
import type { ServiceDeps } from './deps.ts';
import { ingestEvent, type DeliveryCounts } from './event-ingest.ts';

export type { DeliveryCounts };

export interface CreateRunInput {
  workflowId: string;
  webhook?: WebhookConfig | undefined;
  input?: unknown;
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
  webhook: WebhookView | null;
  deliveries: DeliveryCounts;
}

/** A run's webhook as the API shows it; the delivery-control fields only when the run set them. */
export interface WebhookView {
  url: string;
  events: string[];
  metadata: Record<string, unknown> | null;
  ordered?: true;
  throttleRate?: number;
  retrySchedule?: string;
}

function toWebhookView(webhook: WebhookView | WebhookConfig): WebhookView {
  const view: WebhookView = { url: webhook.url, events: webhook.events, metadata: webhook.metadata };
  if (webhook.ordered === true) view.ordered = true;
  if (typeof webhook.throttleRate === 'number') view.throttleRate = webhook.throttleRate;
  if (typeof webhook.retrySchedule === 'string') view.retrySchedule = webhook.retrySchedule;
  return view;
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
    webhook: row.webhook ? toWebhookView(row.webhook) : null,
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
    webhook: webhook ? toWebhookView(webhook) : null,
    deliveries: { pending: deliveries.pending, succeeded: deliveries.succeeded, failed: deliveries.failed },
  };
}

async function deliveryCounts(db: Queryable, runIds: string[]): Promise<Map<string, DeliveryCounts>> {
  const counts = new Map<string, DeliveryCounts>(runIds.map((id) => [id, { pending: 0, succeeded: 0, failed: 0 }]));
  if (runIds.length === 0) return counts;
  const rows = await db
    .select({ runId: messages.runId, status: deliveries.status, n: sql<number>`count(*)::int` })
    .from(messages)
    .innerJoin(deliveries, eq(deliveries.messageId, messages.id))
    .where(inArray(messages.runId, runIds))
    .groupBy(messages.runId, deliveries.status);
  for (const row of rows) {
    if (row.runId === null) continue;
    const entry = counts.get(row.runId);
    if (entry) entry[row.status] = row.n;
  }
  return counts;
}

async function findRun(db: Queryable, tenantId: string, runId: string): Promise<RunRow> {
  const [row] = await db
    .select()
    .from(runs)
    .where(and(eq(runs.id, runId), eq(runs.tenantId, tenantId)));
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
  const counts = await deliveryCounts(
    deps.db,
    page.map((row) => row.id),
  );
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
  const webhook = input.webhook;
  // The webhook is delivered through an endpoint of its own (docs/architecture.md, "Destinations").
  const endpointId = webhook ? newId('ep', now.getTime()) : null;
  const insertRun = async (db: Queryable): Promise<RunView> => {
    const [row] = await db
      .insert(runs)
      .values({
        id: runId,
        tenantId,
        workflowId: input.workflowId,
        status: 'QUEUED',
        input: input.input ?? null,
        webhook: webhook ?? null,
        endpointId,
        createdAt: now,
      })
      .returning();
    if (webhook && endpointId) {
      await db.insert(endpoints).values({
        id: endpointId,
        tenantId,
        kind: 'run',
        runId,
        url: webhook.url,
        filterTypes: webhook.events,
        headers: webhook.headers,
        ordered: webhook.ordered ?? false,
        throttleRate: webhook.throttleRate ?? null,
        retrySchedule: typeof webhook.retrySchedule === 'string' ? parseRetrySchedule(webhook.retrySchedule) : null,
        createdAt: now,
        updatedAt: now,
      });
    }
    return toRunView(row as RunRow, { pending: 0, succeeded: 0, failed: 0 });
  };
  // Without a key or a webhook, one statement is atomic on its own: no transaction round trips.
  if (!idempotency && !webhook) return { run: await insertRun(deps.db), replayed: false };
  if (!idempotency) return { run: await deps.db.transaction(insertRun), replayed: false };
  return deps.db.transaction(async (tx) => {
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
    const run = await insertRun(tx);
    await tx
      .update(idempotencyKeys)
      .set({ response: run })
      .where(and(eq(idempotencyKeys.tenantId, tenantId), eq(idempotencyKeys.key, idempotency.key)));
    return { run, replayed: false };
  });
}

/**
 * Records an accepted event: in one transaction (shared with concurrent reports, see
 * event-ingest.ts) the run is updated, the event stored and, when the run's webhook subscribes to
 * the event, a pending message (its body fixed here) and its first delivery job are created. A
 * refused event changes nothing. Answers once the event is durable.
 */
export async function recordEvent(deps: ServiceDeps, tenantId: string, runId: string, event: ReportedEvent): Promise<EventAccepted> {
  const accepted = await ingestEvent(deps, tenantId, runId, event);
  return {
    id: accepted.eventId,
    runId,
    type: event.type,
    createdAt: accepted.createdAt.toISOString(),
    messageId: accepted.messageId,
    run: toRunView(accepted.run, accepted.deliveries),
  };
}

export async function cancelRun(deps: ServiceDeps, tenantId: string, runId: string): Promise<RunView> {
  const accepted = await recordEvent(deps, tenantId, runId, { type: 'run.canceled' });
  return accepted.run;
}
