/**
 * `authentication.appPortalAccess` driven by the official `svix` SDK over real HTTP: the link it
 * answers, its refusals in Svix's shapes, and what the link opens (a portal session scoped to the
 * application, read-only or not, lasting `expiry`). The portal's pages themselves are tested in
 * console.test.ts and, in a browser, in test/browser/console.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiException, type Svix } from 'svix';
import { startSvixServer, type SvixTestServer } from '../support/svix-server.ts';

let s: SvixTestServer;
let svix: Svix;

beforeAll(async () => {
  s = await startSvixServer();
  svix = s.svix;
});

afterAll(async () => {
  expect(s.statuses.filter((status) => status >= 500)).toEqual([]);
  await s?.close();
});

const unique = (prefix: string) => `${prefix}-${Math.random().toString(36).slice(2, 10)}`;

async function refused(call: Promise<unknown>): Promise<{ code: number; body: unknown }> {
  try {
    await call;
  } catch (error) {
    if (error instanceof ApiException) return { code: error.code, body: error.body };
    throw error;
  }
  throw new Error('expected the call to be refused');
}

/** Opens a portal link as its page's script does; answers the session cookie's attributes and a page fetcher. */
async function open(url: string) {
  const token = /#token=(ptl_[A-Za-z0-9_-]+)$/.exec(url)?.[1];
  expect(token).toBeDefined();
  const answer = await fetch(`${s.url}/portal/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: s.url },
    body: JSON.stringify({ token }),
  });
  const line = answer.headers.getSetCookie().find((cookie) => cookie.startsWith('orbit_portal=')) ?? '';
  const cookie = line.split(';')[0] ?? '';
  return {
    status: answer.status,
    maxAge: Number(/Max-Age=(\d+)/i.exec(line)?.[1]),
    page: async (path: string) => {
      const response = await fetch(`${s.url}${path}`, { headers: { cookie }, redirect: 'manual' });
      return { status: response.status, text: await response.text() };
    },
  };
}

describe('authentication.appPortalAccess', () => {
  it('answers { url, token }: a single-use link to /portal with the token in the fragment', async () => {
    const app = await svix.application.create({ name: 'Portal Co', uid: unique('portal') });
    const access = await svix.authentication.appPortalAccess(app.id, {});
    expect(Object.keys(access).sort()).toEqual(['token', 'url']);
    expect(access.token).toMatch(/^ptl_/);
    const url = new URL(access.url);
    expect(url.origin).toBe(s.url);
    expect(url.pathname).toBe('/portal');
    expect(url.search).toBe('');
    expect(url.hash).toBe(`#token=${access.token}`);

    const session = await open(access.url);
    expect(session.status).toBe(200);
    // Svix's default expiry: 7 days (the cookie's Max-Age is counted when it is set, a moment later).
    expect(session.maxAge).toBeGreaterThan(7 * 24 * 3600 - 5);
    expect(session.maxAge).toBeLessThanOrEqual(7 * 24 * 3600);
    const endpoints = await session.page('/portal/endpoints');
    expect(endpoints.status).toBe(200);
    expect(endpoints.text).toContain('Portal Co');
    expect(endpoints.text).toContain('Add endpoint');
    // Single use.
    expect((await open(access.url)).status).toBe(401);
  });

  it('takes the uid as well as the id; expiry sets the session length', async () => {
    const uid = unique('by-uid');
    await svix.application.create({ name: 'By uid', uid });
    const access = await svix.authentication.appPortalAccess(uid, { expiry: 3600 });
    const session = await open(access.url);
    expect(session.maxAge).toBeGreaterThan(3600 - 5);
    expect(session.maxAge).toBeLessThanOrEqual(3600);
    expect((await session.page('/portal/messages')).text).toContain('By uid');
  });

  it("refuses an unknown application and another tenant's, by id or uid, with Svix's 404", async () => {
    const uid = unique('theirs');
    const other = await s.otherTenant();
    const theirs = await other.svix.application.create({ name: 'Theirs', uid });
    for (const key of [theirs.id, uid, 'app_08QAIw9MnoEyeUVwXmXpDng', 'no-such-app']) {
      expect(await refused(svix.authentication.appPortalAccess(key, {})), key).toEqual({
        code: 404,
        body: { code: 'not_found', detail: expect.any(String) },
      });
    }
    // The owner gets it.
    await other.svix.authentication.appPortalAccess(uid, {});
  });

  it('refuses an expiry outside 1 hour to 7 days, and an unknown capability, with 422', async () => {
    const app = await svix.application.create({ name: 'Expiry' });
    for (const expiry of [59, 3599, 7 * 24 * 3600 + 1]) {
      const refusal = await refused(svix.authentication.appPortalAccess(app.id, { expiry }));
      expect(refusal.code).toBe(422);
      expect((refusal.body as { detail: Array<{ loc: string[] }> }).detail[0]?.loc).toEqual(['body', 'expiry']);
    }
    const unknown = await fetch(`${s.url}/api/v1/auth/app-portal-access/${app.id}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${s.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ capabilities: ['ViewBase', 'RuleTheWorld'] }),
    });
    expect(unknown.status).toBe(422);
    await svix.authentication.appPortalAccess(app.id, { expiry: 7 * 24 * 3600 });
  });

  it('creates the application when `application` is given and the uid names none', async () => {
    const uid = unique('on-demand');
    const access = await svix.authentication.appPortalAccess(uid, { application: { name: 'On demand', metadata: { plan: 'pro' } } });
    const app = await svix.application.get(uid);
    expect(app).toMatchObject({ name: 'On demand', uid, metadata: { plan: 'pro' } });
    expect((await (await open(access.url)).page('/portal/endpoints')).text).toContain('On demand');
    // Existing: `application` is ignored.
    await svix.authentication.appPortalAccess(uid, { application: { name: 'Renamed' } });
    expect((await svix.application.get(uid)).name).toBe('On demand');
    // An unknown id is never created.
    expect((await refused(svix.authentication.appPortalAccess('app_08QAIw9MnoEyeUVwXmXpDng', { application: { name: 'x' } }))).code).toBe(
      404,
    );
  });

  it('replays the first answer for a repeated idempotency-key', async () => {
    const app = await svix.application.create({ name: 'Idempotent' });
    const idempotencyKey = unique('portal-key');
    const first = await svix.authentication.appPortalAccess(app.id, {}, { idempotencyKey });
    const again = await svix.authentication.appPortalAccess(app.id, {}, { idempotencyKey });
    expect(again).toEqual(first);
  });

  it('readOnly, or capabilities short of ManageEndpoint and CreateAttempts, open a read-only portal', async () => {
    const app = await svix.application.create({ name: 'Capable', uid: unique('capable') });
    const cases: Array<[Parameters<Svix['authentication']['appPortalAccess']>[1], boolean]> = [
      [{}, false],
      [{ readOnly: true }, true],
      [{ capabilities: ['ViewBase' as never] }, true],
      [{ capabilities: ['ViewBase', 'ViewEndpointSecret', 'ManageEndpointSecret'] as never[] }, true],
      [{ capabilities: ['ViewBase', 'ManageEndpoint'] as never[] }, true],
      [{ capabilities: ['ViewBase', 'ManageEndpoint', 'CreateAttempts'] as never[] }, false],
      [{ readOnly: true, capabilities: ['ViewBase', 'ManageEndpoint', 'CreateAttempts'] as never[] }, true],
    ];
    for (const [input, readOnly] of cases) {
      const access = await svix.authentication.appPortalAccess(app.id, input);
      const page = await (await open(access.url)).page('/portal/endpoints');
      expect(page.text.includes('Capable · read-only'), JSON.stringify(input)).toBe(readOnly);
      expect(page.text.includes('Add endpoint'), JSON.stringify(input)).toBe(!readOnly);
    }
  });
});
