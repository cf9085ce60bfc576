/** Console pages of the Svix-compatible applications: the list across tenants, an application, its portal link. */
import type { ApplicationsPage, ApplicationSummary } from '../services/app-directory.ts';
import type { EndpointView } from '../services/endpoints.ts';
import type { PortalAccess } from '../services/portal.ts';
import { portalLinkForm, portalLinkShown } from './admin-pages.ts';
import { endpointsTable, type EndpointContext } from './endpoint-pages.ts';
import { count, html, query, time, when, type Html } from './html.ts';
import { table, textField } from './layout.ts';

export function applicationsBody(
  page: ApplicationsPage,
  names: ReadonlyMap<string, string>,
  now: Date,
  state: { tenantId?: string | undefined; tenantError?: string | undefined; iterator?: string | undefined },
): Html {
  return html`<h1>Applications</h1>
    <p>
      The applications of the Svix-compatible API (<code>/api/v1/app</code>): each tenant's customers, with the endpoints their messages go
      to.
    </p>
    <form class="panel filters" method="get" action="/ui/applications" aria-label="Filter applications">
      ${textField({ name: 'tenantId', label: 'Tenant id', value: state.tenantId, hint: 'empty for every tenant', error: state.tenantError })}
      <div class="field submit">
        <div class="actions"><button type="submit">Show applications</button><a href="/ui/applications">Clear</a></div>
      </div>
    </form>
    ${table(
      'Applications, newest first',
      [
        { label: 'Name' },
        { label: 'uid' },
        { label: 'Tenant' },
        { label: 'Endpoints', numeric: true },
        { label: 'Created' },
        { label: 'Messages' },
      ],
      page.data.map(
        (app) =>
          html`<tr>
            <td><a href="/ui/apps/${app.id}">${app.name}</a><br /><span class="mono muted">${app.id}</span></td>
            <td class="mono">${app.uid ?? ''}</td>
            <td><a href="/ui/applications${query({ tenantId: app.tenantId })}">${names.get(app.tenantId) ?? app.tenantId}</a></td>
            <td class="num">${count(app.endpointCount)}</td>
            <td class="nowrap">${time(app.createdAt, now)}</td>
            <td>
              <a href="/ui/messages${query({ appId: app.id })}">Messages<span class="visually-hidden"> of ${app.name}</span></a>
            </td>
          </tr>`,
      ),
      { empty: state.tenantId ? 'This tenant has no application.' : 'No application yet: create one with the Svix-compatible API.' },
    )}
    <nav class="pager" aria-label="Pages">
      ${when(state.iterator, () => html`<a href="/ui/applications${query({ tenantId: state.tenantId })}">Newest applications</a>`)}
      ${when(page.iterator, () => html`<a href="/ui/applications${query({ tenantId: state.tenantId, iterator: page.iterator })}" rel="next">Older applications</a>`)}
    </nav>`;
}

export function applicationBody(
  ctx: EndpointContext,
  app: ApplicationSummary,
  tenantName: string | undefined,
  endpoints: readonly EndpointView[],
): Html {
  const metadata = Object.entries(app.metadata);
  return html`<p><a href="/ui/applications${query({ tenantId: app.tenantId })}">← Applications</a></p>
    <h1>Application ${app.name}</h1>
    <div class="panel">
      <dl class="facts">
        <dt>Application id</dt>
        <dd class="mono">${app.id}</dd>
        <dt>uid</dt>
        <dd class="mono">${app.uid ?? html`<span class="muted">none</span>`}</dd>
        <dt>Tenant</dt>
        <dd><a href="/ui/tenants/${app.tenantId}">${tenantName ?? app.tenantId}</a> <span class="mono muted">${app.tenantId}</span></dd>
        <dt>Created</dt>
        <dd>${time(app.createdAt, ctx.now)}</dd>
        ${when(
          metadata.length > 0,
          () =>
            html`<dt>Metadata</dt>
              <dd>${metadata.map(([key, value], index) => html`${index > 0 ? ', ' : ''}<code>${key}</code>: ${value}`)}</dd>`,
        )}
        <dt>Delivery log</dt>
        <dd>
          <a href="/ui/messages${query({ appId: app.id })}">Messages</a> ·
          <a href="/ui/messages${query({ appId: app.id, status: 'failed' })}">failed messages</a>
        </dd>
      </dl>
    </div>

    <h2>Endpoints</h2>
    ${endpointsTable(ctx, endpoints)}

    <h2>Portal link</h2>
    <p>
      A link to a portal showing only this application's messages and endpoints, for its owner. It opens once, within 15 minutes. (The API
      makes the same link: <code>POST /api/v1/auth/app-portal-access/${app.uid ?? app.id}</code>.)
    </p>
    ${portalLinkForm(`/ui/apps/${app.id}/portal-link`, ctx.csrf, 'Read-only (no action, no secret)')}`;
}

export function appPortalLinkBody(app: ApplicationSummary, access: PortalAccess): Html {
  return portalLinkShown(app.name, access, "this application's messages and endpoints", {
    href: `/ui/apps/${app.id}`,
    label: 'Back to the application',
  });
}
