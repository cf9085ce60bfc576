/** The admin delivery log: messages, attempts, recover, stats, signing-secret rotation. */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { ATTEMPT_OUTCOMES } from '../../domain/delivery.ts';
import { parseSigningSecret, SIGNING_SECRET_RULE } from '../../domain/signing.ts';
import { parseDuration } from '../../lib/durations.ts';
import { getMessage, listAttempts, listMessages, parseStatusCodeClass, STATUS_CODE_CLASS_RULE } from '../../services/delivery-log.ts';
import { retryMessage } from '../../services/delivery.ts';
import type { ServiceDeps } from '../../services/deps.ts';
import { recover } from '../../services/recovery.ts';
import { MAX_GRACE_MS, rotateSigningSecret } from '../../services/signing-rotation.ts';
import { deliveryStats } from '../../services/stats.ts';
import type { ApiEnv } from '../auth.ts';
import {
  errorResponses,
  EventTypeName,
  IdField,
  IdParam,
  IdQuery,
  json,
  LimitQuery,
  pageOf,
  storableText,
  strictObject,
  ValidSigningSecretSchema,
} from '../schemas.ts';
import { validationHook } from '../validation.ts';
import {
  AttemptSchema,
  LogIteratorQuery,
  MessageDetailSchema,
  MessageSchema,
  MessageStatusSchema,
  resolveTime,
  resolveWindow,
  TimeValue,
} from './log-schemas.ts';

const DAY_MS = 86_400_000;

const listMessagesRoute = createRoute({
  method: 'get',
  path: '/admin/messages',
  tags: ['Admin: delivery log'],
  summary: 'The delivery log, newest first',
  description:
    'Every filter is optional and they combine (AND). `since` (inclusive) and `until` (exclusive) bound `createdAt`. The iterator is a keyset: messages arriving between pages never shift or repeat a page.',
  request: {
    query: z.object({
      status: MessageStatusSchema.optional(),
      tenantId: IdQuery('ten_08QAIw9MnoEyeUVwXmXpDng'),
      runId: IdQuery('run_08QAIw9MnoEyeUVwXmXpDng'),
      workflowId: storableText(z.string().min(1).max(256)).optional().openapi({ example: 'wf_abc123' }),
      appId: IdQuery('app_08QAIw9MnoEyeUVwXmXpDng'),
      endpointId: IdQuery('ep_08QAIw9MnoEyeUVwXmXpDng'),
      eventType: EventTypeName.optional(),
      since: TimeValue.optional(),
      until: TimeValue.optional(),
      limit: LimitQuery,
      iterator: LogIteratorQuery,
    }),
  },
  responses: {
    200: { description: 'a page of deliveries (a message at an endpoint)', ...json(pageOf(MessageSchema, 'MessagePage')) },
    ...errorResponses(401, 403, 422),
  },
});

const getMessageRoute = createRoute({
  method: 'get',
  path: '/admin/messages/{messageId}',
  tags: ['Admin: delivery log'],
  summary: 'One message: payload, status, target URL and attempts (oldest first)',
  description:
    'The top-level delivery fields describe the delivery to `endpointId` when given, else the first one; `deliveries` lists all of them (one for a run message).',
  request: {
    params: z.object({ messageId: IdParam('messageId', 'msg_08QAIw9MnoEyeUVwXmXpDng') }),
    query: z.object({ endpointId: IdQuery('ep_08QAIw9MnoEyeUVwXmXpDng') }),
  },
  responses: { 200: { description: 'the message', ...json(MessageDetailSchema) }, ...errorResponses(401, 403, 404) },
});

const retryMessageRoute = createRoute({
  method: 'post',
  path: '/admin/messages/{messageId}/retry',
  tags: ['Admin: delivery log'],
  summary: 'One manual attempt of a message now, in any status',
  description:
    'Queues one attempt at once at each endpoint of the message (or only at `endpointId`): same `svix-id`, signed afresh, logged with `trigger: manual`. It does not restart the retry schedule: if it fails, the status stays as it was and no retry is planned; if it succeeds, the delivery becomes `succeeded`.',
  request: {
    params: z.object({ messageId: IdParam('messageId', 'msg_08QAIw9MnoEyeUVwXmXpDng') }),
    query: z.object({ endpointId: IdQuery('ep_08QAIw9MnoEyeUVwXmXpDng') }),
  },
  responses: {
    202: {
      description: 'the attempt is queued',
      ...json(
        z
          .object({
            messageId: z.string(),
            status: z.literal('queued'),
            waitingAt: z
              .array(z.string())
              .optional()
              .openapi({ description: 'ordered endpoints where the message waits its turn: no attempt now, it is sent in its turn' }),
          })
          .openapi('ManualRetryAccepted'),
      ),
    },
    ...errorResponses(401, 403, 404),
  },
});

const listAttemptsRoute = createRoute({
  method: 'get',
  path: '/admin/attempts',
  tags: ['Admin: delivery log'],
  summary: 'Attempts across messages, newest first',
  description:
    '`status` is the attempt outcome. `statusCodeClass` is `1xx`..`5xx` (or `100`..`500`) for the answer status, or `none` (or `0`) for attempts that got no answer (timeout, connection, DNS, TLS, blocked). `since` / `until` bound `startedAt`.',
  request: {
    query: z.object({
      messageId: IdQuery('msg_08QAIw9MnoEyeUVwXmXpDng'),
      endpointId: IdQuery('ep_08QAIw9MnoEyeUVwXmXpDng'),
      status: z.enum(ATTEMPT_OUTCOMES).optional(),
      statusCodeClass: z
        .string()
        .transform((text, ctx) => {
          const value = parseStatusCodeClass(text);
          if (value === null) {
            ctx.addIssue({ code: 'custom', message: `must be ${STATUS_CODE_CLASS_RULE}` });
            return z.NEVER;
          }
          return value;
        })
        .optional()
        .openapi({ type: 'string', example: '5xx' }),
      since: TimeValue.optional(),
      until: TimeValue.optional(),
      limit: LimitQuery,
      iterator: LogIteratorQuery,
    }),
  },
  responses: {
    200: { description: 'a page of attempts', ...json(pageOf(AttemptSchema, 'AttemptPage')) },
    ...errorResponses(401, 403, 422),
  },
});

const recoverRoute = createRoute({
  method: 'post',
  path: '/admin/recover',
  tags: ['Admin: delivery log'],
  summary: 'Re-queue every failed message created in a window',
  description:
    'Answers at once with how many `failed` messages were created in [`since`, `until`) (until defaults to now); each is set `pending` and gets one fresh attempt (logged with `trigger: recover`), queued in the background in batches of 1,000. An attempt that fails again leaves the message `failed` (or resumes its retry schedule if it had stopped early on a `410`). Safe to repeat.',
  request: {
    body: {
      required: true,
      ...json(
        strictObject({
          since: TimeValue,
          until: TimeValue.optional(),
          tenantId: IdField('ten_08QAIw9MnoEyeUVwXmXpDng').optional(),
        }).openapi('Recover'),
      ),
    },
  },
  responses: {
    202: {
      description: 'the re-queueing has started',
      ...json(
        z
          .object({ recovered: z.number().int(), since: z.string(), until: z.string(), tenantId: z.string().nullable() })
          .openapi('RecoverAccepted'),
      ),
    },
    ...errorResponses(400, 401, 403, 404, 413, 415, 422),
  },
});

const StatsSchema = z
  .object({
    since: z.string(),
    until: z.string(),
    messages: z.object({ pending: z.number().int(), succeeded: z.number().int(), failed: z.number().int(), total: z.number().int() }),
    successRate: z
      .number()
      .nullable()
      .openapi({ description: 'succeeded / (succeeded + failed) of the messages created since; null when none finished' }),
    attempts: z.object({
      total: z.number().int(),
      succeeded: z.number().int(),
      failed: z.number().int(),
      byErrorKind: z.record(z.string(), z.number().int()).openapi({ description: 'failed attempts per error kind' }),
      durationMs: z.object({ p50: z.number().nullable(), p95: z.number().nullable(), p99: z.number().nullable() }),
    }),
    oldestPendingAgeMs: z.number().nullable().openapi({ description: 'age of the oldest pending message (any time); null when none' }),
    queues: z
      .array(
        z.object({
          name: z.string(),
          queued: z.number().int(),
          ready: z.number().int(),
          deferred: z.number().int(),
          active: z.number().int(),
        }),
      )
      .openapi({ description: 'delivery queue depth as of the queue monitor’s last pass (about once a minute)' }),
  })
  .openapi('DeliveryStats');

const statsRoute = createRoute({
  method: 'get',
  path: '/admin/stats',
  tags: ['Admin: delivery log'],
  summary: 'Delivery counts, success rate and attempt latency since a moment',
  description: 'Messages are counted by `createdAt`, attempts by `startedAt`; `since` defaults to 24 hours ago.',
  request: {
    query: z.object({
      since: TimeValue.optional(),
      tenantId: IdQuery('ten_08QAIw9MnoEyeUVwXmXpDng'),
      appId: IdQuery('app_08QAIw9MnoEyeUVwXmXpDng'),
      endpointId: IdQuery('ep_08QAIw9MnoEyeUVwXmXpDng'),
    }),
  },
  responses: { 200: { description: 'the statistics', ...json(StatsSchema) }, ...errorResponses(401, 403, 422) },
});

const GracePeriod = z
  .union([z.string(), z.number()])
  .transform((value, ctx) => {
    // A number is seconds; a text is a duration such as 30m, 24h or 7d.
    const ms = typeof value === 'number' ? (Number.isInteger(value) ? value * 1000 : null) : parseDuration(value);
    if (ms === null || ms < 0 || ms > MAX_GRACE_MS) {
      ctx.addIssue({ code: 'custom', message: 'must be a duration from 0s to 7d, such as "24h", or a number of seconds' });
      return z.NEVER;
    }
    return ms;
  })
  .openapi({ example: '24h', description: 'a duration (default 24h, at most 7d), or a number of seconds' });

const rotateRoute = createRoute({
  method: 'post',
  path: '/admin/tenants/{id}/signing-secret/rotate',
  tags: ['Admin: tenants'],
  summary: "Rotate a tenant's signing secret",
  description:
    'Makes a new current secret (generated, or `secret` when given). Every secret valid before keeps signing — every delivery carries one signature per valid secret — until `previousSecretExpiresAt` at the latest; `gracePeriod: 0` retires them all at once (after a leak). With 10 earlier secrets still in their grace period, a rotation with grace is refused (400 `limit_reached`): each one adds a signature to every delivery. `secrets` lists the secrets that sign from now on. Read the current secret back with `GET /v1/admin/tenants/{id}/signing-secret`.',
  request: {
    params: z.object({ id: IdParam('id', 'ten_08QAIw9MnoEyeUVwXmXpDng') }),
    body: {
      required: false,
      ...json(
        strictObject({
          gracePeriod: GracePeriod.optional(),
          secret: z
            .string()
            .refine((text) => parseSigningSecret(text) !== null, SIGNING_SECRET_RULE)
            .optional()
            .openapi({ description: `${SIGNING_SECRET_RULE}; generated when absent` }),
        }).openapi('RotateSigningSecret'),
      ),
    },
  },
  responses: {
    200: {
      description: 'the new secret',
      ...json(
        z
          .object({
            tenantId: z.string(),
            signingSecret: z.string(),
            previousSecretExpiresAt: z.string().nullable(),
            secrets: z.array(ValidSigningSecretSchema),
          })
          .openapi('RotatedSigningSecret'),
      ),
    },
    ...errorResponses(400, 401, 403, 404, 413, 415, 422),
  },
});

/** Mount under `/v1` (behind requireAdmin for `/admin/*`). */
export function adminLogRoutes(deps: ServiceDeps): OpenAPIHono<ApiEnv> {
  const app = new OpenAPIHono<ApiEnv>({ defaultHook: validationHook });

  app.openapi(listMessagesRoute, async (c) => {
    const { since, until, limit, ...filter } = c.req.valid('query');
    const window = resolveWindow({ since, until }, deps.clock.now(), 'query');
    return c.json(await listMessages(deps, { ...filter, ...window, limit }), 200);
  });

  app.openapi(getMessageRoute, async (c) =>
    c.json(await getMessage(deps, c.req.valid('param').messageId, { endpointId: c.req.valid('query').endpointId }), 200),
  );

  app.openapi(retryMessageRoute, async (c) => {
    const { messageId, status, waitingAt } = await retryMessage(deps, c.req.valid('param').messageId, {
      endpointId: c.req.valid('query').endpointId,
    });
    return c.json({ messageId, status, ...(waitingAt.length > 0 ? { waitingAt } : {}) }, 202);
  });

  app.openapi(listAttemptsRoute, async (c) => {
    const { since, until, limit, ...filter } = c.req.valid('query');
    const window = resolveWindow({ since, until }, deps.clock.now(), 'query');
    return c.json(await listAttempts(deps, { ...filter, ...window, limit }), 200);
  });

  app.openapi(recoverRoute, async (c) => {
    const body = c.req.valid('json');
    const window = resolveWindow({ since: body.since, until: body.until }, deps.clock.now(), 'body');
    const { finished: _finished, ...accepted } = await recover(deps, {
      since: window.since as Date,
      until: window.until,
      tenantId: body.tenantId,
    });
    return c.json(accepted, 202);
  });

  app.openapi(statsRoute, async (c) => {
    const now = deps.clock.now();
    const { since: sinceInput, ...scope } = c.req.valid('query');
    const since = resolveTime(sinceInput, now, 'query.since') ?? new Date(now.getTime() - DAY_MS);
    return c.json(await deliveryStats(deps, { since, ...scope }), 200);
  });

  app.openapi(rotateRoute, async (c) => {
    // The body is optional: without one (no content-type), the defaults apply.
    const body = c.req.valid('json');
    const tenantId = c.req.valid('param').id;
    const rotated = await rotateSigningSecret(deps, { tenantId, endpointId: null }, { gracePeriod: body.gracePeriod, secret: body.secret });
    return c.json({ tenantId, ...rotated }, 200);
  });

  return app;
}
