/**
 * The delivery use cases: attempt a fetched batch of deliveries (sign, POST, record) and plan a
 * manual retry. HTTP happens outside any transaction; one statement (or one short transaction when
 * retries are planned) records the whole batch afterwards.
 */
import { eq, inArray, sql as drizzleSql } from 'drizzle-orm';
import pkg from '../../package.json' with { type: 'json' };
import { messages } from '../db/schema.ts';
import type { Queryable } from '../db/client.ts';
import { onSchedule, type AttemptTrigger, type MessageStatus } from '../domain/delivery.ts';
import { OrbitError } from '../domain/errors.ts';
import { classifyAttempt, type AttemptClassification } from '../domain/outcome.ts';
import { nextRetryDelay } from '../domain/schedule.ts';
import { signPayload } from '../domain/signing.ts';
import { newId } from '../lib/ids.ts';
import { enqueueDeliveries, type DeliveryJob, type PlannedDelivery } from '../queue/delivery-queue.ts';
import { createSender, type Sender } from '../sender/sender.ts';
import type { ServiceDeps } from './deps.ts';
import { observeAttempts, type RecordedAttempt } from './observe.ts';
import { activeSigningSecrets } from './signing-secrets.ts';

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

export interface LoadedMessage {
  id: string;
  tenantId: string;
  url: string;
  headers: Record<string, string>;
  payload: string;
  status: MessageStatus;
  /** Attempts of the ladder already made (manual ones excluded). */
  scheduledAttempts: number;
}

/** One attempt to record; column names match the record statement's recordset. */
export interface AttemptRecord {
  attempt_id: string;
  message_id: string;
  trigger: AttemptTrigger;
  outcome: AttemptClassification['outcome'];
  started_at: string;
  duration_ms: number;
  response_status: number | null;
  response_body: string | null;
  error_kind: string | null;
  error_message: string | null;
  /** The retry this attempt planned; null when none. */
  next_attempt_at: string | null;
  /** The message's status after a scheduled attempt; null for a manual one (status kept unless it succeeded). */
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

/** The request headers of CONTRACT §4. */
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

async function loadMessages(db: Queryable, ids: readonly string[]): Promise<LoadedMessage[]> {
  return db
    .select({
      id: messages.id,
      tenantId: messages.tenantId,
      url: messages.url,
      headers: messages.headers,
      payload: messages.payload,
      status: messages.status,
      // The ladder position, which manual attempts do not move: tells a stale scheduled job.
      // Spelled out: drizzle renders a column in a select list unqualified, which `attempts` would capture.
      scheduledAttempts: drizzleSql<number>`(select count(*) from attempts a
        where a.message_id = "messages"."id" and a.trigger <> 'manual')::int`,
    })
    .from(messages)
    .where(inArray(messages.id, [...ids]));
}

/** A scheduled job runs only while its message is pending and its step is not done yet. */
function isDue(job: DeliveryJob, message: LoadedMessage): boolean {
  if (!onSchedule(job.trigger)) return true;
  return message.status === 'pending' && job.step > message.scheduledAttempts;
}

/** A job whose message is due, with what signing it needs: ready for `attemptDelivery`. */
export interface ReadyDelivery {
  job: FetchedDelivery;
  message: LoadedMessage;
  /** The tenant's signing secrets, in clear, newest first. */
  secrets: readonly string[];
}

export interface PreparedDeliveries {
  ready: ReadyDelivery[];
  /** Nothing to do (message gone, already succeeded, stale ladder step): complete these jobs. */
  skipped: FetchedDelivery[];
  /** Cannot run now (the tenant has no secret): fail these jobs so the queue runs them again later. */
  released: FetchedDelivery[];
}

/** What one attempt produced: the row to record and the retry it plans, if any. */
export interface AttemptResult {
  jobId: string;
  record: AttemptRecord;
  retry: PlannedDelivery | null;
}

/**
 * Loads the messages and secrets of a fetched batch (two queries) and sorts the jobs: which to
 * attempt, which to skip, which to hand back. At most one attempt per message per batch.
 */
export async function prepareDeliveries(deps: DeliveryDeps, jobs: readonly FetchedDelivery[]): Promise<PreparedDeliveries> {
  const prepared: PreparedDeliveries = { ready: [], skipped: [], released: [] };
  if (jobs.length === 0) return prepared;
  const loaded = await loadMessages(deps.db, [...new Set(jobs.map((job) => job.messageId))]);
  const byId = new Map(loaded.map((message) => [message.id, message]));
  // A stale and a current job of one message may arrive together: one attempt only.
  const chosen = new Map<string, { job: FetchedDelivery; message: LoadedMessage }>();
  for (const job of jobs) {
    const message = byId.get(job.messageId);
    if (message === undefined || chosen.has(job.messageId) || !isDue(job, message)) prepared.skipped.push(job);
    else chosen.set(job.messageId, { job, message });
  }
  if (chosen.size === 0) return prepared;

  const tenantIds = [...new Set([...chosen.values()].map(({ message }) => message.tenantId))];
  const secrets = await activeSigningSecrets(deps.db, deps.cipher, tenantIds, deps.clock.now());
  for (const { job, message } of chosen.values()) {
    const tenantSecrets = secrets.get(message.tenantId);
    if (tenantSecrets === undefined || tenantSecrets.length === 0) {
      deps.logger.error({ messageId: message.id, tenantId: message.tenantId }, 'tenant has no signing secret; delivery held back');
      prepared.released.push(job);
    } else {
      prepared.ready.push({ job, message, secrets: tenantSecrets });
    }
  }
  return prepared;
}

/**
 * Signs and POSTs one message. A receiver's failure is an outcome; null means the attempt was cut
 * short by its signal (shutdown, lost claim) and must not be recorded: the queue runs it again.
 */
export async function attemptDelivery(deps: DeliveryDeps, ready: ReadyDelivery): Promise<AttemptResult | null> {
  const { job, message } = ready;
  const record = await attemptOne(deps, job, message, ready.secrets);
  if (record === null) return null;
  const retry: PlannedDelivery | null =
    record.next_attempt_at === null
      ? null
      : { messageId: message.id, step: job.step + 1, trigger: 'scheduled', startAfter: new Date(record.next_attempt_at), url: message.url };
  return { jobId: job.jobId, record, retry };
}

/** Records finished attempts in one statement, with their retries in the same transaction. */
export async function recordDeliveries(deps: DeliveryDeps, results: readonly AttemptResult[]): Promise<void> {
  if (results.length === 0) return;
  const retries = results.flatMap((result) => (result.retry === null ? [] : [result.retry]));
  await recordAttempts(
    deps,
    results.map((result) => result.record),
    retries,
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

async function attemptOne(
  deps: DeliveryDeps,
  job: FetchedDelivery,
  message: LoadedMessage,
  secrets: readonly string[],
): Promise<AttemptRecord | null> {
  // Signed anew at each attempt: the timestamp is the attempt's.
  const timestamp = Math.floor(deps.clock.now().getTime() / 1000);
  const signature = signPayload(secrets, message.id, timestamp, message.payload);
  const sent = await deps.sender.send({
    url: message.url,
    headers: deliveryHeaders(message.headers, message.id, timestamp, signature),
    body: message.payload,
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
      schedule: deps.delivery.retrySchedule,
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
    attempt_id: newId('att'),
    message_id: message.id,
    trigger: job.trigger,
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

/**
 * One statement inserts every attempt row and updates every message. The attempt number comes from
 * the row-locked UPDATE (`attempt_count + 1`), so concurrent attempts of one message (a manual retry
 * beside a scheduled one) never share a number. Once succeeded, a message stays succeeded.
 */
function recordStatement(records: readonly AttemptRecord[]) {
  return drizzleSql`
    with input as (
      select * from jsonb_to_recordset(${JSON.stringify(records)}::jsonb) as x(
        attempt_id text, message_id text, trigger text, outcome text, started_at timestamptz,
        duration_ms integer, response_status smallint, response_body text, error_kind text,
        error_message text, next_attempt_at timestamptz, status text, delivered_at timestamptz)
    ),
    updated as (
      update messages m set
        attempt_count = m.attempt_count + 1,
        status = case
          when m.status = 'succeeded' or i.outcome = 'succeeded' then 'succeeded'
          when i.status is null then m.status
          else i.status end,
        next_attempt_at = case
          when m.status = 'succeeded' or i.outcome = 'succeeded' then null
          when i.trigger = 'manual' then m.next_attempt_at
          else i.next_attempt_at end,
        delivered_at = coalesce(m.delivered_at, i.delivered_at)
      from input i
      where m.id = i.message_id
      returning m.id, m.tenant_id, m.run_id, m.attempt_count, m.status, m.created_at, m.delivered_at
    ),
    inserted as (
      insert into attempts (id, message_id, tenant_id, attempt, trigger, outcome, started_at, duration_ms,
        response_status, response_body, error_kind, error_message, next_attempt_at)
      select i.attempt_id, i.message_id, u.tenant_id, u.attempt_count, i.trigger, i.outcome, i.started_at,
        i.duration_ms, i.response_status, i.response_body, i.error_kind, i.error_message, i.next_attempt_at
      from input i join updated u on u.id = i.message_id
    )
    -- What observeAttempts needs (RecordedAttempt). Latency only for the attempt that delivered the
    -- message first: delivered_at is kept by coalesce, so it equals this attempt's only then.
    select i.message_id as "messageId", u.tenant_id as "tenantId", u.run_id as "runId",
      u.attempt_count as "attempt", i.trigger, i.outcome, i.response_status as "responseStatus",
      i.error_kind as "errorKind", i.duration_ms as "durationMs", u.status as "messageStatus",
      case when i.outcome = 'succeeded' and u.delivered_at = i.delivered_at
        then extract(epoch from i.delivered_at - u.created_at)::float8 end as "latencySeconds"
    from input i join updated u on u.id = i.message_id`;
}

/**
 * Splits records so that no message appears twice in one statement: the UPDATE touches a row once,
 * so two attempts of one message (a manual one beside a scheduled one) would share a number.
 */
function roundsOf(records: readonly AttemptRecord[]): AttemptRecord[][] {
  const rounds: AttemptRecord[][] = [];
  const roundOf = new Map<string, number>();
  for (const record of records) {
    const round = (roundOf.get(record.message_id) ?? -1) + 1;
    roundOf.set(record.message_id, round);
    (rounds[round] ??= []).push(record);
  }
  return rounds;
}

async function recordAttempts(deps: DeliveryDeps, records: readonly AttemptRecord[], retries: readonly PlannedDelivery[]): Promise<void> {
  const rounds = roundsOf(records);
  // A single statement is atomic on its own; a transaction only when several must commit together.
  const recorded =
    retries.length === 0 && rounds.length === 1
      ? await deps.db.execute<RecordedAttempt>(recordStatement(records))
      : await deps.db.transaction(async (tx) => {
          const rows: RecordedAttempt[] = [];
          for (const round of rounds) rows.push(...(await tx.execute<RecordedAttempt>(recordStatement(round))));
          if (retries.length > 0) await enqueueDeliveries(deps.boss, retries, tx);
          return rows;
        });
  observeAttempts(deps, recorded);
}

/** What `POST /v1/admin/messages/{id}/retry` answers with 202: the attempt is queued, not yet made. */
export interface ManualRetryAccepted {
  messageId: string;
  status: 'queued';
}

/**
 * Queues one manual attempt of a message, in any status: same svix-id, fresh signature, trigger
 * `manual`. It does not move the retry ladder: a failure plans nothing and keeps the status; a
 * success makes the message `succeeded`. Goes to the first-attempt queue so it runs now.
 */
export async function retryMessage(deps: ServiceDeps, messageId: string): Promise<ManualRetryAccepted> {
  const [found] = await deps.db.select({ id: messages.id, url: messages.url }).from(messages).where(eq(messages.id, messageId)).limit(1);
  if (found === undefined) throw new OrbitError('not_found', 'message not found');
  await enqueueDeliveries(deps.boss, [{ messageId, step: 0, trigger: 'manual', url: found.url }]);
  deps.onEnqueued();
  return { messageId, status: 'queued' };
}
