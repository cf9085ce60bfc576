/**
 * `GET /docs`: the API reference, rendered in the browser by `@scalar/api-reference` from
 * `/openapi.json`. Every file comes from Orbit itself, so the page works offline; the plain link to
 * the OpenAPI document works without any script at all.
 */
import { Hono } from 'hono';
import { IMMUTABLE_CACHE, packageAsset, type VendoredFile } from '../../lib/vendored.ts';
import type { ApiEnv } from '../auth.ts';

const scalarBundle = packageAsset('@scalar/api-reference', 'browser/standalone.js');

// Served as a file, not inline, so the page needs no 'unsafe-inline' script. Telemetry, the default
// web fonts and the AI agent would each reach out to scalar.com: all off.
const INIT_SCRIPT = `Scalar.createApiReference('#reference', {
  url: '/openapi.json',
  telemetry: false,
  withDefaultFonts: false,
  hideClientButton: true,
  agent: { disabled: true },
});
`;

function page(bundle: VendoredFile): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Orbit API reference</title>
</head>
<body>
<p><a href="/openapi.json">The OpenAPI document (JSON)</a></p>
<div id="reference"></div>
<script src="/docs/assets/scalar-${bundle.hash}.js"></script>
<script src="/docs/assets/init.js"></script>
</body>
</html>
`;
}

export function docsRoutes(): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  app.get('/docs', (c) => c.html(page(scalarBundle())));
  app.get('/docs/assets/init.js', (c) => {
    c.header('content-type', 'text/javascript; charset=utf-8');
    c.header('cache-control', 'no-cache');
    return c.body(INIT_SCRIPT);
  });
  app.get('/docs/assets/:file{scalar-[0-9a-f]{16}\\.js}', (c) => {
    const bundle = scalarBundle();
    if (c.req.param('file') !== `scalar-${bundle.hash}.js`) return c.notFound();
    c.header('content-type', bundle.contentType);
    c.header('cache-control', IMMUTABLE_CACHE);
    return c.body(new Uint8Array(bundle.body));
  });
  return app;
}
