/**
 * The portal's routes (`/portal`): the link exchange, and the message list and page locked to the
 * session's scope. Every query goes through the scope (log-pages.ts `scopeFilter`), so an id of
 * another tenant answers 404 whatever URL carries it.
 *
 * Application scope (the Svix-compatible `app-portal-access`): every query is also locked to the
 * session's application, and the portal gains the application's endpoints (endpoint-routes.ts,
 * with the session's application); a tenant's portal has no endpoint page.
 */
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { notFound } from '../domain/errors.ts';
import { applicationNames } from '../services/app-directory.ts';
import { listEndpoints } from '../services/endpoints.ts';
import { tenantNames } from '../services/tenant-names.ts';
import { redeemPortalLink } from '../services/portal.ts';
import { csrfMatches, endSession, readSession, type PortalSession } from '../services/ui-sessions.ts';
import { endpointsBody, type EndpointContext } from './endpoint-pages.ts';
import { endpointRoutes } from './endpoint-routes.ts';
import { query, type Html } from './html.ts';
import { page, type Flash, type NavItem } from './layout.ts';
import type { LogContext } from './log-pages.ts';
import { errorBody, portalEntryBody } from './login-pages.ts';
import { messageRoutes } from './message-routes.ts';
import {
  clearCookie,
  formOf,
  isHtmx,
  PORTAL_COOKIE,
  readCookie,
  safeNext,
  sameOrigin,
  setFlash,
  setSessionCookie,
  takeFlash,
  type UiEnv,
  type UiDeps,
} from './security.ts';

/** The portal's navigation: a tenant's portal has its messages; an application's, its endpoints too. */
const TENANT_NAV: readonly NavItem[] = [{ key: 'messages', label: 'Messages', href: '/portal/messages' }];
const APP_NAV: readonly NavItem[] = [...TENANT_NAV, { key: 'endpoints', label: 'Endpoints', href: '/portal/endpoints' }];

/** Whose portal this is, as its header says: the application's name, else the tenant's. */
async function ownerName(services: UiDeps['services'], session: PortalSession): Promise<string> {
  const { tenantId, appId } = session.scope;
  if (appId !== undefined) return (await applicationNames(services, [appId])).get(appId) ?? 'Webhooks';
  return (await tenantNames(services, [tenantId])).get(tenantId) ?? 'Webhooks';
}

export function portalRoutes(deps: UiDeps): Hono<UiEnv> {
  const { services } = deps;
  const app = new Hono<UiEnv>();

  async function render(
    c: Context<UiEnv>,
    title: string,
    body: Html,
    options: { status?: 200 | 400 | 403 | 404; flash?: Flash | null; current?: 'messages' | 'endpoints' } = {},
  ) {
    const session = c.get('portalSession');
    const name = await ownerName(services, session);
    const flash = options.flash === undefined ? takeFlash(c) : options.flash;
    const nav = session.scope.appId === undefined ? TENANT_NAV : APP_NAV;
    return c.html(
      page({
        title,
        area: 'portal',
        current: options.current ?? 'messages',
        session: { csrf: session.csrfToken, nav, who: session.scope.readOnly ? `${name} · read-only` : name },
        flash,
        body,
      }),
      options.status ?? 200,
    );
  }

  function logContext(c: Context<UiEnv>): LogContext {
    const session = c.get('portalSession');
    return {
      deps: services,
      area: 'portal',
      base: '/portal',
      scope: session.scope,
      csrf: session.csrfToken,
      readOnly: session.scope.readOnly,
      now: services.clock.now(),
    };
  }

  app.get('/portal', (c) =>
    c.html(
      page({
        title: 'Portal',
        area: 'portal',
        flash: takeFlash(c),
        body: portalEntryBody(safeNext(c.req.query('next'), '/portal/messages')),
      }),
    ),
  );

  /** The link's token (from the URL fragment, posted by the portal page) → a session cookie. */
  app.post('/portal/session', async (c) => {
    if (!sameOrigin(c, deps.publicUrl)) return c.json({ message: 'This portal link must be opened in a browser.' }, 403);
    const body = (await c.req.json().catch(() => null)) as { token?: unknown } | null;
    const token = typeof body?.token === 'string' ? body.token : '';
    const redeemed = await redeemPortalLink(services, token);
    if (redeemed === null) {
      return c.json({ message: 'This portal link has expired or was already used. Ask for a new one.' }, 401);
    }
    setSessionCookie(c, PORTAL_COOKIE, redeemed.token, '/portal', redeemed.session.expiresAt, services.clock.now());
    return c.json({ next: '/portal/messages' });
  });

  app.get('/portal/session', async (c) => {
    const token = readCookie(c, PORTAL_COOKIE);
    const session = token ? await readSession(services, token, 'portal') : null;
    return c.json({ signedIn: session !== null });
  });

  const requireSession: MiddlewareHandler<UiEnv> = async (c, next) => {
    const token = readCookie(c, PORTAL_COOKIE);
    const session = token ? await readSession(services, token, 'portal') : null;
    if (!session) {
      if (isHtmx(c)) {
        c.header('hx-redirect', '/portal');
        return c.body(null, 200);
      }
      const here = `${c.req.path}${new URL(c.req.url).search}`;
      return c.redirect(`/portal${query({ next: c.req.method === 'GET' ? here : undefined })}`, 303);
    }
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      const form = await formOf(c);
      if (!sameOrigin(c, deps.publicUrl) || !csrfMatches(session, form['_csrf'])) {
        return c.html(
          page({
            title: 'Not allowed',
            area: 'portal',
            body: errorBody(403, 'This form expired. Go back, reload the page and send it again.', '/portal/messages'),
          }),
          403,
        );
      }
    }
    c.set('portalSession', session);
    c.set('portalToken', token as string);
    await next();
  };
  for (const path of ['/portal/messages', '/portal/messages/*', '/portal/endpoints', '/portal/endpoints/*', '/portal/logout']) {
    app.use(path, requireSession);
  }

  app.post('/portal/logout', async (c) => {
    await endSession(services, c.get('portalToken'));
    clearCookie(c, PORTAL_COOKIE, '/portal');
    setFlash(c, { tone: 'ok', text: 'Signed out of the portal.' });
    return c.redirect('/portal', 303);
  });

  app.route('/', messageRoutes({ base: '/portal', context: logContext, render }));

  // ---- an application's endpoints ------------------------------------------------------------

  /** The endpoint pages' context: the session's application; a tenant's portal has none (404). */
  function endpointContext(c: Context<UiEnv>): EndpointContext {
    const session = c.get('portalSession');
    const { tenantId, appId, readOnly } = session.scope;
    if (appId === undefined) throw notFound('page');
    return {
      deps: services,
      area: 'portal',
      tenantId,
      appId,
      base: '/portal/endpoints',
      home: '/portal/endpoints',
      homeLabel: 'Endpoints',
      messages: '/portal/messages',
      csrf: session.csrfToken,
      readOnly,
      now: services.clock.now(),
    };
  }

  app.get('/portal/endpoints', async (c) => {
    const ctx = endpointContext(c);
    const [endpoints, name] = await Promise.all([
      listEndpoints(services, ctx.tenantId, ctx.appId, { limit: 250, iterator: null, previous: false, ascending: true }),
      ownerName(services, c.get('portalSession')),
    ]);
    return render(c, 'Endpoints', endpointsBody(ctx, name, endpoints.data), { current: 'endpoints' });
  });

  app.route(
    '/',
    endpointRoutes({
      prefix: '/portal/endpoints',
      context: async (c) => endpointContext(c),
      render: (c, title, body, options) => render(c, title, body, { ...options, current: 'endpoints' }),
    }),
  );

  return app;
}
