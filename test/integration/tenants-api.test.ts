import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type CallResult, type TestApi } from '../support/api.ts';

let api: TestApi;
/** A second tenant with its own tenant-scoped key, and one of its runs. */
let other: { id: string; apiKey: string; signingSecret: string; runId: string };

beforeAll(async () => {
  api = await startTestApi();
  const created = await api.call('POST', '/v1/admin/tenants', { body: { name: 'acme' } });
  const run = await api.call('POST', '/v1/runs', { body: { workflowId: 'wf_other' }, key: created.body.apiKey });
  other = { id: created.body.id, apiKey: created.body.apiKey, signingSecret: created.body.signingSecret, runId: run.body.id };
});

afterAll(async () => {
  await api?.close();
});

function expectError(answer: CallResult, status: number, code: string): void {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expect(answer.body).toEqual({ error: { code, message: expect.any(String), requestId: expect.any(String) } });
}

async function createTenant(name: string): Promise<CallResult['body']> {
  const created = await api.call('POST', '/v1/admin/tenants', { body: { name } });
  expect(created.status).toBe(201);
  return created.body;
}

describe('POST /v1/admin/tenants', () => {
  it('answers the tenant, its first key and its signing secret', async () => {
    const created = await api.call('POST', '/v1/admin/tenants', { body: { name: 'Globex' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: expect.stringMatching(/^ten_/),
      name: 'Globex',
      apiKey: expect.stringMatching(/^gx_[A-Za-z0-9_-]{20,}$/),
      signingSecret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]+=*$/),
      createdAt: expect.any(String),
    });
    // The key works, with tenant scope: runs yes, admin no.
    const run = await api.call('POST', '/v1/runs', { body: { workflowId: 'wf' }, key: created.body.apiKey });
    expect(run.status).toBe(201);
    expectError(await api.call('GET', '/v1/admin/tenants', { key: created.body.apiKey }), 403, 'forbidden');
    // Keys are stored hashed.
    const rows = await api.deps.sql`select key_hash from api_keys where tenant_id = ${created.body.id}`;
    expect(rows).toHaveLength(1);
    expect(rows[0]?.['key_hash']).not.toContain(created.body.apiKey);
    // Each tenant has its own secret.
    expect(created.body.signingSecret).not.toBe(other.signingSecret);
  });

  it('trims the name and refuses a missing, blank, too long or non-string one', async () => {
    expect((await createTenant('  spaced  ')).name).toBe('spaced');
    for (const body of [{}, { name: '' }, { name: '   ' }, { name: 'n'.repeat(201) }, { name: 5 }, { name: null }]) {
      const answer = await api.call('POST', '/v1/admin/tenants', { body });
      expect(answer.status).toBe(422);
      expect(answer.body.error.code).toBe('validation_failed');
      expect(answer.body.error.details[0].path).toBe('body.name');
    }
  });
});

describe('GET /v1/admin/tenants', () => {
  it('lists tenants newest first without any key or secret', async () => {
    const created = await createTenant('listed');
    const listed = await api.call('GET', '/v1/admin/tenants');
    expect(listed.status).toBe(200);
    expect(listed.body).toMatchObject({ iterator: null, done: true });
    expect(listed.body.data[0]).toEqual({ id: created.id, name: 'listed', createdAt: created.createdAt });
    expect(listed.body.data.map((tenant: { id: string }) => tenant.id)).toContain(api.tenantId);
    const text = JSON.stringify(listed.body);
    expect(text).not.toMatch(/gx_|whsec_|apiKey|signingSecret|secret|keyHash|key_hash/i);
    expect(text).not.toContain(api.adminKey);
  });

  it('pages with limit and iterator', async () => {
    const all = (await api.call('GET', '/v1/admin/tenants?limit=250')).body.data.map((tenant: { id: string }) => tenant.id);
    expect(all.length).toBeGreaterThanOrEqual(3);
    const seen: string[] = [];
    let iterator: string | null = null;
    do {
      const page: CallResult = await api.call('GET', `/v1/admin/tenants?limit=1${iterator ? `&iterator=${iterator}` : ''}`);
      expect(page.status).toBe(200);
      expect(page.body.data.length).toBeLessThanOrEqual(1);
      seen.push(...page.body.data.map((tenant: { id: string }) => tenant.id));
      iterator = page.body.iterator;
      expect(page.body.done).toBe(iterator === null);
    } while (iterator);
    expect(seen).toEqual(all);
  });

  it('refuses bad paging parameters with 422', async () => {
    for (const query of ['limit=0', 'limit=251', 'limit=x', 'iterator=%20bad']) {
      expectError422(await api.call('GET', `/v1/admin/tenants?${query}`));
    }
  });
});

function expectError422(answer: CallResult): void {
  expect(answer.status, JSON.stringify(answer.body)).toBe(422);
  expect(answer.body.error.code).toBe('validation_failed');
  expect(answer.body.error.details.length).toBeGreaterThan(0);
}

describe('API keys', () => {
  it('issues a tenant key by default and an admin key on request', async () => {
    const tenant = await createTenant('keys');
    const issued = await api.call('POST', `/v1/admin/tenants/${tenant.id}/keys`);
    expect(issued.status).toBe(201);
    expect(issued.body).toMatchObject({ id: expect.stringMatching(/^key_/), apiKey: expect.stringMatching(/^gx_/), scope: 'tenant' });
    expect(issued.body.apiKey).not.toBe(tenant.apiKey);
    const withBody = await api.call('POST', `/v1/admin/tenants/${tenant.id}/keys`, { body: {} });
    expect(withBody.body.scope).toBe('tenant');
    // The tenant key sees the tenant's runs, not the admin API.
    const run = await api.call('POST', '/v1/runs', { body: { workflowId: 'wf_k' }, key: issued.body.apiKey });
    expect(run.status).toBe(201);
    expect((await api.call('GET', `/v1/runs/${run.body.id}`, { key: tenant.apiKey })).status).toBe(200);
    expectError(await api.call('GET', '/v1/admin/tenants', { key: issued.body.apiKey }), 403, 'forbidden');

    const admin = await api.call('POST', `/v1/admin/tenants/${tenant.id}/keys`, { body: { scope: 'admin' } });
    expect(admin.status).toBe(201);
    expect(admin.body.scope).toBe('admin');
    expect((await api.call('GET', '/v1/admin/tenants', { key: admin.body.apiKey })).status).toBe(200);
    // An admin key of that tenant still works on that tenant's runs only.
    expect((await api.call('GET', `/v1/runs/${run.body.id}`, { key: admin.body.apiKey })).status).toBe(200);
    expectError(await api.call('GET', `/v1/runs/${other.runId}`, { key: admin.body.apiKey }), 404, 'not_found');
  });

  it('refuses an unknown scope (422) and an unknown tenant (404)', async () => {
    expectError422(await api.call('POST', `/v1/admin/tenants/${other.id}/keys`, { body: { scope: 'root' } }));
    expectError(await api.call('POST', '/v1/admin/tenants/ten_doesnotexist/keys', { body: {} }), 404, 'not_found');
  });

  it('revokes a key: 204, then 401 with it; revoking again is 204; an unknown key is 404', async () => {
    const tenant = await createTenant('revoke');
    const issued = await api.call('POST', `/v1/admin/tenants/${tenant.id}/keys`, { body: { scope: 'admin' } });
    expect((await api.call('GET', '/v1/runs', { key: issued.body.apiKey })).status).toBe(200);
    const revoked = await api.call('DELETE', `/v1/admin/keys/${issued.body.id}`);
    expect(revoked.status).toBe(204);
    expect(revoked.body).toBeNull();
    expectError(await api.call('GET', '/v1/runs', { key: issued.body.apiKey }), 401, 'unauthenticated');
    expectError(await api.call('GET', '/v1/admin/tenants', { key: issued.body.apiKey }), 401, 'unauthenticated');
    expect((await api.call('DELETE', `/v1/admin/keys/${issued.body.id}`)).status).toBe(204);
    // The tenant's other key still works.
    expect((await api.call('GET', '/v1/runs', { key: tenant.apiKey })).status).toBe(200);
    expectError(await api.call('DELETE', '/v1/admin/keys/key_doesnotexist'), 404, 'not_found');
  });
});

describe('GET /v1/admin/tenants/{id}/signing-secret', () => {
  it("answers the tenant's current secret", async () => {
    const read = await api.call('GET', `/v1/admin/tenants/${other.id}/signing-secret`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual({
      tenantId: other.id,
      signingSecret: other.signingSecret,
      secrets: [{ signingSecret: other.signingSecret, createdAt: expect.any(String), expiresAt: null }],
    });
  });

  it('answers 404 for an unknown tenant and 403 for a tenant key', async () => {
    expectError(await api.call('GET', '/v1/admin/tenants/ten_doesnotexist/signing-secret'), 404, 'not_found');
    expectError(await api.call('GET', `/v1/admin/tenants/${other.id}/signing-secret`, { key: other.apiKey }), 403, 'forbidden');
  });
});

describe('the auth matrix', () => {
  const runRoutes = (runId: string): Array<[string, string, unknown?]> => [
    ['POST', '/v1/runs', { workflowId: 'wf' }],
    ['GET', '/v1/runs'],
    ['GET', `/v1/runs/${runId}`],
    ['POST', `/v1/runs/${runId}/events`, { type: 'run.started' }],
    ['POST', `/v1/runs/${runId}/cancel`],
  ];
  const adminRoutes = (): Array<[string, string, unknown?]> => [
    ['POST', '/v1/admin/tenants', { name: 'x' }],
    ['GET', '/v1/admin/tenants'],
    ['POST', `/v1/admin/tenants/${other.id}/keys`, { scope: 'admin' }],
    ['DELETE', '/v1/admin/keys/key_doesnotexist'],
    ['GET', `/v1/admin/tenants/${other.id}/signing-secret`],
  ];
  const every = () => [...runRoutes(other.runId), ...adminRoutes()];

  async function tableCount(): Promise<Record<string, number>> {
    const [row] = await api.deps.sql`select (select count(*)::int from runs) as runs, (select count(*)::int from events) as events,
      (select count(*)::int from tenants) as tenants, (select count(*)::int from api_keys) as keys`;
    return { ...row };
  }

  it('no key → 401 on every route, under /v1 and /api/v1, recording nothing', async () => {
    const before = await tableCount();
    for (const [method, path, body] of every()) {
      expectError(await api.call(method, path, { key: null, body }), 401, 'unauthenticated');
      expectError(await api.call(method, path.replace('/v1/', '/api/v1/'), { key: null, body }), 401, 'unauthenticated');
    }
    expect(await tableCount()).toEqual(before);
  });

  it('unknown key → 401 on every route', async () => {
    for (const [method, path, body] of every()) {
      expectError(await api.call(method, path, { key: 'gx_unknownunknownunknownunknown', body }), 401, 'unauthenticated');
    }
  });

  it('malformed Authorization headers → 401', async () => {
    const values = [
      '',
      'Bearer',
      'Bearer ',
      `Basic ${Buffer.from(`user:${api.adminKey}`).toString('base64')}`,
      api.adminKey,
      `Token ${api.adminKey}`,
      `Bearer ${api.adminKey} extra`,
      `Bearer${api.adminKey}`,
      `Bearer ${'x'.repeat(600)}`,
      `Bearer ${api.adminKey}x`,
      'Bearer \u00e9\u00e9\u00e9',
    ];
    for (const authorization of values) {
      const answer = await api.call('GET', '/v1/runs', { key: null, headers: { authorization } });
      expect(answer.status, authorization).toBe(401);
      expect(answer.body.error.code).toBe('unauthenticated');
    }
    // The scheme is case-insensitive.
    expect((await api.call('GET', '/v1/runs', { key: null, headers: { authorization: `bearer ${api.adminKey}` } })).status).toBe(200);
  });

  it('revoked key → 401 on every route', async () => {
    const issued = await api.call('POST', `/v1/admin/tenants/${other.id}/keys`, { body: { scope: 'admin' } });
    expect((await api.call('DELETE', `/v1/admin/keys/${issued.body.id}`)).status).toBe(204);
    for (const [method, path, body] of every()) {
      expectError(await api.call(method, path, { key: issued.body.apiKey, body }), 401, 'unauthenticated');
    }
  });

  it('tenant key on an admin route → 403, recording nothing', async () => {
    const before = await tableCount();
    for (const [method, path, body] of [...adminRoutes(), ['GET', '/v1/admin/unknown-route'] as [string, string]]) {
      expectError(await api.call(method, path, { key: other.apiKey, body }), 403, 'forbidden');
      expectError(await api.call(method, path.replace('/v1/', '/api/v1/'), { key: other.apiKey, body }), 403, 'forbidden');
    }
    expect(await tableCount()).toEqual(before);
  });

  it("another tenant's run → 404 (never 403) for get, events and cancel, and the run is untouched", async () => {
    const nosy = await createTenant('nosy');
    const before = await api.deps.sql`select * from runs where id = ${other.runId}`;
    const eventsBefore = await tableCount();
    for (const key of [api.adminKey, nosy.apiKey]) {
      for (const [method, path, body] of runRoutes(other.runId).slice(2)) {
        expectError(await api.call(method, path, { key, body }), 404, 'not_found');
      }
    }
    expect(await api.deps.sql`select * from runs where id = ${other.runId}`).toEqual(before);
    expect(await tableCount()).toEqual(eventsBefore);
    // The owner still sees it.
    expect((await api.call('GET', `/v1/runs/${other.runId}`, { key: other.apiKey })).body.status).toBe('QUEUED');
  });

  it('unknown ids → 404 not_found', async () => {
    const cases: Array<[string, string, unknown?]> = [
      ['GET', '/v1/runs/run_doesnotexist'],
      ['POST', '/v1/runs/run_doesnotexist/events', { type: 'run.started' }],
      ['POST', '/v1/runs/run_doesnotexist/cancel'],
      ['POST', '/v1/admin/tenants/ten_doesnotexist/keys', {}],
      ['GET', '/v1/admin/tenants/ten_doesnotexist/signing-secret'],
      ['DELETE', '/v1/admin/keys/key_doesnotexist'],
      ['GET', '/v1/runs/not.an.id'],
      ['DELETE', `/v1/admin/keys/${'k'.repeat(100)}`],
    ];
    for (const [method, path, body] of cases) expectError(await api.call(method, path, { body }), 404, 'not_found');
  });

  it('health routes need no key', async () => {
    expect((await api.call('GET', '/healthz', { key: null })).status).toBe(200);
    expect((await api.call('GET', '/readyz', { key: null })).status).toBe(200);
  });
});
