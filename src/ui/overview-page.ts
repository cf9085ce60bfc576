/** The console's overview: how delivery is going, and where it is failing, each number a link into the log. */
import { applicationEndpointsByUrl, type EndpointRef } from '../services/app-directory.ts';
import type { ServiceDeps } from '../services/deps.ts';
import { tenantNames } from '../services/tenant-names.ts';
import { overview, OVERVIEW_RANGES, type Overview, type OverviewRange, type TopDimension, type TopFailing } from '../services/overview.ts';
import { count, duration, html, nothing, percent, query, relative, utc, when, type Html } from './html.ts';
import { endpointLabel, ERROR_KIND_LABELS } from './log-pages.ts';
import { table } from './layout.ts';

const RANGE_LABELS: Record<OverviewRange, string> = { '1h': '1 hour', '24h': '24 hours', '7d': '7 days', '30d': '30 days' };

export function parseRange(text: string | undefined): OverviewRange {
  return OVERVIEW_RANGES.find((range) => range === text) ?? '24h';
}

function card(
  label: string,
  value: Html | string,
  options: { tone?: 'ok' | 'bad' | 'wait'; sub?: Html | string; href?: string } = {},
): Html {
  return html`<li class="card${options.tone ? ` ${options.tone}` : ''}">
    <span class="label">${label}</span>
    <span class="value">${options.href ? html`<a href="${options.href}">${value}</a>` : value}</span>
    ${when(options.sub, () => html`<span class="sub">${options.sub}</span>`)}
  </li>`;
}

const TOP_TITLES: Record<TopDimension, { caption: string; column: string }> = {
  tenant: { caption: 'Tenants with the most failed attempts', column: 'Tenant' },
  endpoint: { caption: 'Endpoints with the most failed attempts', column: 'Endpoint' },
  event_type: { caption: 'Event types with the most failed attempts', column: 'Event type' },
};

/**
 * A "most failed attempts" table. The endpoint rows are URLs without their query (what the rollup
 * groups by): one that is exactly one application endpoint's links to that endpoint's messages;
 * several application endpoints sharing it are each linked; a run webhook's URL (one internal
 * endpoint per run, nothing to filter the log by) links to the failed messages of the range.
 */
function topTable(
  dim: TopDimension,
  rows: readonly TopFailing[],
  since: string,
  names: ReadonlyMap<string, string>,
  endpoints: ReadonlyMap<string, EndpointRef[]>,
): Html {
  const messages = (params: Record<string, string>) => `/ui/messages${query({ ...params, since })}`;
  const filterOf = (key: string): Record<string, string> | null => {
    if (dim === 'tenant') return { tenantId: key };
    if (dim === 'event_type') return { eventType: key };
    const found = endpoints.get(key) ?? [];
    return found.length === 1 && found[0] ? { endpointId: found[0].id } : null;
  };
  return table(
    TOP_TITLES[dim].caption,
    [{ label: TOP_TITLES[dim].column }, { label: 'Failed attempts', numeric: true }, { label: 'Success', numeric: true }],
    rows.map((row) => {
      const filter = filterOf(row.key);
      const shared = dim === 'endpoint' && filter === null ? (endpoints.get(row.key) ?? []) : [];
      let name: Html;
      if (dim !== 'endpoint')
        name = html`<a href="${messages(filter ?? {})}">${dim === 'tenant' ? (names.get(row.key) ?? row.key) : row.key}</a>`;
      else if (filter !== null) name = html`<a href="${messages(filter)}">${endpointLabel(row.key, true)}</a>`;
      else
        name = html`${endpointLabel(row.key, true)}${shared.map(
          (endpoint) => html`<br /><a class="mono muted" href="${messages({ endpointId: endpoint.id })}">${endpoint.id}</a>`,
        )}`;
      return html`<tr>
        <td>${name}</td>
        <td class="num"><a href="${messages({ ...(filter ?? {}), status: 'failed' })}">${count(row.failed)}</a></td>
        <td class="num">${percent(row.succeeded / (row.succeeded + row.failed))}</td>
      </tr>`;
    }),
    { empty: 'No failed attempt in this range.' },
  );
}

function chart(o: Overview): Html {
  const series = JSON.stringify({
    step: o.stepMs,
    at: o.series.map((point) => Math.round(point.at / 1000)),
    ok: o.series.map((point) => point.succeeded),
    bad: o.series.map((point) => point.failed),
  });
  const stepText = duration(o.stepMs);
  return html`<figure class="chart panel" aria-labelledby="chart-caption">
    <figcaption id="chart-caption">
      <h2>Delivered and failed attempts</h2>
      <ul class="legend">
        <li><span class="swatch ok" aria-hidden="true"></span> Delivered: ${count(o.attempts.succeeded)}</li>
        <li><span class="swatch bad" aria-hidden="true"></span> Failed: ${count(o.attempts.failed)}</li>
        <li class="muted">per ${stepText}, times in UTC</li>
      </ul>
    </figcaption>
    <div
      id="chart"
      class="chart-box"
      data-series="${series}"
      role="img"
      aria-label="Chart of delivered and failed attempts per ${stepText} since ${utc(o.since)}; the same numbers are in the table below."
    ></div>
    <details>
      <summary>The chart's numbers as a table</summary>
      ${table(
        `Attempts per ${stepText}`,
        [{ label: 'From (UTC)' }, { label: 'Delivered', numeric: true }, { label: 'Failed', numeric: true }],
        o.series.map(
          (point) =>
            html`<tr>
              <td>${utc(new Date(point.at)).replace(' UTC', '')}</td>
              <td class="num">${count(point.succeeded)}</td>
              <td class="num">${count(point.failed)}</td>
            </tr>`,
        ),
      )}
    </details>
  </figure>`;
}

export async function overviewBody(deps: ServiceDeps, range: OverviewRange): Promise<Html> {
  const o = await overview(deps, range);
  const [names, endpoints] = await Promise.all([
    tenantNames(
      deps,
      o.top.tenant.map((row) => row.key),
    ),
    applicationEndpointsByUrl(
      deps,
      o.top.endpoint.map((row) => row.key),
    ),
  ]);
  const now = o.until;
  const since = o.since.toISOString();
  const messages = (params: Record<string, string>) => `/ui/messages${query({ ...params, since })}`;
  const errorRows = ERROR_KIND_LABELS.filter(([kind]) => o.attempts.byErrorKind[kind] > 0).map(
    ([kind, label]) =>
      html`<tr>
        <td>${label} <code>${kind}</code></td>
        <td class="num">${count(o.attempts.byErrorKind[kind])}</td>
      </tr>`,
  );
  const lagging = o.rollupLagMs !== null && o.rollupLagMs > 15 * 60_000 && range !== '1h';
  return html`<h1>Overview</h1>
    <nav aria-label="Time range">
      <ul class="tabs">
        ${OVERVIEW_RANGES.map(
          (r) =>
            html`<li>
              <a href="/ui${query({ range: r })}" ${r === range ? html` aria-current="page"` : nothing}>Last ${RANGE_LABELS[r]}</a>
            </li>`,
        )}
      </ul>
    </nav>
    <p class="muted">
      Since <time datetime="${since}">${utc(o.since)}</time> (${relative(o.since, now)}). Messages are counted by creation time, attempts by
      start time.
    </p>
    ${when(
      lagging,
      () =>
        html`<p class="flash bad" role="alert">
          The hourly summaries are ${duration(o.rollupLagMs ?? 0)} behind, so this page counts the rest from the log itself and may be slow.
          The summaries are made by the overview job of <code>orbit serve</code> or <code>orbit worker</code>: check that one is running.
        </p>`,
    )}
    <h2>Messages</h2>
    <ul class="cards">
      ${card('Created', count(o.messages.total), { href: messages({}) })}
      ${card('Pending', count(o.messages.pending), { tone: o.messages.pending > 0 ? 'wait' : undefined, href: messages({ status: 'pending' }) })}
      ${card('Succeeded', count(o.messages.succeeded), { tone: 'ok', href: messages({ status: 'succeeded' }) })}
      ${card('Failed', count(o.messages.failed), { tone: o.messages.failed > 0 ? 'bad' : undefined, href: messages({ status: 'failed' }) })}
      ${card('Success rate', percent(o.successRate), { sub: 'of the messages that finished' })}
    </ul>
    <h2>Attempts</h2>
    <ul class="cards">
      ${card('Attempts', count(o.attempts.succeeded + o.attempts.failed), { sub: `${count(o.attempts.failed)} failed` })}
      ${card('Latency p50', o.latencyMs.p50 === null ? '—' : `≈ ${duration(o.latencyMs.p50)}`)}
      ${card('Latency p95', o.latencyMs.p95 === null ? '—' : `≈ ${duration(o.latencyMs.p95)}`)}
      ${card('Latency p99', o.latencyMs.p99 === null ? '—' : `≈ ${duration(o.latencyMs.p99)}`, { sub: 'attempt duration, within about 12 %' })}
    </ul>
    <h2>Queue now</h2>
    <ul class="cards">
      ${card('Ready to send', count(o.queue.ready))} ${card('Waiting to retry', count(o.queue.deferred))}
      ${card('Sending', count(o.queue.active))}
      ${card('Oldest pending', o.oldestPendingAt === null ? 'none' : duration(Math.max(0, now.getTime() - o.oldestPendingAt.getTime())), {
        tone: o.oldestPendingAt !== null && now.getTime() - o.oldestPendingAt.getTime() > 3_600_000 ? 'wait' : undefined,
        sub: o.oldestPendingAt === null ? 'no message is pending' : html`created ${utc(o.oldestPendingAt)}`,
        href:
          o.oldestPendingAt === null
            ? undefined
            : `/ui/messages${query({ status: 'pending', until: new Date(o.oldestPendingAt.getTime() + 1).toISOString() })}`,
      })}
    </ul>
    <p class="muted">Queue counts are as of the queue monitor's last pass (every few seconds).</p>
    ${chart(o)}
    <h2>Where it fails</h2>
    <div class="grid-3">
      ${topTable('tenant', o.top.tenant, since, names, endpoints)} ${topTable('endpoint', o.top.endpoint, since, names, endpoints)}
      ${topTable('event_type', o.top.event_type, since, names, endpoints)}
    </div>
    <h2>Failed attempts by error</h2>
    ${table('Failed attempts by error kind', [{ label: 'Error' }, { label: 'Failed attempts', numeric: true }], errorRows, { empty: 'No failed attempt in this range.' })}`;
}
