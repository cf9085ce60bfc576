/** Svix's `message.*` calls: `/api/v1/app/{app_id}/msg[/{msg_id}[/content]]`. */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { OrbitError } from '../../domain/errors.ts';
import { memberText } from '../../domain/json-text.ts';
import { MAX_PAYLOAD_DEPTH, nestsDeeperThan } from '../../domain/svix.ts';
import { acceptedMessageView, createAppMessage, expungeAppMessage, getAppMessage, listAppMessages } from '../../services/app-messages.ts';
import type { ServiceDeps } from '../../services/deps.ts';
import type { ApiEnv } from '../auth.ts';
import { svixValidationHook } from './errors.ts';
import { BooleanQuery, ChannelQuery, DateQuery, EventTypesQuery, pageOf, pagingQuery } from './paging.ts';
import { json, listOf, MessageInSchema, MessageOutSchema, PathKey, svixErrors, throttleRateOf } from './schemas.ts';

const TAGS = ['Svix: Message'];
const AppParams = z.object({ app_id: PathKey('app_id', 'app_08QAIw9MnoEyeUVwXmXpDng') });
const MessageParams = AppParams.extend({ msg_id: PathKey('msg_id', 'msg_08QAIw9MnoEyeUVwXmXpDng') });
const WithContent = z.object({ with_content: BooleanQuery });

const createMessageRoute = createRoute({
  method: 'post',
  path: '/app/{app_id}/msg',
  tags: TAGS,
  summary: 'Send a message to the application',
  description:
    "Durable before the 202: the message, one delivery per endpoint that receives it (enabled, `eventTypes` null or holding `eventType`, `channels` null or overlapping the message's) and their first attempts are committed together. Every endpoint receives `payload` byte for byte as sent, with `svix-id` = the message id. A duplicate `eventId` in the application is a 409. `tags`, `payloadRetentionPeriod` and `payloadRetentionHours` are accepted and ignored; `deliverAt` is refused.",
  request: {
    params: AppParams,
    query: WithContent,
    body: { required: true, ...json(MessageInSchema) },
  },
  responses: {
    202: { description: 'the message is accepted and durable', ...json(MessageOutSchema) },
    ...svixErrors(401, 404, 409, 413, 415, 422),
  },
});

const listRoute = createRoute({
  method: 'get',
  path: '/app/{app_id}/msg',
  tags: TAGS,
  summary: "List the application's messages, newest first",
  description: '`before` / `after` bound the creation time; `tag` matches nothing (Orbit keeps no tags).',
  request: {
    params: AppParams,
    query: z.object({
      ...pagingQuery,
      channel: ChannelQuery,
      before: DateQuery,
      after: DateQuery,
      with_content: BooleanQuery,
      tag: z.string().max(128).optional(),
      event_types: EventTypesQuery,
    }),
  },
  responses: {
    200: { description: 'a page of messages', ...json(listOf(MessageOutSchema, 'ListResponseMessageOut')) },
    ...svixErrors(401, 404, 422),
  },
});

const getRoute = createRoute({
  method: 'get',
  path: '/app/{app_id}/msg/{msg_id}',
  tags: TAGS,
  summary: 'Get a message by id or by its eventId',
  request: { params: MessageParams, query: WithContent },
  responses: { 200: { description: 'the message', ...json(MessageOutSchema) }, ...svixErrors(401, 404, 422) },
});

const expungeRoute = createRoute({
  method: 'delete',
  path: '/app/{app_id}/msg/{msg_id}/content',
  tags: TAGS,
  summary: "Delete a message's content",
  description:
    'Later reads show the payload as `{"expired":true}` (and `expunged: true`); deliveries still pending end `failed` when their next attempt comes, and the message can no longer be resent.',
  request: { params: MessageParams },
  responses: { 204: { description: 'expunged' }, ...svixErrors(401, 404) },
});

const isObject = (value: unknown): boolean => typeof value === 'object' && value !== null && !Array.isArray(value);

function invalid(path: string, message: string): never {
  throw new OrbitError('validation_failed', 'the request is not valid', [{ path, message }]);
}

/** The payload's exact text: `transformationsParams.rawPayload` when given, else the `payload` member as sent. */
function payloadText(raw: string, body: z.infer<typeof MessageInSchema>): string {
  const params = body.transformationsParams;
  const extraHeaders = Object.entries(params?.headers ?? {}).filter(
    ([name, value]) => !(name.toLowerCase() === 'content-type' && /^application\/json\b/i.test(value)),
  );
  if (extraHeaders.length > 0) invalid('body.transformationsParams.headers', 'is not supported by Orbit (deliveries are application/json)');
  if (params?.rawPayload !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(params.rawPayload);
    } catch {
      invalid('body.transformationsParams.rawPayload', 'must be the text of a JSON object');
    }
    if (!isObject(parsed)) invalid('body.transformationsParams.rawPayload', 'must be the text of a JSON object');
    if (nestsDeeperThan(parsed, MAX_PAYLOAD_DEPTH))
      invalid('body.transformationsParams.rawPayload', `nests deeper than ${MAX_PAYLOAD_DEPTH} levels`);
    return params.rawPayload;
  }
  if (nestsDeeperThan(body.payload, MAX_PAYLOAD_DEPTH)) invalid('body.payload', `nests deeper than ${MAX_PAYLOAD_DEPTH} levels`);
  const text = memberText(raw, 'payload');
  if (text === null) invalid('body.payload', 'is required: a JSON object');
  return text;
}

export function messageRoutes(deps: ServiceDeps): OpenAPIHono<ApiEnv> {
  const app = new OpenAPIHono<ApiEnv>({ defaultHook: svixValidationHook });

  app.openapi(createMessageRoute, async (c) => {
    const body = c.req.valid('json');
    // The validator parsed the body from its cached text: this is the exact text received.
    const payload = payloadText(await c.req.text(), body);
    const application = body.application ?? undefined;
    const message = await createAppMessage(deps, c.get('principal').tenantId, c.req.valid('param').app_id, {
      eventType: body.eventType,
      eventId: body.eventId ?? null,
      channels: body.channels ? [...new Set(body.channels)] : null,
      payload,
      application:
        application === undefined
          ? undefined
          : { name: application.name, uid: application.uid, throttleRate: throttleRateOf(application), metadata: application.metadata },
    });
    return c.json(acceptedMessageView(message, c.req.valid('query').with_content !== false), 202);
  });

  app.openapi(listRoute, async (c) => {
    const query = c.req.valid('query');
    const page = pageOf(query, false, { forwardFromStart: query.after !== undefined && query.before === undefined });
    const tenantId = c.get('principal').tenantId;
    const { app_id } = c.req.valid('param');
    const filter = { channel: query.channel, eventTypes: query.event_types, before: query.before, after: query.after };
    const list = await listAppMessages(deps, tenantId, app_id, page, filter, query.with_content !== false);
    // Orbit keeps no tags: a tag filter matches no message.
    return c.json(query.tag === undefined ? list : { data: [], iterator: null, prevIterator: null, done: true }, 200);
  });

  app.openapi(getRoute, async (c) => {
    const { app_id, msg_id } = c.req.valid('param');
    return c.json(await getAppMessage(deps, c.get('principal').tenantId, app_id, msg_id, c.req.valid('query').with_content !== false), 200);
  });

  app.openapi(expungeRoute, async (c) => {
    const { app_id, msg_id } = c.req.valid('param');
    await expungeAppMessage(deps, c.get('principal').tenantId, app_id, msg_id);
    return c.body(null, 204);
  });

  return app;
}
