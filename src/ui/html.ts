/**
 * HTML for the console and the portal, written with Hono's `html` tagged template (hono/html).
 *
 * Why not JSX: Node 24 runs Orbit's TypeScript by stripping types, which does not transform JSX, so
 * `.tsx` pages would need a build step before `npm start`. The tagged template escapes every
 * interpolated value exactly as hono/jsx does (strings, numbers and arrays of fragments; a fragment
 * made by `html` is not escaped twice), reads like the HTML it makes, and needs nothing but Hono.
 * Only `raw()` skips escaping, and it is never given user data.
 */
import { html as honoHtml, raw } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';

export type Html = HtmlEscapedString;
/** What may be interpolated: text and numbers (escaped), fragments, lists of them, nothing. */
export type Child = Html | string | number | null | undefined | false | readonly Child[];

/** Our templates never interpolate promises, so the result is always synchronous. */
export const html = (strings: TemplateStringsArray, ...values: Child[]): Html => honoHtml(strings, ...values) as Html;

export const nothing: Html = raw('');

export const when = (condition: unknown, fragment: () => Html): Html => (condition ? fragment() : nothing);

// ---- formatting -------------------------------------------------------------------------------

/** `2026-03-01 12:00:05 UTC`: on-call engineers in several time zones read the same page. */
export function utc(iso: string | Date): string {
  const text = typeof iso === 'string' ? iso : iso.toISOString();
  return `${text.slice(0, 10)} ${text.slice(11, 19)} UTC`;
}

/** `3 min ago`, `in 5 s`: how far a moment is from now, in the largest unit that fits. */
export function relative(iso: string | Date, now: Date): string {
  const at = typeof iso === 'string' ? Date.parse(iso) : iso.getTime();
  const delta = at - now.getTime();
  const text = duration(Math.abs(delta));
  if (Math.abs(delta) < 1000) return 'just now';
  return delta < 0 ? `${text} ago` : `in ${text}`;
}

/** `850 ms`, `1.4 s`, `12 s`, `3 min`, `2 h 5 min`, `4 d 3 h`. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 10_000) return `${(Math.floor(ms / 100) / 10).toFixed(1)} s`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 48) return min % 60 === 0 ? `${h} h` : `${h} h ${min % 60} min`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d} d` : `${d} d ${h % 24} h`;
}

/** A moment as `<time>`: the UTC time, and how long ago (or until) it is. */
export function time(iso: string | Date | null, now: Date, empty = '—'): Html {
  if (iso === null) return html`${empty}`;
  const at = typeof iso === 'string' ? iso : iso.toISOString();
  return html`<time datetime="${at}">${utc(at)}</time> <span class="muted">(${relative(at, now)})</span>`;
}

export const count = (n: number): string => Math.round(n).toLocaleString('en-US');

export const percent = (ratio: number | null): string => (ratio === null ? '—' : `${(Math.floor(ratio * 1000) / 10).toFixed(1)} %`);

/** A query string from the given parameters, leaving out empty ones. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(name, String(value));
  }
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}
