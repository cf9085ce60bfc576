/** The page frame of the console and the portal, and the pieces every page shares. */
import type { Context } from 'hono';
import { MESSAGE_STATUSES, type MessageStatus } from '../domain/delivery.ts';
import { assetUrl, type AssetName } from './assets.ts';
import { html, nothing, when, type Child, type Html } from './html.ts';
import type { UiEnv } from './security.ts';

/** After a retry: how many attempts the message had, and how many new ones its page waits for. */
export interface RetryMark {
  after: number;
  awaiting: number;
}

export interface Flash {
  tone: 'ok' | 'bad';
  text: string;
  retry?: RetryMark;
}

export type Area = 'console' | 'portal';

/** Renders a page in its area's frame: what the shared route modules are given by the console and the portal. */
export type RenderPage = (
  c: Context<UiEnv>,
  title: string,
  body: Html,
  options?: { status?: 200 | 400 | 403 | 404; flash?: Flash | null },
) => Promise<Response> | Response;

export interface NavItem {
  key: string;
  label: string;
  href: string;
}

export const CONSOLE_NAV: readonly NavItem[] = [
  { key: 'overview', label: 'Overview', href: '/ui' },
  { key: 'messages', label: 'Messages', href: '/ui/messages' },
  { key: 'recover', label: 'Recover', href: '/ui/recover' },
  { key: 'tenants', label: 'Tenants', href: '/ui/tenants' },
  { key: 'applications', label: 'Applications', href: '/ui/applications' },
];

export interface PageOptions {
  title: string;
  area: Area;
  /** The nav item of this page. */
  current?: string;
  /** Signed-in pages: the nav, who is signed in, and the sign-out form. */
  session?: { csrf: string; nav: readonly NavItem[]; who: string } | undefined;
  flash?: Flash | null | undefined;
  /** Extra files (the overview's chart). */
  assets?: readonly AssetName[];
  body: Html;
}

/** htmx settings that keep it inside the CSP: no injected <style>, no eval, no inline scripts. */
const HTMX_CONFIG = JSON.stringify({
  includeIndicatorStyles: false,
  allowEval: false,
  allowScriptTags: false,
  historyCacheSize: 0,
  selfRequestsOnly: true,
});

export function page(options: PageOptions): Html {
  const product = options.area === 'console' ? 'Orbit console' : 'Webhook portal';
  const extraStyles = (options.assets ?? []).filter((name) => name.endsWith('.css'));
  const extraScripts = (options.assets ?? []).filter((name) => name.endsWith('.js'));
  const home = options.area === 'console' ? '/ui' : '/portal/messages';
  const logout = options.area === 'console' ? '/ui/logout' : '/portal/logout';
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light dark" />
        <meta name="referrer" content="same-origin" />
        <meta name="htmx-config" content="${HTMX_CONFIG}" />
        <title>${options.title} · ${product}</title>
        <link rel="icon" type="image/svg+xml" href="${assetUrl('favicon.svg')}" />
        <link rel="stylesheet" href="${assetUrl('console.css')}" />
        ${extraStyles.map((name) => html`<link rel="stylesheet" href="${assetUrl(name)}" />`)}
        <script src="${assetUrl('htmx.js')}" defer></script>
        ${extraScripts.map((name) => html`<script src="${assetUrl(name)}" defer></script>`)}
        <script src="${assetUrl('console.js')}" defer></script>
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        <header class="top">
          <a class="brand" href="${options.session ? home : options.area === 'console' ? '/ui/login' : '/portal'}"
            ><img src="${assetUrl('favicon.svg')}" alt="" /> Orbit <small>${options.area === 'console' ? 'console' : 'portal'}</small></a
          >
          ${when(
            options.session,
            () =>
              html`<nav aria-label="Main">
                  <ul>
                    ${(options.session?.nav ?? []).map(
                      (item) =>
                        html`<li>
                          <a href="${item.href}" ${item.key === options.current ? html` aria-current="page"` : nothing}>${item.label}</a>
                        </li>`,
                    )}
                  </ul>
                </nav>
                <div class="who">
                  <span>${options.session?.who}</span>
                  <form method="post" action="${logout}">
                    <input type="hidden" name="_csrf" value="${options.session?.csrf}" /><button type="submit" class="secondary">
                      Sign out
                    </button>
                  </form>
                </div>`,
          )}
        </header>
        <main id="main">
          <div id="flash" role="status" aria-live="polite">${flashMessage(options.flash)}</div>
          <div id="announcer" class="visually-hidden" aria-live="polite"></div>
          ${options.body}
        </main>
      </body>
    </html>`;
}

function flashMessage(flash: Flash | null | undefined): Html {
  if (!flash) return nothing;
  return html`<p class="flash ${flash.tone}">${flash.text}</p>`;
}

export function statusBadge(status: MessageStatus | 'succeeded' | 'failed'): Html {
  return html`<span class="badge ${MESSAGE_STATUSES.includes(status) ? status : ''}">${status}</span>`;
}

/** A hidden CSRF field; every form of a signed-in page has one. */
export const csrfField = (csrf: string): Html => html`<input type="hidden" name="_csrf" value="${csrf}" />`;

/** A copy button for the text of an element; shown only once the script can copy. */
export const copyButton = (targetId: string, label: string): Html =>
  html`<button type="button" class="secondary" data-copy="${targetId}" hidden>${label}</button>`;

export interface Column {
  label: string;
  numeric?: boolean;
}

/** A table with a caption and column headers; rows are given as lists of cells. */
export function table(
  caption: Child,
  columns: readonly Column[],
  rows: readonly Html[],
  options: { id?: string; empty?: string } = {},
): Html {
  return html`<div class="table-wrap" ${options.id ? html` id="${options.id}"` : nothing}>
    <table>
      <caption>
        ${caption}
      </caption>
      <thead>
        <tr>
          ${columns.map((column) => html`<th scope="col" ${column.numeric ? html` class="num"` : nothing}>${column.label}</th>`)}
        </tr>
      </thead>
      <tbody>
        ${
          rows.length > 0
            ? rows
            : html`<tr>
                <td colspan="${columns.length}" class="muted">${options.empty ?? 'Nothing here.'}</td>
              </tr>`
        }
      </tbody>
    </table>
  </div>`;
}

/** A labelled text field with an optional hint and error (tied to the input for screen readers). */
export function textField(input: {
  name: string;
  label: string;
  value?: string | undefined;
  hint?: string;
  error?: string | undefined;
  type?: 'text' | 'password' | 'search';
  required?: boolean;
  wide?: boolean;
  autocomplete?: string;
  placeholder?: string;
  /** The id of a <datalist> of suggestions. */
  list?: string | undefined;
}): Html {
  const id = `f-${input.name}`;
  const described = [input.hint ? `${id}-hint` : '', input.error ? `${id}-error` : ''].filter(Boolean).join(' ');
  return html`<div class="field${input.wide ? ' wide' : ''}">
    <label for="${id}">${input.label}</label>
    <input
      id="${id}"
      name="${input.name}"
      type="${input.type ?? 'text'}"
      value="${input.value ?? ''}"
      autocomplete="${input.autocomplete ?? 'off'}"
      spellcheck="false"
      ${input.list ? html` list="${input.list}"` : nothing}${
        input.placeholder ? html` placeholder="${input.placeholder}"` : nothing
      }${input.required ? html` required` : nothing}${described ? html` aria-describedby="${described}"` : nothing}${
        input.error ? html` aria-invalid="true"` : nothing
      }
    />
    ${when(input.hint, () => html`<span class="hint" id="${id}-hint">${input.hint}</span>`)}
    ${when(input.error, () => html`<span class="error" id="${id}-error">${input.error}</span>`)}
  </div>`;
}

/** A labelled select; `options` are [value, label] pairs, the first usually "any". */
export function selectField(input: {
  name: string;
  label: string;
  value?: string | undefined;
  options: ReadonlyArray<readonly [string, string]>;
}): Html {
  const id = `f-${input.name}`;
  return html`<div class="field">
    <label for="${id}">${input.label}</label>
    <select id="${id}" name="${input.name}">
      ${input.options.map(([value, label]) => html`<option value="${value}" ${value === (input.value ?? '') ? html` selected` : nothing}>${label}</option>`)}
    </select>
  </div>`;
}
