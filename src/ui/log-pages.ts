/**
 * The delivery log as pages: the message list (every filter of the admin API in the URL) and the
 * message page (payload, its deliveries — one per endpoint of a fanned-out message — with their
 * attempts, Retry). The console and the portal share them; in the portal, every query is locked to
 * the session's scope (a tenant, or one application of it), so anything else is simply not found.
 */
import { ATTEMPT_ERROR_KINDS, MESSAGE_STATUSES, type AttemptErrorKind, type AttemptTrigger } from '../domain/delivery.ts';
import { isMomentInRange } from '../domain/limits.ts';
import { EVENT_TYPES } from '../domain/run.ts';
import { parseDuration } from '../lib/durations.ts';
import { applicationNames } from '../services/app-directory.ts';
import {
  getMessage,
  isValidIterator,
  listMessages,
  type AttemptView,
  type MessageDetail,
  type MessageFilter,
  type MessageView,
} from '../services/delivery-log.ts';
import type { ServiceDeps } from '../services/deps.ts';
import { listEndpoints } from '../services/endpoints.ts';
import { listEventTypes } from '../services/event-types.ts';
import { tenantNames } from '../services/tenant-names.ts';
import type { PortalScope } from '../services/ui-sessions.ts';
import { count, duration, html, nothing, query, relative, time, utc, when, type Html } from './html.ts';
import { copyButton, csrfField, selectField, statusBadge, table, textField, type Column, type RetryMark } from './layout.ts';

export interface LogContext {
  deps: ServiceDeps;
  area: 'console' | 'portal';
  /** Where the pages live: `/ui` or `/portal`. */
  base: '/ui' | '/portal';
  /** In the portal: what this session may see. */
  scope: PortalScope | undefined;
  csrf: string;
  /** A read-only portal shows no action. */
  readOnly: boolean;
  now: Date;
}

/** The filters every query of this context is locked to: a portal's tenant, and its application if it has one. */
export function scopeFilter(ctx: Pick<LogContext, 'scope'>): Pick<MessageFilter, 'tenantId' | 'appId' | 'withoutOperational'> {
  if (ctx.scope === undefined) return {};
  // Operational events are Orbit's, for its operators; the deployment's carry every tenant's ids.
  return { tenantId: ctx.scope.tenantId, appId: ctx.scope.appId, withoutOperational: true };
}

/** Which of the three kinds of page this context renders. */
type Audience = 'console' | 'tenant' | 'app';

function audienceOf(ctx: Pick<LogContext, 'area' | 'scope'>): Audience {
  if (ctx.area === 'console') return 'console';
  return ctx.scope?.appId === undefined ? 'tenant' : 'app';
}

// ---- filters ----------------------------------------------------------------------------------

type FilterKind = 'select' | 'id' | 'text' | 'time';

interface FilterDef {
  /** The query parameter, also the MessageFilter field. */
  name: 'status' | 'eventType' | 'tenantId' | 'appId' | 'endpointId' | 'runId' | 'workflowId' | 'since' | 'until';
  label: string;
  kind: FilterKind;
  options?: readonly string[];
  hint?: string;
  /** Where the filter is offered (a portal's scope fixes some, and an application has no runs). */
  in: readonly Audience[];
}

const EVERYWHERE: readonly Audience[] = ['console', 'tenant', 'app'];

/**
 * The message list's filters, in form order: the admin API's (CONTRACT §6). Adding one is one entry
 * here plus the same field in MessageFilter. Event types are free text (applications name their
 * own), with the known ones offered as suggestions.
 */
const FILTERS: readonly FilterDef[] = [
  { name: 'status', label: 'Status', kind: 'select', options: MESSAGE_STATUSES, in: EVERYWHERE },
  { name: 'eventType', label: 'Event type', kind: 'text', in: EVERYWHERE },
  { name: 'tenantId', label: 'Tenant id', kind: 'id', in: ['console'] },
  { name: 'appId', label: 'Application id', kind: 'id', in: ['console'] },
  { name: 'endpointId', label: 'Endpoint', kind: 'id', in: ['console', 'app'] },
  { name: 'runId', label: 'Run id', kind: 'id', in: ['console', 'tenant'] },
  { name: 'workflowId', label: 'Workflow id', kind: 'text', in: ['console', 'tenant'] },
  { name: 'since', label: 'Created since', kind: 'time', hint: 'e.g. 24h or 2026-03-01T12:00Z', in: EVERYWHERE },
  { name: 'until', label: 'Created before', kind: 'time', hint: 'empty for now', in: EVERYWHERE },
];

const offered = (ctx: Pick<LogContext, 'area' | 'scope'>) => FILTERS.filter((def) => def.in.includes(audienceOf(ctx)));

const PAGE_SIZES = ['25', '50', '100', '250'] as const;
const ID = /^[A-Za-z0-9_-]{1,64}$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

/** A moment typed by a person: an ISO time (UTC unless it says otherwise) or a duration before now. */
export function parseMoment(text: string, now: Date): Date | null {
  const trimmed = text.trim();
  const ago = parseDuration(trimmed);
  if (ago !== null) {
    const at = new Date(now.getTime() - ago);
    return isMomentInRange(at) ? at : null;
  }
  if (!ISO_DATE.test(trimmed)) return null;
  const normalised = trimmed.replace(' ', 'T');
  const zoned = normalised.length <= 10 || /(?:Z|[+-]\d{2}:?\d{2})$/i.test(normalised) ? normalised : `${normalised}Z`;
  const at = new Date(zoned);
  return isMomentInRange(at) ? at : null;
}

export interface ParsedList {
  /** The valid filter texts, as they go back into links and the form. */
  values: Record<string, string>;
  filter: MessageFilter;
  errors: Record<string, string>;
  live: boolean;
}

export function parseListQuery(ctx: LogContext, params: Record<string, string | undefined>): ParsedList {
  const values: Record<string, string> = {};
  const errors: Record<string, string> = {};
  const filter: MessageFilter = { limit: 50 };
  for (const def of offered(ctx)) {
    const text = params[def.name]?.trim();
    if (text === undefined || text === '') continue;
    values[def.name] = text;
    switch (def.kind) {
      case 'select':
        if (def.options?.includes(text)) Object.assign(filter, { [def.name]: text });
        else errors[def.name] = `must be one of ${def.options?.join(', ')}`;
        break;
      case 'id':
        if (ID.test(text)) Object.assign(filter, { [def.name]: text });
        else errors[def.name] = 'not a valid id';
        break;
      case 'text':
        if (text.length <= 256) Object.assign(filter, { [def.name]: text });
        else errors[def.name] = 'at most 256 characters';
        break;
      case 'time': {
        const at = parseMoment(text, ctx.now);
        if (at) Object.assign(filter, { [def.name]: at });
        else errors[def.name] = 'not a time or a duration';
        break;
      }
    }
  }
  if (filter.since && filter.until && filter.since >= filter.until) errors['until'] = 'must be after "Created since"';
  const limit = params['limit'];
  if (limit !== undefined && limit !== '') {
    const n = Number(limit);
    if (Number.isInteger(n) && n >= 1 && n <= 250) {
      filter.limit = n;
      values['limit'] = String(n);
    } else errors['limit'] = 'from 1 to 250';
  }
  const iterator = params['iterator'];
  if (iterator !== undefined && iterator !== '') {
    if (isValidIterator(iterator)) {
      filter.iterator = iterator;
      values['iterator'] = iterator;
    } else errors['iterator'] = 'that page link is not valid any more; start from the first page';
  }
  Object.assign(filter, scopeFilter(ctx));
  return { values, filter, errors, live: params['live'] === '1' };
}

/** Where a search for a message id, run id or workflow id goes. */
export async function searchTarget(ctx: LogContext, q: string): Promise<{ href: string } | { error: string }> {
  const text = q.trim();
  if (text === '') return { href: `${ctx.base}/messages` };
  const app = audienceOf(ctx) === 'app';
  if (text.length > 256) return { error: app ? 'Search for a message id.' : 'Search for a message id, a run id or a workflow id.' };
  if (/^msg_[A-Za-z0-9_-]{1,60}$/.test(text)) {
    try {
      await getMessage(ctx.deps, text, scopeFilter(ctx));
      return { href: `${ctx.base}/messages/${text}` };
    } catch {
      return { error: `No message ${text} was found.` };
    }
  }
  if (app) return { error: 'Search for a message id (msg_…).' };
  if (/^run_[A-Za-z0-9_-]{1,60}$/.test(text)) return { href: `${ctx.base}/messages${query({ runId: text })}` };
  if (ctx.area === 'console' && /^ten_[A-Za-z0-9_-]{1,60}$/.test(text)) return { href: `${ctx.base}/messages${query({ tenantId: text })}` };
  return { href: `${ctx.base}/messages${query({ workflowId: text })}` };
}

// ---- the list ---------------------------------------------------------------------------------

const listHref = (ctx: LogContext, values: Record<string, string>, extra: Record<string, string | undefined> = {}) =>
  `${ctx.base}/messages${query({ ...values, ...extra })}`;

/**
 * `host/path` of a target URL for a table cell (the full URL is on the message page), with line
 * break opportunities after dots and slashes so a long one wraps where it reads well.
 */
export function endpointLabel(url: string, withScheme = false): Html {
  let text = url;
  try {
    const parsed = new URL(url);
    text = `${withScheme ? `${parsed.protocol}//` : ''}${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`;
  } catch {
    // not a URL: shown as it is
  }
  const parts = text.split(/(?<=[./])/);
  return html`${parts.map((part, index) => (index === 0 ? part : html`<wbr />${part}`))}`;
}

/** A moment in a table cell: the UTC time, and below it how long ago (or until) it is. */
function timeCell(iso: string, now: Date): Html {
  return html`<time datetime="${iso}">${utc(iso).replace(' UTC', '')}</time><br /><span class="muted">${relative(iso, now)}</span>`;
}

/** Names for the ids a page lists: tenants (console only) and applications. */
export interface Names {
  tenants: ReadonlyMap<string, string>;
  apps: ReadonlyMap<string, string>;
}

export async function namesOf(ctx: LogContext, rows: ReadonlyArray<Pick<MessageView, 'tenantId' | 'appId'>>): Promise<Names> {
  const [tenants, apps] = await Promise.all([
    ctx.area === 'console'
      ? tenantNames(
          ctx.deps,
          rows.map((row) => row.tenantId),
        )
      : new Map<string, string>(),
    audienceOf(ctx) === 'app'
      ? new Map<string, string>()
      : applicationNames(
          ctx.deps,
          rows.map((row) => row.appId),
        ),
  ]);
  return { tenants, apps };
}

/** What a delivery came to, for a table cell: the next attempt, when it was delivered, or why it gave up. */
function deliveryCell(ctx: LogContext, message: MessageView): Html {
  if (message.status === 'pending')
    return message.nextAttemptAt
      ? html`next attempt<br /><span class="muted">${relative(message.nextAttemptAt, ctx.now)}</span>`
      : html`attempt running`;
  if (message.status === 'succeeded' && message.deliveredAt)
    return html`delivered<br /><span class="muted">${relative(message.deliveredAt, ctx.now)}</span>`;
  if (message.status === 'failed' && message.failureReason) return html`<span class="muted">${message.failureReason}</span>`;
  return html`<span class="muted">given up</span>`;
}

function messageRow(ctx: LogContext, message: MessageView, values: Record<string, string>, names: Names): Html {
  const audience = audienceOf(ctx);
  const link = (name: string, value: string) => listHref(ctx, { ...values, iterator: '' }, { [name]: value });
  // The source of a message: its run and workflow, or its application and the endpoint of this row.
  const source =
    message.appId === null
      ? html`${when(
          message.runId !== null,
          () => html`<a class="mono nowrap" href="${link('runId', message.runId ?? '')}">${message.runId}</a><br />`,
        )}${when(
          message.workflowId !== null,
          () => html`<a class="muted" href="${link('workflowId', message.workflowId ?? '')}">${message.workflowId}</a>`,
        )}`
      : html`${
          audience === 'console'
            ? html`<a href="${link('appId', message.appId)}">${names.apps.get(message.appId) ?? message.appId}</a>`
            : html`${names.apps.get(message.appId) ?? message.appId}`
        }${when(
          message.endpointId !== null,
          () =>
            html`<br />${
                audience === 'console'
                  ? html`<a class="mono muted nowrap" href="${link('endpointId', message.endpointId ?? '')}">${message.endpointId}</a>`
                  : html`<span class="mono muted nowrap">${message.endpointId}</span>`
              }`,
        )}`;
  const endpoint =
    audience === 'app' && message.endpointId !== null
      ? html`<a href="${link('endpointId', message.endpointId)}">${endpointLabel(message.url ?? '')}</a>`
      : endpointLabel(message.url ?? '');
  return html`<tr>
    <td>
      <a class="mono nowrap" href="${ctx.base}/messages/${message.id}">${message.id}</a><br /><a
        class="muted"
        href="${link('eventType', message.eventType)}"
        >${message.eventType}</a
      >
    </td>
    <td>${statusBadge(message.status)}</td>
    ${when(
      audience === 'console',
      () => html`<td><a href="${link('tenantId', message.tenantId)}">${names.tenants.get(message.tenantId) ?? message.tenantId}</a></td>`,
    )}
    ${when(audience !== 'app', () => html`<td>${source}</td>`)}
    <td class="endpoint">${endpoint}</td>
    <td class="num">${message.attemptCount}</td>
    <td class="nowrap">${timeCell(message.createdAt, ctx.now)}</td>
    <td class="nowrap">${deliveryCell(ctx, message)}</td>
  </tr>`;
}

/** The results region: table and pager. Live, it asks for itself again every 5 seconds. */
export function resultsRegion(
  ctx: LogContext,
  parsed: ParsedList,
  page: { data: MessageView[]; iterator: string | null; done: boolean },
  names: Names,
): Html {
  const audience = audienceOf(ctx);
  const columns: Column[] = [
    { label: 'Message and event type' },
    { label: 'Status' },
    ...(audience === 'console' ? [{ label: 'Tenant' }] : []),
    ...(audience !== 'app' ? [{ label: 'Run or application' }] : []),
    { label: 'Endpoint' },
    { label: 'Attempts', numeric: true },
    { label: 'Created (UTC)' },
    { label: 'Delivery' },
  ];
  const live = parsed.live && parsed.filter.iterator === undefined;
  const self = listHref(ctx, parsed.values, { live: parsed.live ? '1' : undefined });
  const caption = html`${audience === 'app' ? 'Messages at each endpoint' : 'Messages'}, newest
  first${when(
    live,
    () =>
      html` <span class="muted"
        >· live, updated <time datetime="${ctx.now.toISOString()}">${ctx.now.toISOString().slice(11, 19)} UTC</time></span
      >`,
  )}`;
  return html`<div id="results" class="log" ${live ? html` hx-get="${self}" hx-trigger="every 5s" hx-swap="outerHTML"` : nothing}>
    ${table(
      caption,
      columns,
      page.data.map((message) => messageRow(ctx, message, parsed.values, names)),
      { empty: 'No message matches these filters.' },
    )}
    <nav class="pager" aria-label="Pages">
      ${when(parsed.filter.iterator !== undefined, () => html`<a href="${listHref(ctx, parsed.values, { iterator: undefined, live: undefined })}">Newest messages</a>`)}
      ${when(!page.done && page.iterator !== null, () => html`<a href="${listHref(ctx, parsed.values, { iterator: page.iterator ?? undefined, live: undefined })}" rel="next">Older messages</a>`)}
      <span class="muted">${page.data.length} shown</span>
    </nav>
  </div>`;
}

/** Event type names to suggest in the filter: a run's, or the tenant's declared ones for an application. */
async function eventTypeSuggestions(ctx: LogContext): Promise<readonly string[]> {
  if (ctx.scope?.appId === undefined) return EVENT_TYPES;
  const declared = await listEventTypes(
    ctx.deps,
    ctx.scope.tenantId,
    { limit: 250, iterator: null, previous: false, ascending: true },
    { includeArchived: false, withContent: false },
  );
  return declared.data.map((type) => type.name);
}

/** An application portal picks an endpoint from its application's (a deleted one still shows by id). */
async function endpointChoices(ctx: LogContext, current: string | undefined): Promise<Array<readonly [string, string]>> {
  if (ctx.scope?.appId === undefined) return [];
  const page = await listEndpoints(ctx.deps, ctx.scope.tenantId, ctx.scope.appId, {
    limit: 250,
    iterator: null,
    previous: false,
    ascending: true,
  });
  const choices: Array<readonly [string, string]> = page.data.map((endpoint) => [endpoint.id, `${endpoint.url} (${endpoint.id})`]);
  if (current !== undefined && !choices.some(([id]) => id === current)) choices.push([current, current]);
  return [['', 'Any'], ...choices];
}

export async function messageListBody(ctx: LogContext, parsed: ParsedList, searchError?: string): Promise<{ body: Html; results: Html }> {
  const hasErrors = Object.keys(parsed.errors).length > 0;
  const page = hasErrors ? { data: [], iterator: null, done: true } : await listMessages(ctx.deps, parsed.filter);
  const audience = audienceOf(ctx);
  const [names, suggestions, endpoints] = await Promise.all([
    namesOf(ctx, page.data),
    eventTypeSuggestions(ctx),
    endpointChoices(ctx, parsed.values['endpointId']),
  ]);
  const results = resultsRegion(ctx, parsed, page, names);
  const filterFields = offered(ctx).map((def) => {
    if (def.kind === 'select')
      return selectField({
        name: def.name,
        label: def.label,
        value: parsed.values[def.name],
        options: [['', 'Any'], ...(def.options ?? []).map((option) => [option, option] as const)],
      });
    if (def.name === 'endpointId' && audience === 'app')
      return selectField({ name: def.name, label: def.label, value: parsed.values[def.name], options: endpoints });
    return textField({
      name: def.name,
      label: def.name === 'endpointId' ? 'Endpoint id' : def.label,
      value: parsed.values[def.name],
      hint: def.hint,
      error: parsed.errors[def.name],
      list: def.name === 'eventType' && suggestions.length > 0 ? 'event-type-names' : undefined,
    });
  });
  const liveHref = listHref(ctx, { ...parsed.values, iterator: '' }, { live: parsed.live ? undefined : '1' });
  const searchLabel = audience === 'app' ? 'Find by message id' : 'Find by message id, run id or workflow id';
  const body = html`<h1>Messages</h1>
    <form class="panel" method="get" action="${ctx.base}/messages" role="search">
      <div class="search">
        ${textField({
          name: 'q',
          label: searchLabel,
          type: 'search',
          wide: true,
          error: searchError,
          placeholder: audience === 'app' ? 'msg_…' : 'msg_…, run_… or a workflow id',
        })}
        <div class="field submit"><button type="submit">Find</button></div>
      </div>
    </form>
    <form class="panel filters" method="get" action="${ctx.base}/messages" aria-label="Filters">
      ${filterFields}
      ${selectField({ name: 'limit', label: 'Per page', value: parsed.values['limit'] ?? '50', options: PAGE_SIZES.map((size) => [size, size] as const) })}
      ${when(parsed.live, () => html`<input type="hidden" name="live" value="1" />`)}
      <div class="field submit">
        <div class="actions"><button type="submit">Apply filters</button><a href="${ctx.base}/messages">Clear</a></div>
      </div>
      <datalist id="event-type-names">${suggestions.map((name) => html`<option value="${name}"></option>`)}</datalist>
    </form>
    ${when(parsed.errors['iterator'], () => html`<p class="flash bad" role="alert">${parsed.errors['iterator']}</p>`)}
    ${when(parsed.errors['limit'], () => html`<p class="flash bad" role="alert">Per page: ${parsed.errors['limit']}</p>`)}
    <div class="actions">
      <a class="button secondary" href="${liveHref}">${parsed.live ? 'Stop live updates' : 'Start live updates'}</a>
      <span class="muted"
        >${parsed.live ? 'The first page refreshes every 5 seconds.' : 'Turn on to refresh the first page every 5 seconds.'}</span
      >
    </div>
    ${results}`;
  return { body, results };
}

// ---- the message page -------------------------------------------------------------------------

/** The sender keeps the first 64 KiB of an answer; a body that long was cut there. */
const CAPTURE_BYTES = 64 * 1024;

function prettyPayload(payload: string): string | null {
  try {
    return JSON.stringify(JSON.parse(payload), null, 2);
  } catch {
    return null;
  }
}

const ERROR_WORDS: Record<AttemptErrorKind, string> = {
  timeout: 'timeout',
  connection: 'connection failed',
  dns: 'DNS lookup failed',
  tls: 'TLS failed',
  blocked: 'blocked address',
  redirect: 'redirect (not followed)',
  http_status: 'HTTP error status',
};

const TRIGGER_WORDS: Record<AttemptTrigger, string> = { scheduled: 'on schedule', manual: 'manual retry', recover: 'recover' };

/** One attempt in a timeline; its heading is one level below the timeline's. */
function attemptItem(ctx: LogContext, attempt: AttemptView, level: 3 | 4): Html {
  const bodyId = `response-${attempt.id}`;
  const truncated = attempt.responseBody !== null && Buffer.byteLength(attempt.responseBody, 'utf8') >= CAPTURE_BYTES - 3;
  const title = html`Attempt ${attempt.attempt} ${statusBadge(attempt.outcome)}
    <span class="muted">${TRIGGER_WORDS[attempt.trigger]}</span>`;
  return html`<li class="${attempt.outcome}" id="${attempt.id}">
    ${level === 3 ? html`<h3>${title}</h3>` : html`<h4>${title}</h4>`}
    <dl class="facts">
      <dt>Started</dt>
      <dd>${time(attempt.startedAt, ctx.now)}</dd>
      <dt>Duration</dt>
      <dd>${duration(attempt.durationMs)}</dd>
      <dt>Status code</dt>
      <dd>
        ${attempt.responseStatus === null ? html`<span class="muted">no response</span>` : html`<strong>${attempt.responseStatus}</strong>`}
      </dd>
      ${when(
        attempt.error,
        () =>
          html`<dt>Error</dt>
            <dd>
              <strong>${attempt.error ? ERROR_WORDS[attempt.error.kind] : ''}</strong> <code>${attempt.error?.kind}</code>:
              ${attempt.error?.message}
            </dd>`,
      )}
      ${when(
        attempt.nextAttemptAt,
        () =>
          html`<dt>Next attempt</dt>
            <dd>${time(attempt.nextAttemptAt, ctx.now)}</dd>`,
      )}
      <dt>Attempt id</dt>
      <dd class="mono">${attempt.id}</dd>
    </dl>
    ${
      attempt.responseBody === null
        ? nothing
        : html`<p>
              <strong>Response body</strong
              >${when(truncated, () => html`<span class="truncated">truncated: the first 64 KiB are kept</span>`)}${
                attempt.responseBody === '' ? html` <span class="muted">(empty)</span>` : nothing
              }
            </p>
            ${when(attempt.responseBody !== '', () => html`<pre class="code" id="${bodyId}" tabindex="0">${attempt.responseBody}</pre>`)}`
    }
  </li>`;
}

/** Whether the attempts a retry queued are all in the log yet. */
const retryDone = (message: MessageDetail, mark: RetryMark | undefined): boolean =>
  mark !== undefined && message.attempts.length >= mark.after + mark.awaiting;

/** After a retry: what its attempts came to, once they are in the log (else null). */
function retryNote(message: MessageDetail, mark: RetryMark | undefined): string | null {
  if (mark === undefined || !retryDone(message, mark)) return null;
  if (mark.awaiting === 1) {
    const newest = message.attempts.at(-1);
    if (!newest) return null;
    return `Attempt ${newest.attempt} finished: ${newest.outcome}${newest.responseStatus === null ? '' : `, status ${newest.responseStatus}`}.`;
  }
  const recent = message.attempts.slice(-mark.awaiting);
  const succeeded = recent.filter((attempt) => attempt.outcome === 'succeeded').length;
  return `${recent.length} attempts finished: ${succeeded} succeeded, ${recent.length - succeeded} failed.`;
}

/** Where an endpoint's own page is, from this area (a tenant's portal has none). */
function endpointPage(ctx: LogContext, appId: string | null, endpointId: string | null): string | null {
  if (appId === null || endpointId === null) return null;
  const audience = audienceOf(ctx);
  if (audience === 'console') return `/ui/apps/${appId}/endpoints/${endpointId}`;
  return audience === 'app' ? `/portal/endpoints/${endpointId}` : null;
}

function retryForm(ctx: LogContext, message: MessageDetail, delivery: MessageView): Html {
  return html`<form method="post" action="${ctx.base}/messages/${message.id}/retry" class="inline">
    ${csrfField(ctx.csrf)}<input type="hidden" name="endpointId" value="${delivery.endpointId ?? ''}" /><button
      type="submit"
      class="secondary"
    >
      Retry<span class="visually-hidden"> the delivery to ${delivery.url ?? ''}</span>
    </button>
  </form>`;
}

/** One delivery's facts: the single-endpoint layout of a message page. */
function singleDelivery(ctx: LogContext, message: MessageDetail, waiting: boolean): Html {
  const lastError = [...message.attempts].reverse().find((attempt) => attempt.outcome === 'failed');
  return html`<div class="panel">
      <dl class="facts">
        <dt>Status</dt>
        <dd>${statusBadge(message.status)}${when(waiting, () => html` <span class="muted">a retry is queued…</span>`)}</dd>
        <dt>Attempts</dt>
        <dd>${message.attemptCount}</dd>
        <dt>Next attempt</dt>
        <dd>${time(message.nextAttemptAt, ctx.now, message.status === 'pending' ? 'running now' : 'none planned')}</dd>
        <dt>Delivered</dt>
        <dd>${time(message.deliveredAt, ctx.now, 'not yet')}</dd>
        ${when(
          message.status === 'failed' && message.failureReason !== null,
          () =>
            html`<dt>Ended because</dt>
              <dd>${message.failureReason}</dd>`,
        )}
        ${when(
          lastError && message.status !== 'succeeded',
          () =>
            html`<dt>Last failure</dt>
              <dd>
                ${lastError?.responseStatus ?? 'no response'} · ${lastError?.error ? ERROR_WORDS[lastError.error.kind] : ''}
                <a href="#${lastError?.id ?? ''}">see attempt ${lastError?.attempt ?? ''}</a>
              </dd>`,
        )}
      </dl>
    </div>
    <h2 id="attempts-heading">Attempts <span class="muted">(newest first)</span></h2>
    ${
      message.attempts.length === 0
        ? html`<p class="muted">No attempt yet.</p>`
        : html`<ol class="timeline" aria-labelledby="attempts-heading">
            ${[...message.attempts].reverse().map((attempt) => attemptItem(ctx, attempt, 3))}
          </ol>`
    }`;
}

/** A fanned-out message: a table of its deliveries (one per endpoint), then each one's attempts. */
function manyDeliveries(ctx: LogContext, message: MessageDetail, waiting: boolean): Html {
  const byStatus = (status: MessageView['status']) => message.deliveries.filter((delivery) => delivery.status === status).length;
  const rows = message.deliveries.map((delivery) => {
    const page = endpointPage(ctx, message.appId, delivery.endpointId);
    return html`<tr>
      <td class="endpoint">
        <a href="#attempts-${delivery.endpointId ?? ''}">${endpointLabel(delivery.url ?? '', true)}</a><br />${
          page === null
            ? html`<span class="mono muted">${delivery.endpointId}</span>`
            : html`<a class="mono muted" href="${page}">${delivery.endpointId}</a>`
        }
      </td>
      <td>${statusBadge(delivery.status)}</td>
      <td class="num">${delivery.attemptCount}</td>
      <td class="nowrap">${deliveryCell(ctx, delivery)}</td>
      ${when(!ctx.readOnly, () => html`<td>${retryForm(ctx, message, delivery)}</td>`)}
    </tr>`;
  });
  return html`<p>
      ${message.deliveries.length} endpoints received this message: ${byStatus('succeeded')} succeeded, ${byStatus('failed')} failed,
      ${byStatus('pending')} pending.${when(waiting, () => html` <span class="muted">A retry is queued…</span>`)}
    </p>
    ${table(
      'Deliveries of this message, one per endpoint',
      [
        { label: 'Endpoint' },
        { label: 'Status' },
        { label: 'Attempts', numeric: true },
        { label: 'Delivery' },
        ...(ctx.readOnly ? [] : [{ label: 'Action' }]),
      ],
      rows,
    )}
    ${message.deliveries.map((delivery) => {
      const id = delivery.endpointId ?? '';
      const attempts = message.attempts.filter((attempt) => attempt.endpointId === delivery.endpointId).reverse();
      return html`<section id="attempts-${id}" aria-labelledby="attempts-heading-${id}">
        <h3 id="attempts-heading-${id}">
          Attempts at ${endpointLabel(delivery.url ?? '')} ${statusBadge(delivery.status)} <span class="muted">(newest first)</span>
        </h3>
        ${
          attempts.length === 0
            ? html`<p class="muted">No attempt yet.</p>`
            : html`<ol class="timeline" aria-labelledby="attempts-heading-${id}">
                ${attempts.map((attempt) => attemptItem(ctx, attempt, 4))}
              </ol>`
        }
      </section>`;
    })}`;
}

/**
 * The deliveries and their attempts: the part of a message page that changes. It asks for itself
 * again while an attempt is expected soon (a retry just queued, or a pending delivery's next attempt).
 */
export function deliverySection(ctx: LogContext, message: MessageDetail, mark: RetryMark | undefined, fragment: boolean): Html {
  const waitingFor = mark !== undefined && !retryDone(message, mark) ? mark : undefined;
  const waiting = waitingFor !== undefined;
  const nextSoon = message.deliveries.some(
    (delivery) =>
      delivery.status === 'pending' &&
      (delivery.nextAttemptAt === null || Date.parse(delivery.nextAttemptAt) - ctx.now.getTime() < 120_000),
  );
  const poll = waiting || nextSoon;
  const self = `${ctx.base}/messages/${message.id}${query({
    part: 'delivery',
    after: waitingFor?.after,
    awaiting: waitingFor !== undefined && waitingFor.awaiting !== 1 ? waitingFor.awaiting : undefined,
  })}`;
  const finished = retryNote(message, mark);
  const note = fragment && finished !== null ? html`<span id="delivery-note" hx-swap-oob="innerHTML">${finished}</span>` : nothing;
  const many = message.deliveries.length > 1;
  return html`<section
    id="delivery"
    aria-labelledby="delivery-heading"
    ${poll ? html` hx-get="${self}" hx-trigger="every ${waiting ? '1s' : '3s'}" hx-swap="outerHTML"` : nothing}
  >
    <h2 id="delivery-heading">${many ? 'Deliveries' : 'Delivery'}</h2>
    ${
      message.deliveries.length === 0 && message.appId !== null
        ? html`<p>No endpoint received this message: none was enabled and subscribed to it when it was sent.</p>`
        : many
          ? manyDeliveries(ctx, message, waiting)
          : singleDelivery(ctx, message, waiting)
    }
    ${note}
  </section>`;
}

export async function loadMessage(ctx: LogContext, messageId: string): Promise<MessageDetail> {
  return getMessage(ctx.deps, messageId, scopeFilter(ctx));
}

/** A retry form's endpoint: none (every delivery), or the one named (an id that names nothing finds nothing). */
export function retryTarget(form: Record<string, string>): string | undefined {
  const endpointId = form['endpointId'];
  if (endpointId === undefined || endpointId === '') return undefined;
  return ID.test(endpointId) ? endpointId : 'ep_none';
}

/** The retry mark of a fragment request (`after`, `awaiting`), if it carries a valid one. */
export function parseRetryMark(afterText: string | undefined, awaitingText: string | undefined): RetryMark | undefined {
  const after = Number(afterText);
  const awaiting = awaitingText === undefined ? 1 : Number(awaitingText);
  if (afterText === undefined || !Number.isInteger(after) || after < 0) return undefined;
  if (!Number.isInteger(awaiting) || awaiting < 1 || awaiting > 1000) return undefined;
  return { after, awaiting };
}

/**
 * The delivery section asked for by its own polling. The message is read before its attempts, so
 * an attempt recorded in between shows up with the message's status from before it. Once the
 * awaited attempts are there (and polling is about to stop), the message is read once more: that
 * status is at least as new as the attempts shown.
 */
export async function deliveryFragment(ctx: LogContext, messageId: string, mark: RetryMark | undefined): Promise<Html> {
  return deliverySection(ctx, await loadMessageAfter(ctx, messageId, mark), mark, true);
}

/**
 * A message for a page that may follow a retry: read again when the retry's attempts are already
 * there, so the statuses shown are at least as new as those attempts (polling will not correct them).
 */
export async function loadMessageAfter(ctx: LogContext, messageId: string, mark: RetryMark | undefined): Promise<MessageDetail> {
  const message = await loadMessage(ctx, messageId);
  return retryDone(message, mark) ? loadMessage(ctx, messageId) : message;
}

export function messagePageBody(ctx: LogContext, message: MessageDetail, mark: RetryMark | undefined, names: Names): Html {
  const pretty = message.payload === null ? null : prettyPayload(message.payload);
  const list = (params: Record<string, string>) => `${ctx.base}/messages${query(params)}`;
  const audience = audienceOf(ctx);
  const many = message.deliveries.length > 1;
  const appName = message.appId === null ? undefined : names.apps.get(message.appId);
  return html`<p><a href="${ctx.base}/messages">← Messages</a></p>
    <h1>Message <span class="mono" id="message-id">${message.id}</span></h1>
    <div class="actions">
      ${copyButton('message-id', 'Copy id')}
      ${when(
        !ctx.readOnly && message.deliveries.length > 0,
        () =>
          html`<form method="post" action="${ctx.base}/messages/${message.id}/retry" class="inline">
              ${csrfField(ctx.csrf)}<button type="submit">${many ? 'Retry every delivery' : 'Retry'}</button>
            </form>
            <span class="muted"
              >Sends one attempt now${many ? ' to every endpoint' : ''}, signed afresh, with the same id; the retry schedule is not
              restarted.</span
            >`,
      )}
    </div>
    <p id="delivery-note-wrap" class="visually-hidden" role="status" aria-live="polite">
      <span id="delivery-note">${retryNote(message, mark) ?? ''}</span>
    </p>
    <div class="panel">
      <dl class="facts">
        <dt>Event type</dt>
        <dd><a href="${list({ eventType: message.eventType })}">${message.eventType}</a></dd>
        ${when(
          audience === 'console',
          () =>
            html`<dt>Tenant</dt>
              <dd>
                <a href="/ui/tenants/${message.tenantId}">${names.tenants.get(message.tenantId) ?? message.tenantId}</a>
                <span class="mono muted">${message.tenantId}</span> ·
                <a href="${list({ tenantId: message.tenantId })}">its messages</a>
              </dd>`,
        )}
        ${when(
          message.runId !== null,
          () =>
            html`<dt>Run</dt>
              <dd><a class="mono" href="${list({ runId: message.runId ?? '' })}">${message.runId}</a></dd>`,
        )}
        ${when(
          message.workflowId !== null,
          () =>
            html`<dt>Workflow</dt>
              <dd><a href="${list({ workflowId: message.workflowId ?? '' })}">${message.workflowId}</a></dd>`,
        )}
        ${when(
          message.appId !== null && audience !== 'app',
          () =>
            html`<dt>Application</dt>
              <dd>
                ${
                  audience === 'console'
                    ? html`<a href="/ui/apps/${message.appId ?? ''}">${appName ?? message.appId}</a>
                        <span class="mono muted">${message.appId}</span> ·
                        <a href="${list({ appId: message.appId ?? '' })}">its messages</a>`
                    : html`${appName ?? message.appId} <span class="mono muted">${message.appId}</span>`
                }
              </dd>`,
        )}
        ${when(!many, () => {
          const page = endpointPage(ctx, message.appId, message.endpointId);
          return html`<dt>Target URL</dt>
            <dd class="mono">${message.url ?? 'no endpoint received it'}</dd>
            ${when(
              message.endpointId !== null,
              () =>
                html`<dt>Endpoint</dt>
                  <dd class="mono">${page === null ? message.endpointId : html`<a href="${page}">${message.endpointId}</a>`}</dd>`,
            )}`;
        })}
        <dt>Created</dt>
        <dd>${time(message.createdAt, ctx.now)}</dd>
      </dl>
    </div>
    ${deliverySection(ctx, message, mark, false)}
    <h2>Payload</h2>
    ${
      pretty === null
        ? nothing
        : html`<div class="actions">${copyButton('payload-pretty', 'Copy formatted')}</div>
            <pre class="code" id="payload-pretty" tabindex="0" aria-label="Payload, formatted">${pretty}</pre>`
    }
    ${
      message.payload === null
        ? html`<p>The content of this message was expunged.</p>`
        : html`<details${pretty === null ? html` open` : nothing}>
        <summary>Raw body (the exact bytes sent, ${count(Buffer.byteLength(message.payload, 'utf8'))} bytes)</summary>
        <div class="actions">${copyButton('payload-raw', 'Copy raw')}</div>
        <pre class="code" id="payload-raw" tabindex="0" aria-label="Payload, raw">${message.payload}</pre>
      </details>`
    }`;
}

/** Error kinds in the order the overview lists them. */
export const ERROR_KIND_LABELS: ReadonlyArray<readonly [AttemptErrorKind, string]> = ATTEMPT_ERROR_KINDS.map(
  (kind) => [kind, ERROR_WORDS[kind]] as const,
);
