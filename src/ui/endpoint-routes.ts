/**
 * The routes of an application's endpoint pages (endpoint-pages.ts), mounted twice: under
 * `/ui/apps/:appId/endpoints` in the console and `/portal/endpoints` in an application's portal. The
 * caller resolves the application of the request (from the path for an operator, from the session
 * in the portal) and owns the session, CSRF and page frame; every action here is refused in a
 * read-only portal, and every endpoint is looked up within the application (404 otherwise).
 */
import { Hono, type Context } from 'hono';
import { OrbitError } from '../domain/errors.ts';
import { LIMITED_STRING, PATH_KEY } from '../domain/svix.ts';
import { createEndpoint, endpointStats, getEndpoint, patchEndpoint, sendExample, type EndpointView } from '../services/endpoints.ts';
import { listEventTypes } from '../services/event-types.ts';
import { rotateSigningSecret } from '../services/signing-rotation.ts';
import { validSigningSecrets } from '../services/signing-secrets.ts';
import { GRACE_CHOICES } from './admin-pages.ts';
import {
  endpointBody,
  endpointFormBody,
  endpointFormOf,
  endpointRotateBody,
  endpointRotatedBody,
  endpointSecretsBody,
  emptyEndpointForm,
  readEndpointForm,
  type EndpointContext,
  type EndpointForm,
} from './endpoint-pages.ts';
import type { RenderPage } from './layout.ts';
import { errorBody } from './login-pages.ts';
import { formOf, formValues, setFlash, type UiEnv } from './security.ts';

export interface EndpointRouteOptions {
  /** The route pattern the pages live under: `/portal/endpoints` or `/ui/apps/:appId/endpoints`. */
  prefix: string;
  /** The context of this request: its application (throws not found when there is none). */
  context(c: Context<UiEnv>): Promise<EndpointContext>;
  render: RenderPage;
}

/** The tenant's live event types, for the filter checkboxes and the example's choices. */
async function eventTypeNames(ctx: EndpointContext): Promise<string[]> {
  const page = await listEventTypes(
    ctx.deps,
    ctx.tenantId,
    { limit: 250, iterator: null, previous: false, ascending: true },
    { includeArchived: false, withContent: false },
  );
  return page.data.map((type) => type.name);
}

/** Puts a service's validation errors on the form's fields. */
function withServiceErrors(form: EndpointForm, error: OrbitError): EndpointForm {
  const errors: EndpointForm['errors'] = { ...form.errors };
  for (const detail of error.details ?? [{ path: 'body.url', message: error.message }]) {
    if (detail.path.endsWith('eventTypes')) errors.eventTypes = detail.message;
    else if (detail.path.endsWith('channels')) errors.channels = detail.message;
    else if (detail.path.endsWith('description')) errors.description = detail.message;
    else errors.url = detail.message;
  }
  return { values: form.values, errors };
}

export function endpointRoutes(options: EndpointRouteOptions): Hono<UiEnv> {
  const { prefix, render } = options;
  const app = new Hono<UiEnv>();

  const readOnly = (c: Context<UiEnv>, ctx: EndpointContext) =>
    render(c, 'Not allowed', errorBody(403, 'This portal is read-only.', ctx.home), { status: 403 });

  async function endpointOf(c: Context<UiEnv>, ctx: EndpointContext): Promise<EndpointView> {
    const key = c.req.param('endpointId') ?? '';
    return getEndpoint(ctx.deps, ctx.tenantId, ctx.appId, PATH_KEY.test(key) ? key : 'ep_none');
  }

  async function formPage(c: Context<UiEnv>, ctx: EndpointContext, form: EndpointForm, editing: EndpointView | null, status: 200 | 400) {
    const title = editing === null ? 'Add an endpoint' : `Edit endpoint ${editing.id}`;
    return render(c, title, endpointFormBody(ctx, form, await eventTypeNames(ctx), editing), { status });
  }

  app.get(`${prefix}/new`, async (c) => {
    const ctx = await options.context(c);
    if (ctx.readOnly) return readOnly(c, ctx);
    return formPage(c, ctx, emptyEndpointForm(), null, 200);
  });

  app.post(prefix, async (c) => {
    const ctx = await options.context(c);
    if (ctx.readOnly) return readOnly(c, ctx);
    const { form, input } = readEndpointForm(await formValues(c));
    if (input === null) return formPage(c, ctx, form, null, 400);
    try {
      const created = await createEndpoint(ctx.deps, ctx.tenantId, ctx.appId, input);
      setFlash(c, { tone: 'ok', text: `Endpoint added: ${created.url}. It receives the messages sent from now on.` });
      return c.redirect(`${ctx.base}/${created.id}`, 303);
    } catch (error) {
      if (error instanceof OrbitError && error.code === 'validation_failed')
        return formPage(c, ctx, withServiceErrors(form, error), null, 400);
      throw error;
    }
  });

  app.get(`${prefix}/:endpointId`, async (c) => {
    const ctx = await options.context(c);
    const endpoint = await endpointOf(c, ctx);
    const [stats, eventTypes] = await Promise.all([
      endpointStats(ctx.deps, ctx.tenantId, ctx.appId, endpoint.id, {}),
      ctx.readOnly ? Promise.resolve([]) : eventTypeNames(ctx),
    ]);
    return render(c, `Endpoint ${endpoint.url}`, endpointBody(ctx, endpoint, stats, eventTypes));
  });

  app.get(`${prefix}/:endpointId/edit`, async (c) => {
    const ctx = await options.context(c);
    if (ctx.readOnly) return readOnly(c, ctx);
    const endpoint = await endpointOf(c, ctx);
    return formPage(c, ctx, endpointFormOf(endpoint), endpoint, 200);
  });

  app.post(`${prefix}/:endpointId`, async (c) => {
    const ctx = await options.context(c);
    if (ctx.readOnly) return readOnly(c, ctx);
    const endpoint = await endpointOf(c, ctx);
    const { form, input } = readEndpointForm(await formValues(c));
    if (input === null) return formPage(c, ctx, form, endpoint, 400);
    try {
      await patchEndpoint(ctx.deps, ctx.tenantId, ctx.appId, endpoint.id, input);
    } catch (error) {
      if (error instanceof OrbitError && error.code === 'validation_failed')
        return formPage(c, ctx, withServiceErrors(form, error), endpoint, 400);
      throw error;
    }
    setFlash(c, { tone: 'ok', text: 'Endpoint saved.' });
    return c.redirect(`${ctx.base}/${endpoint.id}`, 303);
  });

  for (const [action, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    app.post(`${prefix}/:endpointId/${action}`, async (c) => {
      const ctx = await options.context(c);
      if (ctx.readOnly) return readOnly(c, ctx);
      const endpoint = await endpointOf(c, ctx);
      await patchEndpoint(ctx.deps, ctx.tenantId, ctx.appId, endpoint.id, { disabled });
      setFlash(c, {
        tone: 'ok',
        text: disabled
          ? 'Endpoint disabled: it receives no new message, and its pending deliveries end failed.'
          : 'Endpoint enabled: it receives the messages sent from now on.',
      });
      return c.redirect(`${ctx.base}/${endpoint.id}`, 303);
    });
  }

  app.get(`${prefix}/:endpointId/secret`, async (c) => {
    const ctx = await options.context(c);
    if (ctx.readOnly) return readOnly(c, ctx);
    const endpoint = await endpointOf(c, ctx);
    const secrets = await validSigningSecrets(ctx.deps.db, ctx.deps.cipher, { tenantId: ctx.tenantId, endpointId: endpoint.id }, ctx.now);
    return render(c, `Secret of ${endpoint.id}`, endpointSecretsBody(ctx, endpoint, secrets));
  });

  app.get(`${prefix}/:endpointId/rotate`, async (c) => {
    const ctx = await options.context(c);
    if (ctx.readOnly) return readOnly(c, ctx);
    const endpoint = await endpointOf(c, ctx);
    return render(c, `Rotate the secret of ${endpoint.id}`, endpointRotateBody(ctx, endpoint));
  });

  app.post(`${prefix}/:endpointId/rotate`, async (c) => {
    const ctx = await options.context(c);
    if (ctx.readOnly) return readOnly(c, ctx);
    const endpoint = await endpointOf(c, ctx);
    const chosen = (await formOf(c))['gracePeriod'] ?? '24h';
    const grace = GRACE_CHOICES.find(([value]) => value === chosen);
    if (!grace) return render(c, `Rotate the secret of ${endpoint.id}`, endpointRotateBody(ctx, endpoint), { status: 400 });
    const rotated = await rotateSigningSecret(ctx.deps, { tenantId: ctx.tenantId, endpointId: endpoint.id }, { gracePeriod: grace[2] });
    return render(c, 'Secret rotated', endpointRotatedBody(ctx, endpoint, rotated.signingSecret, rotated.previousSecretExpiresAt), {
      flash: { tone: 'ok', text: `The secret of ${endpoint.url} was rotated.` },
    });
  });

  app.post(`${prefix}/:endpointId/example`, async (c) => {
    const ctx = await options.context(c);
    if (ctx.readOnly) return readOnly(c, ctx);
    const endpoint = await endpointOf(c, ctx);
    const eventType = (await formOf(c))['eventType'] ?? '';
    if (eventType.length > 256 || !LIMITED_STRING.test(eventType)) {
      setFlash(c, { tone: 'bad', text: 'Choose the event type of the example.' });
      return c.redirect(`${ctx.base}/${endpoint.id}`, 303);
    }
    let sent: Awaited<ReturnType<typeof sendExample>>;
    try {
      sent = await sendExample(ctx.deps, ctx.tenantId, ctx.appId, endpoint.id, { eventType });
    } catch (error) {
      if (!(error instanceof OrbitError) || error.code !== 'not_found') throw error;
      setFlash(c, { tone: 'bad', text: `There is no event type ${eventType}.` });
      return c.redirect(`${ctx.base}/${endpoint.id}`, 303);
    }
    setFlash(c, { tone: 'ok', text: `Example ${eventType} sent to ${endpoint.url}: its attempt appears below as soon as it finishes.` });
    return c.redirect(`${ctx.messages}/${sent.id}`, 303);
  });

  return app;
}
