/**
 * The console and portal without a browser: sessions and their cookies, CSRF, the sign-in rate
 * limit, portal links and their scope (a tenant's, or one application's with its endpoints), the
 * console's applications, the CSP header and the assets. The browser tests are in
 * test/browser/console.test.ts; the Svix-compatible `app-portal-access` call in svix-portal.test.ts.
 */
import { createHash } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.ts';
import { attempts, uiSessions } from '../../src/db/schema.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { createTenant } from '../../src/services/tenants.ts';
import { LOGIN_LIMIT } from '../../src/services/ui-sessions.ts';
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

  async signIn(
    apiKey: string,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; csrf: string; text: string; headers: Headers }> {
    const login = await this.request('/ui/login');
    const answer = await this.request('/ui/login', { form: { _csrf: Browser.csrfOf(login.text), apiKey, next: '/ui' }, headers });
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

  it('tells clients behind a proxy apart, but a forged X-Forwarded-For gets no more than the peer limit', async () => {
    const browser = new Browser();
    const via = (address: string) => ({ 'x-forwarded-for': address });
    for (let i = 0; i < 10; i++) expect((await browser.signIn(`gx_guess_${i}_0000000000000000000`, via('10.0.0.1'))).status).toBe(401);
    expect((await browser.signIn(api.adminKey, via('10.0.0.1'))).status).toBe(429);
    // Another client behind the same proxy is not locked out by the first one's failures.
    expect((await new Browser().signIn(api.adminKey, via('10.0.0.2'))).status).toBe(303);
    // A new header on every try: each counts against the peer address too, until it is locked.
    for (let i = 10; i < LOGIN_LIMIT.peerFailures; i++) {
      expect((await browser.signIn(`gx_guess_${i}_0000000000000000000`, via(`10.1.${i >> 8}.${i & 255}`))).status).toBe(401);
    }
    const refused = await new Browser().signIn(api.adminKey, via('10.9.9.9'));
    expect(refused.status).toBe(429);
    expect(refused.text).toContain('Too many failed sign-ins');
    clock.advance(10 * 60_000);
    expect((await new Browser().signIn(api.adminKey, via('10.9.9.9'))).status).toBe(303);
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

  it("the portal shows none of Orbit's operational events, which are the operator's (the deployment's name every tenant)", async () => {
    // As the deployment's operational endpoint records them: messages of the admin's tenant, of neither a run nor an application.
    const endpointId = `ep_operational${Math.random().toString(36).slice(2, 12)}`;
    const eventId = `msg_operational${Math.random().toString(36).slice(2, 12)}`;
    const payload = JSON.stringify({
      type: 'message.attempt.exhausted',
      data: { tenantId: other.id, runId: otherRun, workflowId: 'wf_other_secret' },
    });
    await api.deps
      .sql`insert into endpoints (id, tenant_id, kind, url) values (${endpointId}, ${api.tenantId}, 'operational', 'https://ops.example/hook')`;
    await api.deps
      .sql`insert into messages (id, tenant_id, event_type, payload, created_at) values (${eventId}, ${api.tenantId}, 'message.attempt.exhausted', ${payload}, ${'2026-03-01T11:45:00Z'}::timestamptz)`;
    await api.deps
      .sql`insert into deliveries (message_id, endpoint_id, tenant_id, status, created_at) values (${eventId}, ${endpointId}, ${api.tenantId}, 'failed', ${'2026-03-01T11:45:00Z'}::timestamptz)`;

    const console = new Browser();
    await console.signIn(api.adminKey);
    expect((await console.request('/ui/messages')).text).toContain(eventId);

    const { browser, csrf } = await portalBrowser(api.tenantId);
    for (const path of ['/portal/messages', '/portal/messages?eventType=message.attempt.exhausted', '/portal/messages?status=failed']) {
      const list = await browser.request(path);
      expect(list.status).toBe(200);
      expect(list.text).not.toContain(eventId);
      expect(list.text).not.toContain(other.id);
    }
    expect((await browser.request(`/portal/messages/${eventId}`)).status).toBe(404);
    expect((await browser.request(`/portal/messages?q=${eventId}`)).text).not.toContain(`/portal/messages/${eventId}"`);
    expect((await browser.request(`/portal/messages/${eventId}/retry`, { form: { _csrf: csrf } })).status).toBe(404);
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
    for (const path of ['/ui/messages?workflowId=%00', '/ui/messages?eventType=%00', '/ui/recover?since=1h&tenantId=%00']) {
      const nul = await browser.request(path);
      expect(nul.status).toBe(400);
      expect(nul.text).toContain('NUL character');
    }
    // Moments that parse but that the database or date arithmetic cannot take: a 400 page, not a 500.
    for (const since of ['0000-01-01T00:00Z', '9999999999d', '3000000d']) {
      const far = await browser.request(`/ui/messages?since=${since}`);
      expect(far.status).toBe(400);
      expect(far.text).toContain('not a time or a duration');
    }
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

describe('applications in the console and their portals', () => {
  const unique = (prefix: string) => `${prefix}-${Math.random().toString(36).slice(2, 10)}`;
  /** Application A (two endpoints) and B of the default tenant, C of the other tenant; a message of each. */
  const ids = { a: '', b: '', c: '', epA1: '', epA2: '', epB: '', epC: '', msgA: '', msgB: '', msgC: '' };

  async function svixCall(method: string, path: string, body?: unknown, key?: string) {
    const answer = await api.call(method, `/api/v1${path}`, { body, ...(key ? { key } : {}) });
    expect(answer.status, `${method} ${path}: ${JSON.stringify(answer.body)}`).toBeLessThan(300);
    return answer.body;
  }

  /** A browser with an application's portal open (through the Svix-compatible API), and its CSRF token. */
  async function appPortal(appKey: string, body: Record<string, unknown> = {}, key?: string) {
    const access = await api.call('POST', `/api/v1/auth/app-portal-access/${appKey}`, { body, ...(key ? { key } : {}) });
    expect(access.status).toBe(200);
    const browser = new Browser();
    expect((await browser.request('/portal/session', { json: { token: access.body.token } })).status).toBe(200);
    const page = await browser.request('/portal/messages');
    return { browser, csrf: Browser.csrfOf(page.text) };
  }

  async function endpointRow(id: string) {
    const [row] = await api.deps.sql<{ url: string; disabled: boolean; description: string; secrets: number }[]>`
      select url, disabled, description, (select count(*)::int from signing_secrets s where s.endpoint_id = e.id) as secrets
      from endpoints e where id = ${id}`;
    return row;
  }

  beforeAll(async () => {
    await svixCall('POST', '/event-type', { name: 'invoice.paid', description: 'An invoice was paid' });
    await svixCall('POST', '/event-type', { name: 'invoice.void', description: 'An invoice was voided' });
    await svixCall('POST', '/event-type', { name: 'invoice.paid', description: 'theirs' }, other.apiKey);
    ids.a = (await svixCall('POST', '/app', { name: 'Acme Corp', uid: unique('acme') })).id;
    ids.b = (await svixCall('POST', '/app', { name: 'Globex', uid: unique('globex') })).id;
    ids.c = (await svixCall('POST', '/app', { name: 'Initech', uid: unique('initech') }, other.apiKey)).id;
    ids.epA1 = (await svixCall('POST', `/app/${ids.a}/endpoint`, { url: 'https://hooks.acme.example/orders' })).id;
    ids.epA2 = (await svixCall('POST', `/app/${ids.a}/endpoint`, { url: 'https://hooks.acme.example/billing' })).id;
    ids.epB = (await svixCall('POST', `/app/${ids.b}/endpoint`, { url: 'https://hooks.globex.example/in' })).id;
    ids.epC = (await svixCall('POST', `/app/${ids.c}/endpoint`, { url: 'https://hooks.initech.example/in' }, other.apiKey)).id;
    const payload = { invoiceId: 'inv_1' };
    ids.msgA = (await svixCall('POST', `/app/${ids.a}/msg`, { eventType: 'invoice.paid', payload })).id;
    ids.msgB = (await svixCall('POST', `/app/${ids.b}/msg`, { eventType: 'invoice.paid', payload: { secret: 'globex-only' } })).id;
    ids.msgC = (
      await svixCall('POST', `/app/${ids.c}/msg`, { eventType: 'invoice.paid', payload: { secret: 'initech-only' } }, other.apiKey)
    ).id;
  });

  it("an application's portal lists its messages and endpoints only: not another application's, nor its tenant's runs", async () => {
    const { browser } = await appPortal(ids.a);
    const list = await browser.request('/portal/messages');
    expect(list.status).toBe(200);
    expect(list.text).toContain(ids.msgA);
    expect(list.text).toContain(ids.epA1);
    for (const foreign of [ids.msgB, ids.msgC, ownMessage, otherMessage]) expect(list.text).not.toContain(foreign);
    expect(list.text).toContain('>Endpoints</a>');
    const endpoints = await browser.request('/portal/endpoints');
    expect(endpoints.status).toBe(200);
    expect(endpoints.text).toContain(ids.epA1);
    expect(endpoints.text).toContain(ids.epA2);
    expect(endpoints.text).not.toContain(ids.epB);

    // The filters cannot widen the scope.
    for (const path of [
      `/portal/messages?endpointId=${ids.epB}`,
      `/portal/messages?appId=${ids.b}`,
      `/portal/messages?tenantId=${other.id}`,
      `/portal/messages?runId=${otherRun}`,
      `/portal/messages?eventType=invoice.paid&status=pending`,
    ]) {
      const answer = await browser.request(path);
      for (const foreign of [ids.msgB, ids.msgC, ownMessage, otherMessage]) expect(answer.text, path).not.toContain(foreign);
    }
    const search = await browser.request(`/portal/messages?q=${ids.msgB}`);
    expect(search.status).toBe(400);
    expect(search.text).not.toContain('globex-only');
  });

  it('nothing of another application or tenant is reachable from an application portal, by any URL (404)', async () => {
    const { browser, csrf } = await appPortal(ids.a);
    const before = await Promise.all([endpointRow(ids.epB), endpointRow(ids.epC)]);
    const gets = [
      ...[ids.msgB, ids.msgC, ownMessage, otherMessage].flatMap((id) => [`/portal/messages/${id}`, `/portal/messages/${id}?part=delivery`]),
      ...[ids.epB, ids.epC, 'ep_unknown'].flatMap((id) =>
        ['', '/edit', '/secret', '/rotate'].map((suffix) => `/portal/endpoints/${id}${suffix}`),
      ),
    ];
    for (const path of gets) {
      expect((await browser.request(path)).status, path).toBe(404);
      expect((await browser.request(path, { headers: { 'hx-request': 'true' } })).status, `${path} (htmx)`).toBe(404);
    }
    const posts: Array<[string, Record<string, string>]> = [
      [`/portal/messages/${ids.msgB}/retry`, {}],
      [`/portal/messages/${ids.msgC}/retry`, {}],
      [`/portal/messages/${ownMessage}/retry`, {}],
      [`/portal/messages/${ids.msgA}/retry`, { endpointId: ids.epB }],
      ...[ids.epB, ids.epC].flatMap((id): Array<[string, Record<string, string>]> => [
        [`/portal/endpoints/${id}`, { url: 'https://evil.example/hook' }],
        [`/portal/endpoints/${id}/disable`, {}],
        [`/portal/endpoints/${id}/enable`, {}],
        [`/portal/endpoints/${id}/rotate`, { gracePeriod: '0' }],
        [`/portal/endpoints/${id}/example`, { eventType: 'invoice.paid' }],
      ]),
    ];
    for (const [path, form] of posts) expect((await browser.request(path, { form: { _csrf: csrf, ...form } })).status, path).toBe(404);
    expect(await Promise.all([endpointRow(ids.epB), endpointRow(ids.epC)])).toEqual(before);
    const attempts = await api.deps.sql<{ n: number }[]>`
      select count(*)::int as n from messages where app_id in (${ids.b}, ${ids.c})`;
    expect(attempts[0]?.n).toBe(2);

    // A tenant's portal has no endpoint pages; it sees its tenant's application messages, not another tenant's.
    const tenant = await portalBrowser(api.tenantId);
    for (const path of ['/portal/endpoints', `/portal/endpoints/${ids.epA1}`, `/portal/endpoints/${ids.epA1}/secret`]) {
      expect((await tenant.browser.request(path)).status, path).toBe(404);
    }
    const tenantList = await tenant.browser.request('/portal/messages');
    expect(tenantList.text).toContain(ids.msgA);
    expect(tenantList.text).not.toContain(ids.msgC);
    expect(tenantList.text).not.toContain('>Endpoints</a>');
  });

  it("an application's portal manages its endpoints: add, edit, disable and enable, show and rotate the secret, send an example", async () => {
    const { browser, csrf } = await appPortal(ids.a);
    const form = await browser.request('/portal/endpoints/new');
    expect(form.status).toBe(200);
    expect(form.text).toContain('invoice.paid');

    const bad = await browser.request('/portal/endpoints', {
      form: { _csrf: csrf, url: 'ftp://nope.example', channels: 'eu, not a channel!' },
    });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('letters, digits');
    const unknownType = await browser.request('/portal/endpoints', {
      form: { _csrf: csrf, url: 'https://hooks.acme.example/new', eventTypes: 'no.such.type' },
    });
    expect(unknownType.status).toBe(400);
    expect(unknownType.text).toContain('exist: no.such.type');
    // A NUL character (which PostgreSQL's text cannot hold) in a form field, a filter or an id: a 400 page, never a 500.
    const nul = await browser.request('/portal/endpoints', {
      form: { _csrf: csrf, url: 'https://hooks.acme.example/new', eventTypes: '\u0000' },
    });
    expect(nul.status).toBe(400);
    expect(nul.text).toContain('NUL character');
    for (const path of ['/portal/messages?workflowId=%00', '/portal/messages?eventType=a%00b']) {
      expect((await browser.request(path)).status).toBe(400);
    }
    expect((await browser.request('/portal/messages/msg_%00/retry', { form: { _csrf: csrf } })).status).toBe(400);
    const badUrl = await browser.request('/portal/endpoints', { form: { _csrf: csrf, url: 'ftp://nope.example' } });
    expect(badUrl.status).toBe(400);
    expect(badUrl.text).toContain('https://');

    const added = await browser.request('/portal/endpoints', {
      form: { _csrf: csrf, url: 'https://hooks.acme.example/new', description: 'New one', eventTypes: 'invoice.paid', channels: 'eu, us' },
    });
    expect(added.status).toBe(303);
    const location = added.headers.get('location') as string;
    const id = /^\/portal\/endpoints\/(ep_[A-Za-z0-9]+)$/.exec(location)?.[1] as string;
    expect(id).toBeDefined();
    const [row] = await api.deps.sql<{ app_id: string; filter_types: string[]; channels: string[] }[]>`
      select app_id, filter_types, channels from endpoints where id = ${id}`;
    expect(row).toEqual({ app_id: ids.a, filter_types: ['invoice.paid'], channels: ['eu', 'us'] });
    const page = await browser.request(location);
    expect(page.text).toContain('Endpoint added');
    expect(page.text).toContain('New one');

    const edited = await browser.request(`/portal/endpoints/${id}`, {
      form: { _csrf: csrf, url: 'https://hooks.acme.example/newer', description: 'Renamed', channels: '' },
    });
    expect(edited.status).toBe(303);
    expect(await endpointRow(id)).toMatchObject({ url: 'https://hooks.acme.example/newer', description: 'Renamed', disabled: false });

    expect((await browser.request(`/portal/endpoints/${id}/disable`, { form: { _csrf: csrf } })).status).toBe(303);
    expect((await endpointRow(id))?.disabled).toBe(true);
    expect((await browser.request(`/portal/endpoints/${id}`)).text).toContain('Enable endpoint');
    expect((await browser.request(`/portal/endpoints/${id}/enable`, { form: { _csrf: csrf } })).status).toBe(303);
    expect((await endpointRow(id))?.disabled).toBe(false);

    const secret = (await svixCall('GET', `/app/${ids.a}/endpoint/${id}/secret`)).key as string;
    expect((await browser.request(`/portal/endpoints/${id}/secret`)).text).toContain(secret);
    const rotated = await browser.request(`/portal/endpoints/${id}/rotate`, { form: { _csrf: csrf, gracePeriod: '1h' } });
    expect(rotated.status).toBe(200);
    const fresh = /id="rotated-secret">(whsec_[^<]+)</.exec(rotated.text)?.[1];
    expect(fresh).toBeDefined();
    expect(fresh).not.toBe(secret);
    const both = await browser.request(`/portal/endpoints/${id}/secret`);
    expect(both.text).toContain(secret);
    expect(both.text).toContain(fresh);
    expect(both.text).toContain('Previous secret');

    const example = await browser.request(`/portal/endpoints/${id}/example`, { form: { _csrf: csrf, eventType: 'invoice.paid' } });
    expect(example.status).toBe(303);
    const messageId = /^\/portal\/messages\/(msg_[A-Za-z0-9]+)$/.exec(example.headers.get('location') as string)?.[1] as string;
    const sent = await api.deps.sql<{ app_id: string; endpoint_id: string }[]>`
      select m.app_id, d.endpoint_id from messages m join deliveries d on d.message_id = m.id where m.id = ${messageId}`;
    expect(sent).toEqual([{ app_id: ids.a, endpoint_id: id }]);
    expect((await browser.request(`/portal/messages/${messageId}`)).text).toContain('Example invoice.paid sent');
    const unknown = await browser.request(`/portal/endpoints/${id}/example`, { form: { _csrf: csrf, eventType: 'no.such.type' } });
    expect(unknown.status).toBe(303);
    expect((await browser.request(unknown.headers.get('location') as string)).text).toContain('There is no event type no.such.type');
  });

  it('a read-only application portal shows no action and no secret, and refuses them', async () => {
    for (const body of [{ readOnly: true }, { capabilities: ['ViewBase', 'ViewEndpointSecret'] }]) {
      const { browser, csrf } = await appPortal(ids.a, body);
      const before = await endpointRow(ids.epA1);
      const endpoints = await browser.request('/portal/endpoints');
      expect(endpoints.text).toContain('read-only');
      expect(endpoints.text).not.toContain('Add endpoint');
      const endpoint = await browser.request(`/portal/endpoints/${ids.epA1}`);
      expect(endpoint.status).toBe(200);
      for (const action of ['Edit endpoint', 'Disable endpoint', 'Show secret', 'Rotate secret', 'Send example', 'whsec_']) {
        expect(endpoint.text, action).not.toContain(action);
      }
      const message = await browser.request(`/portal/messages/${ids.msgA}`);
      expect(message.status).toBe(200);
      expect(message.text).not.toMatch(/>\s*Retry/);
      for (const path of [
        '/portal/endpoints/new',
        ...['/edit', '/secret', '/rotate'].map((suffix) => `/portal/endpoints/${ids.epA1}${suffix}`),
      ]) {
        expect((await browser.request(path)).status, path).toBe(403);
      }
      for (const [path, form] of [
        ['/portal/endpoints', { url: 'https://hooks.acme.example/ro' }],
        [`/portal/endpoints/${ids.epA1}`, { url: 'https://evil.example/hook' }],
        [`/portal/endpoints/${ids.epA1}/disable`, {}],
        [`/portal/endpoints/${ids.epA1}/rotate`, { gracePeriod: '0' }],
        [`/portal/endpoints/${ids.epA1}/example`, { eventType: 'invoice.paid' }],
        [`/portal/messages/${ids.msgA}/retry`, {}],
      ] as Array<[string, Record<string, string>]>) {
        expect((await browser.request(path, { form: { _csrf: csrf, ...form } })).status, path).toBe(403);
      }
      expect(await endpointRow(ids.epA1)).toEqual(before);
    }
  });

  it('the new forms need the session token and the same origin, in the portal and the console', async () => {
    const portal = await appPortal(ids.a);
    const elsewhere = await appPortal(ids.a);
    const operator = new Browser();
    const { csrf } = await operator.signIn(api.adminKey);
    const before = await endpointRow(ids.epA1);
    const [endpointsBefore] = await api.deps.sql<{ n: number }[]>`select count(*)::int as n from endpoints where app_id = ${ids.a}`;
    const cases: Array<[Browser, string, string, Record<string, string>]> = [];
    for (const [browser, token, base] of [
      [portal.browser, portal.csrf, '/portal/endpoints'],
      [operator, csrf, `/ui/apps/${ids.a}/endpoints`],
    ] as const) {
      for (const [path, form] of [
        [base, { url: 'https://hooks.acme.example/csrf' }],
        [`${base}/${ids.epA1}`, { url: 'https://evil.example/hook' }],
        [`${base}/${ids.epA1}/disable`, {}],
        [`${base}/${ids.epA1}/rotate`, { gracePeriod: '0' }],
        [`${base}/${ids.epA1}/example`, { eventType: 'invoice.paid' }],
      ] as Array<[string, Record<string, string>]>) {
        cases.push([browser, token, path, form]);
      }
    }
    cases.push([operator, csrf, `/ui/apps/${ids.a}/portal-link`, {}]);
    cases.push([operator, csrf, `/ui/messages/${ids.msgA}/retry`, { endpointId: ids.epA1 }]);
    cases.push([portal.browser, portal.csrf, `/portal/messages/${ids.msgA}/retry`, { endpointId: ids.epA1 }]);
    for (const [browser, token, path, form] of cases) {
      const wrong = browser === operator ? 'x'.repeat(token.length) : elsewhere.csrf;
      for (const attempt of [{ ...form }, { ...form, _csrf: wrong }, { ...form, _csrf: `${token}x` }]) {
        expect((await browser.request(path, { form: attempt })).status, path).toBe(403);
      }
      expect((await browser.request(path, { form: { ...form, _csrf: token }, headers: { origin: 'https://evil.example' } })).status).toBe(
        403,
      );
    }
    expect(await endpointRow(ids.epA1)).toEqual(before);
    const [endpointsAfter] = await api.deps.sql<{ n: number }[]>`select count(*)::int as n from endpoints where app_id = ${ids.a}`;
    expect(endpointsAfter).toEqual(endpointsBefore);
  });

  it('the console lists applications per tenant, shows one with its endpoints, and makes its portal link', async () => {
    const browser = new Browser();
    const { csrf } = await browser.signIn(api.adminKey);
    const all = await browser.request('/ui/applications');
    expect(all.status).toBe(200);
    for (const name of ['Acme Corp', 'Globex', 'Initech']) expect(all.text).toContain(name);
    const theirs = await browser.request(`/ui/applications?tenantId=${other.id}`);
    expect(theirs.text).toContain('Initech');
    expect(theirs.text).not.toContain('Acme Corp');
    expect((await browser.request('/ui/applications?tenantId=not%20an%20id')).status).toBe(400);

    const page = await browser.request(`/ui/apps/${ids.a}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain(ids.epA1);
    expect(page.text).toContain(ids.epA2);
    expect(page.text).not.toContain(ids.epB);
    expect(page.text).toContain(`/ui/messages?appId=${ids.a}`);
    for (const path of [
      '/ui/apps/app_unknown',
      `/ui/apps/${ids.a}/endpoints/${ids.epB}`,
      `/ui/apps/${ids.a}/endpoints/${ids.epC}/secret`,
      `/ui/apps/${ids.b}/endpoints/${ids.epA1}/edit`,
    ]) {
      expect((await browser.request(path)).status, path).toBe(404);
    }
    expect((await browser.request(`/ui/apps/${ids.a}/endpoints/${ids.epB}/disable`, { form: { _csrf: csrf } })).status).toBe(404);
    expect((await endpointRow(ids.epB))?.disabled).toBe(false);

    const made = await browser.request(`/ui/apps/${ids.a}/portal-link`, { form: { _csrf: csrf, expiresIn: '1h' } });
    const link = /id="portal-url">([^<]+)</.exec(made.text)?.[1] as string;
    const token = /#token=(ptl_[A-Za-z0-9_-]+)$/.exec(link)?.[1];
    const customer = new Browser();
    expect((await customer.request('/portal/session', { json: { token } })).status).toBe(200);
    const endpoints = await customer.request('/portal/endpoints');
    expect(endpoints.text).toContain(ids.epA1);
    expect(endpoints.text).not.toContain(ids.epB);
  });

  it('the console filters messages by application and endpoint, and retries every delivery of a message or one', async () => {
    const browser = new Browser();
    const { csrf } = await browser.signIn(api.adminKey);
    const byApp = await browser.request(`/ui/messages?appId=${ids.a}`);
    expect(byApp.text).toContain(ids.msgA);
    expect(byApp.text).not.toContain(ids.msgB);
    expect(byApp.text).toContain('Acme Corp');
    const byEndpoint = await browser.request(`/ui/messages?endpointId=${ids.epB}`);
    expect(byEndpoint.text).toContain(ids.msgB);
    expect(byEndpoint.text).not.toContain(ids.msgA);
    expect((await browser.request('/ui/messages?appId=not%20an%20id')).status).toBe(400);

    const page = await browser.request(`/ui/messages/${ids.msgA}`);
    expect(page.text).toContain('Retry every delivery');
    expect(page.text).toContain(`/ui/apps/${ids.a}/endpoints/${ids.epA1}`);
    expect(page.text).toContain(`/ui/apps/${ids.a}/endpoints/${ids.epA2}`);
    const all = await browser.request(`/ui/messages/${ids.msgA}/retry`, { form: { _csrf: csrf } });
    expect(all.status).toBe(303);
    const after = await browser.request(`/ui/messages/${ids.msgA}`);
    expect(after.text).toContain('Retry queued at 2 endpoints');
    expect(after.text).toContain('awaiting=2');
    const one = await browser.request(`/ui/messages/${ids.msgA}/retry`, { form: { _csrf: csrf, endpointId: ids.epA2 } });
    expect(one.status).toBe(303);
    expect((await browser.request(`/ui/messages/${ids.msgA}`)).text).toContain('Retry queued: the new attempt');
    expect((await browser.request(`/ui/messages/${ids.msgA}/retry`, { form: { _csrf: csrf, endpointId: ids.epB } })).status).toBe(404);
  });

  it("the overview's failing application endpoint links to its messages", async () => {
    const [endpoint] = await api.deps.sql<{ url: string }[]>`select url from endpoints where id = ${ids.epA2}`;
    await api.deps.db.insert(attempts).values({
      id: `atmpt_overview${Math.random().toString(36).slice(2, 10)}`,
      messageId: ids.msgA,
      endpointId: ids.epA2,
      tenantId: api.tenantId,
      url: endpoint?.url ?? '',
      attempt: 1,
      trigger: 'scheduled',
      outcome: 'failed',
      startedAt: clock.now(),
      durationMs: 12,
      responseStatus: 503,
      responseBody: 'down',
      errorKind: 'http_status',
      errorMessage: 'the receiver answered 503',
    });
    const browser = new Browser();
    await browser.signIn(api.adminKey);
    const overview = await browser.request('/ui?range=1h');
    expect(overview.text).toMatch(new RegExp(`href="/ui/messages\\?endpointId=${ids.epA2}&amp;since=[^"]+"`));
  });
});
