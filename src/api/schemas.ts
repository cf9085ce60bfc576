import { z } from '@hono/zod-openapi';
import { EVENT_TYPES, REPORTED_EVENT_TYPES, RUN_STATUSES } from '../domain/run.ts';
import { LIMITS, unstorableText } from '../domain/limits.ts';

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

const ID = /^[A-Za-z0-9_-]{1,64}$/;
export const IdParam = (name: string, example: string) =>
  z
    .string()
    .regex(ID, 'not a valid id')
    .openapi({ param: { name, in: 'path' }, example });

export const LimitQuery = z
  .string()
  .regex(/^\d{1,4}$/, 'must be an integer from 1 to 250')
  .transform(Number)
  .pipe(z.number().int().min(1, 'must be at least 1').max(250, 'must be at most 250'))
  .optional()
  .openapi({ type: 'integer', minimum: 1, maximum: 250, default: 50, description: 'page size' });

export const IteratorQuery = z
  .string()
  .regex(ID, 'not an iterator returned by this API')
  .optional()
  .openapi({ description: 'the `iterator` of the previous page' });

export const pageOf = <T extends z.ZodType>(item: T, name: string) =>
  z.object({ data: z.array(item), iterator: z.string().nullable(), done: z.boolean() }).openapi(name);

export const EventTypeSchema = z.enum(EVENT_TYPES).openapi('EventType');
export const RunStatusSchema = z.enum(RUN_STATUSES).openapi('RunStatus');

// Not `z.record`: it drops a `__proto__` key, and a JSON object must come back exactly as sent.
const JsonObject = z
  .custom<Record<string, unknown>>((value) => typeof value === 'object' && value !== null && !Array.isArray(value), 'must be a JSON object')
  .openapi({ type: 'object', additionalProperties: true });

export const WebhookInputSchema = z
  .object({
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
  })
  .openapi('WebhookInput');

export const CreateRunSchema = z
  .object({
    workflowId: z.string().min(1).max(LIMITS.idLength).openapi({ example: 'wf_abc123' }),
    webhook: WebhookInputSchema.nullable().optional(),
    input: z.unknown().optional(),
  })
  .openapi('CreateRun');

export const ReportEventSchema = z
  .object({
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
    webhook: z.object({ url: z.string(), events: z.array(z.string()), metadata: JsonObject.nullable() }).nullable(),
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
  400: '`malformed_request`: the body is not JSON',
  401: '`unauthenticated`: missing, unknown or revoked API key',
  403: '`forbidden`: a tenant key on an admin route',
  404: '`not_found`: no such resource for this tenant',
  409: '`invalid_transition`, `run_finished` or `idempotency_conflict`',
  413: '`payload_too_large`: the body is over 1 MiB',
  415: '`unsupported_media_type`: the body is not `application/json`',
  422: '`validation_failed`: `details` lists each problem',
  503: '`service_unavailable`: the database cannot be reached',
};
