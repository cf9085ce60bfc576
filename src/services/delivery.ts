/**
 * The delivery use cases: attempt a fetched batch of deliveries (sign, POST, record) and plan a
 * manual retry. A delivery is one message at one endpoint; every kind of endpoint (an application's,
 * a run's webhook, an operational one) goes through these same functions. HTTP happens outside any
 * transaction; one statement (or one short transaction when retries are planned) records the whole
 * batch afterwards. The two hot statements (load, record) go to postgres.js directly.
 */
import { and, eq, sql } from 'drizzle-orm';
import type postgres from 'postgres';
import pkg from '../../package.json' with { type: 'json' };
import { deliveries, endpoints, messages } from '../db/schema.ts';
import { onSchedule, type AttemptTrigger, type EndpointKind, type MessageStatus } from '../domain/delivery.ts';
import { notFound } from '../domain/errors.ts';
import { classifyAttempt, type AttemptClassification } from '../domain/outcome.ts';
import { nextRetryDelay } from '../domain/schedule.ts';
import { signPayload } from '../domain/signing.ts';
import { newId } from '../lib/ids.ts';
import { enqueueDeliveries, type DeliveryJob, type PlannedDelivery } from '../queue/delivery-queue.ts';
import { createSender, type Sender } from '../sender/sender.ts';
import type { ServiceDeps } from './deps.ts';
import { applyHealthChanges, DEFAULT_DISABLE_AFTER_MS, healthChanges, type HealthChanges, type HealthSignal } from './endpoint-health.ts';
import { observeAttempts, type RecordedAttempt } from './observe.ts';
import { notOperationalEvent, writeOperationalEvents, type OperationalEvent } from './operational.ts';
import { advanceHeads, lockEndpoints } from './ordering.ts';
import { signingSecretsFor } from './signing-secrets.ts';
import { HORIZON_MS, LEAD_MS, reserveSlots, type ThrottleKey } from './throttle.ts';

export const USER_AGENT = `Orbit/${pkg.version}`;

export type DeliveryDeps = ServiceDeps & { sender: Sender };

/**
 * The one outbound HTTP path, configured from the deps (deadline, SSRF allow-list, clock).
 * `maxPerOrigin` is the worker's per-origin cap on each of the two delivery queues: with room for
 * both, an attempt never waits for a connection inside its deadline.
 */
export function createDeliverySender(deps: Pick<ServiceDeps, 'delivery' | 'webhookRules' | 'clock'>, maxPerOrigin: number): Sender {
  return createSender({
    timeoutMs: deps.delivery.deliveryTimeoutMs,
    maxConnectionsPerOrigin: 2 * maxPerOrigin,
    allowPrivateNetworks: deps.webhookRules.allowPrivateNetworks,
    clock: deps.clock,
  });
}

/** One job as the worker fetched it. */
export interface FetchedDelivery extends DeliveryJob {
  /** The queue's job id: the result names released jobs by it. */
  jobId: string;
  /** Aborted on shutdown or when the claim on the job is lost. */
  signal?: AbortSignal;
}

/** A delivery as the worker needs it: the message's body and the endpoint it goes to. */
export interface LoadedDelivery {
  messageId: string;
  endpointId: string;
  tenantId: string;
  runId: string | null;
  kind: EndpointKind;
  url: string;
  headers: Record<string, string>;
  disabled: boolean;
  deleted: boolean;
  /** Null once the message's content was expunged. */
  payload: string | null;
  status: MessageStatus;
  /** Steps of the retry schedule already made (manual attempts excluded): tells a stale job. */
  steps: number;
  /** Attempts made so far, manual ones included. */
  attemptCount: number;
  /** Pending without a job: waiting behind the head of its ordered endpoint. */
  waiting: boolean;
  /** Its endpoint delivers in order (docs/architecture.md, "Ordered delivery"). */
  ordered: boolean;
  /** The endpoint's own retry schedule (ms); null for the deployment's. */
  retrySchedule: number[] | null;
  /** The endpoint's auto-disable clock (epoch ms): its first failure after its last success; null while healthy. */
  failingSinceMs: number | null;
  /** The throttle it is sent under (its endpoint's rate, else its application's); null for none. */
  throttle: ThrottleKey | null;
}

/** One attempt to record; names match the record statement's columns. */
export interface AttemptRecord {
  attempt_id: string;
  message_id: string;
  endpoint_id: string;
  url: string;
  trigger: AttemptTrigger;
  /** The step of the schedule the attempt made (0 for a manual one). */
  step: number;
  outcome: AttemptClassification['outcome'];
  started_at: string;
  duration_ms: number;
  response_status: number | null;
  response_body: string | null;
  error_kind: string | null;
  error_message: string | null;
  /** The retry this attempt planned; null when none. */
  next_attempt_at: string | null;
  /** The delivery's status after an attempt on the schedule; null for a manual one (kept unless it succeeded). */
  status: MessageStatus | null;
  delivered_at: string | null;
}

/** Headers the engine owns: a custom header of the same name never replaces them. */
const OWNED_HEADERS = new Set([
  'content-type',
  'user-agent',
  'svix-id',
  'svix-timestamp',
  'svix-signature',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
]);

/** The request headers every delivery carries (README, "What a receiver gets"). */
export function deliveryHeaders(
  custom: Record<string, string>,
  messageId: string,
  timestamp: number,
  signature: string,
): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': USER_AGENT,
  };
  for (const [name, value] of Object.entries(custom)) {
    if (!OWNED_HEADERS.has(name.toLowerCase())) headers[name] = value;
  }
  const stamp = String(timestamp);
  headers['svix-id'] = messageId;
  headers['svix-timestamp'] = stamp;
  headers['svix-signature'] = signature;
  headers['webhook-id'] = messageId;
  headers['webhook-timestamp'] = stamp;
  headers['webhook-signature'] = signature;
  return headers;
}

interface RawDelivery {
  message_id: string;
  endpoint_id: string;
  tenant_id: string;
  run_id: string | null;
  kind: EndpointKind;
  url: string;
  headers: Record<string, string>;
  disabled: boolean;
  deleted: boolean;
  payload: string | null;
  status: MessageStatus;
  steps: number;
  attempt_count: number;
  waiting: boolean;
  ordered: boolean;
  retry_schedule: number[] | null;
  failing_since_ms: number | null;
  throttle_scope: 'endpoint' | 'app' | null;
  throttle_id: string | null;
  throttle_rate: number | null;
}

// A job queued before endpoints existed names no endpoint: it means the message's one delivery.
const LOAD_DELIVERIES = `
  select d.message_id, d.endpoint_id, d.tenant_id, m.run_id, e.kind, e.url, e.headers, e.disabled,
    e.deleted_at is not null as deleted, m.payload,
    d.status, d.steps, d.attempt_count, e.ordered and d.status = 'pending' and d.next_attempt_at is null as waiting,
    e.ordered, e.retry_schedule, extract(epoch from e.failing_since)::float8 * 1000 as failing_since_ms,
    case when e.throttle_rate is not null then 'endpoint' when a.throttle_rate is not null then 'app' end as throttle_scope,
    case when e.throttle_rate is not null then e.id else a.id end as throttle_id,
    coalesce(e.throttle_rate, a.throttle_rate) as throttle_rate
  from unnest($1::text[], $2::text[]) as j(message_id, endpoint_id)
  join deliveries d on d.message_id = j.message_id and (j.endpoint_id is null or d.endpoint_id = j.endpoint_id)
  join messages m on m.id = d.message_id
  join endpoints e on e.id = d.endpoint_id
  left join applications a on a.id = e.app_id`;

async function loadDeliveries(sql: postgres.Sql, jobs: readonly DeliveryJob[]): Promise<LoadedDelivery[]> {
  const rows = await sql.unsafe<RawDelivery[]>(
    LOAD_DELIVERIES,
    [jobs.map((job) => job.messageId), jobs.map((job) => job.endpointId ?? null)] as postgres.ParameterOrJSON<never>[],
    { prepare: true },
  );
  return rows.map((row) => ({
    messageId: row.message_id,
    endpointId: row.endpoint_id,
    tenantId: row.tenant_id,
    runId: row.run_id,
    kind: row.kind,
    url: row.url,
    headers: row.headers,
    disabled: row.disabled,
    deleted: row.deleted,
    payload: row.payload,
    status: row.status,
    steps: row.steps,
    attemptCount: row.attempt_count,
    waiting: row.waiting,
    ordered: row.ordered,
    retrySchedule: row.retry_schedule === null ? null : row.retry_schedule.map(Number),
    failingSinceMs: row.failing_since_ms === null ? null : Number(row.failing_since_ms),
    throttle:
      row.throttle_scope === null || row.throttle_id === null || row.throttle_rate === null
        ? null
        : { scope: row.throttle_scope, id: row.throttle_id, rate: row.throttle_rate },
  }));
}

const keyOf = (messageId: string, endpointId: string): string => `${messageId} ${endpointId}`;

/**
 * A scheduled job runs only while its delivery is pending and its step is not done yet. A delivery
 * waiting behind its ordered endpoint's head is sent in its turn only (it gets its own job then): a
 * job found for it now, manual or not, would overtake.
 */
function isDue(job: DeliveryJob, delivery: LoadedDelivery): boolean {
  if (delivery.waiting) return false;
  if (!onSchedule(job.trigger)) return true;
  return delivery.status === 'pending' && job.step > delivery.steps;
}

/** Why a due delivery ends `failed` without an attempt, or null when it can be attempted. */
function cannotSend(job: DeliveryJob, delivery: LoadedDelivery): string | null {
  if (delivery.payload === null) return 'the message content was expunged, so it cannot be sent again';
  if (delivery.deleted) return 'the endpoint was deleted';
  if (delivery.disabled && onSchedule(job.trigger)) return 'the endpoint is disabled';
  return null;
}

/** A job whose delivery is due, with what signing it needs: ready for `attemptDelivery`. */
export interface ReadyDelivery {
  job: FetchedDelivery;
  delivery: LoadedDelivery & { payload: string };
  /** The signing secrets, in clear, newest first: the endpoint's own, or its tenant's for a run webhook. */
  secrets: readonly string[];
  /** Its throttle slot (`performance.now()` time): the attempt waits for it. Absent when not throttled. */
  sendAt?: number;
}

export interface PreparedDeliveries {
  ready: ReadyDelivery[];
  /** Nothing (more) to do: delivery gone, already succeeded, stale step, or ended without an attempt. */
  skipped: FetchedDelivery[];
  /** Cannot run now (no secret to sign with): fail these jobs so the queue runs them again later. */
  released: FetchedDelivery[];
  /** Throttled with a slot too far off to wait for here: complete these and enqueue `next` (not an attempt). */
  deferred: { job: FetchedDelivery; next: PlannedDelivery }[];
}

/** What one attempt produced: the row to record and the retry it plans, if any. */
export interface AttemptResult {
  jobId: string;
  record: AttemptRecord;
  retry: PlannedDelivery | null;
  /** Known in memory, for the attempt's log line. */
  runId: string | null;
  /** What recording it must also do: move an ordered chain, the auto-disable clock, operational events. */
  endpoint: { kind: EndpointKind; ordered: boolean; failingSinceMs: number | null };
  tenantId: string;
  /** Attempts of the delivery before this one, as loaded. */
  attemptsBefore: number;
}

/**
 * Loads the deliveries of a fetched batch and their secrets (two queries) and sorts the jobs: which
 * to attempt, which to skip, which to hand back. At most one attempt per delivery per batch. A
 * delivery that cannot be sent (content expunged, endpoint disabled) ends `failed` here, with why.
 */
export async function prepareDeliveries(deps: DeliveryDeps, jobs: readonly FetchedDelivery[]): Promise<PreparedDeliveries> {
  const prepared: PreparedDeliveries = { ready: [], skipped: [], released: [], deferred: [] };
  if (jobs.length === 0) return prepared;
  const loaded = await loadDeliveries(deps.sql, jobs);
  const byMessage = new Map<string, LoadedDelivery[]>();
  for (const delivery of loaded) byMessage.set(delivery.messageId, [...(byMessage.get(delivery.messageId) ?? []), delivery]);
  // A stale and a current job of one delivery may arrive together: one attempt only.
  const chosen = new Map<string, { job: FetchedDelivery; delivery: LoadedDelivery }>();
  const closing: { job: FetchedDelivery; delivery: LoadedDelivery; reason: string }[] = [];
  for (const job of jobs) {
    const candidates = byMessage.get(job.messageId) ?? [];
    const delivery = job.endpointId === undefined ? candidates[0] : candidates.find((each) => each.endpointId === job.endpointId);
    const key = delivery ? keyOf(delivery.messageId, delivery.endpointId) : '';
    if (delivery === undefined || chosen.has(key) || !isDue(job, delivery)) {
      prepared.skipped.push(job);
      continue;
    }
    const reason = cannotSend(job, delivery);
    if (reason !== null) closing.push({ job, delivery, reason });
    else chosen.set(key, { job, delivery });
  }
  if (closing.length > 0) {
    await closeDeliveries(
      deps,
      closing.map(({ delivery, reason }) => ({ messageId: delivery.messageId, endpointId: delivery.endpointId, reason })),
    );
    prepared.skipped.push(...closing.map(({ job }) => job));
  }
  if (chosen.size === 0) return prepared;

  const secrets = await signingSecretsFor(
    deps,
    [...chosen.values()].map(({ delivery }) => ({
      tenantId: delivery.tenantId,
      endpointId: delivery.kind === 'run' ? null : delivery.endpointId,
    })),
    deps.clock.now(),
  );
  const ready: ReadyDelivery[] = [];
  for (const { job, delivery } of chosen.values()) {
    const own = secrets.get(delivery.kind === 'run' ? delivery.tenantId : delivery.endpointId) ?? [];
    if (own.length === 0 || delivery.payload === null) {
      deps.logger.error({ messageId: delivery.messageId, endpointId: delivery.endpointId }, 'no signing secret; delivery held back');
      prepared.released.push(job);
    } else {
      ready.push({ job, delivery: { ...delivery, payload: delivery.payload }, secrets: own });
    }
  }
  await throttle(deps, ready, prepared);
  return prepared;
}

/**
 * Gives each throttled delivery its slot (services/throttle.ts): near ones are ready with the time
 * to wait for; far ones are deferred to a job that becomes due just before the slot and carries it.
 */
async function throttle(deps: DeliveryDeps, ready: readonly ReadyDelivery[], prepared: PreparedDeliveries): Promise<void> {
  const throttled = ready.filter((each) => each.delivery.throttle !== null);
  if (throttled.length === 0) {
    prepared.ready.push(...ready);
    return;
  }
  prepared.ready.push(...ready.filter((each) => each.delivery.throttle === null));
  const slots = await reserveSlots(
    deps.sql,
    throttled.map((each) => ({ key: each.delivery.throttle as ThrottleKey, reservedAt: each.job.slot })),
  );
  const receivedAt = performance.now();
  throttled.forEach((each, index) => {
    const delay = slots.delays[index] as number;
    if (delay <= HORIZON_MS) {
      prepared.ready.push({ ...each, sendAt: receivedAt + delay });
      return;
    }
    const { job, delivery } = each;
    prepared.deferred.push({
      job,
      next: {
        messageId: job.messageId,
        endpointId: delivery.endpointId,
        step: job.step,
        trigger: job.trigger,
        slot: Math.round(slots.nowMs + delay),
        // PostgreSQL's time, as pg-boss compares it.
        startAfter: new Date(slots.nowMs + delay - LEAD_MS),
        url: delivery.url,
      },
    });
  });
}

/**
 * Ends deliveries `failed` without an attempt, with the reason shown in the log. Only pending ones:
 * a delivery that succeeded meanwhile stays succeeded. At an ordered endpoint the next message in
 * line gets its turn, in the same transaction.
 */
export async function closeDeliveries(
  deps: Pick<ServiceDeps, 'sql' | 'boss' | 'clock' | 'onEnqueued'>,
  closing: readonly { messageId: string; endpointId: string; reason: string }[],
): Promise<void> {
  if (closing.length === 0) return;
  const jobs = await deps.sql.begin(async (tx) => {
    // Ordered endpoints' rows first (the lock order of every chain move), then the deliveries.
    const ordered = await tx.unsafe<{ id: string }[]>(
      `select id from endpoints where id = any($1::text[]) and ordered order by id for update`,
      [[...new Set(closing.map((each) => each.endpointId))]],
      { prepare: true },
    );
    await tx.unsafe(
      `update deliveries d set status = 'failed', next_attempt_at = null, failure_reason = x.reason
       from unnest($1::text[], $2::text[], $3::text[]) as x(message_id, endpoint_id, reason)
       where d.message_id = x.message_id and d.endpoint_id = x.endpoint_id and d.status = 'pending'`,
      [closing.map((each) => each.messageId), closing.map((each) => each.endpointId), closing.map((each) => each.reason)],
      { prepare: true },
    );
    if (ordered.length === 0) return [];
    const next = await advanceHeads(
      { postgres: tx },
      ordered.map((row) => row.id),
      deps.clock.now(),
    );
    await enqueueDeliveries(deps.boss, next, { postgres: tx });
    return next;
  });
  if (jobs.length > 0) deps.onEnqueued(jobs);
}

/**
 * Signs and POSTs one message to one endpoint. A receiver's failure is an outcome; null means the
 * attempt was cut short by its signal (shutdown, lost claim) and must not be recorded: the queue
 * runs it again.
 */
export async function attemptDelivery(deps: DeliveryDeps, ready: ReadyDelivery): Promise<AttemptResult | null> {
  const { job, delivery } = ready;
  // Throttled: wait for the slot (at most HORIZON_MS); cut short, nothing happened: run again later.
  if (ready.sendAt !== undefined && !(await sleepUntil(ready.sendAt, job.signal))) return null;
  const record = await attemptOne(deps, ready);
  if (record === null) return null;
  const retry: PlannedDelivery | null =
    record.next_attempt_at === null
      ? null
      : {
          messageId: delivery.messageId,
          endpointId: delivery.endpointId,
          step: job.step + 1,
          trigger: 'scheduled',
          startAfter: new Date(record.next_attempt_at),
          url: delivery.url,
        };
  return {
    jobId: job.jobId,
    record,
    retry,
    runId: delivery.runId,
    endpoint: { kind: delivery.kind, ordered: delivery.ordered, failingSinceMs: delivery.failingSinceMs },
    tenantId: delivery.tenantId,
    attemptsBefore: delivery.attemptCount,
  };
}

/** Resolves true at `performance.now() >= at`, false at once if `signal` aborts first. */
function sleepUntil(at: number, signal: AbortSignal | undefined): Promise<boolean> {
  const wait = at - performance.now();
  if (signal?.aborted === true) return Promise.resolve(false);
  if (wait <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', abort);
      resolve(true);
    }, wait);
    const abort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    signal?.addEventListener('abort', abort, { once: true });
  });
}

/**
 * Records finished attempts in one statement, and in the same transaction what follows from them:
 * their retries, the next message of an ordered endpoint whose head ended, the auto-disable clock,
 * operational events. Batches of first-attempt successes (the hot path) stay one statement.
 */
export async function recordDeliveries(
  deps: DeliveryDeps,
  results: readonly AttemptResult[],
  options: { again?: boolean } = {},
): Promise<void> {
  if (results.length === 0) return;
  const runIds = new Map(results.map((result) => [result.record.message_id, result.runId]));
  const recorded = await recordAttempts(deps, results, options.again === true ? RECORD_AGAIN : RECORD);
  observeAttempts(
    deps,
    recorded.map((row) => ({ ...row, runId: runIds.get(row.messageId) ?? null })),
  );
}

/** The earliest retry among results, so a worker can wake its retry queue on time. */
export function earliestRetry(results: readonly AttemptResult[]): Date | null {
  let earliest: Date | null = null;
  for (const { retry } of results) {
    if (retry?.startAfter !== undefined && (earliest === null || retry.startAfter < earliest)) earliest = retry.startAfter;
  }
  return earliest;
}

async function attemptOne(deps: DeliveryDeps, ready: ReadyDelivery): Promise<AttemptRecord | null> {
  const { job, delivery } = ready;
  // Signed anew at each attempt: the timestamp is the attempt's.
  const timestamp = Math.floor(deps.clock.now().getTime() / 1000);
  const signature = signPayload(ready.secrets, delivery.messageId, timestamp, delivery.payload);
  const sent = await deps.sender.send({
    url: delivery.url,
    headers: deliveryHeaders(delivery.headers, delivery.messageId, timestamp, signature),
    body: delivery.payload,
    ...(job.signal ? { signal: job.signal } : {}),
  });
  // Cut short by shutdown or a lost claim: not a receiver failure, so not logged as an attempt;
  // the queue runs the job again (the receiver may see the same svix-id twice, which is allowed).
  if (job.signal?.aborted === true && sent.failure !== null) return null;

  const { outcome, error } = classifyAttempt(sent);
  const finishedAt = deps.clock.now();
  let status: AttemptRecord['status'] = null;
  let nextAttemptAt: Date | null = null;
  if (outcome === 'succeeded') {
    status = 'succeeded';
  } else if (onSchedule(job.trigger)) {
    const delay = nextRetryDelay({
      attempt: job.step,
      // The endpoint's own schedule when it has one (a run webhook's `retrySchedule` too).
      schedule: delivery.retrySchedule ?? deps.delivery.retrySchedule,
      jitter: deps.delivery.retryJitter,
      random: deps.random,
      responseStatus: sent.responseStatus,
      retryAfter: sent.retryAfter,
      now: finishedAt,
    });
    if (delay === null) {
      status = 'failed';
    } else {
      status = 'pending';
      nextAttemptAt = new Date(finishedAt.getTime() + delay);
    }
  }
  return {
    attempt_id: newId('atmpt'),
    message_id: delivery.messageId,
    endpoint_id: delivery.endpointId,
    url: delivery.url,
    trigger: job.trigger,
    step: job.step,
    outcome,
    started_at: sent.startedAt.toISOString(),
    duration_ms: sent.durationMs,
    response_status: sent.responseStatus,
    response_body: sent.responseBody,
    error_kind: error?.kind ?? null,
    error_message: error?.message ?? null,
    next_attempt_at: nextAttemptAt?.toISOString() ?? null,
    status,
    delivered_at: outcome === 'succeeded' ? finishedAt.toISOString() : null,
  };
}

const RECORD_COLUMNS = [
  'attempt_id',
  'message_id',
  'endpoint_id',
  'url',
  'trigger',
  'step',
  'outcome',
  'started_at',
  'duration_ms',
  'response_status',
  'response_body',
  'error_kind',
  'error_message',
  'next_attempt_at',
  'status',
  'delivered_at',
] as const satisfies readonly (keyof AttemptRecord)[];

/**
 * One statement inserts every attempt row and updates every delivery. The attempt number comes from
 * the row-locked UPDATE (`attempt_count + 1`), so concurrent attempts of one delivery (a manual retry
 * beside a scheduled one) never share a number. Once succeeded, a delivery stays succeeded.
 *
 * `again`: the batch is written again after a try that failed, whose commit may have landed unanswered
 * (the database going away): attempts already in the log are skipped. Only then, because the probe of
 * `attempts` it takes is planned once per connection (generic plans), while the table is as small as
 * it will ever be: on a fresh database that plan scanned the whole table, and doubled the record.
 */
function recordStatement(again: boolean): string {
  const skipRecorded = again ? 'where not exists (select 1 from attempts a where a.id = x.attempt_id)' : '';
  return `
  with input as (
    select x.attempt_id, x.message_id, x.endpoint_id, x.url, x.trigger, x.step, x.outcome, x.started_at::timestamptz as started_at,
      x.duration_ms, x.response_status::smallint as response_status, x.response_body, x.error_kind, x.error_message,
      x.next_attempt_at::timestamptz as next_attempt_at, x.status, x.delivered_at::timestamptz as delivered_at
    -- Times travel as text: postgres.js cannot serialise a timestamptz[] whose first element is null.
    from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[], $8::text[],
      $9::int[], $10::int[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[])
      as x(attempt_id, message_id, endpoint_id, url, trigger, step, outcome, started_at, duration_ms, response_status,
        response_body, error_kind, error_message, next_attempt_at, status, delivered_at)
    ${skipRecorded}
  ),
  updated as (
    update deliveries d set
      attempt_count = d.attempt_count + 1,
      steps = case when i.trigger = 'manual' then d.steps else greatest(d.steps, i.step) end,
      -- A step recorded already (made twice: the first holder's claim lapsed while the database was
      -- away) is logged, but leaves the schedule where the first record put it.
      status = case
        when d.status = 'succeeded' or i.outcome = 'succeeded' then 'succeeded'
        when i.status is null or i.step <= d.steps then d.status
        else i.status end,
      next_attempt_at = case
        when d.status = 'succeeded' or i.outcome = 'succeeded' then null
        when i.trigger = 'manual' or i.step <= d.steps then d.next_attempt_at
        else i.next_attempt_at end,
      delivered_at = coalesce(d.delivered_at, i.delivered_at)
    from input i
    where d.message_id = i.message_id and d.endpoint_id = i.endpoint_id
    returning d.message_id, d.endpoint_id, d.tenant_id, d.attempt_count, d.status, d.created_at, d.delivered_at
  ),
  inserted as (
    insert into attempts (id, message_id, endpoint_id, tenant_id, url, attempt, trigger, outcome, started_at,
      duration_ms, response_status, response_body, error_kind, error_message, next_attempt_at)
    select i.attempt_id, i.message_id, i.endpoint_id, u.tenant_id, i.url, u.attempt_count, i.trigger, i.outcome,
      i.started_at, i.duration_ms, i.response_status, i.response_body, i.error_kind, i.error_message, i.next_attempt_at
    from input i join updated u on u.message_id = i.message_id and u.endpoint_id = i.endpoint_id
  )
  -- What observeAttempts needs. Latency only for the attempt that delivered first: delivered_at is
  -- kept by coalesce, so it equals this attempt's only then.
  select i.message_id as "messageId", i.endpoint_id as "endpointId", u.tenant_id as "tenantId",
    u.attempt_count as "attempt", i.trigger, i.outcome, i.response_status as "responseStatus",
    i.error_kind as "errorKind", i.duration_ms as "durationMs", u.status as "messageStatus",
    case when i.outcome = 'succeeded' and u.delivered_at = i.delivered_at
      then extract(epoch from i.delivered_at - u.created_at)::float8 end as "latencySeconds",
    -- What the operational events need: which attempt, and whether the delivery ever succeeded.
    i.attempt_id as "attemptId", u.delivered_at is not null as "delivered"
  from input i join updated u on u.message_id = i.message_id and u.endpoint_id = i.endpoint_id`;
}
const RECORD = recordStatement(false);
const RECORD_AGAIN = recordStatement(true);

function recordParameters(records: readonly AttemptRecord[]): postgres.ParameterOrJSON<never>[] {
  return RECORD_COLUMNS.map((column) => records.map((record) => record[column])) as postgres.ParameterOrJSON<never>[];
}

/**
 * Splits records so that no delivery appears twice in one statement: the UPDATE touches a row once,
 * so two attempts of one delivery (a manual one beside a scheduled one) would share a number.
 */
function roundsOf(records: readonly AttemptRecord[]): AttemptRecord[][] {
  const rounds: AttemptRecord[][] = [];
  const roundOf = new Map<string, number>();
  for (const record of records) {
    const key = keyOf(record.message_id, record.endpoint_id);
    const round = (roundOf.get(key) ?? -1) + 1;
    roundOf.set(key, round);
    (rounds[round] ??= []).push(record);
  }
  return rounds;
}

type RecordedRow = Omit<RecordedAttempt, 'runId'> & {
  attemptId: string;
  /** The delivery has succeeded (by this attempt or before). */
  delivered: boolean;
};

/** What the attempts say about their endpoints' health (app endpoints only). */
function healthOf(results: readonly AttemptResult[], now: Date, disableAfterMs: number): HealthChanges {
  return healthChanges(
    results.flatMap((result): HealthSignal[] =>
      result.endpoint.kind === 'app'
        ? [
            {
              endpointId: result.record.endpoint_id,
              succeeded: result.record.outcome === 'succeeded',
              failingSinceMs: result.endpoint.failingSinceMs,
            },
          ]
        : [],
    ),
    now,
    disableAfterMs,
  );
}

/** The results whose attempt this statement wrote (the others were in the log already). */
function recordedOnly(results: readonly AttemptResult[], rows: readonly RecordedRow[]): readonly AttemptResult[] {
  const recorded = new Set(rows.map((row) => row.attemptId));
  return results.filter((result) => recorded.has(result.record.attempt_id));
}

async function recordAttempts(deps: DeliveryDeps, results: readonly AttemptResult[], statement: string): Promise<RecordedRow[]> {
  const records = results.map((result) => result.record);
  const rounds = roundsOf(records);
  const now = deps.clock.now();
  const disableAfterMs = deps.delivery.endpointDisableAfterMs ?? DEFAULT_DISABLE_AFTER_MS;
  // Ordered endpoints whose head ends here (succeeded, or failed for good): the next one goes.
  const chains = [
    ...new Set(
      results.flatMap((result) =>
        result.endpoint.ordered && (result.record.outcome === 'succeeded' || result.record.status === 'failed')
          ? [result.record.endpoint_id]
          : [],
      ),
    ),
  ];
  const health = healthOf(results, now, disableAfterMs);
  const healthChanged = health.succeeded.length + health.failed.length > 0;
  // An operational event may follow a failure, or a success after four failures; never at an operational endpoint.
  const reportable = results.some(
    (result) => result.endpoint.kind !== 'operational' && (result.record.outcome === 'failed' || result.attemptsBefore >= 4),
  );
  // A single statement is atomic on its own: a transaction only when several must commit together.
  const retrying = results.some((result) => result.retry !== null);
  if (!retrying && rounds.length === 1 && chains.length === 0 && !healthChanged && !reportable) {
    return [...(await deps.sql.unsafe<RecordedRow[]>(statement, recordParameters(records), { prepare: true }))];
  }
  const { rows, woken } = await deps.sql.begin(async (tx) => {
    // The chain's lock first, so a message arriving meanwhile is seen by the move below.
    await lockEndpoints({ postgres: tx }, chains);
    const rows: RecordedRow[] = [];
    for (const round of rounds) rows.push(...(await tx.unsafe<RecordedRow[]>(statement, recordParameters(round), { prepare: true })));
    // Attempts recorded by an earlier try of this batch (its commit went unanswered) plan nothing
    // again. Only a try after a failure can skip any: otherwise every attempt came back.
    const fresh = rows.length === results.length ? results : recordedOnly(results, rows);
    const retries = fresh.flatMap((result) => (result.retry === null ? [] : [result.retry]));
    const freshHealth = fresh === results ? health : healthOf(fresh, now, disableAfterMs);
    const disabled =
      freshHealth.succeeded.length + freshHealth.failed.length > 0 ? await applyHealthChanges(tx, freshHealth, now, disableAfterMs) : [];
    const promoted = await advanceHeads({ postgres: tx }, [...chains, ...disabled.map((endpoint) => endpoint.id)], now);
    const events = reportable || disabled.length > 0 ? operationalEvents(results, rows, disabled) : [];
    const reported = await writeOperationalEvents({ postgres: tx }, events, now);
    const jobs = [...retries, ...promoted, ...reported];
    if (jobs.length > 0) await enqueueDeliveries(deps.boss, jobs, { postgres: tx });
    return { rows, woken: [...promoted, ...reported] };
  });
  if (woken.length > 0) deps.onEnqueued(woken);
  return rows;
}

/**
 * The operational events recorded attempts make (Svix's rules): `message.attempt.exhausted` when a
 * scheduled attempt leaves the delivery failed for good (its last step, or one that disabled its
 * endpoint), `message.attempt.failing` at its 4th failed attempt, `message.attempt.recovered` when
 * it first succeeds after that; `endpoint.disabled` for endpoints auto-disabled here.
 */
function operationalEvents(
  results: readonly AttemptResult[],
  rows: readonly RecordedRow[],
  disabled: readonly { id: string; tenantId: string; failingSince: Date }[],
): OperationalEvent[] {
  const byAttempt = new Map(results.map((result) => [result.record.attempt_id, result]));
  const disabledIds = new Set(disabled.map((endpoint) => endpoint.id));
  const events: OperationalEvent[] = [];
  for (const row of rows) {
    const result = byAttempt.get(row.attemptId);
    if (result === undefined || result.endpoint.kind === 'operational') continue;
    const attempt = Number(row.attempt);
    // A failed attempt that disabled its endpoint also ended its delivery (endpoint-health.ts), as
    // Svix's disabling attempt is always its message's last.
    const ended = row.messageStatus === 'failed' || (row.messageStatus === 'pending' && disabledIds.has(row.endpointId));
    let type: 'message.attempt.exhausted' | 'message.attempt.failing' | 'message.attempt.recovered' | null = null;
    if (row.outcome === 'failed' && onSchedule(row.trigger) && ended) type = 'message.attempt.exhausted';
    else if (row.outcome === 'failed' && !row.delivered && attempt === 4) type = 'message.attempt.failing';
    else if (row.outcome === 'succeeded' && row.latencySeconds !== null && attempt >= 5) type = 'message.attempt.recovered';
    if (type === null) continue;
    events.push({
      type,
      tenantId: result.tenantId,
      messageId: row.messageId,
      endpointId: row.endpointId,
      attemptId: row.attemptId,
      responseStatus: result.record.response_status,
      attemptedAt: new Date(result.record.started_at),
    });
  }
  for (const endpoint of disabled) {
    events.push({ type: 'endpoint.disabled', tenantId: endpoint.tenantId, endpointId: endpoint.id, failingSince: endpoint.failingSince });
  }
  return events;
}

/** What a manual retry answers with 202: the attempts are queued, not yet made. */
export interface ManualRetryAccepted {
  messageId: string;
  status: 'queued';
  /** The endpoints an attempt was queued for. */
  endpointIds: string[];
  /** Ordered endpoints where the message waits its turn behind an earlier one: it is sent then, once. */
  waitingAt: string[];
}

/**
 * Queues one manual attempt of a message at each of its endpoints (or at the one named), in any
 * status: same svix-id, fresh signature, trigger `manual`. It does not move the retry schedule: a
 * failure plans nothing and keeps the status; a success makes the delivery `succeeded`. Goes to
 * the first-attempt queue so it runs now. With a tenant, only that tenant's message is found.
 */
export async function retryMessage(
  deps: ServiceDeps,
  messageId: string,
  scope: { tenantId?: string | undefined; appId?: string | undefined; endpointId?: string | undefined; withoutOperational?: boolean } = {},
): Promise<ManualRetryAccepted> {
  const found = await deps.db
    .select({
      endpointId: deliveries.endpointId,
      url: endpoints.url,
      waiting: sql<boolean>`${endpoints.ordered} and ${deliveries.status} = 'pending' and ${deliveries.nextAttemptAt} is null`,
    })
    .from(deliveries)
    .innerJoin(messages, eq(messages.id, deliveries.messageId))
    .innerJoin(endpoints, eq(endpoints.id, deliveries.endpointId))
    .where(
      and(
        eq(deliveries.messageId, messageId),
        scope.tenantId !== undefined ? eq(messages.tenantId, scope.tenantId) : undefined,
        scope.appId !== undefined ? eq(messages.appId, scope.appId) : undefined,
        scope.endpointId !== undefined ? eq(deliveries.endpointId, scope.endpointId) : undefined,
        scope.withoutOperational === true ? notOperationalEvent : undefined,
      ),
    );
  if (found.length === 0) throw notFound(scope.endpointId === undefined ? 'message' : 'message at this endpoint');
  // Waiting behind an ordered endpoint's head: an attempt now would overtake, and it is sent in its turn anyway.
  const now = found.filter((row) => !row.waiting);
  const jobs = now.map((row) => ({ messageId, endpointId: row.endpointId, step: 0, trigger: 'manual' as const, url: row.url }));
  if (jobs.length > 0) {
    await enqueueDeliveries(deps.boss, jobs);
    deps.onEnqueued(jobs);
  }
  return {
    messageId,
    status: 'queued',
    endpointIds: now.map((row) => row.endpointId),
    waitingAt: found.filter((row) => row.waiting).map((row) => row.endpointId),
  };
}
