/** Svix's `messageAttempt.*` calls: attempts, resend, and the message × endpoint views. */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { PATH_KEY, statusCodeClass } from '../../domain/svix.ts';
import {
  expungeAppAttempt,
  getAppAttempt,
  listAttemptsByEndpoint,
  listAttemptsByMessage,
  listEndpointMessages,
  listMessageEndpoints,
  resendAppMessage,
  type AttemptListFilter,
} from '../../services/app-messages.ts';
import type { ServiceDeps } from '../../services/deps.ts';
import type { ApiEnv } from '../auth.ts';
import { svixValidationHook } from './errors.ts';
import {
  BooleanQuery,
  ChannelQuery,
  DateQuery,
  EventTypesQuery,
  pageOf,
  pagingQuery,
  StatusCodeClassQuery,
  StatusQuery,
} from './paging.ts';
import {
  EndpointMessageOutSchema,
  json,
  listOf,
  MessageAttemptOutSchema,
  MessageEndpointOutSchema,
  PathKey,
  svixErrors,
} from './schemas.ts';

const TAGS = ['Svix: Message Attempt'];
const app_id = PathKey('app_id', 'app_08QAIw9MnoEyeUVwXmXpDng');
const msg_id = PathKey('msg_id', 'msg_08QAIw9MnoEyeUVwXmXpDng');
const endpoint_id = PathKey('endpoint_id', 'ep_08QAIw9MnoEyeUVwXmXpDng');
const attempt_id = PathKey('attempt_id', 'atmpt_08QAIw9MnoEyeUVwXmXpDng');

const attemptFilters = {
  status: StatusQuery,
  status_code_class: StatusCodeClassQuery,
  channel: ChannelQuery,
  tag: z.string().max(128).optional(),
  before: DateQuery,
  after: DateQuery,
  with_content: BooleanQuery,
  expanded_statuses: BooleanQuery,
  event_types: EventTypesQuery,
};

/** The list filters of both attempt lists, from their query. */
function filterOf(query: {
  status?: number | undefined;
  status_code_class?: number | undefined;
  channel?: string | undefined;
  event_types?: string[] | undefined;
  before?: Date | undefined;
  after?: Date | undefined;
}): AttemptListFilter {
  return {
    status: query.status,
    statusCodeClass: query.status_code_class === undefined ? undefined : (statusCodeClass(query.status_code_class) ?? undefined),
    channel: query.channel,
    eventTypes: query.event_types,
    before: query.before,
    after: query.after,
  };
}

const AttemptList = listOf(MessageAttemptOutSchema, 'ListResponseMessageAttemptOut');

const listByMsgRoute = createRoute({
  method: 'get',
  path: '/app/{app_id}/attempt/msg/{msg_id}',
  tags: TAGS,
  summary: "A message's attempts, newest first",
  description: 'Attempts are recorded once finished: `status` is 0 (success) or 2 (fail). `tag` matches nothing (Orbit keeps no tags).',
  request: {
    params: z.object({ app_id, msg_id }),
    query: z.object({
      ...pagingQuery,
      ...attemptFilters,
      endpoint_id: z
        .string()
        .regex(PATH_KEY, 'must be an endpoint id or uid')
        .optional()
        .openapi({ description: 'only the attempts at this endpoint (id or uid)' }),
    }),
  },
  responses: { 200: { description: 'a page of attempts', ...json(AttemptList) }, ...svixErrors(401, 404, 422) },
});

const listByEndpointRoute = createRoute({
  method: 'get',
  path: '/app/{app_id}/attempt/endpoint/{endpoint_id}',
  tags: TAGS,
  summary: "An endpoint's attempts, newest first",
  request: {
    params: z.object({ app_id, endpoint_id }),
    query: z.object({ ...pagingQuery, ...attemptFilters, with_msg: BooleanQuery }),
  },
  responses: { 200: { description: 'a page of attempts', ...json(AttemptList) }, ...svixErrors(401, 404, 422) },
});

const getRoute = createRoute({
  method: 'get',
  path: '/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}',
  tags: TAGS,
  summary: 'Get an attempt',
  request: { params: z.object({ app_id, msg_id, attempt_id }), query: z.object({ expanded_statuses: BooleanQuery }) },
  responses: { 200: { description: 'the attempt', ...json(MessageAttemptOutSchema) }, ...svixErrors(401, 404, 422) },
});

const expungeRoute = createRoute({
  method: 'delete',
  path: '/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}/content',
  tags: TAGS,
  summary: "Delete an attempt's response body",
  description: 'Later reads show `response` as `EXPUNGED`.',
  request: { params: z.object({ app_id, msg_id, attempt_id }) },
  responses: { 204: { description: 'expunged' }, ...svixErrors(401, 404) },
});

const resendRoute = createRoute({
  method: 'post',
  path: '/app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/resend',
  tags: TAGS,
  summary: 'Send a message to an endpoint once more, now',
  description:
    "One manual attempt (`triggerType` 1): the same `svix-id`, signed afresh with the endpoint's secrets; it does not restart the retry schedule. Also reaches an endpoint that did not receive the message when it was created. A message whose content was expunged cannot be resent (400 `missing_payload`).",
  request: { params: z.object({ app_id, msg_id, endpoint_id }) },
  responses: {
    202: { description: 'the attempt is queued', ...json(z.object({}).openapi('EmptyResponse')) },
    ...svixErrors(400, 401, 404),
  },
});

const attemptedMessagesRoute = createRoute({
  method: 'get',
  path: '/app/{app_id}/endpoint/{endpoint_id}/msg',
  tags: TAGS,
  summary: 'The messages sent to an endpoint, newest first, with their delivery state there',
  description: '`status`: 0 success, 1 pending (no attempt yet), 2 fail, 3 sending (a retry is planned).',
  request: {
    params: z.object({ app_id, endpoint_id }),
    query: z.object({
      ...pagingQuery,
      channel: ChannelQuery,
      tag: z.string().max(128).optional(),
      status: StatusQuery,
      before: DateQuery,
      after: DateQuery,
      with_content: BooleanQuery,
      expanded_statuses: BooleanQuery,
      event_types: EventTypesQuery,
    }),
  },
  responses: {
    200: { description: 'a page of messages', ...json(listOf(EndpointMessageOutSchema, 'ListResponseEndpointMessageOut')) },
    ...svixErrors(401, 404, 422),
  },
});

const attemptedDestinationsRoute = createRoute({
  method: 'get',
  path: '/app/{app_id}/msg/{msg_id}/endpoint',
  tags: TAGS,
  summary: 'The endpoints a message was sent to, with its delivery state at each',
  request: { params: z.object({ app_id, msg_id }), query: z.object(pagingQuery) },
  responses: {
    200: { description: 'a page of endpoints', ...json(listOf(MessageEndpointOutSchema, 'ListResponseMessageEndpointOut')) },
    ...svixErrors(401, 404, 422),
  },
});

const EMPTY = { data: [], iterator: null, prevIterator: null, done: true };

export function attemptRoutes(deps: ServiceDeps): OpenAPIHono<ApiEnv> {
  const app = new OpenAPIHono<ApiEnv>({ defaultHook: svixValidationHook });

  app.openapi(listByMsgRoute, async (c) => {
    const { app_id, msg_id } = c.req.valid('param');
    const query = c.req.valid('query');
    const page = pageOf(query, false, { forwardFromStart: query.after !== undefined && query.before === undefined });
    const list = await listAttemptsByMessage(
      deps,
      c.get('principal').tenantId,
      app_id,
      msg_id,
      page,
      { ...filterOf(query), endpointKey: query.endpoint_id },
      query.with_content !== false,
    );
    return c.json(query.tag === undefined ? list : EMPTY, 200);
  });

  app.openapi(listByEndpointRoute, async (c) => {
    const { app_id, endpoint_id } = c.req.valid('param');
    const query = c.req.valid('query');
    const page = pageOf(query, false, { forwardFromStart: query.after !== undefined && query.before === undefined });
    const list = await listAttemptsByEndpoint(deps, c.get('principal').tenantId, app_id, endpoint_id, page, filterOf(query), {
      withContent: query.with_content !== false,
      withMsg: query.with_msg === true,
    });
    return c.json(query.tag === undefined ? list : EMPTY, 200);
  });

  app.openapi(getRoute, async (c) => {
    const { app_id, msg_id, attempt_id } = c.req.valid('param');
    return c.json(await getAppAttempt(deps, c.get('principal').tenantId, app_id, msg_id, attempt_id), 200);
  });

  app.openapi(expungeRoute, async (c) => {
    const { app_id, msg_id, attempt_id } = c.req.valid('param');
    await expungeAppAttempt(deps, c.get('principal').tenantId, app_id, msg_id, attempt_id);
    return c.body(null, 204);
  });

  app.openapi(resendRoute, async (c) => {
    const { app_id, msg_id, endpoint_id } = c.req.valid('param');
    await resendAppMessage(deps, c.get('principal').tenantId, app_id, msg_id, endpoint_id);
    return c.json({}, 202);
  });

  app.openapi(attemptedMessagesRoute, async (c) => {
    const { app_id, endpoint_id } = c.req.valid('param');
    const query = c.req.valid('query');
    const page = pageOf(query, false, { forwardFromStart: query.after !== undefined && query.before === undefined });
    const list = await listEndpointMessages(
      deps,
      c.get('principal').tenantId,
      app_id,
      endpoint_id,
      page,
      { status: query.status, channel: query.channel, eventTypes: query.event_types, before: query.before, after: query.after },
      query.with_content !== false,
    );
    return c.json(query.tag === undefined ? list : EMPTY, 200);
  });

  app.openapi(attemptedDestinationsRoute, async (c) => {
    const { app_id, msg_id } = c.req.valid('param');
    return c.json(await listMessageEndpoints(deps, c.get('principal').tenantId, app_id, msg_id, pageOf(c.req.valid('query'), true)), 200);
  });

  return app;
}
