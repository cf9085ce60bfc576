/**
 * Request and response shapes of the Svix-compatible API, as svix-server and the `svix` SDK spell
 * them (camelCase bodies, snake_case query names). Request objects ignore fields they do not know,
 * as Svix does: an SDK newer than Orbit may send some.
 */
import { z } from '@hono/zod-openapi';
import { LIMITS, unstorableJson, unstorableText } from '../../domain/limits.ts';
import {
  CHANNEL,
  CHANNEL_MAX,
  CHANNEL_RULE,
  ID_PREFIX,
  LIMITED_STRING,
  LIMITED_STRING_MAX,
  LIMITED_STRING_RULE,
  MAX_CHANNELS,
  PATH_KEY,
  uidProblem,
} from '../../domain/svix.ts';
import { installPlainErrors } from '../plain-errors.ts';
import { dateTime } from './paging.ts';

installPlainErrors();

export const json = <T extends z.ZodType>(schema: T) => ({ content: { 'application/json': { schema } } });

// ---- errors -----------------------------------------------------------------------------------

export const HttpErrorSchema = z.object({ code: z.string(), detail: z.string() }).openapi('HttpErrorOut');
export const ValidationErrorSchema = z
  .object({ detail: z.array(z.object({ loc: z.array(z.string()), msg: z.string(), type: z.string() })) })
  .openapi('HTTPValidationError');

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: '`missing_payload` (the message content was expunged) or another refusal',
  401: '`authentication_failed`: missing, unknown or revoked API key',
  404: '`not_found`: no such object in this tenant',
  409: '`conflict` (a uid, name or eventId in use) or `idempotency_conflict`',
  413: '`payload_too_large`: the body is over 1 MiB',
  415: '`unsupported_media_type`: the body is not `application/json`',
  422: 'validation errors, one `{ loc, msg, type }` per problem',
};

export const svixErrors = (...statuses: Array<400 | 401 | 404 | 409 | 413 | 415 | 422>) =>
  Object.fromEntries(
    statuses.map((status) => [
      status,
      { description: ERROR_DESCRIPTIONS[status] ?? 'error', ...json(status === 422 ? ValidationErrorSchema : HttpErrorSchema) },
    ]),
  );

// ---- field rules ------------------------------------------------------------------------------

const noControl = (schema: z.ZodString) =>
  schema
    .refine((text) => unstorableText(text) === null, 'must not contain NUL characters or unpaired UTF-16 surrogates')
    // eslint-disable-next-line no-control-regex -- the characters Svix refuses in names and descriptions
    .refine((text) => !/[\x00-\x08]/.test(text), 'must not contain control characters 0x00-0x08');

export const Uid = (idPrefix: string) =>
  z.string().superRefine((uid, ctx) => {
    const problem = uidProblem(uid, idPrefix);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

export const EventTypeName = z
  .string()
  .min(1)
  .max(LIMITED_STRING_MAX)
  .regex(LIMITED_STRING, LIMITED_STRING_RULE)
  .openapi({ example: 'user.signup' });

const Channel = z.string().min(1).max(CHANNEL_MAX).regex(CHANNEL, CHANNEL_RULE);
const Channels = z.array(Channel).min(1).max(MAX_CHANNELS);
const EventTypeNames = z.array(EventTypeName).min(1, "can't be empty: list at least one event type (or null for all)").max(256);

export const Metadata = z
  .record(z.string(), z.string())
  .superRefine((value, ctx) => {
    const problem = unstorableJson(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
    else if (JSON.stringify(value).length > LIMITS.metadataBytes)
      ctx.addIssue({ code: 'custom', message: `is larger than ${LIMITS.metadataBytes} bytes` });
  })
  .openapi({ type: 'object', additionalProperties: { type: 'string' }, example: { plan: 'pro' } });

const ThrottleRate = z.number().int().min(1, 'must be at least 1 if set').max(65_535);
const Name = noControl(z.string().min(1).max(1024));
const Description = noControl(z.string().max(4096));
const Headers = z.record(z.string(), z.string());

// ---- applications -----------------------------------------------------------------------------

export const ApplicationInSchema = z
  .object({
    name: Name.openapi({ example: 'Acme Corp' }),
    uid: Uid(ID_PREFIX.app).nullish().openapi({ example: 'acme' }),
    throttleRate: ThrottleRate.nullish(),
    /** Svix's older name of throttleRate. */
    rateLimit: ThrottleRate.nullish().openapi({ deprecated: true }),
    metadata: Metadata.optional(),
  })
  .openapi('ApplicationIn');

export const ApplicationPatchSchema = z
  .object({
    name: Name.optional(),
    uid: Uid(ID_PREFIX.app).nullish(),
    throttleRate: ThrottleRate.nullish(),
    rateLimit: ThrottleRate.nullish().openapi({ deprecated: true }),
    metadata: Metadata.optional(),
  })
  .openapi('ApplicationPatch');

export const ApplicationOutSchema = z
  .object({
    id: z.string().openapi({ example: 'app_08QAIw9MnoEyeUVwXmXpDng' }),
    uid: z.string().nullable(),
    name: z.string(),
    throttleRate: z.number().int().nullable(),
    rateLimit: z.number().int().nullable(),
    metadata: z.record(z.string(), z.string()),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('ApplicationOut');

// ---- event types ------------------------------------------------------------------------------

const Schemas = z
  .record(z.string(), z.unknown())
  .superRefine((value, ctx) => {
    const problem = unstorableJson(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
    else if (JSON.stringify(value).length > 256 * 1024) ctx.addIssue({ code: 'custom', message: 'is larger than 256 KiB' });
  })
  .openapi({ type: 'object', description: 'JSON Schemas by version, e.g. {"1": {…}}' });

const FeatureFlag = z.string().min(1).max(LIMITED_STRING_MAX).regex(LIMITED_STRING, LIMITED_STRING_RULE);
const eventTypeFields = {
  description: Description,
  archived: z.boolean().optional(),
  deprecated: z.boolean().optional(),
  schemas: Schemas.nullish(),
  groupName: noControl(z.string().max(256)).nullish(),
  featureFlag: FeatureFlag.nullish(),
  featureFlags: z.array(FeatureFlag).max(1, 'Orbit keeps at most one feature flag per event type').nullish(),
};

export const EventTypeInSchema = z.object({ name: EventTypeName, ...eventTypeFields }).openapi('EventTypeIn');
export const EventTypeUpsertInSchema = z.object(eventTypeFields).openapi('EventTypeUpsertIn');
export const EventTypePatchSchema = z.object({ ...eventTypeFields, description: Description.optional() }).openapi('EventTypePatch');

export const EventTypeOutSchema = z
  .object({
    name: z.string(),
    description: z.string(),
    archived: z.boolean(),
    deprecated: z.boolean(),
    schemas: z.record(z.string(), z.unknown()).nullable(),
    groupName: z.string().nullable(),
    featureFlag: z.string().nullable(),
    featureFlags: z.array(z.string()).nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('EventTypeOut');

/** `featureFlags` (the SDK's) or `featureFlag` (older SDKs'), as one value; undefined when neither is given. */
export function featureFlagOf(body: { featureFlag?: string | null | undefined; featureFlags?: string[] | null | undefined }) {
  if (body.featureFlags !== undefined) return body.featureFlags === null ? null : (body.featureFlags[0] ?? null);
  return body.featureFlag;
}

// ---- endpoints --------------------------------------------------------------------------------

const endpointFields = {
  url: z.string().min(1).max(LIMITS.urlLength).openapi({ example: 'https://example.com/webhook/' }),
  description: Description.optional(),
  uid: Uid(ID_PREFIX.endpoint).nullish(),
  eventTypes: EventTypeNames.nullish().openapi({ description: 'the event types it receives; null for all' }),
  /** The older name of eventTypes. */
  filterTypes: EventTypeNames.nullish().openapi({ deprecated: true }),
  channels: Channels.nullish().openapi({ description: 'the channels it listens to; null for all' }),
  disabled: z.boolean().optional(),
  throttleRate: ThrottleRate.nullish(),
  rateLimit: ThrottleRate.nullish().openapi({ deprecated: true }),
  metadata: Metadata.optional(),
  /** Svix's deprecated endpoint version; accepted and ignored. */
  version: z.number().int().min(1).optional().openapi({ deprecated: true }),
  // Orbit's delivery control (README, "Delivery control"), beyond Svix's fields.
  ordered: z.boolean().optional().openapi({ description: 'deliver its messages one at a time, in the order they were accepted' }),
  retrySchedule: z
    .union([z.string().max(1_000), z.array(z.string().max(50)).max(20)])
    .nullish()
    .openapi({ description: 'its own retry schedule, as ORBIT_RETRY_SCHEDULE takes it (`1s,10s,1m`); null for the deployment’s' }),
};

/** What only a new endpoint (application or operational) is given: its own secret and headers. */
const newEndpointFields = {
  secret: z.string().max(256).nullish().openapi({ description: 'whsec_ + base64 of 24 to 64 bytes; generated when absent' }),
  headers: Headers.nullish(),
};

export const EndpointInSchema = z.object({ ...endpointFields, ...newEndpointFields }).openapi('EndpointIn');

export const EndpointUpdateSchema = z.object(endpointFields).openapi('EndpointUpdate');

export const EndpointPatchSchema = z
  .object({ ...endpointFields, url: endpointFields.url.optional(), description: Description.optional() })
  .openapi('EndpointPatch');

export const EndpointOutSchema = z
  .object({
    id: z.string().openapi({ example: 'ep_08QAIw9MnoEyeUVwXmXpDng' }),
    uid: z.string().nullable(),
    url: z.string(),
    description: z.string(),
    disabled: z.boolean(),
    eventTypes: z.array(z.string()).nullable(),
    filterTypes: z.array(z.string()).nullable().openapi({ deprecated: true }),
    channels: z.array(z.string()).nullable(),
    throttleRate: z.number().int().nullable(),
    rateLimit: z.number().int().nullable(),
    version: z.number().int(),
    metadata: z.record(z.string(), z.string()),
    createdAt: z.string(),
    updatedAt: z.string(),
    ordered: z.boolean(),
    retrySchedule: z.string().nullable(),
    disabledReason: z.string().nullable().openapi({ description: 'why Orbit disabled it (auto-disable); null otherwise' }),
  })
  .openapi('EndpointOut');

// ---- operational webhook endpoints ------------------------------------------------------------

const operationalEndpointFields = {
  url: z.string().min(1).max(LIMITS.urlLength).openapi({ example: 'https://ops.example.com/orbit' }),
  description: Description.optional(),
  uid: Uid(ID_PREFIX.endpoint).nullish(),
  disabled: z.boolean().optional(),
  eventTypes: EventTypeNames.nullish().openapi({ description: 'the operational event types it receives; null for all' }),
  throttleRate: ThrottleRate.nullish(),
  metadata: Metadata.optional(),
};

export const OperationalEndpointInSchema = z
  .object({ ...operationalEndpointFields, ...newEndpointFields })
  .openapi('OperationalWebhookEndpointIn');

export const OperationalEndpointUpsertInSchema = z.object(operationalEndpointFields).openapi('OperationalWebhookEndpointUpsertIn');

export const OperationalEndpointOutSchema = z
  .object({
    id: z.string().openapi({ example: 'ep_08QAIw9MnoEyeUVwXmXpDng' }),
    uid: z.string().nullable(),
    url: z.string(),
    description: z.string(),
    disabled: z.boolean(),
    eventTypes: z.array(z.string()).nullable(),
    throttleRate: z.number().int().nullable(),
    metadata: z.record(z.string(), z.string()),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('OperationalWebhookEndpointOut');

/** `eventTypes`, else its older name `filterTypes`. */
export function eventTypesOf(body: { eventTypes?: string[] | null | undefined; filterTypes?: string[] | null | undefined }) {
  return body.eventTypes !== undefined ? body.eventTypes : body.filterTypes;
}

/** `throttleRate`, else its older name `rateLimit`. */
export function throttleRateOf(body: { throttleRate?: number | null | undefined; rateLimit?: number | null | undefined }) {
  return body.throttleRate !== undefined ? body.throttleRate : body.rateLimit;
}

export const EndpointSecretOutSchema = z.object({ key: z.string() }).openapi('EndpointSecretOut');
export const EndpointSecretRotateInSchema = z
  .object({
    key: z.string().max(256).nullish(),
    gracePeriodSeconds: z.number().int().min(0).max(604_800, 'Duration must be between 0 and 7 days').nullish(),
  })
  .openapi('EndpointSecretRotateIn');

export const EndpointHeadersInSchema = z.object({ headers: Headers }).openapi('EndpointHeadersIn');
export const EndpointHeadersPatchInSchema = z
  .object({
    headers: z.record(z.string(), z.string().nullable()),
    deleteHeaders: z
      .array(z.string())
      .max(LIMITS.headerCount * 4)
      .optional(),
  })
  .openapi('EndpointHeadersPatchIn');
export const EndpointHeadersOutSchema = z
  .object({ headers: z.record(z.string(), z.string()), sensitive: z.array(z.string()) })
  .openapi('EndpointHeadersOut');

export const EndpointStatsSchema = z
  .object({
    success: z.number().int(),
    pending: z.number().int(),
    sending: z.number().int(),
    fail: z.number().int(),
    canceled: z.number().int(),
  })
  .openapi('EndpointStats');

const DateTime = dateTime();

export const RecoverInSchema = z.object({ since: DateTime, until: DateTime.nullish() }).openapi('RecoverIn');
export const RecoverOutSchema = z
  .object({ id: z.string(), status: z.literal('running'), task: z.literal('endpoint.recover'), updatedAt: z.string() })
  .openapi('RecoverOut');

export const EventExampleInSchema = z
  .object({ eventType: EventTypeName, exampleIndex: z.number().int().min(0).max(1000).optional() })
  .openapi('EventExampleIn');

// ---- messages ---------------------------------------------------------------------------------

const isObject = (value: unknown): boolean => typeof value === 'object' && value !== null && !Array.isArray(value);

export const MessageInSchema = z
  .object({
    eventType: EventTypeName,
    eventId: Uid(ID_PREFIX.message).nullish().openapi({ description: 'your unique id for the message (a duplicate is a 409)' }),
    payload: z
      .custom<Record<string, unknown>>(isObject, 'Payload must be an object.')
      .openapi({ type: 'object', additionalProperties: true, description: 'the body every endpoint receives, byte for byte' }),
    channels: Channels.nullish(),
    tags: z.array(z.string().max(128)).max(5).nullish().openapi({ description: 'accepted; Orbit does not keep tags' }),
    application: ApplicationInSchema.nullish().openapi({
      description: 'creates the application with the message when the path uid names none',
    }),
    transformationsParams: z
      .object({ rawPayload: z.string().optional(), headers: z.record(z.string(), z.string()).optional() })
      .nullish()
      .openapi({ description: '`rawPayload` (a JSON object as text) is sent as is; other transformations are not supported' }),
    deliverAt: z
      .custom(
        (value) => value === null || value === undefined,
        'is not supported by Orbit: messages are sent at once (send it later instead)',
      )
      .optional()
      .openapi({ type: ['string', 'null'], format: 'date-time', description: 'not supported: must be absent or null' }),
    payloadRetentionPeriod: z.number().int().min(1).max(365_000).nullish().openapi({ description: "accepted; Orbit's retention applies" }),
    payloadRetentionHours: z.number().int().min(1).nullish().openapi({ description: "accepted; Orbit's retention applies" }),
  })
  .openapi('MessageIn');

export const MessageOutSchema = z
  .object({
    id: z.string().openapi({ example: 'msg_08QAIw9MnoEyeUVwXmXpDng', description: 'the svix-id of every delivery' }),
    eventId: z.string().nullable(),
    eventType: z.string(),
    payload: z.unknown().openapi({ type: 'object', description: '`{}` unless `with_content`; `{"expired":true}` once expunged' }),
    channels: z.array(z.string()).nullable(),
    timestamp: z.string(),
    tags: z.null(),
    expunged: z.boolean().openapi({ description: "Orbit's own: the content was expunged" }),
  })
  .openapi('MessageOut');

export const MessageAttemptOutSchema = z
  .object({
    id: z.string().openapi({ example: 'atmpt_08QAIw9MnoEyeUVwXmXpDng' }),
    msgId: z.string(),
    endpointId: z.string(),
    url: z.string(),
    response: z.string().openapi({ description: '`EXPUNGED` once expunged; `{}` unless `with_content`' }),
    responseStatusCode: z.number().int().openapi({ description: '0 when no response came' }),
    responseDurationMs: z.number().int(),
    status: z.number().int().openapi({ description: '0 success, 2 fail (recorded attempts are finished)' }),
    statusText: z.string(),
    triggerType: z.number().int().openapi({ description: '0 scheduled (recover included), 1 manual' }),
    timestamp: z.string(),
    msg: MessageOutSchema.optional(),
  })
  .openapi('MessageAttemptOut');

const deliveryState = {
  status: z.number().int().openapi({ description: '0 success, 1 pending, 2 fail, 3 sending (a retry is planned)' }),
  statusText: z.string(),
  nextAttempt: z.string().nullable(),
};

export const EndpointMessageOutSchema = MessageOutSchema.extend(deliveryState).openapi('EndpointMessageOut');
export const MessageEndpointOutSchema = EndpointOutSchema.extend(deliveryState).openapi('MessageEndpointOut');

export const listOf = <T extends z.ZodType>(item: T, name: string) =>
  z.object({ data: z.array(item), iterator: z.string().nullable(), prevIterator: z.string().nullable(), done: z.boolean() }).openapi(name);

/** A path value naming an object by id or uid; anything else names nothing (404). */
export const PathKey = (name: string, example: string) =>
  z
    .string()
    .regex(PATH_KEY)
    .openapi({ param: { name, in: 'path' }, example });
