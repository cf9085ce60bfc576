/** The console's routes (`/ui`): sign-in, overview, the delivery log, recover, tenants and applications. */
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { OrbitError } from '../domain/errors.ts';
import { randomToken } from '../lib/ids.ts';
import { getApiKey, listApiKeys } from '../services/api-keys.ts';
import { applicationById, listApplicationSummaries } from '../services/app-directory.ts';
import { listEndpoints } from '../services/endpoints.ts';
import { countFailedMessages } from '../services/overview.ts';
import { createPortalAccess } from '../services/portal.ts';
import { recover } from '../services/recovery.ts';
import { rotateSigningSecret } from '../services/signing-rotation.ts';
import { tenantNames } from '../services/tenant-names.ts';
import { createTenant, getTenant, getTenantSigningSecret, issueApiKey, listTenants, revokeApiKey } from '../services/tenants.ts';
import { csrfMatches, endSession, readSession, signIn } from '../services/ui-sessions.ts';
import { parseDuration } from '../lib/durations.ts';
import {
  GRACE_CHOICES,
  keyIssuedBody,
  portalLinkBody,
  recoverBody,
  revokeBody,
  rotateBody,
  rotatedBody,
  secretsBody,
  tenantBody,
  tenantCreatedBody,
  tenantsBody,
  type RecoverForm,
} from './admin-pages.ts';
import { applicationBody, applicationsBody, appPortalLinkBody } from './app-pages.ts';
import type { EndpointContext } from './endpoint-pages.ts';
import { endpointRoutes } from './endpoint-routes.ts';
import { duration, query, type Html } from './html.ts';
import { CONSOLE_NAV, page, type Flash } from './layout.ts';
import { parseMoment, type LogContext } from './log-pages.ts';
import { errorBody, loginBody } from './login-pages.ts';
import { messageRoutes } from './message-routes.ts';
import { overviewBody, parseRange } from './overview-page.ts';
import {
  clearCookie,
  clientOf,
  CONSOLE_COOKIE,
  cookiesWork,
  formOf,
  isHtmx,
  LOGIN_COOKIE,
  readCookie,
  safeNext,
  sameOrigin,
  setFlash,
  setSessionCookie,
  takeFlash,
  type UiEnv,
  type UiDeps,
} from './security.ts';

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const LOGIN_FORM_SECONDS = 3600;

export function consoleRoutes(deps: UiDeps): Hono<UiEnv> {
  const { services } = deps;
  const app = new Hono<UiEnv>();

  function render(
    c: Context<UiEnv>,
    title: string,
    current: string,
    body: Html,
    options: { status?: 200 | 400 | 403 | 404; flash?: Flash | null; assets?: Parameters<typeof page>[0]['assets'] } = {},
  ) {
    const session = c.get('consoleSession');
    const flash = options.flash === undefined ? takeFlash(c) : options.flash;
    return c.html(
      page({
        title,
        area: 'console',
        current,
        session: { csrf: session.csrfToken, nav: CONSOLE_NAV, who: `Signed in with ${session.keyId}` },
        flash,
        assets: options.assets,
        body,
      }),
      options.status ?? 200,
    );
  }

  function refused(c: Context<UiEnv>): Response {
    return c.html(
      page({
        title: 'Not allowed',
        area: 'console',
        body: errorBody(403, 'This form expired or did not come from this console. Go back, reload the page and send it again.', '/ui'),
      }),
      403,
    );
  }

  function logContext(c: Context<UiEnv>): LogContext {
    return {
      deps: services,
      area: 'console',
      base: '/ui',
      scope: undefined,
      csrf: c.get('consoleSession').csrfToken,
      readOnly: false,
      now: services.clock.now(),
    };
  }

  // ---- sign-in ------------------------------------------------------------------------------

  function loginPage(c: Context<UiEnv>, next: string, error?: string, status: 200 | 401 | 403 | 429 = 200): Response {
    const csrf = randomToken(24);
    setLoginCookie(c, csrf);
    return c.html(
      page({ title: 'Sign in', area: 'console', flash: takeFlash(c), body: loginBody({ csrf, next, error, insecure: !cookiesWork(c) }) }),
      status,
    );
  }

  function setLoginCookie(c: Context<UiEnv>, csrf: string): void {
    // A double-submit token for the sign-in form, which has no session yet.
    setSessionCookie(c, LOGIN_COOKIE, csrf, '/ui/login', new Date(Date.now() + LOGIN_FORM_SECONDS * 1000), new Date());
  }

  app.get('/ui/login', async (c) => {
    const next = safeNext(c.req.query('next'), '/ui');
    const token = readCookie(c, CONSOLE_COOKIE);
    if (token && (await readSession(services, token, 'console'))) return c.redirect(next, 303);
    return loginPage(c, next);
  });

  app.post('/ui/login', async (c) => {
    const form = await formOf(c);
    const next = safeNext(form['next'], '/ui');
    const expected = readCookie(c, LOGIN_COOKIE);
    if (!sameOrigin(c, deps.publicUrl) || expected === undefined || !csrfMatches({ csrfToken: expected }, form['_csrf'])) {
      return loginPage(c, next, 'The sign-in form expired. Sign in again.', 403);
    }
    const result = await signIn(services, { apiKey: form['apiKey'] ?? '', ...clientOf(c) });
    if (!result.ok && result.reason === 'throttled') {
      c.header('retry-after', String(Math.ceil(result.retryAfterMs / 1000)));
      return loginPage(
        c,
        next,
        `Too many failed sign-ins from this address. Try again in ${duration(Math.max(60_000, result.retryAfterMs))}.`,
        429,
      );
    }
    if (!result.ok) {
      return loginPage(c, next, 'Sign-in failed: that API key was not accepted. The console takes an active admin API key.', 401);
    }
    clearCookie(c, LOGIN_COOKIE, '/ui/login');
    setSessionCookie(c, CONSOLE_COOKIE, result.token, '/ui', result.session.expiresAt, services.clock.now());
    return c.redirect(next, 303);
  });

  /** For the sign-in page's script: whether this browser has a console session. */
  app.get('/ui/session', async (c) => {
    const token = readCookie(c, CONSOLE_COOKIE);
    const session = token ? await readSession(services, token, 'console') : null;
    return c.json({ signedIn: session !== null });
  });

  // ---- everything else needs a session ------------------------------------------------------

  const requireSession: MiddlewareHandler<UiEnv> = async (c, next) => {
    const token = readCookie(c, CONSOLE_COOKIE);
    const session = token ? await readSession(services, token, 'console') : null;
    if (!session) {
      const here = `${c.req.path}${new URL(c.req.url).search}`;
      const login = `/ui/login${query({ next: c.req.method === 'GET' && !isHtmx(c) ? here : undefined })}`;
      if (isHtmx(c)) {
        c.header('hx-redirect', login);
        return c.body(null, 200);
      }
      return c.redirect(login, 303);
    }
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      const form = await formOf(c);
      if (!sameOrigin(c, deps.publicUrl) || !csrfMatches(session, form['_csrf'])) return refused(c);
    }
    c.set('consoleSession', session);
    c.set('consoleToken', token as string);
    await next();
  };
  for (const path of [
    '/ui',
    '/ui/messages',
    '/ui/messages/*',
    '/ui/recover',
    '/ui/tenants',
    '/ui/tenants/*',
    '/ui/keys/*',
    '/ui/applications',
    '/ui/apps/*',
    '/ui/logout',
  ]) {
    app.use(path, requireSession);
  }

  app.post('/ui/logout', async (c) => {
    await endSession(services, c.get('consoleToken'));
    clearCookie(c, CONSOLE_COOKIE, '/ui');
    setFlash(c, { tone: 'ok', text: 'Signed out.' });
    return c.redirect('/ui/login', 303);
  });

  // ---- overview -----------------------------------------------------------------------------

  app.get('/ui', async (c) => {
    const range = parseRange(c.req.query('range'));
    return render(c, 'Overview', 'overview', await overviewBody(services, range), { assets: ['uplot.css', 'uplot.js'] });
  });

  // ---- delivery log -------------------------------------------------------------------------

  app.route(
    '/',
    messageRoutes({ base: '/ui', context: logContext, render: (c, title, body, options) => render(c, title, 'messages', body, options) }),
  );

  // ---- recover ------------------------------------------------------------------------------

  async function recoverForm(values: Record<string, string | undefined>, now: Date): Promise<RecoverForm> {
    const form: RecoverForm = { values: { since: values['since'], until: values['until'], tenantId: values['tenantId'] }, errors: {} };
    if (values['since'] === undefined) return form;
    const since = parseMoment(values['since'], now);
    const until = values['until'] ? parseMoment(values['until'], now) : now;
    const tenantId = values['tenantId']?.trim() || undefined;
    if (since === null) form.errors['since'] = 'not a time or a duration';
    if (until === null) form.errors['until'] = 'not a time or a duration';
    if (since && until && since >= until) form.errors['until'] = 'must be after "Created since"';
    if (until && until > now) form.errors['until'] = 'must not be in the future';
    if (tenantId !== undefined && !ID.test(tenantId)) form.errors['tenantId'] = 'not a valid id';
    if (tenantId !== undefined && ID.test(tenantId)) {
      try {
        await getTenant(services, tenantId);
      } catch {
        form.errors['tenantId'] = 'no such tenant';
      }
    }
    if (Object.keys(form.errors).length === 0 && since && until) {
      form.preview = { since, until, tenantId, failed: await countFailedMessages(services, { since, until, tenantId }) };
    }
    return form;
  }

  app.get('/ui/recover', async (c) => {
    const form = await recoverForm(c.req.query(), services.clock.now());
    const body = recoverBody(form, c.get('consoleSession').csrfToken, services.clock.now());
    return render(c, 'Recover', 'recover', body, { status: Object.keys(form.errors).length > 0 ? 400 : 200 });
  });

  app.post('/ui/recover', async (c) => {
    const fields = await formOf(c);
    const now = services.clock.now();
    const form = await recoverForm(fields, now);
    if (!form.preview) {
      return render(c, 'Recover', 'recover', recoverBody(form, c.get('consoleSession').csrfToken, now), { status: 400 });
    }
    const accepted = await recover(services, { since: form.preview.since, until: form.preview.until, tenantId: form.preview.tenantId });
    setFlash(c, {
      tone: 'ok',
      text:
        accepted.recovered === 0
          ? 'No failed message was left in that window: nothing to recover.'
          : `Recover started: ${accepted.recovered} failed ${accepted.recovered === 1 ? 'message is' : 'messages are'} being queued for a fresh attempt.`,
    });
    return c.redirect(
      `/ui/messages${query({ since: accepted.since, until: accepted.until, tenantId: accepted.tenantId ?? undefined })}`,
      303,
    );
  });

  // ---- tenants ------------------------------------------------------------------------------

  app.get('/ui/tenants', async (c) => {
    const iterator = c.req.query('iterator');
    const valid = iterator !== undefined && /^ten_[A-Za-z0-9]{1,60}$/.test(iterator) ? iterator : undefined;
    const tenants = await listTenants(services, { limit: 50, iterator: valid });
    return render(
      c,
      'Tenants',
      'tenants',
      tenantsBody(tenants, c.get('consoleSession').csrfToken, services.clock.now(), { iterator: valid }),
    );
  });

  app.post('/ui/tenants', async (c) => {
    const name = (await formOf(c))['name']?.trim() ?? '';
    if (name === '' || name.length > 200 || name.includes('\u0000') || !name.isWellFormed()) {
      const tenants = await listTenants(services, { limit: 50, iterator: undefined });
      const body = tenantsBody(tenants, c.get('consoleSession').csrfToken, services.clock.now(), {
        name,
        nameError: 'a name of 1 to 200 characters',
      });
      return render(c, 'Tenants', 'tenants', body, { status: 400 });
    }
    const created = await createTenant(services, name);
    return render(c, 'Tenant created', 'tenants', tenantCreatedBody(created));
  });

  async function tenantOf(c: Context<UiEnv>) {
    const id = c.req.param('tenantId') ?? '';
    if (!ID.test(id)) return getTenant(services, 'ten_none');
    return getTenant(services, id);
  }

  /** The tenant's valid signing secrets; none (rather than an error page) for a tenant without one. */
  async function validSecrets(tenantId: string) {
    try {
      return (await getTenantSigningSecret(services, tenantId)).secrets;
    } catch (error) {
      if (error instanceof OrbitError && error.code === 'not_found') return [];
      throw error;
    }
  }

  app.get('/ui/tenants/:tenantId', async (c) => {
    const tenant = await tenantOf(c);
    const [keys, secrets] = await Promise.all([listApiKeys(services, tenant.id), validSecrets(tenant.id)]);
    const session = c.get('consoleSession');
    const body = tenantBody({
      tenant,
      keys,
      secrets,
      csrf: session.csrfToken,
      now: services.clock.now(),
      signedInKeyId: session.keyId,
    });
    return render(c, `Tenant ${tenant.name}`, 'tenants', body);
  });

  app.get('/ui/tenants/:tenantId/secrets', async (c) => {
    const tenant = await tenantOf(c);
    return render(c, `Secrets of ${tenant.name}`, 'tenants', secretsBody(tenant, await validSecrets(tenant.id)));
  });

  app.get('/ui/tenants/:tenantId/rotate', async (c) => {
    const tenant = await tenantOf(c);
    return render(c, `Rotate the secret of ${tenant.name}`, 'tenants', rotateBody(tenant, c.get('consoleSession').csrfToken));
  });

  app.post('/ui/tenants/:tenantId/rotate', async (c) => {
    const tenant = await tenantOf(c);
    const fields = await formOf(c);
    const grace = GRACE_CHOICES.find(([value]) => value === (fields['gracePeriod'] ?? '24h'));
    if (!grace)
      return render(c, `Rotate the secret of ${tenant.name}`, 'tenants', rotateBody(tenant, c.get('consoleSession').csrfToken), {
        status: 400,
      });
    const rotated = await rotateSigningSecret(services, { tenantId: tenant.id, endpointId: null }, { gracePeriod: grace[2] });
    return render(c, 'Secret rotated', 'tenants', rotatedBody(tenant, rotated.signingSecret, rotated.previousSecretExpiresAt), {
      flash: { tone: 'ok', text: `The signing secret of ${tenant.name} was rotated.` },
    });
  });

  app.post('/ui/tenants/:tenantId/keys', async (c) => {
    const tenant = await tenantOf(c);
    const scope = (await formOf(c))['scope'] === 'admin' ? 'admin' : 'tenant';
    const issued = await issueApiKey(services, tenant.id, scope);
    return render(c, 'API key issued', 'tenants', keyIssuedBody(tenant, issued));
  });

  app.post('/ui/tenants/:tenantId/portal-link', async (c) => {
    const tenant = await tenantOf(c);
    const fields = await formOf(c);
    const sessionMs = parseDuration(fields['expiresIn'] ?? '8h') ?? undefined;
    const publicUrl = deps.publicUrl ?? new URL(c.req.url).origin;
    const access = await createPortalAccess(services, publicUrl, { tenantId: tenant.id, readOnly: fields['readOnly'] === '1', sessionMs });
    return render(c, 'Portal link', 'tenants', portalLinkBody(tenant, access));
  });

  // ---- applications -------------------------------------------------------------------------

  app.get('/ui/applications', async (c) => {
    const tenantText = c.req.query('tenantId')?.trim() || undefined;
    const iteratorText = c.req.query('iterator');
    const tenantError = tenantText !== undefined && !ID.test(tenantText) ? 'not a valid id' : undefined;
    const tenantId = tenantError === undefined ? tenantText : undefined;
    const iterator = iteratorText !== undefined && /^app_[A-Za-z0-9]{1,60}$/.test(iteratorText) ? iteratorText : undefined;
    const listed =
      tenantError === undefined
        ? await listApplicationSummaries(services, { tenantId, iterator, limit: 50 })
        : { data: [], iterator: null };
    const names = await tenantNames(
      services,
      listed.data.map((app) => app.tenantId),
    );
    const body = applicationsBody(listed, names, services.clock.now(), { tenantId: tenantText, tenantError, iterator });
    return render(c, 'Applications', 'applications', body, { status: tenantError ? 400 : 200 });
  });

  async function applicationOf(c: Context<UiEnv>) {
    const id = c.req.param('appId') ?? '';
    return applicationById(services, ID.test(id) ? id : 'app_none');
  }

  function endpointContext(c: Context<UiEnv>, appId: string, tenantId: string): EndpointContext {
    return {
      deps: services,
      area: 'console',
      tenantId,
      appId,
      base: `/ui/apps/${appId}/endpoints`,
      home: `/ui/apps/${appId}`,
      homeLabel: 'Application',
      messages: '/ui/messages',
      csrf: c.get('consoleSession').csrfToken,
      readOnly: false,
      now: services.clock.now(),
    };
  }

  app.get('/ui/apps/:appId', async (c) => {
    const application = await applicationOf(c);
    const ctx = endpointContext(c, application.id, application.tenantId);
    const [endpoints, names] = await Promise.all([
      listEndpoints(services, application.tenantId, application.id, { limit: 250, iterator: null, previous: false, ascending: true }),
      tenantNames(services, [application.tenantId]),
    ]);
    const body = applicationBody(ctx, application, names.get(application.tenantId), endpoints.data);
    return render(c, `Application ${application.name}`, 'applications', body);
  });

  app.get('/ui/apps/:appId/endpoints', async (c) => c.redirect(`/ui/apps/${(await applicationOf(c)).id}`, 303));

  app.post('/ui/apps/:appId/portal-link', async (c) => {
    const application = await applicationOf(c);
    const fields = await formOf(c);
    const sessionMs = parseDuration(fields['expiresIn'] ?? '8h') ?? undefined;
    const publicUrl = deps.publicUrl ?? new URL(c.req.url).origin;
    const access = await createPortalAccess(services, publicUrl, {
      tenantId: application.tenantId,
      appId: application.id,
      readOnly: fields['readOnly'] === '1',
      sessionMs,
    });
    return render(c, 'Portal link', 'applications', appPortalLinkBody(application, access));
  });

  app.route(
    '/',
    endpointRoutes({
      prefix: '/ui/apps/:appId/endpoints',
      async context(c) {
        const application = await applicationOf(c);
        return endpointContext(c, application.id, application.tenantId);
      },
      render: (c, title, body, options) => render(c, title, 'applications', body, options),
    }),
  );

  async function keyOf(c: Context<UiEnv>) {
    const id = c.req.param('keyId') ?? '';
    const key = await getApiKey(services, ID.test(id) ? id : 'key_none');
    return { key, tenant: await getTenant(services, key.tenantId) };
  }

  app.get('/ui/keys/:keyId/revoke', async (c) => {
    const { key, tenant } = await keyOf(c);
    const session = c.get('consoleSession');
    return render(c, `Revoke key ${key.id}`, 'tenants', revokeBody(key, tenant, session.csrfToken, key.id === session.keyId));
  });

  app.post('/ui/keys/:keyId/revoke', async (c) => {
    const { key, tenant } = await keyOf(c);
    await revokeApiKey(services, key.id);
    setFlash(c, { tone: 'ok', text: `Key ${key.id} was revoked.` });
    return c.redirect(`/ui/tenants/${tenant.id}`, 303);
  });

  return app;
}
