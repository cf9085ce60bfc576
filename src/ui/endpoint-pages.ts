/**
 * An application's endpoints as pages, shared by the console (an operator, any application) and an
 * application's portal (its owner): the list, add and edit, the endpoint's page with its numbers and
 * actions (disable or enable, show and rotate the secret, send an example), and the secret pages.
 * Every page gets the application it works in from its context; the services find endpoints within
 * that application only, so another application's endpoint is not found.
 */
import { LIMITS, unstorableText } from '../domain/limits.ts';
import { CHANNEL, CHANNEL_MAX, CHANNEL_RULE, MAX_CHANNELS, PING_EVENT_TYPE } from '../domain/svix.ts';
import type { ServiceDeps } from '../services/deps.ts';
import type { EndpointStatsView, EndpointView } from '../services/endpoints.ts';
import type { ValidSigningSecret } from '../services/signing-secrets.ts';
import { GRACE_CHOICES, secretPanels, shownOnce } from './admin-pages.ts';
import { count, html, nothing, query, time, utc, when, type Html } from './html.ts';
import { csrfField, selectField, table, textField } from './layout.ts';

export interface EndpointContext {
  deps: ServiceDeps;
  area: 'console' | 'portal';
  tenantId: string;
  appId: string;
  /** Where this application's endpoint pages live: `/portal/endpoints` or `/ui/apps/{id}/endpoints`. */
  base: string;
  /** Where the list of endpoints is shown (the portal's endpoints page, the console's application page), and its name. */
  home: string;
  homeLabel: string;
  /** The message list of this area. */
  messages: '/ui/messages' | '/portal/messages';
  csrf: string;
  /** A read-only portal shows no action and no secret. */
  readOnly: boolean;
  now: Date;
}

const messagesOf = (ctx: EndpointContext, endpointId: string, extra: Record<string, string> = {}) =>
  `${ctx.messages}${query({ ...(ctx.area === 'console' ? { appId: ctx.appId } : {}), endpointId, ...extra })}`;

function enabledBadge(endpoint: Pick<EndpointView, 'disabled'>): Html {
  return endpoint.disabled ? html`<span class="badge failed">disabled</span>` : html`<span class="badge succeeded">enabled</span>`;
}

const listText = (values: readonly string[] | null, every: string): Html =>
  values === null || values.length === 0 ? html`<span class="muted">${every}</span>` : html`${values.join(', ')}`;

/** The endpoints table (the portal's endpoints page, the console's application page). */
export function endpointsTable(ctx: EndpointContext, endpoints: readonly EndpointView[]): Html {
  return html`${table(
    'Endpoints of this application',
    [
      { label: 'URL' },
      { label: 'Description' },
      { label: 'Status' },
      { label: 'Event types' },
      { label: 'Channels' },
      { label: 'Messages' },
    ],
    endpoints.map(
      (endpoint) =>
        html`<tr>
          <td class="endpoint">
            <a href="${ctx.base}/${endpoint.id}">${endpoint.url}</a><br /><span class="mono muted">${endpoint.id}</span>
          </td>
          <td>${endpoint.description}</td>
          <td>${enabledBadge(endpoint)}</td>
          <td>${listText(endpoint.eventTypes, 'all')}</td>
          <td>${listText(endpoint.channels, 'all')}</td>
          <td>
            <a href="${messagesOf(ctx, endpoint.id)}">Messages<span class="visually-hidden"> sent to ${endpoint.url}</span></a>
          </td>
        </tr>`,
    ),
    { empty: 'No endpoint yet: messages of this application go nowhere until one is added.' },
  )}
  ${when(!ctx.readOnly, () => html`<div class="actions"><a class="button" href="${ctx.base}/new">Add endpoint</a></div>`)}`;
}

export function endpointsBody(ctx: EndpointContext, appName: string, endpoints: readonly EndpointView[]): Html {
  return html`<h1>Endpoints</h1>
    <p>
      Where the messages of ${appName} are sent. Each endpoint signs with its own secret and receives the event types and channels it asks
      for.
    </p>
    ${endpointsTable(ctx, endpoints)}`;
}

// ---- add and edit ------------------------------------------------------------------------------

export interface EndpointFormValues {
  url: string;
  description: string;
  eventTypes: string[];
  channels: string;
}

export interface EndpointForm {
  values: EndpointFormValues;
  errors: Partial<Record<keyof EndpointFormValues, string>>;
}

export const emptyEndpointForm = (): EndpointForm => ({ values: { url: '', description: '', eventTypes: [], channels: '' }, errors: {} });

export const endpointFormOf = (endpoint: EndpointView): EndpointForm => ({
  values: {
    url: endpoint.url,
    description: endpoint.description,
    eventTypes: endpoint.eventTypes ?? [],
    channels: (endpoint.channels ?? []).join(', '),
  },
  errors: {},
});

/** The endpoint fields a form sends, checked as the Svix-compatible API checks them. */
export function readEndpointForm(fields: Record<string, string[]>): {
  form: EndpointForm;
  input: { url: string; description: string; eventTypes: string[] | null; channels: string[] | null } | null;
} {
  const first = (name: string) => fields[name]?.[0] ?? '';
  const values: EndpointFormValues = {
    url: first('url').trim(),
    description: first('description').trim(),
    eventTypes: [...new Set((fields['eventTypes'] ?? []).filter((name) => name !== ''))],
    channels: first('channels').trim(),
  };
  const errors: EndpointForm['errors'] = {};
  if (values.url === '') errors.url = 'the URL is required';
  else if (values.url.length > LIMITS.urlLength) errors.url = `at most ${LIMITS.urlLength} characters`;
  // eslint-disable-next-line no-control-regex -- the characters Svix refuses in descriptions
  if (values.description.length > 4096 || unstorableText(values.description) !== null || /[\x00-\x08]/.test(values.description))
    errors.description = 'at most 4096 characters, without control characters';
  if (values.eventTypes.length > 256 || values.eventTypes.some((name) => name.length > 256)) errors.eventTypes = 'too many event types';
  const channels = values.channels === '' ? [] : [...new Set(values.channels.split(/[\s,]+/).filter((channel) => channel !== ''))];
  if (channels.length > MAX_CHANNELS) errors.channels = `at most ${MAX_CHANNELS} channels`;
  else if (channels.some((channel) => channel.length > CHANNEL_MAX || !CHANNEL.test(channel))) errors.channels = `each ${CHANNEL_RULE}`;
  const form = { values, errors };
  if (Object.keys(errors).length > 0) return { form, input: null };
  return {
    form,
    input: {
      url: values.url,
      description: values.description,
      eventTypes: values.eventTypes.length === 0 ? null : values.eventTypes,
      channels: channels.length === 0 ? null : channels,
    },
  };
}

function eventTypeChoices(form: EndpointForm, eventTypes: readonly string[]): Html {
  // An event type the endpoint filters on stays offered even if it was archived since.
  const names = [...new Set([...eventTypes, ...form.values.eventTypes])];
  const error = form.errors.eventTypes;
  return html`<fieldset class="choices" ${error ? html` aria-describedby="f-eventTypes-error"` : nothing}>
    <legend>Event types</legend>
    <p class="hint">None ticked: every event type, including ones declared later.</p>
    ${
      names.length === 0
        ? html`<p class="muted">No event type is declared yet: the endpoint receives every message.</p>`
        : html`<ul>
            ${names.map(
              (name, index) =>
                html`<li class="check">
                  <input
                    type="checkbox"
                    id="f-eventType-${index}"
                    name="eventTypes"
                    value="${name}"
                    ${form.values.eventTypes.includes(name) ? html` checked` : nothing}
                  /><label for="f-eventType-${index}">${name}</label>
                </li>`,
            )}
          </ul>`
    }
    ${when(error, () => html`<span class="error" id="f-eventTypes-error">${error}</span>`)}
  </fieldset>`;
}

export function endpointFormBody(
  ctx: EndpointContext,
  form: EndpointForm,
  eventTypes: readonly string[],
  editing: EndpointView | null,
): Html {
  const action = editing === null ? ctx.base : `${ctx.base}/${editing.id}`;
  const back = editing === null ? ctx.home : `${ctx.base}/${editing.id}`;
  return html`<p><a href="${back}">← ${editing === null ? ctx.homeLabel : 'Endpoint'}</a></p>
    <h1>${editing === null ? 'Add an endpoint' : html`Edit endpoint <span class="mono">${editing.id}</span>`}</h1>
    <form class="panel stack" method="post" action="${action}" aria-label="${editing === null ? 'New endpoint' : 'Endpoint'}">
      ${csrfField(ctx.csrf)}
      ${textField({ name: 'url', label: 'URL', value: form.values.url, required: true, wide: true, hint: 'where messages are POSTed, e.g. https://example.com/webhooks', error: form.errors.url, placeholder: 'https://' })}
      ${textField({ name: 'description', label: 'Description', value: form.values.description, wide: true, error: form.errors.description })}
      ${eventTypeChoices(form, eventTypes)}
      ${textField({ name: 'channels', label: 'Channels', value: form.values.channels, wide: true, hint: 'comma-separated; empty: every message, whatever its channels', error: form.errors.channels })}
      <div class="actions">
        <button type="submit">${editing === null ? 'Add endpoint' : 'Save changes'}</button><a href="${back}">Cancel</a>
      </div>
    </form>`;
}

// ---- the endpoint's page -----------------------------------------------------------------------

export function endpointBody(ctx: EndpointContext, endpoint: EndpointView, stats: EndpointStatsView, eventTypes: readonly string[]): Html {
  const messages = (extra: Record<string, string> = {}) => messagesOf(ctx, endpoint.id, extra);
  const exampleTypes = [...new Set([PING_EVENT_TYPE, ...(endpoint.eventTypes ?? []), ...eventTypes])];
  return html`<p><a href="${ctx.home}">← ${ctx.homeLabel}</a></p>
    <h1>Endpoint <span class="mono">${endpoint.id}</span></h1>
    <div class="panel">
      <dl class="facts">
        <dt>URL</dt>
        <dd class="mono">${endpoint.url}</dd>
        <dt>Description</dt>
        <dd>${endpoint.description === '' ? html`<span class="muted">none</span>` : endpoint.description}</dd>
        <dt>Status</dt>
        <dd>${enabledBadge(endpoint)}${endpoint.disabled ? html` <span class="muted">it receives no new message</span>` : nothing}</dd>
        <dt>Event types</dt>
        <dd>${listText(endpoint.eventTypes, 'every event type')}</dd>
        <dt>Channels</dt>
        <dd>${listText(endpoint.channels, 'every message, whatever its channels')}</dd>
        ${when(
          endpoint.uid !== null,
          () =>
            html`<dt>uid</dt>
              <dd class="mono">${endpoint.uid}</dd>`,
        )}
        <dt>Created</dt>
        <dd>${time(endpoint.createdAt, ctx.now)}</dd>
        <dt>Changed</dt>
        <dd>${time(endpoint.updatedAt, ctx.now)}</dd>
      </dl>
    </div>

    <h2>Messages of the last 28 days</h2>
    <ul class="cards">
      <li class="card ok">
        <span class="label">Delivered</span
        ><span class="value"><a href="${messages({ status: 'succeeded', since: '28d' })}">${count(stats.success)}</a></span>
      </li>
      <li class="card${stats.fail > 0 ? ' bad' : ''}">
        <span class="label">Failed</span
        ><span class="value"><a href="${messages({ status: 'failed', since: '28d' })}">${count(stats.fail)}</a></span>
      </li>
      <li class="card${stats.pending + stats.sending > 0 ? ' wait' : ''}">
        <span class="label">Pending</span
        ><span class="value"><a href="${messages({ status: 'pending', since: '28d' })}">${count(stats.pending + stats.sending)}</a></span
        ><span class="sub">${count(stats.sending)} waiting to retry</span>
      </li>
    </ul>
    <p><a href="${messages()}">Every message sent to this endpoint</a></p>

    ${when(
      !ctx.readOnly,
      () =>
        html`<h2>Actions</h2>
          <div class="actions">
            <a class="button secondary" href="${ctx.base}/${endpoint.id}/edit">Edit endpoint</a>
            <form method="post" action="${ctx.base}/${endpoint.id}/${endpoint.disabled ? 'enable' : 'disable'}" class="inline">
              ${csrfField(ctx.csrf)}<button type="submit" class="${endpoint.disabled ? 'secondary' : 'danger'}">
                ${endpoint.disabled ? 'Enable endpoint' : 'Disable endpoint'}
              </button>
            </form>
          </div>

          <h2>Signing secret</h2>
          <p>
            Receivers verify each message with this endpoint's own secret (the <code>svix</code> and <code>standardwebhooks</code> libraries
            do it).
          </p>
          <div class="actions">
            <a class="button secondary" href="${ctx.base}/${endpoint.id}/secret">Show secret</a>
            <a class="button" href="${ctx.base}/${endpoint.id}/rotate">Rotate secret…</a>
          </div>

          <h2>Send an example</h2>
          <form class="panel filters" method="post" action="${ctx.base}/${endpoint.id}/example" aria-label="Send an example">
            ${csrfField(ctx.csrf)}
            ${selectField({
              name: 'eventType',
              label: 'Event type of the example',
              value: PING_EVENT_TYPE,
              options: exampleTypes.map((name) => [name, name] as const),
            })}
            <div class="field submit"><button type="submit">Send example</button></div>
          </form>
          <p class="muted">Sends the event type's example payload (from its schema) to this endpoint only, signed like any message.</p>`,
    )}`;
}

// ---- secrets ------------------------------------------------------------------------------------

export function endpointSecretsBody(ctx: EndpointContext, endpoint: EndpointView, secrets: readonly ValidSigningSecret[]): Html {
  return html`<p><a href="${ctx.base}/${endpoint.id}">← Endpoint</a></p>
    <h1>Signing secret of <span class="mono">${endpoint.id}</span></h1>
    <p>
      Messages to <span class="mono">${endpoint.url}</span> are signed with this secret. During a rotation's grace period they carry one
      signature per valid secret.
    </p>
    ${secretPanels(secrets)}`;
}

export function endpointRotateBody(ctx: EndpointContext, endpoint: EndpointView): Html {
  return html`<p><a href="${ctx.base}/${endpoint.id}">← Endpoint</a></p>
    <h1>Rotate the secret of <span class="mono">${endpoint.id}</span>?</h1>
    <p>
      A new secret signs every message to <span class="mono">${endpoint.url}</span> from now on. During the grace period the old one signs
      too, so the receiver can switch without rejecting a message.
    </p>
    <form class="panel" method="post" action="${ctx.base}/${endpoint.id}/rotate">
      ${csrfField(ctx.csrf)}
      ${selectField({ name: 'gracePeriod', label: 'Grace period for the old secret', value: '24h', options: GRACE_CHOICES.map(([value, label]) => [value, label] as const) })}
      <div class="actions"><button type="submit" class="danger">Rotate secret</button><a href="${ctx.base}/${endpoint.id}">Cancel</a></div>
    </form>`;
}

export function endpointRotatedBody(ctx: EndpointContext, endpoint: EndpointView, secret: string, previousExpiresAt: string | null): Html {
  return html`<h1>Secret of <span class="mono">${endpoint.id}</span> rotated</h1>
    <p class="flash bad" role="alert">Copy the new secret now and give it to the receiver; it can be shown again on the endpoint's page.</p>
    <div class="panel">
      ${shownOnce('rotated-secret', 'New signing secret', secret)}
      <p>
        ${previousExpiresAt === null ? 'There was no previous secret.' : html`The previous secret signs until ${utc(previousExpiresAt)}.`}
      </p>
    </div>
    <p><a href="${ctx.base}/${endpoint.id}">Back to the endpoint</a></p>`;
}
