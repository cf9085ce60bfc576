/**
 * The Svix-compatible API driven by the official `svix` SDK over real HTTP (issue 10): every call of
 * CONTRACT §9's table, its happy path and its refusals, in Svix's shapes. Deliveries are in
 * svix-delivery.test.ts.
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
  // No input of this file, however malformed, got a 5xx (but the 501s of calls Orbit does not implement).
  expect(s.statuses.filter((status) => status >= 500 && status !== 501)).toEqual([]);
  await s?.close();
});

interface Refusal {
  code: number;
  // The SDK's error bodies: `{ code, detail }` or `{ detail: [{ loc, msg, type }] }`.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

/** The ApiException an SDK call ends with (fails the test if it succeeds). */
async function refused(call: Promise<unknown>): Promise<Refusal> {
  try {
    await call;
  } catch (error) {
    if (error instanceof ApiException) return { code: error.code, body: error.body };
    throw error;
  }
  throw new Error('expected the call to be refused');
}

/** A raw request to the API (for what the SDK cannot send), recorded like the SDK's. */
async function raw(
  method: string,
  path: string,
  init: { body?: string | Uint8Array; key?: string | null; headers?: Record<string, string> } = {},
) {
  const headers: Record<string, string> = { ...init.headers };
  const key = init.key === undefined ? s.adminKey : init.key;
  if (key !== null) headers['authorization'] = `Bearer ${key}`;
  if (init.body !== undefined) headers['content-type'] ??= 'application/json';
  const response = await fetch(`${s.url}${path}`, { method, headers, ...(init.body !== undefined ? { body: init.body } : {}) });
  s.statuses.push(response.status);
  const text = await response.text();
  return { status: response.status, body: text === '' ? null : (JSON.parse(text) as Record<string, unknown>), headers: response.headers };
}

const unique = (prefix: string) => `${prefix}-${Math.random().toString(36).slice(2, 10)}`;
const RECEIVER = 'https://hooks.example.com/orbit';

function expectValidation(refusal: Refusal, loc: string[]): void {
  expect(refusal.code).toBe(422);
  expect(Array.isArray(refusal.body.detail)).toBe(true);
  expect(refusal.body.detail).toContainEqual(expect.objectContaining({ loc, msg: expect.any(String), type: expect.any(String) }));
}

describe('authentication and unknown routes', () => {
  it('answers 401 in Svix shape for a missing or unknown key, and health without one', async () => {
    const missing = await raw('GET', '/api/v1/app', { key: null });
    expect(missing.status).toBe(401);
    expect(missing.body).toEqual({ code: 'authentication_failed', detail: expect.any(String) });
    const unknown = await refused(s.client('gx_not_a_key').application.list());
    expect(unknown).toEqual({ code: 401, body: { code: 'authentication_failed', detail: expect.any(String) } });
    await s.client('gx_not_a_key').health.get();
    expect((await raw('GET', '/api/v1/health', { key: null })).status).toBe(204);
  });

  it('answers Svix-shaped 404s for calls Orbit does not have, 501s for the ones it chose not to implement', async () => {
    const streams = await refused(svix.streaming.stream.list());
    expect(streams).toEqual({ code: 404, body: { code: 'not_found', detail: expect.any(String) } });
    expect((await refused(svix.backgroundTask.list())).code).toBe(404);
    expect((await refused(svix.connector.list())).code).toBe(404);
    const app = await svix.application.create({ name: 'unimplemented' });
    const endpoint = await svix.endpoint.create(app.id, { url: RECEIVER });
    const replay = await refused(svix.endpoint.bulkReplay(app.id, endpoint.id, { since: new Date(Date.now() - 60_000) }));
    // The SDK hands 5xx bodies over as text; it is Svix's shape all the same.
    expect(replay.code).toBe(501);
    expect(JSON.parse(replay.body as string)).toEqual({ code: 'not_implemented', detail: expect.any(String) });
    expect((await refused(svix.endpoint.transformationPartialUpdate(app.id, endpoint.id, {}))).code).toBe(501);
    expect((await refused(svix.message.expungeAllContents(app.id))).code).toBe(501);
    expect((await refused(svix.eventType.importOpenapi({}))).code).toBe(501);
  });

  it("keeps Orbit's own envelope on /api/v1/runs", async () => {
    const runs = await raw('GET', '/api/v1/runs', { key: null });
    expect(runs.status).toBe(401);
    expect(runs.body).toMatchObject({ error: { code: 'unauthenticated' } });
    expect((await raw('GET', '/api/v1/runs')).status).toBe(200);
  });

  it('lists the Svix routes in /openapi.json', async () => {
    const doc = (await raw('GET', '/openapi.json', { key: null })).body as { paths: Record<string, unknown> };
    for (const path of ['/api/v1/app', '/api/v1/app/{app_id}/msg', '/api/v1/event-type/{event_type_name}', '/api/v1/health']) {
      expect(Object.keys(doc.paths)).toContain(path);
    }
  });
});

describe('applications', () => {
  it('creates, gets by id and uid, updates, patches and deletes', async () => {
    const uid = unique('acme');
    const app = await svix.application.create({ name: 'Acme', uid, metadata: { plan: 'pro' }, throttleRate: 10 });
    expect(app).toMatchObject({ name: 'Acme', uid, metadata: { plan: 'pro' }, throttleRate: 10 });
    expect(app.id).toMatch(/^app_[0-9A-Za-z]{23}$/);
    expect(app.createdAt).toBeInstanceOf(Date);
    expect(await svix.application.get(app.id)).toEqual(app);
    expect(await svix.application.get(uid)).toEqual(app);

    const patched = await svix.application.patch(uid, { name: 'Acme Inc.' });
    expect(patched).toMatchObject({ id: app.id, name: 'Acme Inc.', uid, metadata: { plan: 'pro' } });
    const replaced = await svix.application.upsert(app.id, { name: 'Acme 3', uid });
    expect(replaced).toMatchObject({ id: app.id, name: 'Acme 3', uid, metadata: {}, throttleRate: null });
    const cleared = await svix.application.patch(app.id, { uid: null });
    expect(cleared.uid).toBeNull();

    await svix.application.delete(app.id);
    expect((await refused(svix.application.get(app.id))).body).toEqual({ code: 'not_found', detail: expect.any(String) });
    expect((await refused(svix.application.delete(app.id))).code).toBe(404);
  });

  it('getOrCreate answers the existing application; a duplicate uid is a 409', async () => {
    const uid = unique('dup');
    const first = await svix.application.getOrCreate({ name: 'First', uid });
    const again = await svix.application.getOrCreate({ name: 'Second', uid });
    expect(again).toEqual(first);
    const createdAgain = await raw('POST', '/api/v1/app?get_if_exists=true', { body: JSON.stringify({ name: 'x', uid }) });
    expect(createdAgain.status).toBe(200);
    const duplicate = await refused(svix.application.create({ name: 'Third', uid }));
    expect(duplicate).toEqual({ code: 409, body: { code: 'conflict', detail: expect.any(String) } });
    const other = await svix.application.create({ name: 'Other', uid: unique('other') });
    expect((await refused(svix.application.patch(other.id, { uid }))).code).toBe(409);
  });

  it('upsert creates an application under a new uid (201) and refuses an unknown id', async () => {
    const uid = unique('upsert');
    const created = await raw('PUT', `/api/v1/app/${uid}`, { body: JSON.stringify({ name: 'Made by PUT' }) });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ uid, name: 'Made by PUT' });
    const updated = await raw('PUT', `/api/v1/app/${uid}`, { body: JSON.stringify({ name: 'Renamed' }) });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ id: (created.body as { id: string }).id, uid, name: 'Renamed' });
    expect((await refused(svix.application.upsert('app_0000000000000000000000x', { name: 'x' }))).code).toBe(404);
  });

  it('pages with iterator, prevIterator and done, in either order', async () => {
    const other = await s.otherTenant();
    const made = [];
    for (let i = 0; i < 5; i++) made.push(await other.svix.application.create({ name: `app ${i}` }));
    const ids = made.map((app) => app.id);
    const seen: string[] = [];
    let iterator: string | null = null;
    let pages = 0;
    for (;;) {
      const page = await other.svix.application.list({ limit: 2, iterator });
      seen.push(...page.data.map((app) => app.id));
      pages++;
      if (page.done) break;
      iterator = page.iterator;
    }
    expect(seen).toEqual(ids);
    expect(pages).toBe(3);
    const second = await other.svix.application.list({ limit: 2, iterator: ids[1] as string });
    expect(second.data.map((app) => app.id)).toEqual(ids.slice(2, 4));
    const back = await other.svix.application.list({ limit: 2, iterator: second.prevIterator as string });
    expect(back.data.map((app) => app.id)).toEqual(ids.slice(0, 2));
    const descending = await other.svix.application.list({ order: 'descending' as never });
    expect(descending.data.map((app) => app.id)).toEqual([...ids].reverse());

    await other.svix.endpoint.create(ids[0] as string, { url: RECEIVER });
    await other.svix.endpoint.create(ids[1] as string, { url: RECEIVER, disabled: true });
    const withEndpoints = await other.svix.application.list({ excludeAppsWithNoEndpoints: true });
    expect(withEndpoints.data.map((app) => app.id)).toEqual(ids.slice(0, 2));
    const enabled = await other.svix.application.list({ excludeAppsWithNoEndpoints: true, excludeAppsWithDisabledEndpoints: true });
    expect(enabled.data.map((app) => app.id)).toEqual(ids.slice(0, 1));
    expect((await other.svix.application.list({ excludeAppsWithDisabledEndpoints: true })).data).toHaveLength(4);
  });

  it("another tenant's applications answer 404, and its lists do not show them", async () => {
    const mine = await svix.application.create({ name: 'Mine', uid: unique('mine') });
    const other = await s.otherTenant();
    expect((await refused(other.svix.application.get(mine.id))).code).toBe(404);
    expect((await refused(other.svix.application.get(mine.uid as string))).code).toBe(404);
    expect((await refused(other.svix.application.patch(mine.id, { name: 'stolen' }))).code).toBe(404);
    expect((await refused(other.svix.application.delete(mine.id))).code).toBe(404);
    expect((await refused(other.svix.endpoint.list(mine.id))).code).toBe(404);
    expect((await refused(other.svix.message.create(mine.id, { eventType: 'x', payload: {} }))).code).toBe(404);
    expect((await other.svix.application.list()).data.map((app) => app.id)).not.toContain(mine.id);
    // A uid is unique per tenant only.
    await other.svix.application.create({ name: 'Same uid', uid: mine.uid as string });
  });

  it('refuses bad input with 422 naming each field', async () => {
    expectValidation(await refused(svix.application.create({ name: '' })), ['body', 'name']);
    expectValidation(await refused(svix.application.create({ name: 'x', uid: 'has space' })), ['body', 'uid']);
    expectValidation(await refused(svix.application.create({ name: 'x', uid: 'app_looks_like_an_id' })), ['body', 'uid']);
    expectValidation(await refused(svix.application.create({ name: 'x', throttleRate: 0 })), ['body', 'throttleRate']);
    expectValidation(await refused(svix.application.create({ name: 'x', metadata: { a: 1 } as never })), ['body', 'metadata', 'a']);
    expectValidation(await refused(svix.application.list({ limit: 251 })), ['query', 'limit']);
    expectValidation(await refused(svix.application.list({ iterator: 'not an iterator!' })), ['query', 'iterator']);
    expect((await refused(svix.application.get('bad uid!'))).code).toBe(404);
    const notJson = await raw('POST', '/api/v1/app', { body: '{"name": ' });
    expect(notJson.status).toBe(422);
    expect(notJson.body).toEqual({ detail: [{ loc: ['body'], msg: expect.any(String), type: 'value_error.jsondecode' }] });
    // Not UTF-8 (a Latin-1 "é"): refused as undecodable, never stored with U+FFFD in its place.
    const latin1 = await raw('POST', '/api/v1/app', { body: Uint8Array.from('{"name":"caf\u00e9"}', (char) => char.charCodeAt(0)) });
    expect(latin1.status).toBe(422);
    expect(latin1.body).toEqual({ detail: [{ loc: ['body'], msg: expect.any(String), type: 'value_error.jsondecode' }] });
    const notJsonType = await raw('POST', '/api/v1/app', { body: 'name=x', headers: { 'content-type': 'text/plain' } });
    expect(notJsonType.status).toBe(415);
    expect(notJsonType.body).toEqual({ code: 'unsupported_media_type', detail: expect.any(String) });
    const array = await raw('POST', '/api/v1/app', { body: '[]' });
    expect(array.status).toBe(422);
  });
});

describe('event types', () => {
  it('creates, lists, gets, updates, archives and brings back', async () => {
    const other = await s.otherTenant();
    const et = other.svix.eventType;
    const schemas = { '1': { type: 'object', examples: [{ userId: 'u_1' }] } };
    const created = await et.create({ name: 'user.created', description: 'A user signed up', schemas });
    expect(created).toMatchObject({ name: 'user.created', description: 'A user signed up', archived: false, deprecated: false, schemas });
    await et.create({ name: 'user.deleted', description: 'gone' });
    expect((await refused(et.create({ name: 'user.created', description: 'again' }))).body).toEqual({
      code: 'conflict',
      detail: expect.any(String),
    });

    const listed = await et.list();
    expect(listed.data.map((type) => type.name)).toEqual(['user.created', 'user.deleted']);
    expect(listed.data[0]?.schemas).toBeNull();
    expect((await et.list({ withContent: true })).data[0]?.schemas).toEqual(schemas);
    expect(await et.get('user.created')).toMatchObject({ name: 'user.created', schemas });

    const patched = await et.patch('user.created', { deprecated: true, groupName: 'users' });
    expect(patched).toMatchObject({ deprecated: true, groupName: 'users', description: 'A user signed up' });
    const upserted = await et.upsert('user.created', { description: 'replaced' });
    expect(upserted).toMatchObject({ description: 'replaced', deprecated: false, schemas: null });
    const createdByPut = await raw('PUT', '/api/v1/event-type/invoice.paid', {
      key: other.apiKey,
      body: JSON.stringify({ description: 'paid' }),
    });
    expect(createdByPut.status).toBe(201);

    await et.delete('user.deleted');
    expect((await et.list()).data.map((type) => type.name)).not.toContain('user.deleted');
    expect((await et.list({ includeArchived: true })).data.map((type) => type.name)).toContain('user.deleted');
    expect(await et.get('user.deleted')).toMatchObject({ archived: true });
    expect(await et.create({ name: 'user.deleted', description: 'back' })).toMatchObject({ archived: false, description: 'back' });
    await et.delete('invoice.paid', { expunge: true });
    expect((await refused(et.get('invoice.paid'))).code).toBe(404);
    expect((await refused(et.delete('invoice.paid'))).code).toBe(404);
  });

  it('pages by name and refuses bad names', async () => {
    const other = await s.otherTenant();
    for (const name of ['a.1', 'a.2', 'a.3']) await other.svix.eventType.create({ name, description: '' });
    const first = await other.svix.eventType.list({ limit: 2 });
    expect(first).toMatchObject({ done: false, iterator: 'a.2' });
    const second = await other.svix.eventType.list({ limit: 2, iterator: first.iterator });
    expect(second.data.map((type) => type.name)).toEqual(['a.3']);
    expect(second.done).toBe(true);
    expectValidation(await refused(svix.eventType.create({ name: 'bad name', description: '' })), ['body', 'name']);
    expectValidation(await refused(svix.eventType.create({ name: 'x'.repeat(257), description: '' })), ['body', 'name']);
    expectValidation(await refused(svix.eventType.create({ name: 'ok.name' } as never)), ['body', 'description']);
  });
});

describe('endpoints', () => {
  let appId: string;

  beforeAll(async () => {
    appId = (await svix.application.create({ name: 'Endpoints', uid: unique('endpoints') })).id;
    for (const name of ['order.paid', 'order.refunded']) {
      await svix.eventType.create({ name, description: name }).catch(() => undefined);
    }
  });

  it('creates with filters and channels, answers eventTypes and filterTypes, finds by id and uid', async () => {
    const uid = unique('ep');
    const endpoint = await svix.endpoint.create(appId, {
      url: RECEIVER,
      uid,
      description: 'orders',
      eventTypes: ['order.paid'],
      channels: ['project:1', 'team.a'],
      metadata: { owner: 'ops' },
    });
    expect(endpoint).toMatchObject({
      uid,
      url: RECEIVER,
      description: 'orders',
      eventTypes: ['order.paid'],
      channels: ['project:1', 'team.a'],
    });
    expect(endpoint.disabled).toBe(false);
    expect(endpoint.id).toMatch(/^ep_/);
    const byUid = await raw('GET', `/api/v1/app/${appId}/endpoint/${uid}`);
    expect(byUid.body).toMatchObject({ id: endpoint.id, eventTypes: ['order.paid'], filterTypes: ['order.paid'] });
    expect(await svix.endpoint.get(appId, endpoint.id)).toEqual(endpoint);

    // The older SDKs' field name is accepted too.
    const older = await raw('POST', `/api/v1/app/${appId}/endpoint`, {
      body: JSON.stringify({ url: RECEIVER, filterTypes: ['order.refunded'], version: 1 }),
    });
    expect(older.status).toBe(201);
    expect(older.body).toMatchObject({ eventTypes: ['order.refunded'], filterTypes: ['order.refunded'] });
  });

  it('generates a whsec_ secret per endpoint, takes a given one, and rotates', async () => {
    const a = await svix.endpoint.create(appId, { url: RECEIVER });
    const b = await svix.endpoint.create(appId, { url: RECEIVER });
    const secretA = (await svix.endpoint.getSecret(appId, a.id)).key;
    const secretB = (await svix.endpoint.getSecret(appId, b.id)).key;
    expect(secretA).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(secretA).not.toBe(secretB);
    const given = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    const c = await svix.endpoint.create(appId, { url: RECEIVER, secret: given });
    expect((await svix.endpoint.getSecret(appId, c.id)).key).toBe(given);
    await svix.endpoint.rotateSecret(appId, a.id, {});
    const rotated = (await svix.endpoint.getSecret(appId, a.id)).key;
    expect(rotated).not.toBe(secretA);
    const chosen = `whsec_${Buffer.alloc(24, 9).toString('base64')}`;
    await svix.endpoint.rotateSecret(appId, a.id, { key: chosen, gracePeriodSeconds: 60 });
    expect((await svix.endpoint.getSecret(appId, a.id)).key).toBe(chosen);
    expectValidation(await refused(svix.endpoint.create(appId, { url: RECEIVER, secret: 'whsec_short' })), ['body', 'secret']);
    expectValidation(await refused(svix.endpoint.rotateSecret(appId, a.id, { key: 'not base64!' })), ['body', 'key']);
    expectValidation(await refused(svix.endpoint.rotateSecret(appId, a.id, { gracePeriodSeconds: 8 * 86_400 })), [
      'body',
      'gracePeriodSeconds',
    ]);
  });

  it('keeps at most 10 secrets in their grace period, as Svix does; a rotation without grace retires them all', async () => {
    const endpoint = await svix.endpoint.create(appId, { url: RECEIVER });
    for (let i = 0; i < 10; i++) await svix.endpoint.rotateSecret(appId, endpoint.id, {});
    const over = await refused(svix.endpoint.rotateSecret(appId, endpoint.id, {}));
    expect(over.code).toBe(400);
    expect(over.body).toEqual({ code: 'limit_reached', detail: expect.stringContaining('10 earlier secrets') });
    const kept = (await svix.endpoint.getSecret(appId, endpoint.id)).key;
    await svix.endpoint.rotateSecret(appId, endpoint.id, { gracePeriodSeconds: 0 });
    expect((await svix.endpoint.getSecret(appId, endpoint.id)).key).not.toBe(kept);
    await svix.endpoint.rotateSecret(appId, endpoint.id, {});
  });

  it('concurrent upserts of a new uid create it once and update it for the rest, with no 409', async () => {
    const appUid = unique('racing-app');
    const apps = await Promise.all(
      Array.from({ length: 6 }, (_, i) => raw('PUT', `/api/v1/app/${appUid}`, { body: JSON.stringify({ name: `racer ${i}` }) })),
    );
    expect(apps.map((answer) => answer.status).sort()).toEqual([200, 200, 200, 200, 200, 201]);
    expect(new Set(apps.map((answer) => answer.body?.['id'])).size).toBe(1);
    const endpointUid = unique('racing-ep');
    const endpoints = await Promise.all(
      Array.from({ length: 6 }, () =>
        raw('PUT', `/api/v1/app/${appUid}/endpoint/${endpointUid}`, { body: JSON.stringify({ url: RECEIVER }) }),
      ),
    );
    expect(endpoints.map((answer) => answer.status).sort()).toEqual([200, 200, 200, 200, 200, 201]);
    expect(new Set(endpoints.map((answer) => answer.body?.['id'])).size).toBe(1);
  });

  it('upserts, patches (disabled, filters), deletes; a deleted endpoint is gone and its uid free', async () => {
    const uid = unique('upsert-ep');
    const created = await raw('PUT', `/api/v1/app/${appId}/endpoint/${uid}`, { body: JSON.stringify({ url: RECEIVER }) });
    expect(created.status).toBe(201);
    const id = (created.body as { id: string }).id;
    const updated = await svix.endpoint.upsert(appId, uid, { url: `${RECEIVER}/v2`, eventTypes: ['order.paid'] });
    expect(updated).toMatchObject({ id, uid, url: `${RECEIVER}/v2`, eventTypes: ['order.paid'] });
    const disabled = await svix.endpoint.patch(appId, id, { disabled: true, eventTypes: null });
    expect(disabled).toMatchObject({ disabled: true, eventTypes: null, url: `${RECEIVER}/v2` });
    expect((await svix.endpoint.patch(appId, uid, { disabled: false })).disabled).toBe(false);

    await svix.endpoint.delete(appId, uid);
    expect((await refused(svix.endpoint.get(appId, id))).code).toBe(404);
    expect((await svix.endpoint.list(appId)).data.map((endpoint) => endpoint.id)).not.toContain(id);
    const again = await svix.endpoint.create(appId, { url: RECEIVER, uid });
    expect(again.id).not.toBe(id);
  });

  it('lists newest first by default and pages', async () => {
    const app = await svix.application.create({ name: 'paging endpoints' });
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await svix.endpoint.create(app.id, { url: `${RECEIVER}/${i}` })).id);
    const first = await svix.endpoint.list(app.id, { limit: 2 });
    expect(first.data.map((endpoint) => endpoint.id)).toEqual([ids[2], ids[1]]);
    expect(first.done).toBe(false);
    const second = await svix.endpoint.list(app.id, { limit: 2, iterator: first.iterator });
    expect(second.data.map((endpoint) => endpoint.id)).toEqual([ids[0]]);
    expect(second.done).toBe(true);
  });

  it('keeps custom headers, hides sensitive values, and refuses forbidden ones', async () => {
    const endpoint = await svix.endpoint.create(appId, { url: RECEIVER, headers: { 'X-Team': 'growth' } });
    expect(await svix.endpoint.getHeaders(appId, endpoint.id)).toEqual({ headers: { 'X-Team': 'growth' }, sensitive: [] });
    await svix.endpoint.setHeaders(appId, endpoint.id, { headers: { 'X-Team': 'ops', Authorization: 'Bearer t' } });
    expect(await svix.endpoint.getHeaders(appId, endpoint.id)).toEqual({ headers: { 'X-Team': 'ops' }, sensitive: ['Authorization'] });
    await svix.endpoint.patchHeaders(appId, endpoint.id, {
      headers: { 'x-team': 'sales', 'X-New': '1' },
      deleteHeaders: ['authorization'],
    });
    expect(await svix.endpoint.getHeaders(appId, endpoint.id)).toEqual({ headers: { 'x-team': 'sales', 'X-New': '1' }, sensitive: [] });
    // Patches at once each keep the others' headers.
    const names = Array.from({ length: 20 }, (_, i) => `X-Concurrent-${i}`);
    await Promise.all(names.map((name) => svix.endpoint.patchHeaders(appId, endpoint.id, { headers: { [name]: '1' } })));
    const merged = (await svix.endpoint.getHeaders(appId, endpoint.id)).headers;
    expect(Object.keys(merged).sort()).toEqual([...names, 'X-New', 'x-team'].sort());
    for (const name of ['svix-id', 'Host', 'Content-Type', 'webhook-signature', 'Transfer-Encoding']) {
      expectValidation(await refused(svix.endpoint.setHeaders(appId, endpoint.id, { headers: { [name]: 'x' } })), ['body', 'headers']);
    }
    expectValidation(await refused(svix.endpoint.create(appId, { url: RECEIVER, headers: { 'svix-signature': 'x' } })), [
      'body',
      'headers',
    ]);
    expectValidation(await refused(svix.endpoint.setHeaders(appId, endpoint.id, { headers: { 'X-Bad': 'a\r\nb' } })), ['body', 'headers']);
  });

  it('refuses bad URLs, unknown or malformed filters, and bad channels with 422', async () => {
    for (const url of ['not a url', 'ftp://example.com/x', 'https://user:pw@example.com/', 'https://10.0.0.8/hook', 'https://[::1]/x']) {
      expectValidation(await refused(svix.endpoint.create(appId, { url })), ['body', 'url']);
    }
    const unknown = await refused(svix.endpoint.create(appId, { url: RECEIVER, eventTypes: ['order.paid', 'no.such.type'] }));
    expectValidation(unknown, ['body', 'eventTypes']);
    expect(JSON.stringify(unknown.body)).toContain('no.such.type');
    expectValidation(await refused(svix.endpoint.create(appId, { url: RECEIVER, eventTypes: [] })), ['body', 'eventTypes']);
    expectValidation(await refused(svix.endpoint.create(appId, { url: RECEIVER, eventTypes: ['bad type!'] })), ['body', 'eventTypes', '0']);
    const olderBad = await raw('POST', `/api/v1/app/${appId}/endpoint`, {
      body: JSON.stringify({ url: RECEIVER, filterTypes: ['nope.nope'] }),
    });
    expect(olderBad.status).toBe(422);
    expectValidation(await refused(svix.endpoint.create(appId, { url: RECEIVER, channels: ['no spaces'] })), ['body', 'channels', '0']);
    const tooMany = Array.from({ length: 11 }, (_, i) => `c${i}`);
    expectValidation(await refused(svix.endpoint.create(appId, { url: RECEIVER, channels: tooMany })), ['body', 'channels']);
    expectValidation(await refused(svix.endpoint.create(appId, { url: RECEIVER, uid: 'ep_taken_prefix' })), ['body', 'uid']);
    expectValidation(await refused(svix.endpoint.create(appId, {} as never)), ['body', 'url']);
    const endpoint = await svix.endpoint.create(appId, { url: RECEIVER });
    expectValidation(await refused(svix.endpoint.patch(appId, endpoint.id, { url: 'gopher://x' })), ['body', 'url']);
    expectValidation(await refused(svix.endpoint.patch(appId, endpoint.id, { eventTypes: ['missing.type'] })), ['body', 'eventTypes']);
  });

  it('a duplicate uid is a 409; unknown ids, uids and other applications or tenants are 404', async () => {
    const uid = unique('taken');
    const endpoint = await svix.endpoint.create(appId, { url: RECEIVER, uid });
    expect(await refused(svix.endpoint.create(appId, { url: RECEIVER, uid }))).toEqual({
      code: 409,
      body: { code: 'conflict', detail: expect.any(String) },
    });
    const otherApp = await svix.application.create({ name: 'another app' });
    expect((await refused(svix.endpoint.get(otherApp.id, endpoint.id))).code).toBe(404);
    expect((await refused(svix.endpoint.get(appId, 'ep_0000000000000000000000x'))).code).toBe(404);
    expect((await refused(svix.endpoint.get(appId, 'no-such-uid'))).code).toBe(404);
    expect((await refused(svix.endpoint.get('no-such-app', endpoint.id))).code).toBe(404);
    const other = await s.otherTenant();
    const calls: Array<() => Promise<unknown>> = [
      () => other.svix.endpoint.get(appId, endpoint.id),
      () => other.svix.endpoint.getSecret(appId, endpoint.id),
      () => other.svix.endpoint.rotateSecret(appId, endpoint.id, {}),
      () => other.svix.endpoint.patch(appId, endpoint.id, { disabled: true }),
      () => other.svix.endpoint.delete(appId, endpoint.id),
      () => other.svix.endpoint.getHeaders(appId, endpoint.id),
      () => other.svix.endpoint.getStats(appId, endpoint.id),
      () => other.svix.endpoint.recover(appId, endpoint.id, { since: new Date(0) }),
      () => other.svix.endpoint.sendExample(appId, endpoint.id, { eventType: 'svix.ping' }),
    ];
    for (const call of calls) expect((await refused(call())).code).toBe(404);
  });

  it('answers stats, and recover with a background task', async () => {
    const endpoint = await svix.endpoint.create(appId, { url: RECEIVER });
    expect(await svix.endpoint.getStats(appId, endpoint.id)).toEqual({ success: 0, pending: 0, sending: 0, fail: 0, canceled: 0 });
    const task = await svix.endpoint.recover(appId, endpoint.id, { since: new Date(Date.now() - 3_600_000) });
    expect(task).toMatchObject({ status: 'running', task: 'endpoint.recover' });
    expect(task.id).toMatch(/^qtask_/);
    expectValidation(await refused(svix.endpoint.recover(appId, endpoint.id, { since: 'yesterday' as never })), ['body', 'since']);
    expectValidation(await refused(svix.endpoint.recover(appId, endpoint.id, { since: new Date(Date.now() + 3_600_000) })), [
      'body',
      'since',
    ]);
    expectValidation(await refused(svix.endpoint.getStats(appId, endpoint.id, { since: 'soon' as never })), ['query', 'since']);
  });
});

describe('messages', () => {
  let appId: string;
  const appUid = unique('messages');

  beforeAll(async () => {
    appId = (await svix.application.create({ name: 'Messages', uid: appUid })).id;
  });

  it('creates (202, durable), gets by id and eventId, with and without content', async () => {
    const eventId = unique('evt');
    const message = await svix.message.create(appUid, { eventType: 'user.created', eventId, payload: { id: 1 }, channels: ['project:1'] });
    expect(message).toMatchObject({ eventType: 'user.created', eventId, payload: {}, channels: ['project:1'] });
    expect(message.id).toMatch(/^msg_/);
    expect(await svix.message.get(appId, message.id)).toMatchObject({ id: message.id, payload: {} });
    expect(await svix.message.get(appId, eventId, { withContent: true })).toMatchObject({ id: message.id, payload: { id: 1 } });
    const created = await raw('POST', `/api/v1/app/${appId}/msg`, {
      body: JSON.stringify({ eventType: 'user.created', payload: { x: 'y' } }),
    });
    expect(created.status).toBe(202);
    expect(created.body).toMatchObject({ payload: { x: 'y' }, eventId: null, channels: null });
  });

  it('regression: a message sent while its application is being deleted waits for the delete, answers 404 and leaves nothing', async () => {
    const doomed = await svix.application.create({ name: 'Doomed', uid: unique('doomed') });
    await svix.endpoint.create(doomed.id, { url: RECEIVER });
    const sql = s.h.deps.sql;
    const deleting = await sql.reserve();
    try {
      await deleting`begin`;
      await deleting`select 1 from applications where id = ${doomed.id} for update`;
      const sending = refused(svix.message.create(doomed.id, { eventType: 'user.created', payload: { late: true } }));
      await expect
        .poll(
          async () => (await sql<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock'`)[0]?.n,
        )
        .toBeGreaterThan(0);
      await deleting`delete from endpoints where app_id = ${doomed.id}`;
      await deleting`delete from applications where id = ${doomed.id}`;
      await deleting`commit`;
      expect(await sending).toEqual({ code: 404, body: { code: 'not_found', detail: expect.any(String) } });
    } finally {
      deleting.release();
    }
    const [left] = await sql<{ messages: number; deliveries: number }[]>`
      select (select count(*)::int from messages where app_id = ${doomed.id}) as messages,
             (select count(*)::int from deliveries d join endpoints e on e.id = d.endpoint_id where e.app_id = ${doomed.id}) as deliveries`;
    expect(left).toEqual({ messages: 0, deliveries: 0 });
  });

  it('a duplicate eventId in the application is a 409; in another application it is fine', async () => {
    const eventId = unique('once');
    await svix.message.create(appId, { eventType: 'user.created', eventId, payload: {} });
    expect(await refused(svix.message.create(appId, { eventType: 'user.created', eventId, payload: {} }))).toEqual({
      code: 409,
      body: { code: 'conflict', detail: expect.any(String) },
    });
    const otherApp = await svix.application.create({ name: 'second' });
    await svix.message.create(otherApp.id, { eventType: 'user.created', eventId, payload: {} });
  });

  it('refuses payloads that are not JSON objects, bad names and channels, deliverAt, and bodies over 1 MiB', async () => {
    for (const payload of [[1, 2], 'text', 42, null, true]) {
      expectValidation(await refused(svix.message.create(appId, { eventType: 'user.created', payload })), ['body', 'payload']);
    }
    expectValidation(await refused(svix.message.create(appId, { payload: {} } as never)), ['body', 'eventType']);
    expectValidation(await refused(svix.message.create(appId, { eventType: 'no spaces', payload: {} })), ['body', 'eventType']);
    expectValidation(await refused(svix.message.create(appId, { eventType: 'a', eventId: 'bad id', payload: {} })), ['body', 'eventId']);
    expectValidation(await refused(svix.message.create(appId, { eventType: 'a', payload: {}, channels: ['a b'] })), [
      'body',
      'channels',
      '0',
    ]);
    const eleven = Array.from({ length: 11 }, (_, i) => `c${i}`);
    expectValidation(await refused(svix.message.create(appId, { eventType: 'a', payload: {}, channels: eleven })), ['body', 'channels']);
    expectValidation(await refused(svix.message.create(appId, { eventType: 'a', payload: {}, deliverAt: new Date() })), [
      'body',
      'deliverAt',
    ]);
    let deep: unknown = {};
    for (let i = 0; i < 200; i++) deep = { d: deep };
    expectValidation(await refused(svix.message.create(appId, { eventType: 'a', payload: deep })), ['body', 'payload']);
    const huge = await refused(svix.message.create(appId, { eventType: 'a', payload: { blob: 'x'.repeat(1024 * 1024) } }));
    expect(huge).toEqual({ code: 413, body: { code: 'payload_too_large', detail: expect.any(String) } });
    expect((await refused(svix.message.create('no-such-app', { eventType: 'a', payload: {} }))).code).toBe(404);
    expect((await refused(svix.message.get(appId, 'msg_0000000000000000000000x'))).code).toBe(404);
    expect((await refused(svix.message.get(appId, 'no-such-event-id'))).code).toBe(404);
  });

  it('accepts what the SDK may send that Orbit does not keep (tags, retention), and creates the application with the message', async () => {
    const message = await svix.message.create(appId, {
      eventType: 'user.created',
      payload: { a: 1 },
      tags: ['t1'],
      payloadRetentionPeriod: 30,
    });
    expect(message.id).toMatch(/^msg_/);
    const uid = unique('made-with-message');
    const withApp = await svix.message.create(uid, { eventType: 'user.created', payload: {}, application: { name: 'Born', uid } });
    expect((await svix.application.get(uid)).name).toBe('Born');
    expect((await svix.message.get(uid, withApp.id)).id).toBe(withApp.id);
    const mismatch = await refused(
      svix.message.create(unique('path'), { eventType: 'a', payload: {}, application: { name: 'x', uid: 'other' } }),
    );
    expectValidation(mismatch, ['body', 'application', 'uid']);
  });

  it('lists newest first with channel, event type and time filters, and pages', async () => {
    const app = await svix.application.create({ name: 'list messages' });
    const sent = [];
    for (const [eventType, channels] of [
      ['a.x', ['one']],
      ['a.y', ['two']],
      ['a.x', ['one', 'two']],
      ['a.z', null],
    ] as const) {
      sent.push(await svix.message.create(app.id, { eventType, payload: { eventType }, channels: channels ? [...channels] : null }));
    }
    const ids = sent.map((message) => message.id);
    const all = await svix.message.list(app.id);
    expect(all.data.map((message) => message.id)).toEqual([...ids].reverse());
    expect(all.data[0]?.payload).toEqual({});
    expect((await svix.message.list(app.id, { withContent: true })).data[0]?.payload).toEqual({ eventType: 'a.z' });
    expect((await svix.message.list(app.id, { channel: 'one' })).data.map((m) => m.id)).toEqual([ids[2], ids[0]]);
    expect((await svix.message.list(app.id, { eventTypes: ['a.y', 'a.z'] })).data.map((m) => m.id)).toEqual([ids[3], ids[1]]);
    const page = await svix.message.list(app.id, { limit: 3 });
    expect(page.done).toBe(false);
    const rest = await svix.message.list(app.id, { limit: 3, iterator: page.iterator });
    expect(rest.data.map((m) => m.id)).toEqual([ids[0]]);
    const cut = sent[2]?.timestamp as Date;
    const before = await svix.message.list(app.id, { before: cut });
    const expected = sent.filter((m) => m.timestamp < cut).map((m) => m.id);
    expect(before.data.map((m) => m.id)).toEqual(expected.reverse());
    const after = await svix.message.list(app.id, { after: new Date((sent[0]?.timestamp as Date).getTime() - 1) });
    expect(after.data).toHaveLength(4);
    expect((await svix.message.list(app.id, { tag: 'anything' })).data).toEqual([]);
    expectValidation(await refused(svix.message.list(app.id, { channel: 'bad channel' })), ['query', 'channel']);
  });

  it('answers the payload with its numbers as sent: no 64-bit id rounded, no 1.0 turned into 1', async () => {
    const payload = '{"big":12345678901234567890,"f":1.0,"e":1e2,"neg":-0,"list":[1.50,{"tiny":3e-7}]}';
    const sent = await raw('POST', `/api/v1/app/${appId}/msg`, { body: `{"eventType":"user.created","payload":${payload}}` });
    expect(sent.status).toBe(202);
    const read = await fetch(`${s.url}/api/v1/app/${appId}/msg/${sent.body?.['id'] as string}?with_content=true`, {
      headers: { authorization: `Bearer ${s.adminKey}` },
    });
    expect(await read.text()).toContain(`"payload":${payload}`);
    const listed = await fetch(`${s.url}/api/v1/app/${appId}/msg?with_content=true&limit=1`, {
      headers: { authorization: `Bearer ${s.adminKey}` },
    });
    expect(await listed.text()).toContain(`"payload":${payload}`);
  });

  it('expunges content: reads show it as expired', async () => {
    const message = await svix.message.create(appId, { eventType: 'user.created', payload: { secret: 'card 4242' } });
    await svix.message.expungeContent(appId, message.id);
    const read = await raw('GET', `/api/v1/app/${appId}/msg/${message.id}?with_content=true`);
    expect(read.body).toMatchObject({ payload: { expired: true }, expunged: true });
    expect(JSON.stringify(read.body)).not.toContain('4242');
    expect((await refused(svix.message.expungeContent(appId, 'msg_0000000000000000000000x'))).code).toBe(404);
  });
});

describe('message attempts: refusals', () => {
  it("unknown and other tenants' messages, endpoints and attempts are 404; bad filters are 422", async () => {
    const app = await svix.application.create({ name: 'attempt refusals' });
    const endpoint = await svix.endpoint.create(app.id, { url: RECEIVER });
    const message = await svix.message.create(app.id, { eventType: 'user.created', payload: {} });
    const unknownMsg = 'msg_0000000000000000000000x';
    const unknownEp = 'ep_0000000000000000000000x';
    const ma = svix.messageAttempt;
    const notFound: Array<() => Promise<unknown>> = [
      () => ma.listByMsg(app.id, unknownMsg),
      () => ma.listByMsg(app.id, message.id, { endpointId: unknownEp }),
      () => ma.listByEndpoint(app.id, unknownEp),
      () => ma.listAttemptedMessages(app.id, unknownEp),
      () => ma.listAttemptedDestinations(app.id, unknownMsg),
      () => ma.get(app.id, message.id, 'atmpt_0000000000000000000000x'),
      () => ma.get(app.id, unknownMsg, 'atmpt_0000000000000000000000x'),
      () => ma.expungeContent(app.id, message.id, 'atmpt_0000000000000000000000x'),
      () => ma.resend(app.id, unknownMsg, endpoint.id),
      () => ma.resend(app.id, message.id, unknownEp),
    ];
    for (const call of notFound) expect((await refused(call())).body).toEqual({ code: 'not_found', detail: expect.any(String) });
    const other = await s.otherTenant();
    const theirs: Array<() => Promise<unknown>> = [
      () => other.svix.messageAttempt.listByMsg(app.id, message.id),
      () => other.svix.messageAttempt.listByEndpoint(app.id, endpoint.id),
      () => other.svix.messageAttempt.listAttemptedMessages(app.id, endpoint.id),
      () => other.svix.messageAttempt.listAttemptedDestinations(app.id, message.id),
      () => other.svix.messageAttempt.resend(app.id, message.id, endpoint.id),
      () => other.svix.message.get(app.id, message.id),
      () => other.svix.message.list(app.id),
      () => other.svix.message.expungeContent(app.id, message.id),
    ];
    for (const call of theirs) expect((await refused(call())).code).toBe(404);
    expectValidation(await refused(ma.listByMsg(app.id, message.id, { status: 7 as never })), ['query', 'status']);
    expectValidation(await refused(ma.listByEndpoint(app.id, endpoint.id, { statusCodeClass: 250 as never })), [
      'query',
      'status_code_class',
    ]);
    expectValidation(await refused(ma.listAttemptedMessages(app.id, endpoint.id, { eventTypes: ['bad type'] })), ['query', 'event_types']);
    // Nothing was attempted yet: empty pages, and the delivery shows as pending (1) or sending (3).
    expect((await ma.listByEndpoint(app.id, endpoint.id, { status: 1 as never })).data).toEqual([]);
    const destinations = await ma.listAttemptedDestinations(app.id, message.id);
    expect(destinations.data.map((d) => d.id)).toEqual([endpoint.id]);
  });
});

describe('idempotency keys', () => {
  it('replays the first answer for a repeat, refuses the same key with another body', async () => {
    const app = await svix.application.create({ name: 'idempotent' });
    const key = unique('key');
    const first = await svix.message.create(app.id, { eventType: 'a.b', payload: { n: 1 } }, { idempotencyKey: key });
    const again = await svix.message.create(app.id, { eventType: 'a.b', payload: { n: 1 } }, { idempotencyKey: key });
    expect(again).toEqual(first);
    expect((await svix.message.list(app.id)).data).toHaveLength(1);
    const conflict = await refused(svix.message.create(app.id, { eventType: 'a.b', payload: { n: 2 } }, { idempotencyKey: key }));
    expect(conflict).toEqual({ code: 409, body: { code: 'idempotency_conflict', detail: expect.any(String) } });

    // A key belongs to its URL, as in Svix: the same key on another route (or another application) is another request.
    const shared = unique('shared');
    const madeApp = await svix.application.create({ name: 'keyed' }, { idempotencyKey: shared });
    const typed = await svix.eventType.create(
      { name: unique('keyed.type').replace(/-/g, '.'), description: 'x' },
      { idempotencyKey: shared },
    );
    expect(typed.name).toMatch(/^keyed\.type/);
    const elsewhere = await svix.message.create(madeApp.id, { eventType: 'a.b', payload: { n: 1 } }, { idempotencyKey: key });
    expect(elsewhere.id).not.toBe(first.id);

    // A refusal is not kept: a corrected retry with the same key runs.
    const appKey = unique('app-key');
    await refused(svix.application.create({ name: '' }, { idempotencyKey: appKey }));
    const concurrent = await Promise.all([
      svix.application.create({ name: 'once' }, { idempotencyKey: unique('k') }),
      svix.application.create({ name: 'once' }, { idempotencyKey: appKey }),
    ]);
    const [, made] = concurrent;
    expect(await svix.application.create({ name: 'once' }, { idempotencyKey: appKey })).toEqual(made);

    // Concurrent repeats: one runs, the others get its answer.
    const racing = unique('race');
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => svix.message.create(app.id, { eventType: 'a.c', payload: {} }, { idempotencyKey: racing })),
    );
    expect(new Set(answers.map((answer) => answer.id)).size).toBe(1);
    expect((await svix.message.list(app.id, { eventTypes: ['a.c'] })).data).toHaveLength(1);
  });
});

describe('hostile input', () => {
  it('never answers 5xx, and every refusal has Svix shape', async () => {
    const app = await svix.application.create({ name: 'hostile', uid: unique('hostile') });
    const endpoint = await svix.endpoint.create(app.id, { url: RECEIVER });
    const message = await svix.message.create(app.id, { eventType: 'user.created', payload: { a: 1 } });
    const base = `/api/v1/app/${app.id}`;
    const ep = `${base}/endpoint/${endpoint.id}`;
    const bodyRoutes: Array<[string, string]> = [
      ['POST', '/api/v1/app'],
      ['PUT', base],
      ['PATCH', base],
      ['POST', '/api/v1/event-type'],
      ['PUT', '/api/v1/event-type/hostile.type'],
      ['PATCH', '/api/v1/event-type/hostile.type'],
      ['POST', `${base}/endpoint`],
      ['PUT', ep],
      ['PATCH', ep],
      ['POST', `${ep}/secret/rotate`],
      ['PUT', `${ep}/headers`],
      ['PATCH', `${ep}/headers`],
      ['POST', `${ep}/recover`],
      ['POST', `${ep}/send-example`],
      ['POST', `${base}/msg`],
    ];
    const nul = '\u0000';
    const hostileBodies = [
      '',
      'null',
      '[]',
      '"text"',
      '42',
      '{',
      '{"a":1}',
      '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]',
      JSON.stringify({ name: `a${nul}b`, uid: `u${nul}`, description: `d${nul}`, url: `https://x.example/${nul}`, eventType: `e${nul}` }),
      '{"name":"\\ud800","description":"\\udfff","url":"https://x.example/\\ud800","eventType":"a","payload":{"s":"\\ud800"}}',
      JSON.stringify({ name: 'x', metadata: { k: nul }, headers: { [`X${nul}`]: 'v', 'X-Ok': `v${nul}` }, description: '' }),
      JSON.stringify({ name: 'x', throttleRate: 1e300, url: RECEIVER, eventType: 'a', payload: {}, since: '+275760-09-13T00:00:00.000Z' }),
      JSON.stringify({ since: '-271821-04-20T00:00:00.000Z', until: '2026-13-45T99:99:99Z', key: 'whsec_!!!', gracePeriodSeconds: -1 }),
      JSON.stringify({ url: RECEIVER, eventTypes: 'user.created', channels: 'eu', headers: ['x'], metadata: [1], secret: 42 }),
      JSON.stringify({ headers: { 'x-a': null }, deleteHeaders: [nul, 'x'.repeat(10_000)] }),
      '{"eventType":"a","payload":{"n":1e400,"big":123456789012345678901234567890},"channels":[],"eventId":""}',
      JSON.stringify({ eventType: 'a', payload: {}, transformationsParams: { rawPayload: '[1]' } }),
      JSON.stringify({
        eventType: 'a',
        payload: {},
        transformationsParams: { rawPayload: '{"ok":true}', headers: { 'content-type': 'text/plain' } },
      }),
      JSON.stringify({ eventType: 'a', payload: {}, application: { name: '' } }),
      JSON.stringify({ eventType: 'a', exampleIndex: -1, schemas: { '1': nul }, featureFlags: ['a', 'b'], groupName: nul }),
      JSON.stringify({ __proto__: { polluted: true }, constructor: { prototype: { x: 1 } }, name: 'proto' }),
    ];
    for (const [method, path] of bodyRoutes) {
      for (const body of hostileBodies) {
        const answer = await raw(method, path, { body, headers: { 'idempotency-key': unique('hostile') } });
        expect(answer.status, `${method} ${path} ${body.slice(0, 80)} → ${JSON.stringify(answer.body)}`).toBeLessThan(500);
        if (answer.status >= 400) {
          const shaped =
            answer.status === 422
              ? Array.isArray(answer.body?.['detail'])
              : typeof answer.body?.['code'] === 'string' && typeof answer.body?.['detail'] === 'string';
          expect(shaped, `${method} ${path} ${JSON.stringify(answer.body)}`).toBe(true);
        }
      }
    }
    const queries = [
      'limit=-1',
      'limit=abc',
      'limit=99999999999',
      'iterator=%00',
      'iterator=-',
      'iterator=msg_0000000000000000000000x',
      'before=9999999-01-01',
      'after=%2B275760-09-13T00:00:00.000Z',
      'before=-271821-04-20T00:00:00.000Z',
      'status=9',
      'status_code_class=123',
      'with_content=maybe',
      'event_types=a,b%20c',
      'channel=%00',
      'order=sideways',
      'since=yesterday',
      'endpoint_id=%00',
      'limit=1&limit=2',
    ];
    const getRoutes = [
      '/api/v1/app',
      '/api/v1/event-type',
      `${base}/endpoint`,
      `${base}/msg`,
      `${base}/attempt/msg/${message.id}`,
      `${base}/attempt/endpoint/${endpoint.id}`,
      `${ep}/msg`,
      `${base}/msg/${message.id}/endpoint`,
      `${ep}/stats`,
      `${base}/msg/${message.id}`,
    ];
    for (const path of getRoutes) {
      for (const query of queries) {
        const answer = await raw('GET', `${path}?${query}`);
        expect(answer.status, `GET ${path}?${query} → ${JSON.stringify(answer.body)}`).toBeLessThan(500);
      }
    }
    for (const path of [
      '/api/v1/app/%00',
      '/api/v1/app/%E0%A4%A',
      `/api/v1/app/${'x'.repeat(5000)}`,
      `${base}/endpoint/..%2F..%2Fetc`,
      `${base}/msg/%F0%9F%98%80`,
      '/api/v1/event-type/%C0%AF',
      `${base}/msg/${message.id}/attempt/%00`,
    ]) {
      const answer = await raw('GET', path);
      expect(answer.status, path).toBe(404);
      expect(answer.body).toEqual({ code: 'not_found', detail: expect.any(String) });
    }
  }, 60_000);
});
