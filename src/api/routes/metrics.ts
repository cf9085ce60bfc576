import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Logger } from '../../lib/logger.ts';
import type { Metrics } from '../../lib/metrics.ts';
import type { ApiEnv } from '../auth.ts';

const metricsRoute = createRoute({
  method: 'get',
  path: '/metrics',
  tags: ['Operations'],
  summary: 'Prometheus metrics',
  // No key: scrapers do not authenticate (the document's default is the bearer key).
  security: [],
  description:
    "The process's metrics in the Prometheus text format, names prefixed `orbit_`. No authentication: expose it to your scraper only. The database gauges (`orbit_messages_pending`, `orbit_oldest_pending_age_seconds`, `orbit_queue_depth`) come from API processes; workers export their own counters on their own port.",
  responses: {
    200: { description: 'metrics', content: { 'text/plain': { schema: z.string() } } },
    503: {
      description: 'the metrics could not be read (the database gauges failed): the scrape counts as down',
      content: { 'text/plain': { schema: z.string() } },
    },
  },
});

export function metricsRoutes(deps: { metrics?: Metrics | undefined; logger: Logger }): OpenAPIHono<ApiEnv> {
  const app = new OpenAPIHono<ApiEnv>();
  app.openapi(metricsRoute, async (c) => {
    const metrics = deps.metrics;
    if (metrics === undefined) return c.text('metrics are not enabled in this process\n', 503);
    try {
      const text = await metrics.registry.metrics();
      return c.text(text, 200, { 'content-type': metrics.contentType });
    } catch (error) {
      // A failed gauge read fails the whole scrape (up == 0) rather than export a stale "oldest
      // pending age" that would silence the alert built on it.
      deps.logger.warn({ err: error }, 'metrics scrape failed');
      return c.text('metrics are unavailable: the database could not be read\n', 503);
    }
  });
  return app;
}
