/** Console pages for operators' actions: recover, tenants, keys, signing secrets and portal links. */
import type { ApiKeyView } from '../services/api-keys.ts';
import type { PortalAccess } from '../services/portal.ts';
import type { ValidSigningSecret } from '../services/signing-secrets.ts';
import type { TenantView } from '../services/tenants.ts';
import { count, duration, html, nothing, query, time, utc, when, type Html } from './html.ts';
import { copyButton, csrfField, selectField, table, textField } from './layout.ts';

// ---- recover ----------------------------------------------------------------------------------

export interface RecoverForm {
  values: { since?: string | undefined; until?: string | undefined; tenantId?: string | undefined };
  errors: Record<string, string>;
  /** After counting: the resolved window and how many failed messages it holds. */
  preview?: { since: Date; until: Date; tenantId?: string | undefined; failed: number };
}

export function recoverBody(form: RecoverForm, csrf: string, now: Date): Html {
  const preview = form.preview;
  return html`<h1>Recover failed messages</h1>
    <p>
      Every message that ended <strong>failed</strong> and was created in the window gets one fresh attempt. Those that fail again stay
      failed. First count them, then confirm.
    </p>
    <form class="panel filters" method="get" action="/ui/recover" aria-label="Window">
      ${textField({ name: 'since', label: 'Created since', value: form.values.since ?? '24h', required: true, hint: 'a time (2026-03-01T12:00Z) or a duration before now (24h)', error: form.errors['since'] })}
      ${textField({ name: 'until', label: 'Created before', value: form.values.until, hint: 'empty for now', error: form.errors['until'] })}
      ${textField({ name: 'tenantId', label: 'Tenant id', value: form.values.tenantId, hint: 'empty for every tenant', error: form.errors['tenantId'] })}
      <div class="field submit"><button type="submit">Count failed messages</button></div>
    </form>
    ${when(
      preview,
      () =>
        html`<section class="panel" aria-labelledby="preview-heading">
          <h2 id="preview-heading">
            ${count(preview?.failed ?? 0)} failed ${preview?.failed === 1 ? 'message' : 'messages'} in this window
          </h2>
          <p>
            Created from ${time(preview?.since ?? now, now)} to
            ${time(preview?.until ?? now, now)}${
              preview?.tenantId ? html`, tenant <span class="mono">${preview.tenantId}</span>` : html`, every tenant`
            }.
            <a
              href="/ui/messages${query({ status: 'failed', since: preview?.since.toISOString(), until: preview?.until.toISOString(), tenantId: preview?.tenantId })}"
              >See them</a
            >.
          </p>
          <form method="post" action="/ui/recover">
            ${csrfField(csrf)}
            <input type="hidden" name="since" value="${preview?.since.toISOString()}" />
            <input type="hidden" name="until" value="${preview?.until.toISOString()}" />
            ${when(preview?.tenantId, () => html`<input type="hidden" name="tenantId" value="${preview?.tenantId}" />`)}
            <button type="submit" class="danger" ${preview?.failed === 0 ? html` disabled` : nothing}>
              Recover ${count(preview?.failed ?? 0)} ${preview?.failed === 1 ? 'message' : 'messages'}
            </button>
          </form>
        </section>`,
    )}`;
}

// ---- tenants ----------------------------------------------------------------------------------

export function tenantsBody(
  tenants: { data: TenantView[]; iterator: string | null; done: boolean },
  csrf: string,
  now: Date,
  state: { iterator?: string | undefined; nameError?: string | undefined; name?: string | undefined },
): Html {
  return html`<h1>Tenants</h1>
    <form class="panel filters" method="post" action="/ui/tenants" aria-label="Create a tenant">
      ${csrfField(csrf)} ${textField({ name: 'name', label: 'New tenant name', value: state.name, required: true, error: state.nameError })}
      <div class="field submit"><button type="submit">Create tenant</button></div>
    </form>
    ${table(
      'Tenants, newest first',
      [{ label: 'Name' }, { label: 'Tenant id' }, { label: 'Created' }, { label: 'Messages' }],
      tenants.data.map(
        (tenant) =>
          html`<tr>
            <td><a href="/ui/tenants/${tenant.id}">${tenant.name}</a></td>
            <td class="mono">${tenant.id}</td>
            <td class="nowrap">${time(tenant.createdAt, now)}</td>
            <td><a href="/ui/messages${query({ tenantId: tenant.id })}">Messages</a></td>
          </tr>`,
      ),
      { empty: 'No tenant yet.' },
    )}
    <nav class="pager" aria-label="Pages">
      ${when(state.iterator, () => html`<a href="/ui/tenants">Newest tenants</a>`)}
      ${when(!tenants.done && tenants.iterator, () => html`<a href="/ui/tenants${query({ iterator: tenants.iterator })}" rel="next">Older tenants</a>`)}
    </nav>`;
}

/** A secret shown once, with a copy button and the warning that goes with it. */
export function shownOnce(id: string, label: string, value: string): Html {
  return html`<div class="field">
    <span class="label"><strong>${label}</strong></span>
    <code class="secret" id="${id}">${value}</code>
    <div class="actions">${copyButton(id, `Copy ${label.toLowerCase()}`)}</div>
  </div>`;
}

export function tenantCreatedBody(created: TenantView & { apiKey: string; keyId: string; signingSecret: string }): Html {
  return html`<h1>Tenant ${created.name} created</h1>
    <p class="flash bad" role="alert">
      Copy the API key now: it is shown only this once. The signing secret can be read again on the tenant's page.
    </p>
    <div class="panel">
      <dl class="facts">
        <dt>Tenant id</dt>
        <dd class="mono">${created.id}</dd>
        <dt>Key id</dt>
        <dd class="mono">${created.keyId}</dd>
      </dl>
      ${shownOnce('new-api-key', 'API key', created.apiKey)} ${shownOnce('new-signing-secret', 'Signing secret', created.signingSecret)}
    </div>
    <p><a href="/ui/tenants/${created.id}">Go to the tenant</a></p>`;
}

const mask = (secret: string): string => `${secret.slice(0, 10)}…`;

export function tenantBody(input: {
  tenant: TenantView;
  keys: ApiKeyView[];
  secrets: ValidSigningSecret[];
  csrf: string;
  now: Date;
  signedInKeyId: string;
}): Html {
  const { tenant, keys, secrets, csrf, now } = input;
  return html`<p><a href="/ui/tenants">← Tenants</a></p>
    <h1>Tenant ${tenant.name}</h1>
    <div class="panel">
      <dl class="facts">
        <dt>Tenant id</dt>
        <dd class="mono">${tenant.id}</dd>
        <dt>Created</dt>
        <dd>${time(tenant.createdAt, now)}</dd>
        <dt>Delivery log</dt>
        <dd>
          <a href="/ui/messages${query({ tenantId: tenant.id })}">Messages</a> ·
          <a href="/ui/messages${query({ tenantId: tenant.id, status: 'failed' })}">failed messages</a>
        </dd>
        <dt>Applications</dt>
        <dd><a href="/ui/applications${query({ tenantId: tenant.id })}">Its applications and their endpoints</a></dd>
      </dl>
    </div>

    <h2>Signing secret</h2>
    ${table(
      'Secrets that sign deliveries now',
      [{ label: 'Secret' }, { label: 'Created' }, { label: 'Signs until' }],
      secrets.map(
        (secret) =>
          html`<tr>
            <td class="mono">${mask(secret.signingSecret)}</td>
            <td class="nowrap">${time(secret.createdAt, now)}</td>
            <td>${secret.expiresAt === null ? html`<strong>current</strong>` : time(secret.expiresAt, now)}</td>
          </tr>`,
      ),
      { empty: 'No valid secret: rotate to make one.' },
    )}
    <div class="actions">
      <a class="button secondary" href="/ui/tenants/${tenant.id}/secrets">Show secrets</a>
      <a class="button" href="/ui/tenants/${tenant.id}/rotate">Rotate secret…</a>
    </div>

    <h2>API keys</h2>
    ${table(
      'API keys (the keys themselves are never shown again)',
      [{ label: 'Key id' }, { label: 'Scope' }, { label: 'Created' }, { label: 'Status' }, { label: 'Action' }],
      keys.map(
        (key) =>
          html`<tr>
            <td class="mono">${key.id}${key.id === input.signedInKeyId ? html` <span class="muted">(you)</span>` : nothing}</td>
            <td>${key.scope}</td>
            <td class="nowrap">${time(key.createdAt, now)}</td>
            <td>${key.revokedAt === null ? 'active' : html`revoked ${time(key.revokedAt, now)}`}</td>
            <td>
              ${key.revokedAt === null ? html`<a href="/ui/keys/${key.id}/revoke">Revoke…<span class="visually-hidden"> key ${key.id}</span></a>` : nothing}
            </td>
          </tr>`,
      ),
      { empty: 'No key.' },
    )}
    <form class="panel filters" method="post" action="/ui/tenants/${tenant.id}/keys" aria-label="Issue an API key">
      ${csrfField(csrf)}
      ${selectField({
        name: 'scope',
        label: 'Scope of the new key',
        value: 'tenant',
        options: [
          ['tenant', 'tenant: its own runs and deliveries'],
          ['admin', 'admin: the admin API too'],
        ],
      })}
      <div class="field submit"><button type="submit">Issue key</button></div>
    </form>

    <h2>Portal link</h2>
    <p>A link to a portal showing only this tenant's messages, for its customers. It opens once, within 15 minutes.</p>
    ${portalLinkForm(`/ui/tenants/${tenant.id}/portal-link`, csrf, 'Read-only (no Retry)')}`;
}

export function secretsBody(tenant: TenantView, secrets: ValidSigningSecret[]): Html {
  return html`<p><a href="/ui/tenants/${tenant.id}">← Tenant ${tenant.name}</a></p>
    <h1>Signing secrets of ${tenant.name}</h1>
    <p>Receivers verify deliveries with these. During a rotation's grace period every delivery carries one signature per secret.</p>
    ${secretPanels(secrets)}`;
}

/** Every valid signing secret, the current one first, each with when it stops signing. */
export function secretPanels(secrets: readonly ValidSigningSecret[]): Html {
  return html`${secrets.map(
    (secret, index) =>
      html`<div class="panel">
        ${shownOnce(`secret-${index}`, secret.expiresAt === null ? 'Current secret' : 'Previous secret', secret.signingSecret)}
        <p class="muted">Created ${utc(secret.createdAt)}${secret.expiresAt === null ? '' : `; signs until ${utc(secret.expiresAt)}`}</p>
      </div>`,
  )}`;
}

/** The form that makes a portal link (a tenant's or an application's), posting to `action`. */
export function portalLinkForm(action: string, csrf: string, readOnlyLabel: string): Html {
  return html`<form class="panel filters" method="post" action="${action}" aria-label="Create a portal link">
    ${csrfField(csrf)}
    ${selectField({
      name: 'expiresIn',
      label: 'Session length once opened',
      value: '8h',
      options: [
        ['1h', '1 hour'],
        ['8h', '8 hours'],
        ['24h', '24 hours'],
        ['7d', '7 days'],
      ],
    })}
    <div class="field check">
      <input type="checkbox" id="f-readOnly" name="readOnly" value="1" /><label for="f-readOnly">${readOnlyLabel}</label>
    </div>
    <div class="field submit"><button type="submit">Create portal link</button></div>
  </form>`;
}

export const GRACE_CHOICES: ReadonlyArray<readonly [string, string, number]> = [
  ['0', 'none: retire the old secret at once (after a leak)', 0],
  ['1h', '1 hour', 3_600_000],
  ['24h', '24 hours', 86_400_000],
  ['7d', '7 days', 7 * 86_400_000],
];

export function rotateBody(tenant: TenantView, csrf: string): Html {
  return html`<p><a href="/ui/tenants/${tenant.id}">← Tenant ${tenant.name}</a></p>
    <h1>Rotate the signing secret of ${tenant.name}?</h1>
    <p>
      A new secret signs every delivery from now on. During the grace period the old one signs too, so receivers can switch without
      rejecting a delivery.
    </p>
    <form class="panel" method="post" action="/ui/tenants/${tenant.id}/rotate">
      ${csrfField(csrf)}
      ${selectField({ name: 'gracePeriod', label: 'Grace period for the old secret', value: '24h', options: GRACE_CHOICES.map(([value, label]) => [value, label] as const) })}
      <div class="actions"><button type="submit" class="danger">Rotate secret</button><a href="/ui/tenants/${tenant.id}">Cancel</a></div>
    </form>`;
}

export function rotatedBody(tenant: TenantView, signingSecret: string, previousExpiresAt: string | null): Html {
  return html`<h1>Signing secret of ${tenant.name} rotated</h1>
    <div class="panel">
      ${shownOnce('rotated-secret', 'New signing secret', signingSecret)}
      <p>
        ${previousExpiresAt === null ? 'There was no previous secret.' : html`The previous secret signs until ${utc(previousExpiresAt)}.`}
      </p>
    </div>
    <p><a href="/ui/tenants/${tenant.id}">Back to the tenant</a></p>`;
}

export function keyIssuedBody(tenant: TenantView, key: { id: string; apiKey: string; scope: string }): Html {
  return html`<h1>API key issued for ${tenant.name}</h1>
    <p class="flash bad" role="alert">Copy the key now: it is shown only this once.</p>
    <div class="panel">
      <dl class="facts">
        <dt>Key id</dt>
        <dd class="mono">${key.id}</dd>
        <dt>Scope</dt>
        <dd>${key.scope}</dd>
      </dl>
      ${shownOnce('issued-key', 'API key', key.apiKey)}
    </div>
    <p><a href="/ui/tenants/${tenant.id}">Back to the tenant</a></p>`;
}

export function revokeBody(key: ApiKeyView, tenant: TenantView, csrf: string, isOwnKey: boolean): Html {
  return html`<p><a href="/ui/tenants/${tenant.id}">← Tenant ${tenant.name}</a></p>
    <h1>Revoke key <span class="mono">${key.id}</span>?</h1>
    <p>
      Requests with this ${key.scope} key of ${tenant.name} will be refused at
      once${key.scope === 'admin' ? ', and console sessions signed in with it end' : ''}.
    </p>
    ${when(isOwnKey, () => html`<p class="flash bad" role="alert">This is the key you signed in with: you will be signed out.</p>`)}
    <form class="panel" method="post" action="/ui/keys/${key.id}/revoke">
      ${csrfField(csrf)}
      <div class="actions"><button type="submit" class="danger">Revoke key</button><a href="/ui/tenants/${tenant.id}">Cancel</a></div>
    </form>`;
}

export function portalLinkBody(tenant: TenantView, access: PortalAccess): Html {
  return portalLinkShown(tenant.name, access, "this tenant's messages", { href: `/ui/tenants/${tenant.id}`, label: 'Back to the tenant' });
}

/** A new portal link, shown once: a tenant's or an application's (`shows`: what its portal shows). */
export function portalLinkShown(name: string, access: PortalAccess, shows: string, back: { href: string; label: string }): Html {
  return html`<h1>Portal link for ${name}</h1>
    <p class="flash bad" role="alert">
      Copy the link now: it is shown once, opens once, and must be opened within 15 minutes (before ${utc(access.expiresAt)}).
    </p>
    <div class="panel">
      ${shownOnce('portal-url', 'Portal link', access.url)}
      <p>
        Once opened, the portal session lasts ${duration(access.sessionSeconds * 1000)}${access.readOnly ? ' and is read-only' : ''}. It
        shows only ${shows}.
      </p>
    </div>
    <p><a href="${back.href}">${back.label}</a></p>`;
}
