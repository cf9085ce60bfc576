/**
 * The console and portal without a browser: sessions and their cookies, CSRF, the sign-in rate
 * limit, portal links and their scope, the CSP header and the assets. The browser tests are in
 * test/browser/console.test.ts.
 */
import { createHash } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.ts';
import { uiSessions } from '../../src/db/schema.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { createTenant } from '../../src/services/tenants.ts';
import { CSP } from '../../src/ui/security.ts';
import { startTestApi, type TestApi } from '../support/api.ts';
import { insertAttempt, insertMessage, manualClock } from '../support/log-app.ts';

const ORIGIN = 'http://localhost';
const clock = manualClock(new Date('2026-03-01T12:00:00.000Z'));

let api: TestApi;
let app: ReturnType<typeof createApp>;
let other: { id: string; apiKey: string };
let ownMessage: string;
let otherMessage: string;
let otherRun: string;

/** A browser's cookie jar, enough for these tests: name → value, per path prefix. */
class Browser {
  cookies = new Map<string, { value: string; path: string }>();
  readonly origin: string;
  constructor(origin = ORIGIN) {
    this.origin = origin;
  }

  async request(
    path: string,
    init: { method?: string; form?: Record<string, string>; json?: unknown; headers?: Record<string, string> } = {},
  ) {
    const headers: Record<string, string> = { ...init.headers };
    const pathname = path.split('?')[0] ?? path;
    const cookie = [...this.cookies.entries()]
      .filter(([, c]) => pathname === c.path || pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`) || c.path === '/')
      .map(([name, c]) => `${name}=${c.value}`)
      .join('; ');
    if (cookie) headers['cookie'] = cookie;
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      headers['origin'] ??= this.origin;
      body = new URLSearchParams(init.form).toString();
    } else if (init.json !== undefined) {
      headers['content-type'] = 'application/json';
      headers['origin'] ??= this.origin;
      body = JSON.stringify(init.json);
    }
    const method = init.method ?? (body !== undefined ? 'POST' : 'GET');
    const response = await app.request(`${this.origin}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';').map((part) => part.trim());
      const [name, ...rest] = (pair ?? '').split('=');
      const value = rest.join('=');
      const pathAttribute = attributes.find((a) => a.toLowerCase().startsWith('path='))?.slice(5) ?? '/';
      const maxAge = attributes.find((a) => a.toLowerCase().startsWith('max-age='));
      if (value === '' || maxAge === 'Max-Age=0') this.cookies.delete(name as string);
      else this.cookies.set(name as string, { value, path: pathAttribute });
    }
    return { status: response.status, headers: response.headers, text: await response.text() };
  }

  /** The hidden CSRF field of the last page that had one. */
  static csrfOf(html: string): string {
    const match = /name="_csrf" value="([^"]+)"/.exec(html);
    if (!match?.[1]) throw new Error('no CSRF field on the page');
    return match[1];
  }

  async signIn(apiKey: string): Promise<{ status: number; csrf: string; text: string; headers: Headers }> {
    const login = await this.request('/ui/login');
    const answer = await this.request('/ui/login', { form: { _csrf: Browser.csrfOf(login.text), apiKey, next: '/ui' } });
    if (answer.status !== 303) return { ...answer, csrf: '' };
    const home = await this.request('/ui/messages');
    return { ...answer, csrf: Browser.csrfOf(home.text) };
  }
}

async function portalBrowser(tenantId: string, body: Record<string, unknown> = {}): Promise<{ browser: Browser; csrf: string }> {
  const access = await api.call('POST', `/v1/admin/tenants/${tenantId}/portal-access`, { body });
  expect(access.status).toBe(200);
  const browser = new Browser();
  const opened = await browser.request('/portal/session', { json: { token: access.body.token } });
  expect(opened.status).toBe(200);
  const page = await browser.request('/portal/messages');
  return { browser, csrf: page.status === 200 ? Browser.csrfOf(page.text) : '' };
}

beforeAll(async () => {
  api = await startTestApi({ clock });
  app = createApp({ services: api.deps, logger: silentLogger, version: '0.0.0-test' });
  const created = await createTenant(api.deps, 'other tenant');
  other = { id: created.id, apiKey: created.apiKey };
  ownMessage = await insertMessage(api.deps.db, { tenantId: api.tenantId, status: 'failed', createdAt: new Date('2026-03-01T11:00:00Z') });
  await insertAttempt(api.deps.db, {
    messageId: ownMessage,
    tenantId: api.tenantId,
    attempt: 1,
    responseStatus: 500,
    startedAt: new Date('2026-03-01T11:00:01Z'),
  });
  otherRun = 'run_otherTenantRun000000000';
  otherMessage = await insertMessage(api.deps.db, {
    tenantId: other.id,
    runId: otherRun,
    workflowId: 'wf_other_secret',
    status: 'failed',
    createdAt: new Date('2026-03-01T11:30:00Z'),
  });
});

afterAll(async () => {
  await api?.close();
});

beforeEach(async () => {
  // Each test signs in afresh; failed sign-ins of one must not throttle the next.
  await api.deps.db.execute(sql`delete from ui_login_failures`);
});

describe('sign-in and sessions', () => {
  it('a page without a session redirects to sign-in, keeping where it was going', async () => {
    const answer = await new Browser().request('/ui/messages?status=failed');
    expect(answer.status).toBe(303);
    expect(answer.headers.get('location')).toBe(`/ui/login?next=${encodeURIComponent('/ui/messages?status=failed')}`);
  });

  it('an admin key signs in; the cookie is HttpOnly, SameSite=Strict, scoped to /ui, not Secure on plain-HTTP localhost', async () => {
    const browser = new Browser();
    const login = await browser.request('/ui/login');
    expect(login.text).toContain('<label for="api-key">API key</label>');
    expect(login.text).toMatch(/<button type="submit">Sign in<\/button>/);
    const answer = await browser.request('/ui/login', {
      form: { _csrf: Browser.csrfOf(login.text), apiKey: api.adminKey, next: '/ui/tenants' },
    });
    expect(answer.status).toBe(303);
    expect(answer.headers.get('location')).toBe('/ui/tenants');
    const cookie = answer.headers.getSetCookie().find((line) => line.startsWith('orbit_console='));
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Path=\/ui(;|$)/);
    expect(cookie).not.toMatch(/Secure/);
    expect((await browser.request('/ui/tenants')).status).toBe(200);
  });

  it('the cookie is Secure everywhere but plain-HTTP localhost (HTTPS, a proxy, a remote host)', async () => {
    for (const [origin, headers] of [
      ['https://orbit.example.com', {}],
      ['http://orbit.internal:3000', {}],
      ['http://localhost', { 'x-forwarded-proto': 'https', host: 'localhost' }],
    ] as const) {
      const browser = new Browser(origin);
      const login = await browser.request('/ui/login', { headers });
      const answer = await browser.request('/ui/login', {
        form: { _csrf: Browser.csrfOf(login.text), apiKey: api.adminKey },
        headers: { ...headers, origin: headers['x-forwarded-proto'] ? 'https://localhost' : origin },
      });
      expect(answer.status, origin).toBe(303);
      expect(
        answer.headers.getSetCookie().find((line) => line.startsWith('orbit_console=')),
        origin,
      ).toMatch(/; Secure/);
    }
  });

  it('only the hash of the session token is stored', async () => {
    const browser = new Browser();
    await browser.signIn(api.adminKey);
    const token = browser.cookies.get('orbit_console')?.value as string;
    const rows = await api.deps.db.select({ id: uiSessions.id }).from(uiSessions);
    expect(rows.map((row) => row.id)).toContain(createHash('sha256').update(token).digest('hex'));
    expect(rows.map((row) => row.id)).not.toContain(token);
  });

  it('a wrong, a tenant-scoped or a revoked key gets the same message, with no hint which', async () => {
    const issued = await api.call('POST', `/v1/admin/tenants/${api.tenantId}/keys`, { body: { scope: 'admin' } });
    await api.call('DELETE', `/v1/admin/keys/${issued.body.id}`);
    const answers = [];
    for (const key of ['gx_wrong_key_000000000000000000', other.apiKey, issued.body.apiKey, '']) {
      const answer = await new Browser().signIn(key);
      expect(answer.status).toBe(401);
      answers.push(/<p class="flash bad" role="alert">([^<]*)<\/p>/.exec(answer.text)?.[1]);
    }
    expect(new Set(answers).size).toBe(1);
    expect(answers[0]).toContain('not accepted');
  });

  it('sign-in attempts are rate limited: after 10 failures even the right key waits', async () => {
    const browser = new Browser();
    for (let i = 0; i < 10; i++) expect((await browser.signIn(`gx_guess_${i}_0000000000000000000`)).status).toBe(401);
    const refused = await browser.signIn(api.adminKey);
    expect(refused.status).toBe(429);
    expect(refused.text).toContain('Too many failed sign-ins');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(browser.cookies.has('orbit_console')).toBe(false);
    clock.advance(10 * 60_000);
    expect((await browser.signIn(api.adminKey)).status).toBe(303);
  });

  it('revoking the key ends its sessions at once', async () => {
    const issued = await api.call('POST', `/v1/admin/tenants/${api.tenantId}/keys`, { body: { scope: 'admin' } });
    const browser = new Browser();
    await browser.signIn(issued.body.apiKey);
    expect((await browser.request('/ui')).status).toBe(200);
    await api.call('DELETE', `/v1/admin/keys/${issued.body.id}`);
    const after = await browser.request('/ui');
    expect(after.status).toBe(303);
    expect(after.headers.get('location')).toMatch(/^\/ui\/login/);
  });

  it('sessions end after 2 hours idle, and after 12 hours however used', async () => {
    const idle = new Browser();
    await idle.signIn(api.adminKey);
    clock.advance(2 * 3_600_000 + 1000);
    expect((await idle.request('/ui')).status).toBe(303);

    const busy = new Browser();
    await busy.signIn(api.adminKey);
    for (let hour = 1; hour < 12; hour++) {
      clock.advance(3_600_000);
      expect((await busy.request('/ui/tenants')).status, `hour ${hour}`).toBe(200);
    }
    clock.advance(3_600_000);
    expect((await busy.request('/ui/tenants')).status).toBe(303);
  });

  it('sign-out ends the session: the old cookie opens nothing', async () => {
    const browser = new Browser();
    const { csrf } = await browser.signIn(api.adminKey);
    const token = browser.cookies.get('orbit_console')?.value as string;
    const out = await browser.request('/ui/logout', { form: { _csrf: csrf } });
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe('/ui/login');
    expect(browser.cookies.has('orbit_console')).toBe(false);
    const stale = await app.request(`${ORIGIN}/ui`, { headers: { cookie: `orbit_console=${token}` } });
    expect(stale.status).toBe(303);
  });

  it('the sign-in page sends nobody elsewhere: next must stay in the console', async () => {
    const browser = new Browser();
    for (const next of ['https://evil.example', '//evil.example/ui', '/uievil', '/docs']) {
      const login = await browser.request(`/ui/login?next=${encodeURIComponent(next)}`);
      expect(login.text).toContain('name="next" value="/ui"');
    }
  });
});

describe('CSRF', () => {
  it('a form without the session token, or with another session’s, is refused', async () => {
    const browser = new Browser();
    const { csrf } = await browser.signIn(api.adminKey);
    const elsewhere = new Browser();
    const { csrf: otherCsrf } = await elsewhere.signIn(api.adminKey);
    for (const form of [{}, { _csrf: '' }, { _csrf: otherCsrf }, { _csrf: `${csrf}x` }] as Array<Record<string, string>>) {
      const answer = await browser.request(`/ui/messages/${ownMessage}/retry`, { form });
      expect(answer.status).toBe(403);
      expect(answer.text).toContain('did not come from this console');
    }
    expect((await browser.request(`/ui/messages/${ownMessage}/retry`, { form: { _csrf: csrf } })).status).toBe(303);
  });

  it('a form posted from another origin is refused, token or not', async () => {
    const browser = new Browser();
    const { csrf } = await browser.signIn(api.adminKey);
    for (const headers of [{ origin: 'https://evil.example' }, { origin: 'null' }]) {
      expect((await browser.request('/ui/tenants', { form: { _csrf: csrf, name: 'x' }, headers })).status).toBe(403);
    }
    // No Origin at all: the Referer decides.
    const noOrigin = await app.request(`${ORIGIN}/ui/tenants`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        cookie: `orbit_console=${browser.cookies.get('orbit_console')?.value}`,
        referer: 'https://evil.example/page',
      },
      body: new URLSearchParams({ _csrf: csrf, name: 'x' }).toString(),
    });
    expect(noOrigin.status).toBe(403);
  });

  it('the sign-in form needs its own token (double-submit cookie) and the same origin', async () => {
    const browser = new Browser();
    await browser.request('/ui/login');
    expect((await browser.request('/ui/login', { form: { apiKey: api.adminKey } })).status).toBe(403);
    const fresh = new Browser();
    const login = await fresh.request('/ui/login');
    const crossSite = await fresh.request('/ui/login', {
      form: { _csrf: Browser.csrfOf(login.text), apiKey: api.adminKey },
      headers: { origin: 'https://evil.example' },
    });
    expect(crossSite.status).toBe(403);
    expect(fresh.cookies.has('orbit_console')).toBe(false);
  });

  it('behind a proxy, forms from ORBIT_PUBLIC_URL are accepted', async () => {
    const proxied = createApp({ services: api.deps, logger: silentLogger, version: '0.0.0-test', publicUrl: 'https://orbit.example.com' });
    const browser = new Browser();
    const { csrf } = await browser.signIn(api.adminKey);
    const answer = await proxied.request(`http://10.0.0.5:3000/ui/messages/${ownMessage}/retry`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        cookie: `orbit_console=${browser.cookies.get('orbit_console')?.value}`,
        origin: 'https://orbit.example.com',
      },
      body: new URLSearchParams({ _csrf: csrf }).toString(),
    });
    expect(answer.status).toBe(303);
  });
});

describe('headers and assets', () => {
  it('every page has the one CSP, no-store and nosniff; assets are hashed and immutable', async () => {
    const browser = new Browser();
    const login = await browser.request('/ui/login');
    await browser.signIn(api.adminKey);
    const pages = [
      '/ui',
      '/ui?range=30d',
      '/ui/messages',
      `/ui/messages/${ownMessage}`,
      '/ui/recover?since=24h',
      '/ui/tenants',
      `/ui/tenants/${api.tenantId}`,
      '/ui/nope',
      '/ui/messages/msg_nope',
    ];
    for (const path of pages) {
      const answer = await browser.request(path);
      expect(answer.headers.get('content-security-policy'), path).toBe(CSP);
      expect(answer.headers.get('cache-control'), path).toBe('no-store');
      expect(answer.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(answer.text, path).not.toMatch(/<script>|<script(?![^>]*\ssrc=)[^>]*>|\sstyle=|\son[a-z]+=/i);
    }
    expect(CSP).toBe(
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
    );
    const assets = [...login.text.matchAll(/(?:src|href)="(\/ui\/assets\/[^"]+)"/g)].map((match) => match[1] as string);
    expect(assets.length).toBeGreaterThanOrEqual(4);
    for (const asset of assets) {
      expect(asset).toMatch(/-[0-9a-f]{16}\.(js|css|svg)$/);
      const answer = await browser.request(asset);
      expect(answer.status, asset).toBe(200);
      expect(answer.headers.get('cache-control'), asset).toBe('public, max-age=31536000, immutable');
      expect(answer.headers.get('content-security-policy'), asset).toBe(CSP);
    }
    expect((await browser.request('/ui/assets/console-0000000000000000.css')).status).toBe(404);
  });

  it('an unknown console page or id is an HTML 404', async () => {
    const browser = new Browser();
    await browser.signIn(api.adminKey);
    for (const path of ['/ui/messages/msg_unknown', '/ui/tenants/ten_unknown', '/ui/keys/key_unknown/revoke', '/ui/whatever']) {
      const answer = await browser.request(path);
      expect(answer.status, path).toBe(404);
      expect(answer.headers.get('content-type'), path).toMatch(/text\/html/);
    }
  });
});

describe('portal links', () => {
  it('POST /v1/admin/tenants/{id}/portal-access answers {url, token}, the token only in the fragment', async () => {
    const answer = await api.call('POST', `/v1/admin/tenants/${api.tenantId}/portal-access`, { body: {} });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      url: expect.any(String),
      token: expect.stringMatching(/^ptl_/),
      readOnly: false,
      sessionSeconds: 8 * 3600,
    });
    const url = new URL(answer.body.url);
    expect(url.pathname).toBe('/portal');
    expect(url.search).toBe('');
    expect(url.hash).toBe(`#token=${answer.body.token}`);
  });

  it('portal-access: unknown tenant 404, bad expiresIn 422, tenant key 403, no key 401', async () => {
    expect((await api.call('POST', '/v1/admin/tenants/ten_unknown/portal-access', { body: {} })).status).toBe(404);
    const bad = await api.call('POST', `/v1/admin/tenants/${api.tenantId}/portal-access`, { body: { expiresIn: '30d' } });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details[0].path).toBe('body.expiresIn');
    expect((await api.call('POST', `/v1/admin/tenants/${api.tenantId}/portal-access`, { body: {}, key: other.apiKey })).status).toBe(403);
    expect((await api.call('POST', `/v1/admin/tenants/${api.tenantId}/portal-access`, { body: {}, key: null })).status).toBe(401);
  });

  it('a link opens once, and only within 15 minutes', async () => {
    const access = await api.call('POST', `/v1/admin/tenants/${api.tenantId}/portal-access`, { body: {} });
    const first = await new Browser().request('/portal/session', { json: { token: access.body.token } });
    expect(first.status).toBe(200);
    expect(first.headers.getSetCookie().find((line) => line.startsWith('orbit_portal='))).toMatch(
      /HttpOnly.*SameSite=Strict|SameSite=Strict.*HttpOnly/,
    );
    const second = await new Browser().request('/portal/session', { json: { token: access.body.token } });
    expect(second.status).toBe(401);

    const late = await api.call('POST', `/v1/admin/tenants/${api.tenantId}/portal-access`, { body: {} });
    clock.advance(15 * 60_000 + 1);
    expect((await new Browser().request('/portal/session', { json: { token: late.body.token } })).status).toBe(401);
    expect((await new Browser().request('/portal/session', { json: { token: 'ptl_forged_token_000000000000000' } })).status).toBe(401);
  });

  it('the link exchange refuses other origins', async () => {
    const access = await api.call('POST', `/v1/admin/tenants/${api.tenantId}/portal-access`, { body: {} });
    const answer = await new Browser().request('/portal/session', {
      json: { token: access.body.token },
      headers: { origin: 'https://evil.example' },
    });
    expect(answer.status).toBe(403);
  });

  it("the portal shows its tenant's messages and nothing of another tenant, by any URL", async () => {
    const { browser, csrf } = await portalBrowser(api.tenantId);
    const list = await browser.request('/portal/messages');
    expect(list.status).toBe(200);
    expect(list.text).toContain(ownMessage);
    expect(list.text).not.toContain(otherMessage);
    expect(list.text).not.toContain(other.id);

    const probes = [`/portal/messages/${otherMessage}`, `/portal/messages/${otherMessage}?part=delivery`];
    for (const path of probes) expect((await browser.request(path)).status, path).toBe(404);
    expect((await browser.request(`/portal/messages/${otherMessage}/retry`, { form: { _csrf: csrf } })).status).toBe(404);
    const attempts = await api.deps.db.execute<{ n: number }>(
      sql`select count(*)::int as n from attempts where message_id = ${otherMessage}`,
    );
    expect(attempts[0]?.n).toBe(0);

    for (const path of [
      `/portal/messages?tenantId=${other.id}`,
      `/portal/messages?runId=${otherRun}`,
      '/portal/messages?workflowId=wf_other_secret',
    ]) {
      const answer = await browser.request(path);
      expect(answer.text, path).not.toContain(otherMessage);
    }
    const search = await browser.request(`/portal/messages?q=${otherMessage}`);
    expect(search.status).toBe(400);
    expect(search.text).toContain('No message');
    expect(search.text).not.toContain('wf_other_secret');

    // The portal cookie opens nothing in the console, whatever its path.
    const token = browser.cookies.get('orbit_portal')?.value as string;
    for (const path of ['/ui', '/ui/messages', `/ui/messages/${otherMessage}`, `/ui/tenants/${other.id}`]) {
      const answer = await app.request(`${ORIGIN}${path}`, { headers: { cookie: `orbit_console=${token}; orbit_portal=${token}` } });
      expect(answer.status, path).toBe(303);
      expect(answer.headers.get('location'), path).toMatch(/^\/ui\/login/);
    }
  });

  it('a portal URL without a session goes to the portal page, which checks for one', async () => {
    const answer = await new Browser().request(`/portal/messages/${ownMessage}`);
    expect(answer.status).toBe(303);
    expect(answer.headers.get('location')).toBe(`/portal?next=${encodeURIComponent(`/portal/messages/${ownMessage}`)}`);
    const entry = await new Browser().request(answer.headers.get('location') as string);
    expect(entry.status).toBe(200);
    expect(entry.text).toContain(`data-next="/portal/messages/${ownMessage}"`);
  });

  it('retry in the portal queues an attempt for its own message', async () => {
    const { browser, csrf } = await portalBrowser(api.tenantId);
    const answer = await browser.request(`/portal/messages/${ownMessage}/retry`, { form: { _csrf: csrf } });
    expect(answer.status).toBe(303);
    expect(answer.headers.get('location')).toBe(`/portal/messages/${ownMessage}`);
    const page = await browser.request(`/portal/messages/${ownMessage}`);
    expect(page.text).toContain('Retry queued');
    expect(page.text).toContain('hx-trigger="every 1s"');
  });

  it('a read-only portal shows no action and refuses one', async () => {
    const { browser, csrf } = await portalBrowser(api.tenantId, { readOnly: true });
    const page = await browser.request(`/portal/messages/${ownMessage}`);
    expect(page.status).toBe(200);
    expect(page.text).not.toContain('>Retry</button>');
    expect((await browser.request(`/portal/messages/${ownMessage}/retry`, { form: { _csrf: csrf } })).status).toBe(403);
  });

  it('portal sessions last expiresIn, then end', async () => {
    const { browser } = await portalBrowser(api.tenantId, { expiresIn: '2m' });
    expect((await browser.request('/portal/messages')).status).toBe(200);
    clock.advance(2 * 60_000 + 1000);
    expect((await browser.request('/portal/messages')).status).toBe(303);
  });

  it('portal sign-out ends the session', async () => {
    const { browser, csrf } = await portalBrowser(api.tenantId);
    const token = browser.cookies.get('orbit_portal')?.value as string;
    expect((await browser.request('/portal/logout', { form: { _csrf: csrf } })).status).toBe(303);
    const rows = await api.deps.db
      .select()
      .from(uiSessions)
      .where(eq(uiSessions.id, createHash('sha256').update(token).digest('hex')));
    expect(rows).toEqual([]);
  });
});

describe('console pages', () => {
  it('the message list takes every filter of the admin API from the URL', async () => {
    const browser = new Browser();
    await browser.signIn(api.adminKey);
    const list = await browser.request(
      `/ui/messages?status=failed&tenantId=${other.id}&runId=${otherRun}&workflowId=wf_other_secret&eventType=run.completed&since=2026-03-01T11:00Z&until=2026-03-01T12:00Z&limit=10`,
    );
    expect(list.status).toBe(200);
    expect(list.text).toContain(otherMessage);
    expect(list.text).not.toContain(`href="/ui/messages/${ownMessage}"`);
    const none = await browser.request('/ui/messages?status=pending');
    expect(none.text).toContain('No message matches these filters.');
    const bad = await browser.request('/ui/messages?status=lost&since=yesterday&iterator=garbage');
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('not a time or a duration');
  });

  it('search goes to the message, or to its run or workflow in the log', async () => {
    const browser = new Browser();
    await browser.signIn(api.adminKey);
    expect((await browser.request(`/ui/messages?q=${ownMessage}`)).headers.get('location')).toBe(`/ui/messages/${ownMessage}`);
    expect((await browser.request(`/ui/messages?q=${otherRun}`)).headers.get('location')).toBe(`/ui/messages?runId=${otherRun}`);
    expect((await browser.request('/ui/messages?q=wf_abc')).headers.get('location')).toBe('/ui/messages?workflowId=wf_abc');
  });

  it('recover counts first, then re-queues on confirmation', async () => {
    const browser = new Browser();
    const { csrf } = await browser.signIn(api.adminKey);
    const preview = await browser.request(`/ui/recover?since=2026-03-01T11:20Z&until=2026-03-01T11:40Z&tenantId=${other.id}`);
    expect(preview.text).toContain('1 failed message in this window');
    const answer = await browser.request('/ui/recover', {
      form: { _csrf: csrf, since: '2026-03-01T11:20:00.000Z', until: '2026-03-01T11:40:00.000Z', tenantId: other.id },
    });
    expect(answer.status).toBe(303);
    const page = await browser.request(answer.headers.get('location') as string);
    expect(page.text).toContain('Recover started: 1 failed message is being queued');
  });
});
