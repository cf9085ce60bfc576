/**
 * The delivery log as pages: the message list (every filter of the admin API in the URL) and the
 * message page (payload, attempts, Retry). The console and the portal share them; in the portal,
 * every query is locked to the session's scope, so another tenant's message is simply not found.
 */
import { ATTEMPT_ERROR_KINDS, MESSAGE_STATUSES, type AttemptErrorKind, type AttemptTrigger } from '../domain/delivery.ts';
import { EVENT_TYPES } from '../domain/run.ts';
import { parseDuration } from '../lib/durations.ts';
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
import { tenantNames } from '../services/tenant-names.ts';
import type { PortalScope } from '../services/ui-sessions.ts';
import { count, duration, html, nothing, query, relative, time, utc, when, type Html } from './html.ts';
import { copyButton, csrfField, selectField, statusBadge, table, textField, type Column } from './layout.ts';

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

/**
 * The filters every query of this context is locked to. An application scope needs the message's
 * application, which the delivery log does not have yet: refuse rather than show the whole tenant.
 */
export function scopeFilter(ctx: Pick<LogContext, 'scope'>): Pick<MessageFilter, 'tenantId'> {
  if (ctx.scope === undefined) return {};
  if (ctx.scope.appId !== undefined) throw new Error('application portals need the application filter of the delivery log');
  return { tenantId: ctx.scope.tenantId };
}

// ---- filters ----------------------------------------------------------------------------------

type FilterKind = 'select' | 'id' | 'text' | 'time';

interface FilterDef {
  /** The query parameter, also the MessageFilter field. */
  name: 'status' | 'eventType' | 'tenantId' | 'runId' | 'workflowId' | 'since' | 'until';
  label: string;
  kind: FilterKind;
  options?: readonly string[];
  hint?: string;
  /** Hidden in the portal (its scope fixes it). */
  consoleOnly?: boolean;
}

/**
 * The message list's filters, in form order: the admin API's (CONTRACT §6). Adding one (the coming
 * `appId` and `endpointId`) is one entry here plus the same field in MessageFilter.
 */
const FILTERS: readonly FilterDef[] = [
  { name: 'status', label: 'Status', kind: 'select', options: MESSAGE_STATUSES },
  { name: 'eventType', label: 'Event type', kind: 'select', options: EVENT_TYPES },
  { name: 'tenantId', label: 'Tenant id', kind: 'id', consoleOnly: true },
  { name: 'runId', label: 'Run id', kind: 'id' },
  { name: 'workflowId', label: 'Workflow id', kind: 'text' },
  { name: 'since', label: 'Created since', kind: 'time', hint: 'e.g. 24h or 2026-03-01T12:00Z' },
  { name: 'until', label: 'Created before', kind: 'time', hint: 'empty for now' },
];

const PAGE_SIZES = ['25', '50', '100', '250'] as const;
const ID = /^[A-Za-z0-9_-]{1,64}$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

/** A moment typed by a person: an ISO time (UTC unless it says otherwise) or a duration before now. */
export function parseMoment(text: string, now: Date): Date | null {
  const trimmed = text.trim();
  const ago = parseDuration(trimmed);
  if (ago !== null) return new Date(now.getTime() - ago);
  if (!ISO_DATE.test(trimmed)) return null;
  const normalised = trimmed.replace(' ', 'T');
  const zoned = normalised.length <= 10 || /(?:Z|[+-]\d{2}:?\d{2})$/i.test(normalised) ? normalised : `${normalised}Z`;
  const at = new Date(zoned);
  return Number.isNaN(at.getTime()) ? null : at;
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
  for (const def of FILTERS) {
    if (def.consoleOnly && ctx.area !== 'console') continue;
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
  if (text.length > 256) return { error: 'Search for a message id, a run id or a workflow id.' };
  if (/^msg_[A-Za-z0-9_-]{1,60}$/.test(text)) {
    try {
      await getMessage(ctx.deps, text, { tenantId: scopeFilter(ctx).tenantId });
      return { href: `${ctx.base}/messages/${text}` };
    } catch {
      return { error: `No message ${text} was found.` };
    }
  }
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

function messageRow(ctx: LogContext, message: MessageView, values: Record<string, string>, names: ReadonlyMap<string, string>): Html {
  const link = (name: string, value: string) => listHref(ctx, { ...values, iterator: '' }, { [name]: value });
  let delivery: Html;
  if (message.status === 'pending')
    delivery = message.nextAttemptAt
      ? html`next attempt<br /><span class="muted">${relative(message.nextAttemptAt, ctx.now)}</span>`
      : html`attempt running`;
  else if (message.status === 'succeeded' && message.deliveredAt)
    delivery = html`delivered<br /><span class="muted">${relative(message.deliveredAt, ctx.now)}</span>`;
  else delivery = html`<span class="muted">given up</span>`;
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
      ctx.area === 'console',
      () => html`<td><a href="${link('tenantId', message.tenantId)}">${names.get(message.tenantId) ?? message.tenantId}</a></td>`,
    )}
    <td>
      ${when(
        message.runId !== null,
        () => html`<a class="mono nowrap" href="${link('runId', message.runId ?? '')}">${message.runId}</a><br />`,
      )}${when(
        message.workflowId !== null,
        () => html`<a class="muted" href="${link('workflowId', message.workflowId ?? '')}">${message.workflowId}</a>`,
      )}${when(message.appId !== null, () => html`<span class="mono nowrap">${message.appId}</span>`)}
    </td>
    <td class="endpoint">${endpointLabel(message.url ?? '')}</td>
    <td class="num">${message.attemptCount}</td>
    <td class="nowrap">${timeCell(message.createdAt, ctx.now)}</td>
    <td class="nowrap">${delivery}</td>
  </tr>`;
}

/** The results region: table and pager. Live, it asks for itself again every 5 seconds. */
export function resultsRegion(
  ctx: LogContext,
  parsed: ParsedList,
  page: { data: MessageView[]; iterator: string | null; done: boolean },
  names: ReadonlyMap<string, string>,
): Html {
  const columns: Column[] = [
    { label: 'Message and event type' },
    { label: 'Status' },
    ...(ctx.area === 'console' ? [{ label: 'Tenant' }] : []),
    { label: 'Run and workflow' },
    { label: 'Endpoint' },
    { label: 'Attempts', numeric: true },
    { label: 'Created (UTC)' },
    { label: 'Delivery' },
  ];
  const live = parsed.live && parsed.filter.iterator === undefined;
  const self = listHref(ctx, parsed.values, { live: parsed.live ? '1' : undefined });
  const caption = html`Messages, newest
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

export async function messageListBody(ctx: LogContext, parsed: ParsedList, searchError?: string): Promise<{ body: Html; results: Html }> {
  const hasErrors = Object.keys(parsed.errors).length > 0;
  const page = hasErrors ? { data: [], iterator: null, done: true } : await listMessages(ctx.deps, parsed.filter);
  const names =
    ctx.area === 'console'
      ? await tenantNames(
          ctx.deps,
          page.data.map((message) => message.tenantId),
        )
      : new Map<string, string>();
  const results = resultsRegion(ctx, parsed, page, names);
  const filterFields = FILTERS.filter((def) => !def.consoleOnly || ctx.area === 'console').map((def) =>
    def.kind === 'select'
      ? selectField({
          name: def.name,
          label: def.label,
          value: parsed.values[def.name],
          options: [['', 'Any'], ...(def.options ?? []).map((option) => [option, option] as const)],
        })
      : textField({ name: def.name, label: def.label, value: parsed.values[def.name], hint: def.hint, error: parsed.errors[def.name] }),
  );
  const liveHref = listHref(ctx, { ...parsed.values, iterator: '' }, { live: parsed.live ? undefined : '1' });
  const body = html`<h1>Messages</h1>
    <form class="panel" method="get" action="${ctx.base}/messages" role="search">
      <div class="search">
        ${textField({
          name: 'q',
          label: 'Find by message id, run id or workflow id',
          type: 'search',
          wide: true,
          error: searchError,
          placeholder: 'msg_…, run_… or a workflow id',
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

function attemptItem(ctx: LogContext, attempt: AttemptView): Html {
  const bodyId = `response-${attempt.id}`;
  const truncated = attempt.responseBody !== null && Buffer.byteLength(attempt.responseBody, 'utf8') >= CAPTURE_BYTES - 3;
  return html`<li class="${attempt.outcome}" id="${attempt.id}">
    <h3>Attempt ${attempt.attempt} ${statusBadge(attempt.outcome)} <span class="muted">${TRIGGER_WORDS[attempt.trigger]}</span></h3>
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

/** After a retry: what its attempt came to, once it is in the log (else null). */
function retryNote(message: MessageDetail, after: number | undefined): string | null {
  const newest = message.attempts.at(-1);
  if (after === undefined || message.attempts.length <= after || !newest) return null;
  return `Attempt ${newest.attempt} finished: ${newest.outcome}${newest.responseStatus === null ? '' : `, status ${newest.responseStatus}`}.`;
}

/**
 * Status, facts and attempts: the part of a message page that changes. It asks for itself again
 * while an attempt is expected soon (a retry just queued, or a pending message's next attempt).
 */
export function deliverySection(ctx: LogContext, message: MessageDetail, after: number | undefined, fragment: boolean): Html {
  const waitingForRetry = after !== undefined && message.attempts.length <= after;
  const nextSoon =
    message.status === 'pending' && (message.nextAttemptAt === null || Date.parse(message.nextAttemptAt) - ctx.now.getTime() < 120_000);
  const poll = waitingForRetry || nextSoon;
  const self = `${ctx.base}/messages/${message.id}${query({ part: 'delivery', after: waitingForRetry ? after : undefined })}`;
  const finished = retryNote(message, after);
  const note = fragment && finished !== null ? html`<span id="delivery-note" hx-swap-oob="innerHTML">${finished}</span>` : nothing;
  const lastError = [...message.attempts].reverse().find((attempt) => attempt.outcome === 'failed');
  return html`<section
    id="delivery"
    aria-labelledby="delivery-heading"
    ${poll ? html` hx-get="${self}" hx-trigger="every ${waitingForRetry ? '1s' : '3s'}" hx-swap="outerHTML"` : nothing}
  >
    <h2 id="delivery-heading">Delivery</h2>
    <div class="panel">
      <dl class="facts">
        <dt>Status</dt>
        <dd>${statusBadge(message.status)}${when(waitingForRetry, () => html` <span class="muted">a retry is queued…</span>`)}</dd>
        <dt>Attempts</dt>
        <dd>${message.attemptCount}</dd>
        <dt>Next attempt</dt>
        <dd>${time(message.nextAttemptAt, ctx.now, message.status === 'pending' ? 'running now' : 'none planned')}</dd>
        <dt>Delivered</dt>
        <dd>${time(message.deliveredAt, ctx.now, 'not yet')}</dd>
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
            ${[...message.attempts].reverse().map((attempt) => attemptItem(ctx, attempt))}
          </ol>`
    }
    ${note}
  </section>`;
}

export async function loadMessage(ctx: LogContext, messageId: string): Promise<MessageDetail> {
  return getMessage(ctx.deps, messageId, { tenantId: scopeFilter(ctx).tenantId });
}

/**
 * The delivery section asked for by its own polling. The message is read before its attempts, so
 * an attempt recorded in between shows up with the message's status from before it. Once the
 * awaited attempt is there (and polling is about to stop), the message is read once more: that
 * status is at least as new as the attempts shown.
 */
export async function deliveryFragment(ctx: LogContext, messageId: string, afterText: string | undefined): Promise<Html> {
  const afterNumber = Number(afterText);
  const after = afterText !== undefined && Number.isInteger(afterNumber) && afterNumber >= 0 ? afterNumber : undefined;
  let message = await loadMessage(ctx, messageId);
  if (after !== undefined && message.attempts.length > after) message = await loadMessage(ctx, messageId);
  return deliverySection(ctx, message, after, true);
}

export function messagePageBody(ctx: LogContext, message: MessageDetail, after: number | undefined, tenantName?: string): Html {
  const pretty = message.payload === null ? null : prettyPayload(message.payload);
  const list = (params: Record<string, string>) => `${ctx.base}/messages${query(params)}`;
  return html`<p><a href="${ctx.base}/messages">← Messages</a></p>
    <h1>Message <span class="mono" id="message-id">${message.id}</span></h1>
    <div class="actions">
      ${copyButton('message-id', 'Copy id')}
      ${when(
        !ctx.readOnly,
        () =>
          html`<form method="post" action="${ctx.base}/messages/${message.id}/retry" class="inline">
              ${csrfField(ctx.csrf)}<button type="submit">Retry</button>
            </form>
            <span class="muted">Sends one attempt now, signed afresh, with the same id; the retry schedule is not restarted.</span>`,
      )}
    </div>
    <p id="delivery-note-wrap" class="visually-hidden" role="status" aria-live="polite">
      <span id="delivery-note">${retryNote(message, after) ?? ''}</span>
    </p>
    <div class="panel">
      <dl class="facts">
        <dt>Event type</dt>
        <dd><a href="${list({ eventType: message.eventType })}">${message.eventType}</a></dd>
        ${when(
          ctx.area === 'console',
          () =>
            html`<dt>Tenant</dt>
              <dd>
                <a href="/ui/tenants/${message.tenantId}">${tenantName ?? message.tenantId}</a>
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
          message.appId !== null,
          () =>
            html`<dt>Application</dt>
              <dd class="mono">${message.appId}</dd>`,
        )}
        <dt>Target URL</dt>
        <dd class="mono">${message.url ?? 'no endpoint received it'}</dd>
        <dt>Created</dt>
        <dd>${time(message.createdAt, ctx.now)}</dd>
      </dl>
    </div>
    ${deliverySection(ctx, message, after, false)}
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
