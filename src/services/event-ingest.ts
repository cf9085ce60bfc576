/**
 * Group commit of what creates messages: events reported on runs, and messages sent to an
 * application (Svix-compatible API). Concurrent requests share one transaction: while one is in
 * flight, new requests queue up, and the next transaction takes them all — one row lock statement
 * (sent with the BEGIN), one statement writing runs, events, messages and deliveries, one bulk
 * enqueue of the first jobs.
 * Each caller is answered only after the transaction holding its request committed; a refused
 * request (409, 404) is refused on its own without touching the others. Under light load a batch
 * holds one request, so latency is that of a plain transaction.
 *
 * The hot statements go to postgres.js directly (one prepared statement each, arrays as
 * parameters): no query building per request.
 */
import type postgres from 'postgres';
import { notFound, OrbitError } from '../domain/errors.ts';
import { receives } from '../domain/fanout.ts';
import { buildPayload } from '../domain/payload.ts';
import { applyEvent, type ReportedEvent, type RunState, type RunStatus } from '../domain/run.ts';
import { errorCodes } from '../lib/error-codes.ts';
import { newId } from '../lib/ids.ts';
import { enqueueDeliveries, type PlannedDelivery } from '../queue/delivery-queue.ts';
import { pipelinedTransaction } from '../db/client.ts';
import type { runs } from '../db/schema.ts';
import type { ServiceDeps } from './deps.ts';
import { liveHeads, lockEndpoints, setHeads } from './ordering.ts';

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
  /** The run's deliveries by status once the batch committed. */
  deliveries: DeliveryCounts;
}

/** A message for an application, as the Svix-compatible API accepts it. */
export interface NewAppMessage {
  eventType: string;
  /** The sender's own id for the message, unique within the application; null when not given. */
  eventId: string | null;
  channels: string[] | null;
  /** The payload's JSON text exactly as received: it is the body every endpoint gets. */
  payload: string;
  /** Only to this endpoint, whatever the others' filters (an example sent to one endpoint). */
  onlyEndpointId?: string | undefined;
}

export interface IngestedAppMessage extends NewAppMessage {
  id: string;
  appId: string;
  createdAt: Date;
  /** The endpoints it goes to (enabled, and matching its event type and channels when created). */
  endpointIds: string[];
}

interface RunEventRequest {
  kind: 'run-event';
  tenantId: string;
  runId: string;
  event: ReportedEvent;
  resolve: (accepted: IngestedEvent) => void;
  reject: (error: unknown) => void;
}

interface AppMessageRequest {
  kind: 'app-message';
  tenantId: string;
  appId: string;
  message: NewAppMessage;
  resolve: (accepted: IngestedAppMessage) => void;
  reject: (error: unknown) => void;
}

type IngestRequest = RunEventRequest | AppMessageRequest;

const MAX_BATCH = 500;
// Two transactions in flight let one batch's commit (fsync) overlap the next batch's work. More
// only cut the same requests into smaller batches, each paying its own statements: from 4 to 2,
// the bench's throughput phase went from 1.9 to 1.65 statements per delivery, with less PostgreSQL
// CPU and throughput and latency unchanged within the VM's noise (docs/operations.md).
const MAX_IN_FLIGHT = 2;

interface Batcher {
  queue: IngestRequest[];
  inFlight: number;
}

const batchers = new WeakMap<ServiceDeps['sql'], Batcher>();

function submit(deps: ServiceDeps, request: IngestRequest): void {
  let batcher = batchers.get(deps.sql);
  if (!batcher) {
    batcher = { queue: [], inFlight: 0 };
    batchers.set(deps.sql, batcher);
  }
  batcher.queue.push(request);
  pump(deps, batcher);
}

/** Records an event of a run (see recordEvent in runs.ts); answers once it is durable. */
export function ingestEvent(deps: ServiceDeps, tenantId: string, runId: string, event: ReportedEvent): Promise<IngestedEvent> {
  return new Promise((resolve, reject) => submit(deps, { kind: 'run-event', tenantId, runId, event, resolve, reject }));
}

/**
 * Records a message of an application with one pending delivery per endpoint that receives it, and
 * their first jobs; answers once it is durable. A duplicate `eventId` in the application is a 409.
 */
export function ingestAppMessage(deps: ServiceDeps, tenantId: string, appId: string, message: NewAppMessage): Promise<IngestedAppMessage> {
  return new Promise((resolve, reject) => submit(deps, { kind: 'app-message', tenantId, appId, message, resolve, reject }));
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

type Outcome = { ok: IngestedEvent | IngestedAppMessage } | { error: unknown };

async function commitBatch(deps: ServiceDeps, batch: IngestRequest[]): Promise<void> {
  let outcomes: Outcome[];
  let enqueued: PlannedDelivery[] = [];
  try {
    // Generic plans: a custom plan, made whenever a batch is smaller than the generic plan's
    // estimate, cost a third of the write's execution time (docs/operations.md, "Planning").
    outcomes = await pipelinedTransaction(
      deps.sql,
      async (tx, begun) => {
        const result = await applyBatch(deps, tx, batch, begun);
        enqueued = result.jobs;
        return result.outcomes;
      },
      { genericPlans: true },
    );
  } catch (error) {
    // A statement error caused by one request must not fail the others that shared its
    // transaction: retry each alone, so only the culprit gets the error.
    if (batch.length > 1 && isStatementError(error)) {
      for (const request of batch) await commitBatch(deps, [request]);
      return;
    }
    const refusal = duplicateEventId(error);
    for (const request of batch) request.reject(refusal ?? error);
    return;
  }
  if (enqueued.length > 0) deps.onEnqueued(enqueued);
  batch.forEach((request, index) => {
    const outcome = outcomes[index] as Outcome;
    if ('error' in outcome) request.reject(outcome.error);
    else if (request.kind === 'run-event') request.resolve(outcome.ok as IngestedEvent);
    else request.resolve(outcome.ok as IngestedAppMessage);
  });
}

/**
 * An error PostgreSQL raised for the statement's data (SQLSTATE classes 22 data exception and 23
 * integrity constraint), as opposed to the connection or the server being unavailable.
 */
function isStatementError(error: unknown): boolean {
  return errorCodes(error).some((code) => /^(22|23)[0-9A-Z]{3}$/.test(code));
}

function duplicateEventId(error: unknown): OrbitError | null {
  const constraint = (error as { constraint_name?: unknown }).constraint_name;
  if (!errorCodes(error).includes('23505') || constraint !== 'messages_app_event_id_idx') return null;
  return new OrbitError('conflict', 'a message with this eventId already exists in the application');
}

/**
 * A run row as postgres.js returns it (snake_case). Timestamps arrive as PostgreSQL's text: drizzle
 * sets the shared client to leave them unparsed, and maps them itself.
 */
interface RawRun {
  id: string;
  tenant_id: string;
  workflow_id: string;
  status: RunStatus;
  completed_nodes: number;
  failed_nodes: number;
  error: string | null;
  input: unknown;
  webhook: RunRow['webhook'];
  endpoint_id: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

const toDate = (text: string | null): Date | null => (text === null ? null : new Date(text));

function toRunRow(raw: RawRun): RunRow {
  return {
    id: raw.id,
    tenantId: raw.tenant_id,
    workflowId: raw.workflow_id,
    status: raw.status,
    completedNodes: raw.completed_nodes,
    failedNodes: raw.failed_nodes,
    error: raw.error,
    input: raw.input,
    webhook: raw.webhook,
    endpointId: raw.endpoint_id,
    createdAt: toDate(raw.created_at) as Date,
    startedAt: toDate(raw.started_at),
    finishedAt: toDate(raw.finished_at),
  };
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

interface AppEndpoint {
  id: string;
  app_id: string;
  url: string;
  filter_types: string[] | null;
  channels: string[] | null;
  disabled: boolean;
  ordered: boolean;
}

// Locked in id order, so two batches sharing runs never deadlock.
const LOCK_RUNS = `select * from runs where id = any($1::text[]) order by id for update`;

// Key-share locks: a message and its application's deletion (which locks the row for update)
// serialise, so a message is never stored for an application that is gone.
const LOCK_APPS = `select id from applications where id = any($1::text[]) order by id for key share`;

const APP_ENDPOINTS = `select id, app_id, url, filter_types, channels, disabled, ordered from endpoints
  where app_id = any($1::text[]) and kind = 'app' and deleted_at is null order by id`;

/**
 * One statement writes the whole batch — run updates, events, messages, deliveries — and reads the
 * changed runs' deliveries by status as they were before it (the batch's own are added in memory).
 * Parallel arrays and unnest keep the text fixed whatever the batch size (one prepared statement).
 * Times and JSON travel as text arrays and are cast here: postgres.js cannot serialise a
 * timestamptz[] or jsonb[] parameter whose first element is null.
 */
const WRITE_BATCH = `
  with run_updates as (
    update runs r set status = x.status, completed_nodes = x.completed_nodes, failed_nodes = x.failed_nodes,
      error = x.error, started_at = x.started_at::timestamptz, finished_at = x.finished_at::timestamptz
    from unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::text[], $6::text[], $7::text[])
      as x(id, status, completed_nodes, failed_nodes, error, started_at, finished_at)
    where r.id = x.id
    returning r.id
  ), new_events as (
    insert into events (id, tenant_id, run_id, type, data, error, created_at)
    select x.id, x.tenant_id, x.run_id, x.type, x.data::jsonb, x.error, $8::timestamptz
    from unnest($9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[])
      as x(id, tenant_id, run_id, type, data, error)
    returning id
  ), new_messages as (
    insert into messages (id, tenant_id, app_id, run_id, workflow_id, event_id, event_type, channels, payload, created_at)
    select x.id, x.tenant_id, x.app_id, x.run_id, x.workflow_id, x.event_id, x.event_type,
      case when x.channels is null then null else array(select jsonb_array_elements_text(x.channels::jsonb)) end,
      x.payload, $8::timestamptz
    from unnest($15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::text[], $21::text[], $22::text[], $23::text[])
      as x(id, tenant_id, app_id, run_id, workflow_id, event_id, event_type, channels, payload)
    returning id
  ), new_deliveries as (
    -- A delivery waiting behind an ordered endpoint's head (waiting = 1) has no next attempt, nor a job, yet.
    insert into deliveries (message_id, endpoint_id, tenant_id, status, next_attempt_at, created_at)
    select x.message_id, x.endpoint_id, x.tenant_id, 'pending', case when x.waiting = 1 then null else $8::timestamptz end, $8::timestamptz
    from unnest($24::text[], $25::text[], $26::text[], $28::int[]) as x(message_id, endpoint_id, tenant_id, waiting)
    returning message_id
  )
  -- Each message's deliveries counted through their primary key (a lateral aggregate the planner
  -- cannot flatten): a run has a few messages, and the hash join the planner picks when it
  -- overestimates them would scan every delivery, a cost that grows with the log.
  select m.run_id, d.status, sum(d.n)::int as n from messages m
  cross join lateral (select d.status, count(*) as n from deliveries d where d.message_id = m.id group by d.status) d
  where m.run_id = any($27::text[])
  group by m.run_id, d.status`;

/** Parallel column arrays for WRITE_BATCH, filled row by row. */
class Columns<Names extends string> {
  readonly data: Record<Names, unknown[]>;
  constructor(names: readonly Names[]) {
    this.data = Object.fromEntries(names.map((name) => [name, []])) as unknown as Record<Names, unknown[]>;
  }
  push(row: Record<Names, unknown>): void {
    for (const name of Object.keys(this.data) as Names[]) this.data[name].push(row[name]);
  }
  get length(): number {
    return (Object.values(this.data)[0] as unknown[]).length;
  }
}

async function applyBatch(
  deps: ServiceDeps,
  tx: postgres.ReservedSql,
  batch: IngestRequest[],
  begun: Promise<unknown>,
): Promise<{ outcomes: Outcome[]; jobs: PlannedDelivery[] }> {
  const runIds = [...new Set(batch.flatMap((request) => (request.kind === 'run-event' ? [request.runId] : [])))];
  const appIds = [...new Set(batch.flatMap((request) => (request.kind === 'app-message' ? [request.appId] : [])))];
  // The application locks go before the endpoints' read (statements run in order), so that read
  // sees what a deletion we waited for left. BEGIN went out just before them.
  const [, locked, liveApps, appEndpoints] = await Promise.all([
    begun,
    runIds.length > 0 ? tx.unsafe<RawRun[]>(LOCK_RUNS, [runIds], { prepare: true }) : Promise.resolve([] as RawRun[]),
    appIds.length > 0 ? tx.unsafe<{ id: string }[]>(LOCK_APPS, [appIds], { prepare: true }) : Promise.resolve([]),
    appIds.length > 0 ? tx.unsafe<AppEndpoint[]>(APP_ENDPOINTS, [appIds], { prepare: true }) : Promise.resolve([] as AppEndpoint[]),
  ]);
  const appExists = new Set(liveApps.map((app) => app.id));
  const current = new Map(locked.map((raw) => [raw.id, toRunRow(raw)]));
  const endpointsOf = new Map<string, AppEndpoint[]>();
  for (const endpoint of appEndpoints) endpointsOf.set(endpoint.app_id, [...(endpointsOf.get(endpoint.app_id) ?? []), endpoint]);

  // Ordered endpoints (docs/architecture.md, "Ordered delivery"): lock their rows, then see which
  // have a live head. A new delivery goes now only when its endpoint has none; the others wait.
  const orderedIds = [
    ...locked.flatMap((raw) => (raw.webhook?.ordered === true && raw.endpoint_id !== null ? [raw.endpoint_id] : [])),
    ...appEndpoints.flatMap((endpoint) => (endpoint.ordered ? [endpoint.id] : [])),
  ];
  const ordered = new Set(orderedIds);
  const headed =
    ordered.size > 0 ? await liveHeads({ postgres: tx }, await lockEndpoints({ postgres: tx }, orderedIds)) : new Set<string>();
  const newHeads = new Map<string, string>();
  /** Whether a new delivery to this endpoint waits (ordered, behind a head); makes it the head otherwise. */
  const waits = (endpointId: string, messageId: string): boolean => {
    if (!ordered.has(endpointId)) return false;
    if (headed.has(endpointId)) return true;
    headed.add(endpointId);
    newHeads.set(endpointId, messageId);
    return false;
  };
  // Taken after the locks, so a later batch's messages are stamped later than an earlier one's.
  const now = deps.clock.now();

  const changed = new Set<string>();
  const runUpdates = new Columns(['id', 'status', 'completedNodes', 'failedNodes', 'error', 'startedAt', 'finishedAt']);
  const eventRows = new Columns(['id', 'tenantId', 'runId', 'type', 'data', 'error']);
  const messageRows = new Columns(['id', 'tenantId', 'appId', 'runId', 'workflowId', 'eventId', 'eventType', 'channels', 'payload']);
  const deliveryRows = new Columns(['messageId', 'endpointId', 'tenantId', 'waiting']);
  const newDeliveries = new Map<string, number>();
  const jobs: PlannedDelivery[] = [];
  const outcomes: Outcome[] = [];

  // In arrival order: several events of one run in one batch apply one after the other.
  for (const request of batch) {
    if (request.kind === 'app-message') {
      if (!appExists.has(request.appId)) {
        outcomes.push({ error: notFound('application') });
        continue;
      }
      const { message } = request;
      const id = newId('msg', now.getTime());
      const { onlyEndpointId: _only, ...content } = message;
      messageRows.push({
        id,
        tenantId: request.tenantId,
        appId: request.appId,
        runId: null,
        workflowId: null,
        eventId: message.eventId,
        eventType: message.eventType,
        channels: message.channels === null ? null : JSON.stringify(message.channels),
        payload: message.payload,
      });
      const targets = (endpointsOf.get(request.appId) ?? []).filter((endpoint) =>
        message.onlyEndpointId === undefined
          ? receives({ disabled: endpoint.disabled, filterTypes: endpoint.filter_types, channels: endpoint.channels }, message)
          : endpoint.id === message.onlyEndpointId,
      );
      for (const endpoint of targets) {
        const waiting = waits(endpoint.id, id);
        deliveryRows.push({ messageId: id, endpointId: endpoint.id, tenantId: request.tenantId, waiting: waiting ? 1 : 0 });
        if (!waiting) jobs.push({ messageId: id, endpointId: endpoint.id, step: 1, trigger: 'scheduled', url: endpoint.url });
      }
      outcomes.push({ ok: { ...content, id, appId: request.appId, createdAt: now, endpointIds: targets.map((endpoint) => endpoint.id) } });
      continue;
    }

    const { tenantId, runId, event } = request;
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
      tenantId,
      runId,
      type: event.type,
      data: event.data === undefined ? null : JSON.stringify(event.data),
      error: event.error ?? null,
    });
    let messageId: string | null = null;
    const webhook = row.webhook;
    if (webhook && row.endpointId !== null && webhook.events.includes(event.type)) {
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
        appId: null,
        runId,
        workflowId: row.workflowId,
        eventId,
        eventType: event.type,
        channels: null,
        payload,
      });
      const waiting = waits(row.endpointId, messageId);
      deliveryRows.push({ messageId, endpointId: row.endpointId, tenantId, waiting: waiting ? 1 : 0 });
      newDeliveries.set(runId, (newDeliveries.get(runId) ?? 0) + 1);
      if (!waiting) jobs.push({ messageId, endpointId: row.endpointId, step: 1, trigger: 'scheduled', url: webhook.url });
    }
    outcomes.push({ ok: { eventId, messageId, createdAt: now, run: updated, deliveries: { pending: 0, succeeded: 0, failed: 0 } } });
  }
  if (changed.size === 0 && messageRows.length === 0) return { outcomes, jobs: [] };

  for (const id of changed) {
    const run = current.get(id) as RunRow;
    runUpdates.push({
      id,
      status: run.status,
      completedNodes: run.completedNodes,
      failedNodes: run.failedNodes,
      error: run.error,
      startedAt: run.startedAt?.toISOString() ?? null,
      finishedAt: run.finishedAt?.toISOString() ?? null,
    });
  }
  const r = runUpdates.data;
  const e = eventRows.data;
  const m = messageRows.data;
  const d = deliveryRows.data;
  const parameters = [
    r.id,
    r.status,
    r.completedNodes,
    r.failedNodes,
    r.error,
    r.startedAt,
    r.finishedAt,
    now.toISOString(),
    e.id,
    e.tenantId,
    e.runId,
    e.type,
    e.data,
    e.error,
    m.id,
    m.tenantId,
    m.appId,
    m.runId,
    m.workflowId,
    m.eventId,
    m.eventType,
    m.channels,
    m.payload,
    d.messageId,
    d.endpointId,
    d.tenantId,
    [...changed],
    d.waiting,
  ];
  // Sent together, without waiting for each answer (postgres.js pipelines them on the transaction's
  // connection): none needs another's result, and a failure in one aborts the transaction anyway.
  // All settle before a failure is thrown, so none is still to be sent when the rollback goes out;
  // the write's error comes first (the others then fail only because it aborted the transaction).
  const written = tx.unsafe<{ run_id: string; status: keyof DeliveryCounts; n: number }[]>(
    WRITE_BATCH,
    parameters as postgres.ParameterOrJSON<never>[],
    { prepare: true },
  );
  const settled = await Promise.allSettled([
    written,
    setHeads({ postgres: tx }, newHeads),
    jobs.length > 0 ? enqueueDeliveries(deps.boss, jobs, { postgres: tx }) : undefined,
  ]);
  const failed = settled.find((result) => result.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  const counts = await written;

  const byRun = new Map<string, DeliveryCounts>();
  for (const id of changed) byRun.set(id, { pending: newDeliveries.get(id) ?? 0, succeeded: 0, failed: 0 });
  for (const count of counts) {
    const entry = byRun.get(count.run_id);
    if (entry) entry[count.status] += count.n;
  }
  for (const outcome of outcomes) {
    if ('ok' in outcome && 'run' in outcome.ok) outcome.ok.deliveries = { ...(byRun.get(outcome.ok.run.id) as DeliveryCounts) };
  }
  return { outcomes, jobs };
}
