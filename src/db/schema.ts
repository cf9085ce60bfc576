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
import { ATTEMPT_ERROR_KINDS, ATTEMPT_OUTCOMES, ATTEMPT_TRIGGERS, MESSAGE_STATUSES } from '../domain/delivery.ts';

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
 * A tenant's signing secrets. The newest one with no `expires_at` is current; an older one keeps
 * signing until its `expires_at` (a rotation's grace period). `secret` is the whsec_ text, or its
 * AES-256-GCM ciphertext (`enc:v1:…`) when an encryption key is configured.
 */
export const signingSecrets = pgTable(
  'signing_secrets',
  {
    id: id('id').primaryKey(),
    tenantId: id('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    secret: text('secret').notNull(),
    createdAt: createdAt(),
    expiresAt: at('expires_at'),
  },
  (t) => [index('signing_secrets_tenant_idx').on(t.tenantId, t.createdAt)],
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

/** One event to be delivered to one webhook. Its id is the `svix-id`; `payload` is fixed at creation. */
export const messages = pgTable(
  'messages',
  {
    id: id('id').primaryKey(),
    tenantId: id('tenant_id').notNull(),
    runId: id('run_id').notNull(),
    workflowId: text('workflow_id').notNull(),
    eventId: id('event_id').notNull(),
    eventType: text('event_type').notNull(),
    url: text('url').notNull(),
    headers: jsonb('headers').$type<Record<string, string>>().notNull(),
    payload: text('payload').notNull(),
    status: text('status', { enum: MESSAGE_STATUSES }).notNull(),
    attemptCount: smallint('attempt_count').notNull().default(0),
    nextAttemptAt: at('next_attempt_at'),
    createdAt: createdAt(),
    deliveredAt: at('delivered_at'),
  },
  // The delivery log lists newest first by (created_at, id): each filter of CONTRACT §6 leads an
  // index that ends in that order, so a created_at window and the keyset page are one range scan.
  // A run has few messages, so run_id alone is enough (they are sorted in memory).
  (t) => [
    index('messages_run_idx').on(t.runId, t.id),
    index('messages_tenant_idx').on(t.tenantId, t.createdAt, t.id),
    index('messages_tenant_status_idx').on(t.tenantId, t.status, t.createdAt, t.id),
    index('messages_status_idx').on(t.status, t.createdAt, t.id),
    index('messages_workflow_idx').on(t.workflowId, t.createdAt, t.id),
    index('messages_event_type_idx').on(t.eventType, t.createdAt, t.id),
    index('messages_created_idx').on(t.createdAt, t.id),
  ],
);

export const attempts = pgTable(
  'attempts',
  {
    id: id('id').primaryKey(),
    messageId: id('message_id').notNull(),
    tenantId: id('tenant_id').notNull(),
    attempt: smallint('attempt').notNull(),
    trigger: text('trigger', { enum: ATTEMPT_TRIGGERS }).notNull(),
    outcome: text('outcome', { enum: ATTEMPT_OUTCOMES }).notNull(),
    startedAt: at('started_at').notNull(),
    durationMs: integer('duration_ms').notNull(),
    responseStatus: smallint('response_status'),
    responseBody: text('response_body'),
    errorKind: text('error_kind', { enum: ATTEMPT_ERROR_KINDS }),
    errorMessage: text('error_message'),
    nextAttemptAt: at('next_attempt_at'),
  },
  // Attempts list newest first by (started_at, id). The status class (500 -> 5, no response -> 0)
  // is an expression so `statusCodeClass=5xx` is one equality; outcome + class share an index so a
  // rare pair (failed with a 2xx) never scans every 2xx attempt. Outcome alone is dense enough to
  // ride attempts_started_idx.
  (t) => [
    index('attempts_message_idx').on(t.messageId, t.id),
    index('attempts_started_idx').on(t.startedAt, t.id),
    index('attempts_status_class_idx').on(sql`(coalesce(${t.responseStatus} / 100, 0))`, t.startedAt, t.id),
    index('attempts_outcome_class_idx').on(t.outcome, sql`(coalesce(${t.responseStatus} / 100, 0))`, t.startedAt, t.id),
  ],
);

export const schema = { tenants, signingSecrets, apiKeys, runs, idempotencyKeys, events, messages, attempts };

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
