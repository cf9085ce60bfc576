import { z } from '@hono/zod-openapi';
import { EVENT_TYPES, REPORTED_EVENT_TYPES, RUN_STATUSES } from '../domain/run.ts';
import { ITERATOR_RULE, LIMITS, PAGE_SIZE, unstorableText } from '../domain/limits.ts';
import { RETRY_SCHEDULE_LIMITS } from '../domain/schedule.ts';
import { idPattern } from '../lib/ids.ts';
import { installPlainErrors } from './plain-errors.ts';

installPlainErrors();

/** Request and response shapes shared by the routes; the OpenAPI document is generated from them. */

/** An `application/json` body or answer of this schema, as route definitions spell it. */
export const json = <T extends z.ZodType>(schema: T) => ({ content: { 'application/json': { schema } } });

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'validation_failed' }),
      message: z.string(),
      details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
      requestId: z.string(),
    }),
  })
  .openapi('Error');

/** Text PostgreSQL can store: no NUL character, no unpaired UTF-16 surrogate. */
export const storableText = (schema: z.ZodString) =>
  schema.refine((text) => unstorableText(text) === null, 'must not contain NUL characters or unpaired UTF-16 surrogates');

/**
 * A request body object that refuses fields it does not know (422 naming each one): a typo such as
 * `webHook` must not be accepted as a request without a webhook.
 */
export const strictObject = <T extends z.ZodRawShape>(shape: T) =>
  z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys' ? `is not a known field; the fields are ${Object.keys(shape).join(', ')}` : undefined,
  });

/** The one rule for ids in paths, queries and bodies; an id that is well formed but unknown is a 404. */
const ID = /^[A-Za-z0-9_-]{1,64}$/;
export const IdParam = (name: string, example: string) =>
  z
    .string()
    .regex(ID, 'not a valid id')
    .openapi({ param: { name, in: 'path' }, example });
export const IdQuery = (example: string) => z.string().regex(ID, `must be an id such as ${example}`).optional().openapi({ example });
export const IdField = (example: string) => z.string().regex(ID, `must be an id such as ${example}`).openapi({ example });

/** The one page-size rule of every list: `limit` from 1 to 250, 50 when absent. */
export const LimitQuery = z
  .string()
  .regex(/^\d{1,4}$/, `must be an integer from 1 to ${PAGE_SIZE.max}`)
  .transform(Number)
  .pipe(z.number().int().min(1, 'must be at least 1').max(PAGE_SIZE.max, `must be at most ${PAGE_SIZE.max}`))
  .default(PAGE_SIZE.default)
  .openapi({ type: 'integer', minimum: 1, maximum: PAGE_SIZE.max, default: PAGE_SIZE.default, description: 'page size' });

/** The iterator of a list paged by id: the last id of the previous page (`run_…` for runs). */
export const IdIteratorQuery = (prefix: string) =>
  z.string().regex(idPattern(prefix), ITERATOR_RULE).optional().openapi({ description: 'the `iterator` of the previous page' });

export const pageOf = <T extends z.ZodType>(item: T, name: string) =>
  z.object({ data: z.array(item), iterator: z.string().nullable(), done: z.boolean() }).openapi(name);

export const EventTypeSchema = z.enum(EVENT_TYPES).openapi('EventType');

/** Any event type's name: a run's (`run.completed`) or an application's (`user.created`). */
export const EventTypeName = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,256}$/, 'must be an event type name: 1 to 256 letters, digits, dots, dashes and underscores')
  .openapi({ example: 'run.completed' });
export const RunStatusSchema = z.enum(RUN_STATUSES).openapi('RunStatus');

// Not `z.record`: it drops a `__proto__` key, and a JSON object must come back exactly as sent.
const JsonObject = z
  .custom<Record<string, unknown>>((value) => typeof value === 'object' && value !== null && !Array.isArray(value), 'must be a JSON object')
  .openapi({ type: 'object', additionalProperties: true });

/** Messages per second at most (Svix's `throttleRate`). */
export const ThrottleRate = z
  .number()
  .int('must be an integer')
  .min(1, 'must be at least 1')
  .max(65_535, 'must be at most 65535')
  .openapi({ description: 'messages per second at most; null for no limit', example: 20 });

/** A retry schedule of its own, with the syntax and limits of ORBIT_RETRY_SCHEDULE. */
export const RetrySchedule = z.union([z.string().max(1_000), z.array(z.string().max(50)).max(RETRY_SCHEDULE_LIMITS.steps)]).openapi({
  description:
    "delays between attempts after the first, as ORBIT_RETRY_SCHEDULE takes them (`1s,5s,30s`, or a list of durations); empty for no retries; null for the deployment's schedule",
  example: '1s,5s,30s',
});

export const WebhookInputSchema = strictObject({
  url: z.string().min(1).max(LIMITS.urlLength).openapi({ example: 'https://your-app.com/webhooks/orbit' }),
  events: z
    .array(EventTypeSchema)
    .min(1, 'must list at least one event type (omit it for all)')
    .max(EVENT_TYPES.length * 2)
    .optional(),
  metadata: JsonObject.nullable()
    .optional()
    .openapi({ example: { orderId: 'order_456' } }),
  headers: z
    .record(z.string(), z.string())
    .optional()
    .openapi({ example: { 'X-Team': 'growth' } }),
  ordered: z.boolean().optional().openapi({
    description: 'deliver the run\'s messages one at a time, in the order they were accepted (README, "Delivery control")',
  }),
  throttleRate: ThrottleRate.nullable().optional(),
  retrySchedule: RetrySchedule.nullable().optional(),
}).openapi('WebhookInput');

export const CreateRunSchema = strictObject({
  workflowId: z.string().min(1).max(LIMITS.idLength).openapi({ example: 'wf_abc123' }),
  webhook: WebhookInputSchema.nullable().optional(),
  input: z.unknown().optional(),
}).openapi('CreateRun');

export const ReportEventSchema = strictObject({
  type: z.enum(REPORTED_EVENT_TYPES),
  // `null` reads as absent, as in the payloads receivers get (`"error": null`).
  data: JsonObject.nullish().transform((data) => data ?? undefined),
  error: z
    .string()
    .max(LIMITS.errorLength)
    .nullish()
    .transform((error) => error ?? undefined),
})
  .superRefine((event, ctx) => {
    if (event.type.startsWith('node.')) {
      const nodeId = event.data?.['nodeId'];
      if (typeof nodeId !== 'string' || nodeId === '' || nodeId.length > LIMITS.idLength) {
        ctx.addIssue({
          code: 'custom',
          path: ['data', 'nodeId'],
          message: `is required for ${event.type}: a string of 1 to ${LIMITS.idLength} characters`,
        });
      }
      const nodeType = event.data?.['nodeType'];
      if (nodeType !== undefined && (typeof nodeType !== 'string' || nodeType.length > LIMITS.idLength)) {
        ctx.addIssue({ code: 'custom', path: ['data', 'nodeType'], message: `must be a string of at most ${LIMITS.idLength} characters` });
      }
    }
    if ((event.type === 'node.failed' || event.type === 'run.failed') && (event.error === undefined || event.error.trim() === '')) {
      ctx.addIssue({ code: 'custom', path: ['error'], message: `is required for ${event.type}` });
    }
  })
  .openapi('ReportEvent');

export const RunSchema = z
  .object({
    id: z.string().openapi({ example: 'run_08QAIw9MnoEyeUVwXmXpDng' }),
    workflowId: z.string(),
    status: RunStatusSchema,
    completedNodes: z.number().int(),
    failedNodes: z.number().int(),
    error: z.string().nullable(),
    input: z.unknown(),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
    webhook: z
      .object({
        url: z.string(),
        events: z.array(z.string()),
        metadata: JsonObject.nullable(),
        ordered: z.literal(true).optional().openapi({ description: 'present when the webhook asked for ordered delivery' }),
        throttleRate: z.number().int().optional().openapi({ description: 'present when the webhook has a throttle rate' }),
        retrySchedule: z.string().optional().openapi({ description: 'present when the webhook has a retry schedule of its own' }),
      })
      .nullable(),
    deliveries: z.object({ pending: z.number().int(), succeeded: z.number().int(), failed: z.number().int() }),
  })
  .openapi('Run');

export const EventAcceptedSchema = z
  .object({
    id: z.string(),
    runId: z.string(),
    type: EventTypeSchema,
    createdAt: z.string(),
    messageId: z.string().nullable(),
    run: RunSchema,
  })
  .openapi('EventAccepted');

export const ValidSigningSecretSchema = z
  .object({
    signingSecret: z.string(),
    createdAt: z.string(),
    expiresAt: z.string().nullable().openapi({ description: 'null for the current secret' }),
  })
  .openapi('ValidSigningSecret');

export const TenantSchema = z.object({ id: z.string(), name: z.string(), createdAt: z.string() }).openapi('Tenant');

export const errorResponses = (...statuses: Array<400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 503>) =>
  Object.fromEntries(
    statuses.map((status) => [
      status,
      { description: ERROR_DESCRIPTIONS[status], content: { 'application/json': { schema: ErrorSchema } } },
    ]),
  );

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: '`malformed_request`: the body is not JSON (or not UTF-8); `limit_reached`: a rotation past 10 secrets in their grace period',
  401: '`unauthenticated`: missing, unknown or revoked API key',
  403: '`forbidden`: a tenant key on an admin route',
  404: '`not_found`: no such resource for this tenant',
  409: '`invalid_transition`, `run_finished` or `idempotency_conflict`',
  413: '`payload_too_large`: the body is over 1 MiB',
  415: '`unsupported_media_type`: the body is not `application/json`',
  422: '`validation_failed`: `details` lists each problem',
  503: '`service_unavailable`: the database cannot be reached',
};
