/**
 * The console (`/ui`, for operators) and the portal (`/portal`, for a tenant's customers), served
 * by the API process: server-rendered HTML, htmx for live parts, uPlot for the chart, every file from
 * Orbit itself, one CSP on every response. Pages call the same services as the admin API.
 */
import { Hono, type Context } from 'hono';
import { OrbitError } from '../domain/errors.ts';
import { IMMUTABLE_CACHE } from '../lib/vendored.ts';
import { findAsset } from './assets.ts';
import { consoleRoutes } from './console-routes.ts';
import { page } from './layout.ts';
import { errorBody } from './login-pages.ts';
import { portalRoutes } from './portal-routes.ts';
import { formValues, isHtmx, securityHeaders, type UiDeps, type UiEnv } from './security.ts';

/** An error page of the area the path belongs to, with the status it stands for. */
function errorPage(c: Context, status: 400 | 404 | 500, text: string): Response {
  const area = c.req.path.startsWith('/portal') ? 'portal' : 'console';
  const home = area === 'portal' ? '/portal/messages' : '/ui';
  if (isHtmx(c))
    return c.html(`<p class="flash bad" role="alert">${status === 404 ? 'Not found.' : 'That did not work; reload the page.'}</p>`, status);
  return c.html(
    page({ title: status === 404 ? 'Not found' : status === 400 ? 'Not valid' : 'Error', area, body: errorBody(status, text, home) }),
    status,
  );
}

/**
 * Whether a request carries a NUL character in its URL or form fields: PostgreSQL's text cannot
 * hold one, so a filter, id or form value with it would fail in the database rather than as input.
 */
async function holdsNul(c: Context): Promise<boolean> {
  if (/%00/i.test(c.req.url)) return true;
  if (c.req.method !== 'POST') return false;
  return Object.values(await formValues(c))
    .flat()
    .some((value) => value.includes('\u0000'));
}

export function uiRoutes(deps: UiDeps): Hono<UiEnv> {
  const app = new Hono<UiEnv>();
  for (const path of ['/ui', '/ui/*', '/portal', '/portal/*']) {
    app.use(path, async (c, next) => {
      const started = performance.now();
      await next();
      c.header('server-timing', `app;dur=${(performance.now() - started).toFixed(1)}`);
    });
    app.use(path, securityHeaders);
    app.use(path, async (c, next) =>
      (await holdsNul(c)) ? errorPage(c, 400, 'That request is not valid: it holds a NUL character.') : next(),
    );
  }

  // Someone who opens Orbit's address in a browser wants the console.
  app.get('/', (c) => c.redirect('/ui', 303));

  app.get('/ui/assets/:file', (c) => {
    const asset = findAsset(c.req.param('file'));
    if (!asset) return c.text('not found', 404);
    c.header('content-type', asset.contentType);
    c.header('cache-control', IMMUTABLE_CACHE);
    return c.body(new Uint8Array(asset.body));
  });

  app.route('/', consoleRoutes(deps));
  app.route('/', portalRoutes(deps));

  app.all('/ui/*', (c) => errorPage(c, 404, 'There is no such page in the console.'));
  app.all('/portal/*', (c) => errorPage(c, 404, 'There is no such page in this portal.'));

  app.onError((error, c) => {
    if (error instanceof OrbitError && error.code === 'not_found')
      return errorPage(c, 404, `${error.message[0]?.toUpperCase()}${error.message.slice(1)}.`);
    if (error instanceof OrbitError && error.code === 'validation_failed') {
      const detail = error.details?.map((d) => `${d.path} ${d.message}`).join('; ');
      return errorPage(c, 400, `That request is not valid: ${detail ?? error.message}.`);
    }
    deps.logger.error({ requestId: c.get('requestId'), err: error }, 'console error');
    return errorPage(
      c,
      500,
      `Orbit could not show this page (request ${c.get('requestId') ?? 'unknown'}). Try again; if it keeps failing, the logs say why.`,
    );
  });
  return app;
}
