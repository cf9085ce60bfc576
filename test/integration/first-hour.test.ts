/**
 * Defects a new user met in the first hour, each pinned by the request that showed it: typos that
 * were silently accepted, iterators that were not checked, and messages that did not read as English.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type CallResult, type TestApi } from '../support/api.ts';

let api: TestApi;
let httpApi: TestApi;

beforeAll(async () => {
  [api, httpApi] = await Promise.all([startTestApi(), startTestApi({ allowHttp: true })]);
});

afterAll(async () => {
  await Promise.all([api?.close(), httpApi?.close()]);
});

function problems(answer: CallResult): Array<{ path: string; message: string }> {
  expect(answer.status, JSON.stringify(answer.body)).toBe(422);
  expect(answer.body.error.code).toBe('validation_failed');
  return answer.body.error.details;
}

describe('unknown fields in request bodies answer 422 naming the field', () => {
  it('a misspelt webhook is refused, not accepted as a run without one (regression: webHook answered 201)', async () => {
    const answer = await api.call('POST', '/v1/runs', { body: { workflowId: 'wf', webHook: { url: 'https://example.com/hook' } } });
    expect(problems(answer)).toEqual([
      { path: 'body.webHook', message: 'is not a known field; the fields are workflowId, webhook, input' },
    ]);
    const listed = await api.call('GET', '/v1/runs?workflowId=wf');
    expect(listed.body.data).toEqual([]);
  });

  it('names every unknown field, nested ones by their full path', async () => {
    const answer = await api.call('POST', '/v1/runs', {
      body: { workflowId: 'wf', webhook: { url: 'https://example.com/hook', evnets: ['run.completed'], header: {} }, extra: 1 },
    });
    expect(problems(answer).map((detail) => detail.path)).toEqual(
      expect.arrayContaining(['body.webhook.evnets', 'body.webhook.header', 'body.extra']),
    );
  });

  it('applies to events, tenants, keys, recover and rotation too', async () => {
    const run = await api.call('POST', '/v1/runs', { body: { workflowId: 'wf' } });
    const cases: Array<[string, string, unknown, string]> = [
      ['POST', `/v1/runs/${run.body.id}/events`, { type: 'run.started', typ: 'x' }, 'body.typ'],
      ['POST', '/v1/admin/tenants', { name: 'acme', plan: 'pro' }, 'body.plan'],
      ['POST', `/v1/admin/tenants/${api.tenantId}/keys`, { scope: 'tenant', expires: '1d' }, 'body.expires'],
      ['POST', '/v1/admin/recover', { since: '1h', tenant: api.tenantId }, 'body.tenant'],
      ['POST', `/v1/admin/tenants/${api.tenantId}/signing-secret/rotate`, { grace: '1h' }, 'body.grace'],
    ];
    for (const [method, path, body, field] of cases) {
      expect(problems(await api.call(method, path, { body })).map((detail) => detail.path)).toContain(field);
    }
  });

  it('metadata, input, event data and custom headers stay free-form objects', async () => {
    const created = await api.call('POST', '/v1/runs', {
      body: {
        workflowId: 'wf',
        input: { anything: 1 },
        webhook: { url: 'https://example.com/hook', metadata: { any: 'key' }, headers: { 'X-Any': 'v' } },
      },
    });
    expect(created.status).toBe(201);
    const started = await api.call('POST', `/v1/runs/${created.body.id}/events`, { body: { type: 'run.started', data: { free: true } } });
    expect(started.status).toBe(202);
  });
});

describe('iterators are checked', () => {
  it('GET /v1/runs?iterator=garbage answers 422 (regression: 200 with an empty page)', async () => {
    expect(problems(await api.call('GET', '/v1/runs?iterator=garbage'))).toEqual([
      { path: 'query.iterator', message: 'not an iterator returned by a previous page of this list' },
    ]);
    expect(problems(await api.call('GET', '/v1/admin/tenants?iterator=run_garbage'))[0]?.path).toBe('query.iterator');
  });

  it('an iterator from a previous page still works', async () => {
    for (let i = 0; i < 3; i++) await api.call('POST', '/v1/runs', { body: { workflowId: 'wf_paged' } });
    const first = await api.call('GET', '/v1/runs?workflowId=wf_paged&limit=2');
    expect(first.body.done).toBe(false);
    const second = await api.call('GET', `/v1/runs?workflowId=wf_paged&limit=2&iterator=${first.body.iterator}`);
    expect(second.status).toBe(200);
    expect(second.body.data).toHaveLength(1);
  });
});

describe('messages read as plain English and name what is accepted', () => {
  it('an ftp:// URL with http allowed says http or https (regression: "must use https")', async () => {
    const answer = await httpApi.call('POST', '/v1/runs', { body: { workflowId: 'wf', webhook: { url: 'ftp://example.com/hook' } } });
    expect(problems(answer)).toEqual([{ path: 'body.webhook.url', message: 'must be an http:// or https:// URL' }]);
    const strict = await api.call('POST', '/v1/runs', { body: { workflowId: 'wf', webhook: { url: 'http://example.com/hook' } } });
    expect(problems(strict)[0]?.message).toBe('must be an https:// URL; set ORBIT_ALLOW_HTTP=true to allow http://');
  });

  it.each([
    ['https://169.254.169.254/', 'points to a link-local address (169.254.169.254)'],
    ['https://0.0.0.0/', 'points to an unspecified address (such as 0.0.0.0 or ::) (0.0.0.0)'],
    ['https://10.0.0.1/', 'points to a private-network address (10.0.0.1)'],
  ])('%s is refused in words (regression: "a linkLocal address", "a unspecified address")', async (url, start) => {
    const answer = await api.call('POST', '/v1/runs', { body: { workflowId: 'wf', webhook: { url } } });
    expect(problems(answer)[0]?.message.startsWith(start)).toBe(true);
  });

  it('a missing event type lists the accepted types (regression: "Invalid option")', async () => {
    const run = await api.call('POST', '/v1/runs', { body: { workflowId: 'wf' } });
    const answer = await api.call('POST', `/v1/runs/${run.body.id}/events`, { body: {} });
    expect(problems(answer)).toEqual([
      { path: 'body.type', message: 'is required: one of run.started, node.completed, node.failed, run.completed, run.failed' },
    ]);
    const wrong = await api.call('POST', `/v1/runs/${run.body.id}/events`, { body: { type: 'run.done' } });
    expect(problems(wrong)[0]?.message).toBe('must be one of run.started, node.completed, node.failed, run.completed, run.failed');
  });

  it('no message anywhere says "Invalid"', async () => {
    const bodies: unknown[] = [
      { workflowId: 3 },
      { workflowId: '' },
      { workflowId: 'wf', webhook: { url: 'https://example.com/h', events: [] } },
      { workflowId: 'wf', webhook: { url: 'https://example.com/h', events: ['run.done'] } },
      { workflowId: 'wf', webhook: { url: 7 } },
      { workflowId: 'wf', webhook: 'https://example.com/h' },
    ];
    for (const body of bodies) {
      for (const detail of problems(await api.call('POST', '/v1/runs', { body }))) {
        expect(detail.message, JSON.stringify(body)).not.toMatch(/invalid|expected|received/i);
      }
    }
  });
});
