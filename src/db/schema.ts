import { sql } from 'drizzle-orm';
import {
  boolean,
  customType,
  index,
  integer,
  json,
  jsonb,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import { ATTEMPT_ERROR_KINDS, ATTEMPT_OUTCOMES, ATTEMPT_TRIGGERS, ENDPOINT_KINDS, MESSAGE_STATUSES } from '../domain/delivery.ts';

/** Ids are time-ordered text; the C collation keeps byte order so `ORDER BY id` is creation order. */
const id = customType<{ data: string }>({ dataType: () => 'text COLLATE "C"' });

const createdAt = () => timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow();
const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const tenants = pgTable('tenants', {
  id: id('id').primaryKey(),
  name: text('name').notNull(),
  createdAt: createdAt(),
});

/**
 * Signing secrets of a tenant (`endpoint_id` null: what its run webhooks sign with) or of one
 * endpoint (Svix-compatible endpoints have their own). The newest one with no `expires_at` is
 * current; an older one keeps signing until its `expires_at` (a rotation's grace period). `secret`
 * is the whsec_ text, or its AES-256-GCM ciphertext (`enc:v1:…`) when an encryption key is set.
 */
export const signingSecrets = pgTable(
  'signing_secrets',
  {
    id: id('id').primaryKey(),
    tenantId: id('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    endpointId: id('endpoint_id'),
    secret: text('secret').notNull(),
    createdAt: createdAt(),
    expiresAt: at('expires_at'),
  },
  (t) => [
    index('signing_secrets_tenant_idx').on(t.tenantId, t.createdAt),
    index('signing_secrets_endpoint_idx')
      .on(t.endpointId, t.createdAt)
      .where(sql`${t.endpointId} is not null`),
  ],
);

export const apiKeys = pgTable(
  'api_keys',
  {
    id: id('id').primaryKey(),
    tenantId: id('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    scope: text('scope', { enum: ['tenant', 'admin'] }).notNull(),
    /** SHA-256 of the key, hex: keys are long random tokens, so a fast hash is enough. */
    keyHash: text('key_hash').notNull(),
    createdAt: createdAt(),
    revokedAt: at('revoked_at'),
  },
  (t) => [uniqueIndex('api_keys_hash_idx').on(t.keyHash), index('api_keys_tenant_idx').on(t.tenantId)],
);

export interface WebhookConfig {
  url: string;
  events: string[];
  metadata: Record<string, unknown> | null;
  headers: Record<string, string>;
  /** Delivery control (README, "Delivery control"); absent in runs made before it existed. */
  ordered?: boolean;
  /** Messages per second at most; null for no limit. */
  throttleRate?: number | null;
  /** The webhook's own retry schedule as given (`1s,5s,30s`); null for ORBIT_RETRY_SCHEDULE. */
  retrySchedule?: string | null;
}

export const runs = pgTable(
  'runs',
  {
    id: id('id').primaryKey(),
    tenantId: id('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    workflowId: text('workflow_id').notNull(),
    status: text('status', { enum: ['QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELED'] }).notNull(),
    completedNodes: integer('completed_nodes').notNull().default(0),
    failedNodes: integer('failed_nodes').notNull().default(0),
    error: text('error'),
    // json, not jsonb: keeps the client's key order, which metadata echoes into every payload.
    input: json('input'),
    webhook: json('webhook').$type<WebhookConfig>(),
    /** The endpoint the webhook is delivered through (kind `run`); null for a run without a webhook. */
    endpointId: id('endpoint_id'),
    createdAt: createdAt(),
    startedAt: at('started_at'),
    finishedAt: at('finished_at'),
  },
  (t) => [
    index('runs_tenant_id_idx').on(t.tenantId, t.id),
    index('runs_tenant_workflow_idx').on(t.tenantId, t.workflowId, t.id),
    index('runs_tenant_status_idx').on(t.tenantId, t.status, t.id),
  ],
);

/** A retried `POST /runs` with the same key answers the stored first response. */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    tenantId: id('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    requestHash: text('request_hash').notNull(),
    runId: id('run_id').notNull(),
    // json keeps the first answer's bytes in order for the replay.
    response: json('response').notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.key] })],
);

/**
 * The first answer to a request of the Svix-compatible API made with an `idempotency-key`: a repeat
 * with the same key and body gets it back. `status` is null while the first request is running.
 */
export const idempotentResponses = pgTable(
  'idempotent_responses',
  {
    tenantId: id('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    requestHash: text('request_hash').notNull(),
    status: smallint('status'),
    body: text('body'),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.key] }), index('idempotent_responses_created_idx').on(t.createdAt)],
);

export const events = pgTable(
  'events',
  {
    id: id('id').primaryKey(),
    tenantId: id('tenant_id').notNull(),
    runId: id('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    type: text('type').notNull(),
    data: jsonb('data'),
    error: text('error'),
    createdAt: createdAt(),
  },
  (t) => [index('events_run_idx').on(t.runId, t.id)],
);

/** A tenant's customer in the Svix-compatible API: the unit its endpoints and messages belong to. */
export const applications = pgTable(
  'applications',
  {
    id: id('id').primaryKey(),
    tenantId: id('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    uid: text('uid'),
    name: text('name').notNull(),
    metadata: jsonb('metadata').$type<Record<string, string>>().notNull().default({}),
    /** Messages per second at most to each of its endpoints that has no rate of its own; null for no limit. */
    throttleRate: integer('throttle_rate'),
    /** The throttle's theoretical arrival time (GCRA), shared by its endpoints that use its rate. */
    throttleTat: at('throttle_tat'),
    createdAt: createdAt(),
    updatedAt: at('updated_at').notNull().defaultNow(),
  },
  (t) => [
    index('applications_tenant_idx').on(t.tenantId, t.id),
    uniqueIndex('applications_tenant_uid_idx')
      .on(t.tenantId, t.uid)
      .where(sql`${t.uid} is not null`),
  ],
);

/** The event types a tenant declares for its applications' messages (Svix-compatible API). */
export const eventTypes = pgTable(
  'event_types',
  {
    tenantId: id('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    /** JSON Schemas by version (`{"1": {…}}`), as Svix keeps them; examples come from here. */
    schemas: jsonb('schemas').$type<Record<string, unknown>>(),
    archived: boolean('archived').notNull().default(false),
    deprecated: boolean('deprecated').notNull().default(false),
    featureFlag: text('feature_flag'),
    groupName: text('group_name'),
    createdAt: createdAt(),
    updatedAt: at('updated_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.name] })],
);

/**
 * Where messages are delivered, one model for every kind (docs/architecture.md, "Destinations"):
 * - `app`: a standing endpoint of an application (Svix-compatible API), with its own secrets;
 * - `run`: a run's webhook, made when the run is created, signing with its tenant's secrets;
 * - `operational`: where Orbit sends events about itself.
 * The queue, worker, sender and attempt log know only endpoints.
 */
export const endpoints = pgTable(
  'endpoints',
  {
    id: id('id').primaryKey(),
    tenantId: id('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    kind: text('kind', { enum: ENDPOINT_KINDS }).notNull(),
    appId: id('app_id').references(() => applications.id, { onDelete: 'cascade' }),
    runId: id('run_id').references(() => runs.id, { onDelete: 'cascade' }),
    uid: text('uid'),
    url: text('url').notNull(),
    description: text('description').notNull().default(''),
    /** Event types it receives; null for all. */
    filterTypes: text('filter_types').array(),
    /** Channels it listens to; null for all. */
    channels: text('channels').array(),
    disabled: boolean('disabled').notNull().default(false),
    headers: jsonb('headers').$type<Record<string, string>>().notNull().default({}),
    metadata: jsonb('metadata').$type<Record<string, string>>().notNull().default({}),
    /** Messages per second at most; null for its application's rate, or no limit. */
    throttleRate: integer('throttle_rate'),
    /** The throttle's theoretical arrival time (GCRA): the next free slot when it has a rate of its own. */
    throttleTat: at('throttle_tat'),
    /** Ordered delivery: one message at a time, in the order they were accepted (docs/architecture.md). */
    ordered: boolean('ordered').notNull().default(false),
    /**
     * An ordered endpoint's head: the one pending delivery (by message id) that has a job; the others
     * wait without one. Null when none is pending. Changed only under this row's lock.
     */
    headMessageId: id('head_message_id'),
    /** Delays (ms) between attempts after the first; null for ORBIT_RETRY_SCHEDULE. */
    retrySchedule: integer('retry_schedule').array(),
    /** Auto-disable's clock: the first failure after the last success; null while it succeeds. */
    failingSince: at('failing_since'),
    /** Why it was disabled by Orbit (auto-disable); null when enabled or disabled by a user. */
    disabledReason: text('disabled_reason'),
    createdAt: createdAt(),
    updatedAt: at('updated_at').notNull().defaultNow(),
    /**
     * Set when the endpoint is deleted: it receives nothing more and its pending deliveries end
     * `failed`, but the delivery log keeps its URL and attempts (until retention removes them).
     */
    deletedAt: at('deleted_at'),
  },
  (t) => [
    index('endpoints_app_idx')
      .on(t.appId, t.id)
      .where(sql`${t.appId} is not null`),
    uniqueIndex('endpoints_app_uid_idx')
      .on(t.appId, t.uid)
      .where(sql`${t.uid} is not null and ${t.deletedAt} is null`),
    index('endpoints_tenant_kind_idx').on(t.tenantId, t.kind),
    // Operational endpoints are few: every operational event reads them all.
    index('endpoints_operational_idx')
      .on(t.tenantId)
      .where(sql`${t.kind} = 'operational'`),
  ],
);

/**
 * What is delivered: one event of a run, or one message of an application, with its body fixed at
 * creation (null once expunged). Its id is the `svix-id` of every attempt at every endpoint. Written
 * once and never updated but by an expunge, so the delivery log's wide indexes live here; the state
 * that changes with each attempt lives in `deliveries`.
 */
export const messages = pgTable(
  'messages',
  {
    id: id('id').primaryKey(),
    tenantId: id('tenant_id').notNull(),
    appId: id('app_id'),
    runId: id('run_id'),
    workflowId: text('workflow_id'),
    /** A run message's event id; an application message's `eventId` (unique per application). */
    eventId: text('event_id'),
    eventType: text('event_type').notNull(),
    channels: text('channels').array(),
    payload: text('payload'),
    expungedAt: at('expunged_at'),
    createdAt: createdAt(),
  },
  // The delivery log lists newest first by (created_at, id): each filter leads an index that ends in
  // that order, so a created_at window and the keyset page are one range scan. A run has few
  // messages, so run_id alone is enough (they are sorted in memory).
  (t) => [
    index('messages_run_idx')
      .on(t.runId, t.id)
      .where(sql`${t.runId} is not null`),
    index('messages_tenant_idx').on(t.tenantId, t.createdAt, t.id),
    index('messages_workflow_idx')
      .on(t.workflowId, t.createdAt, t.id)
      .where(sql`${t.workflowId} is not null`),
    index('messages_event_type_idx').on(t.eventType, t.createdAt, t.id),
    index('messages_created_idx').on(t.createdAt, t.id),
    index('messages_app_idx')
      .on(t.appId, t.createdAt, t.id)
      .where(sql`${t.appId} is not null`),
    // An application's messages of one type: what the Svix-compatible message list filters by.
    index('messages_app_event_type_idx')
      .on(t.appId, t.eventType, t.createdAt, t.id)
      .where(sql`${t.appId} is not null`),
    uniqueIndex('messages_app_event_id_idx')
      .on(t.appId, t.eventId)
      .where(sql`${t.appId} is not null and ${t.eventId} is not null`),
  ],
);

/**
 * One message at one endpoint: the unit the queue, the worker and the delivery log deal in. Its
 * status changes with every attempt, so it carries few indexes (the log's wide ones are on
 * `messages`), and the non-`succeeded` statuses (the rare ones) are indexed partially.
 */
export const deliveries = pgTable(
  'deliveries',
  {
    messageId: id('message_id').notNull(),
    endpointId: id('endpoint_id').notNull(),
    tenantId: id('tenant_id').notNull(),
    status: text('status', { enum: MESSAGE_STATUSES }).notNull(),
    /** Attempts made, manual ones included. */
    attemptCount: smallint('attempt_count').notNull().default(0),
    /** Steps of the retry schedule made (scheduled and recover attempts): tells a stale job. */
    steps: smallint('steps').notNull().default(0),
    nextAttemptAt: at('next_attempt_at'),
    /** Why the delivery ended `failed` without an attempt (content expunged, endpoint gone). */
    failureReason: text('failure_reason'),
    /** The message's creation time, so the log pages deliveries in message order. */
    createdAt: createdAt(),
    deliveredAt: at('delivered_at'),
  },
  (t) => [
    primaryKey({ columns: [t.messageId, t.endpointId] }),
    index('deliveries_endpoint_idx').on(t.endpointId, t.createdAt, t.messageId),
    index('deliveries_status_idx')
      .on(t.status, t.createdAt, t.messageId)
      .where(sql`${t.status} <> 'succeeded'`),
    index('deliveries_tenant_status_idx')
      .on(t.tenantId, t.status, t.createdAt, t.messageId)
      .where(sql`${t.status} <> 'succeeded'`),
    // Deliveries of an ordered endpoint waiting behind its head (pending without a job), in the
    // order they go; no other delivery is ever pending without a next attempt, so it costs nothing else.
    index('deliveries_waiting_idx')
      .on(t.endpointId, t.createdAt, t.messageId)
      .where(sql`${t.status} = 'pending' and ${t.nextAttemptAt} is null`),
  ],
);

export const attempts = pgTable(
  'attempts',
  {
    id: id('id').primaryKey(),
    messageId: id('message_id').notNull(),
    endpointId: id('endpoint_id').notNull(),
    tenantId: id('tenant_id').notNull(),
    /** The URL attempted (an endpoint's URL may change later). */
    url: text('url').notNull(),
    attempt: smallint('attempt').notNull(),
    trigger: text('trigger', { enum: ATTEMPT_TRIGGERS }).notNull(),
    outcome: text('outcome', { enum: ATTEMPT_OUTCOMES }).notNull(),
    startedAt: at('started_at').notNull(),
    durationMs: integer('duration_ms').notNull(),
    responseStatus: smallint('response_status'),
    /** The first 64 KiB of the answer; null when none came, or once expunged. */
    responseBody: text('response_body'),
    responseExpungedAt: at('response_expunged_at'),
    errorKind: text('error_kind', { enum: ATTEMPT_ERROR_KINDS }),
    errorMessage: text('error_message'),
    nextAttemptAt: at('next_attempt_at'),
  },
  // Attempts list newest first by (started_at, id). The status class (500 -> 5, no response -> 0)
  // is an expression so `statusCodeClass=5xx` is one equality; outcome + class share an index so a
  // rare pair (failed with a 2xx) never scans every 2xx attempt. Outcome alone is dense enough to
  // ride attempts_started_idx.
  (t) => [
    index('attempts_message_idx').on(t.messageId, t.endpointId, t.id),
    index('attempts_endpoint_idx').on(t.endpointId, t.startedAt, t.id),
    index('attempts_started_idx').on(t.startedAt, t.id),
    index('attempts_status_class_idx').on(sql`(coalesce(${t.responseStatus} / 100, 0))`, t.startedAt, t.id),
    index('attempts_outcome_class_idx').on(t.outcome, sql`(coalesce(${t.responseStatus} / 100, 0))`, t.startedAt, t.id),
  ],
);

// ---- Console and portal (src/ui) ------------------------------------------------------------------
// Self-contained: sessions, sign-in throttling, portal links and the overview's hourly rollups.

/**
 * A signed-in browser. `id` is the SHA-256 (hex) of the cookie's random token, so a leaked table
 * opens no session. A console session belongs to the admin key it signed in with: revoking the key
 * ends it. A portal session is scoped to a tenant (and, for the Svix-compatible API, one
 * application), read-only or not.
 */
export const uiSessions = pgTable(
  'ui_sessions',
  {
    id: text('id').primaryKey(),
    kind: text('kind', { enum: ['console', 'portal'] }).notNull(),
    keyId: id('key_id').references(() => apiKeys.id, { onDelete: 'cascade' }),
    tenantId: id('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    appId: text('app_id'),
    readOnly: boolean('read_only').notNull().default(false),
    /** The synchroniser token every form of this session carries. */
    csrfToken: text('csrf_token').notNull(),
    createdAt: createdAt(),
    lastSeenAt: at('last_seen_at').notNull(),
    /** Idle expiry: moved forward as the session is used. */
    idleExpiresAt: at('idle_expires_at').notNull(),
    /** Absolute expiry: never moves. */
    expiresAt: at('expires_at').notNull(),
  },
  (t) => [index('ui_sessions_expires_idx').on(t.expiresAt), index('ui_sessions_key_idx').on(t.keyId)],
);

/** Failed sign-ins per client and fixed window, for the sign-in rate limit. */
export const uiLoginFailures = pgTable(
  'ui_login_failures',
  {
    client: text('client').notNull(),
    windowStart: at('window_start').notNull(),
    failures: integer('failures').notNull(),
  },
  (t) => [primaryKey({ columns: [t.client, t.windowStart] })],
);

/** Single-use portal links. `id` is the SHA-256 (hex) of the link's token. */
export const portalLinks = pgTable(
  'portal_links',
  {
    id: text('id').primaryKey(),
    tenantId: id('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    appId: text('app_id'),
    readOnly: boolean('read_only').notNull(),
    /** How long the portal session lasts once the link is opened. */
    sessionMs: integer('session_ms').notNull(),
    createdAt: createdAt(),
    expiresAt: at('expires_at').notNull(),
    usedAt: at('used_at'),
  },
  (t) => [index('portal_links_expires_idx').on(t.expiresAt)],
);

/**
 * The overview's hourly rollup of the delivery log (services/overview.ts): per hour, attempts by
 * outcome and messages created, in total (`dim` 'all', `key` '') and per tenant, event type,
 * endpoint (the target URL without its query) and error kind.
 */
export const overviewHourly = pgTable(
  'overview_hourly',
  {
    hour: at('hour').notNull(),
    dim: text('dim').notNull(),
    key: text('key').notNull(),
    succeeded: integer('succeeded').notNull().default(0),
    failed: integer('failed').notNull().default(0),
    messages: integer('messages').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.dim, t.hour, t.key] })],
);

/** Attempt durations per hour in logarithmic buckets, for approximate percentiles. */
export const overviewLatency = pgTable(
  'overview_latency',
  {
    hour: at('hour').notNull(),
    bucket: smallint('bucket').notNull(),
    attempts: integer('attempts').notNull(),
  },
  (t) => [primaryKey({ columns: [t.hour, t.bucket] })],
);

/** How far the rollup has read: attempts started (and messages created) before `until`. */
export const overviewWatermark = pgTable('overview_watermark', {
  name: text('name').primaryKey(),
  until: at('until').notNull(),
});

export const schema = {
  tenants,
  signingSecrets,
  apiKeys,
  runs,
  idempotencyKeys,
  idempotentResponses,
  events,
  applications,
  eventTypes,
  endpoints,
  messages,
  deliveries,
  attempts,
  uiSessions,
  uiLoginFailures,
  portalLinks,
  overviewHourly,
  overviewLatency,
  overviewWatermark,
};
