/** The console's sign-in page and the portal's entry and signed-out pages. */
import { html, when, type Html } from './html.ts';
import { csrfField } from './layout.ts';

export function loginBody(input: { csrf: string; next: string; error?: string | undefined; insecure: boolean }): Html {
  return html`<div class="login panel">
    <h1>Sign in to Orbit</h1>
    <p>Paste an admin API key (<code>gx_…</code>). The first start of Orbit prints one.</p>
    ${when(input.error, () => html`<p class="flash bad" role="alert">${input.error}</p>`)}
    ${when(
      input.insecure,
      () =>
        html`<p class="flash bad" role="alert">
          This page came over plain HTTP to a remote address, so your browser will not keep the session cookie. Open Orbit over HTTPS (or on
          localhost), and set ORBIT_PUBLIC_URL to that address.
        </p>`,
    )}
    <form method="post" action="/ui/login">
      ${csrfField(input.csrf)}
      <input type="hidden" name="next" value="${input.next}" />
      <div class="field">
        <label for="api-key">API key</label>
        <input id="api-key" name="apiKey" type="password" autocomplete="off" spellcheck="false" required autofocus />
      </div>
      <button type="submit">Sign in</button>
    </form>
    <span hidden data-session-probe="/ui/session" data-next="${input.next}"></span>
  </div>`;
}

/**
 * `/portal`: the link's token is in the fragment; the script exchanges it for a session. Without a
 * token, the script checks for a session (a link opened from elsewhere arrives without the cookie).
 */
export function portalEntryBody(next: string): Html {
  return html`<div class="login panel" data-portal-entry>
    <h1>Webhook portal</h1>
    <p id="portal-status" role="status" aria-live="polite">
      To open the portal, use the link you were given. A link opens once, within 15 minutes; if yours was used or has expired, ask for a new
      one.
    </p>
    <noscript
      ><p class="flash bad">The portal link needs JavaScript to open (its key is kept out of the address sent to the server).</p></noscript
    >
    <span hidden data-session-probe="/portal/session" data-next="${next}"></span>
  </div>`;
}

export function errorBody(status: number, text: string, home: string): Html {
  const title = status === 404 ? 'Not found' : status === 403 ? 'Not allowed' : status === 400 ? 'Not valid' : 'Something went wrong';
  return html`<h1>${title}</h1>
    <p>${text}</p>
    <p><a href="${home}">Go back to the start</a></p>`;
}
