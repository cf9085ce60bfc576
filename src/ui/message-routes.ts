/**
 * The routes of the delivery log's message pages (log-pages.ts), mounted twice: under `/ui` in the
 * console and `/portal` in a portal. The caller owns the session, CSRF and page frame; the request's
 * log context carries what differs (the portal's scope, read-only), and every query and retry goes
 * through that scope, so another tenant's or application's message answers 404.
 */
import { Hono, type Context } from 'hono';
import { retryMessage } from '../services/delivery.ts';
import type { RenderPage } from './layout.ts';
import {
  deliveryFragment,
  loadMessage,
  loadMessageAfter,
  messageListBody,
  messagePageBody,
  namesOf,
  parseListQuery,
  parseRetryMark,
  retryTarget,
  scopeFilter,
  searchTarget,
  type LogContext,
} from './log-pages.ts';
import { errorBody } from './login-pages.ts';
import { formOf, isHtmx, setFlash, takeFlash, type UiEnv } from './security.ts';

const ID = /^[A-Za-z0-9_-]{1,64}$/;

export interface MessageRouteOptions {
  /** Where the pages live: `/ui` or `/portal` (the context's `base`). */
  base: LogContext['base'];
  context(c: Context<UiEnv>): LogContext;
  render: RenderPage;
}

export function messageRoutes(options: MessageRouteOptions): Hono<UiEnv> {
  const { base, context, render } = options;
  const app = new Hono<UiEnv>();

  app.get(`${base}/messages`, async (c) => {
    const ctx = context(c);
    const q = c.req.query('q');
    let searchError: string | undefined;
    if (q !== undefined) {
      const target = await searchTarget(ctx, q);
      if ('href' in target) return c.redirect(target.href, 303);
      searchError = target.error;
    }
    const parsed = parseListQuery(ctx, c.req.query());
    const { body, results } = await messageListBody(ctx, parsed, searchError);
    if (isHtmx(c)) return c.html(results);
    return render(c, 'Messages', body, { status: searchError || Object.keys(parsed.errors).length > 0 ? 400 : 200 });
  });

  app.get(`${base}/messages/:messageId`, async (c) => {
    const ctx = context(c);
    const id = c.req.param('messageId');
    if (!ID.test(id)) return render(c, 'Not found', errorBody(404, 'There is no such message.', `${base}/messages`), { status: 404 });
    if (isHtmx(c) && c.req.query('part') === 'delivery')
      return c.html(await deliveryFragment(ctx, id, parseRetryMark(c.req.query('after'), c.req.query('awaiting'))));
    const flash = takeFlash(c);
    const message = await loadMessageAfter(ctx, id, flash?.retry);
    const names = await namesOf(ctx, [message]);
    return render(c, `Message ${id}`, messagePageBody(ctx, message, flash?.retry, names), { flash });
  });

  /** Retry: every delivery of the message, or the one at the form's `endpointId`, within the scope. */
  app.post(`${base}/messages/:messageId/retry`, async (c) => {
    const ctx = context(c);
    if (ctx.readOnly) return render(c, 'Not allowed', errorBody(403, 'This portal is read-only.', `${base}/messages`), { status: 403 });
    const message = await loadMessage(ctx, c.req.param('messageId'));
    const accepted = await retryMessage(ctx.deps, message.id, { ...scopeFilter(ctx), endpointId: retryTarget(await formOf(c)) });
    setFlash(c, {
      tone: 'ok',
      text:
        accepted.endpointIds.length === 1
          ? 'Retry queued: the new attempt appears below as soon as it finishes.'
          : `Retry queued at ${accepted.endpointIds.length} endpoints: the new attempts appear below as soon as they finish.`,
      retry: { after: message.attempts.length, awaiting: accepted.endpointIds.length },
    });
    return c.redirect(`${base}/messages/${message.id}`, 303);
  });

  return app;
}
