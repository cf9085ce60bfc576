import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.ts';
import { LIMITS } from '../../src/domain/limits.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { startTestApi, type CallResult, type TestApi } from '../support/api.ts';

let api: TestApi;
let runningRunId: string;

beforeAll(async () => {
  api = await startTestApi();
  const run = await api.call('POST', '/v1/runs', { body: { workflowId: 'wf_edges' } });
  runningRunId = run.body.id;
  await api.call('POST', `/v1/runs/${runningRunId}/events`, { body: { type: 'run.started' } });
});

afterAll(async () => {
  await api?.close();
});

const STATUS_OF_CODE: Record<string, number> = {
  malformed_request: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  invalid_transition: 409,
  run_finished: 409,
  idempotency_conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  validation_failed: 422,
};

/** Asserts the status, the code and the whole envelope of an error answer. */
function expectError(answer: CallResult, status: number, code: string): void {
  expect(answer.status, JSON.stringify(answer.body)?.slice(0, 500)).toBe(status);
  expect(STATUS_OF_CODE[code]).toBe(status);
  expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
  const { error } = answer.body;
  expect(Object.keys(answer.body)).toEqual(['error']);
  expect(error).toMatchObject({ code, message: expect.any(String), requestId: expect.any(String) });
  expect(Object.keys(error).every((key) => ['code', 'message', 'details', 'requestId'].includes(key))).toBe(true);
  if (code === 'validation_failed') {
    expect(error.details.length).toBeGreaterThan(0);
    for (const detail of error.details) expect(detail).toEqual({ path: expect.any(String), message: expect.any(String) });
  }
}

const expect422 = (answer: CallResult, path?: string) => {
  expectError(answer, 422, 'validation_failed');
  if (path !== undefined) expect(answer.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
};

/** Every route that takes a JSON body, with a valid body for it. */
const bodyRoutes = (): Array<[string, string, Record<string, unknown>]> => [
  ['POST', '/v1/runs', { workflowId: 'wf' }],
  ['POST', `/v1/runs/${runningRunId}/events`, { type: 'node.completed', data: { nodeId: 'n' } }],
  ['POST', '/v1/admin/tenants', { name: 'edge' }],
  ['POST', `/v1/admin/tenants/${api.tenantId}/keys`, { scope: 'tenant' }],
];

const json = { 'content-type': 'application/json' };
const createRun = (body: unknown) => api.call('POST', '/v1/runs', { body });
const withWebhook = (webhook: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  createRun({ workflowId: 'wf', webhook: { url: 'https://example.com/hook', ...webhook }, ...extra });
const report = (body: unknown) => api.call('POST', `/v1/runs/${runningRunId}/events`, { body });

describe('the error envelope', () => {
  it('answers unknown routes and methods with 404 not_found', async () => {
    expectError(await api.call('GET', '/nope', { key: null }), 404, 'not_found');
    expectError(await api.call('GET', '/v1/nope'), 404, 'not_found');
    // Under /api/v1, beside Orbit's re-served routes, the Svix-compatible API answers in Svix's shape.
    const svixPath = await api.call('GET', '/api/v1/nope');
    expect(svixPath.status).toBe(404);
    expect(svixPath.body).toEqual({ code: 'not_found', detail: expect.any(String) });
    expectError(await api.call('GET', '/api/v1/runs/nope/nope'), 404, 'not_found');
    expectError(await api.call('GET', '/v2/runs'), 404, 'not_found');
    expectError(await api.call('PUT', '/v1/runs'), 404, 'not_found');
    expectError(await api.call('DELETE', `/v1/runs/${runningRunId}`), 404, 'not_found');
    expectError(await api.call('GET', `/v1/runs/${runningRunId}/cancel`), 404, 'not_found');
  });

  it('echoes a sane X-Request-Id and makes one up otherwise', async () => {
    const given = await api.call('GET', '/v1/nope', { headers: { 'x-request-id': 'trace-123' } });
    expect(given.body.error.requestId).toBe('trace-123');
    expect(given.headers.get('x-request-id')).toBe('trace-123');
    const made = await api.call('GET', '/v1/nope', { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(made.body.error.requestId).toMatch(/^req_/);
    expect(made.headers.get('x-request-id')).toBe(made.body.error.requestId);
  });

  it('answers malformed JSON with 400 malformed_request on every body route', async () => {
    for (const [method, path] of bodyRoutes()) {
      for (const rawBody of ['{', '{"workflowId":}', 'abc', '{"a":1} trailing', '', "{'a':1}", '\u0000']) {
        expectError(await api.call(method, path, { rawBody, headers: json }), 400, 'malformed_request');
      }
    }
  });

  it('answers a JSON body that is not UTF-8 with 400 malformed_request, recording nothing', async () => {
    const latin1 = (text: string) => Uint8Array.from(text, (char) => char.charCodeAt(0));
    const nodesBefore = (await api.call('GET', `/v1/runs/${runningRunId}`)).body.completedNodes;
    for (const [method, path, body] of bodyRoutes()) {
      // At the end of the body's last string: a Latin-1 "é" (0xE9), a lone continuation byte, a cut 3-byte sequence.
      for (const bad of ['\u00e9', '\u0080', '\u00e2\u0082']) {
        const rawBody = latin1(JSON.stringify(body).replace(/"(}+)$/, `${bad}"$1`));
        expectError(await api.call(method, path, { rawBody, headers: json }), 400, 'malformed_request');
      }
    }
    expect((await api.call('GET', `/v1/runs/${runningRunId}`)).body.completedNodes).toBe(nodesBefore);
    // UTF-8 proper, multi-byte and astral, passes as before (on a run of its own: the others count runningRunId's nodes).
    const run = await api.call('POST', '/v1/runs', { body: { workflowId: 'wf_utf8' } });
    await api.call('POST', `/v1/runs/${run.body.id}/events`, { body: { type: 'run.started' } });
    const nodeId = 'café ☕ 𝄞';
    const accepted = await api.call('POST', `/v1/runs/${run.body.id}/events`, {
      rawBody: new TextEncoder().encode(JSON.stringify({ type: 'node.completed', data: { nodeId } })),
      headers: json,
    });
    expect(accepted.status).toBe(202);
    expect((await api.call('GET', `/v1/runs/${run.body.id}`)).body.completedNodes).toBe(1);
    const stored = await api.deps.sql<
      { data: { nodeId: string } }[]
    >`select data from events where run_id = ${run.body.id} and type = 'node.completed'`;
    expect(stored.map((row) => row.data.nodeId)).toEqual([nodeId]);
  });

  it('answers a body that is not application/json with 415 unsupported_media_type', async () => {
    for (const [method, path, body] of bodyRoutes()) {
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml']) {
        expectError(
          await api.call(method, path, { rawBody: JSON.stringify(body), headers: { 'content-type': type } }),
          415,
          'unsupported_media_type',
        );
      }
    }
    expectError(await api.call('POST', '/v1/runs', { rawBody: '{"workflowId":"wf"}' }), 415, 'unsupported_media_type');
    const charset = await api.call('POST', '/v1/runs', {
      rawBody: '{"workflowId":"wf"}',
      headers: { 'content-type': 'application/json; charset=utf-8' },
    });
    expect(charset.status).toBe(201);
  });

  it('answers bodies that are not objects with 422 on every body route', async () => {
    for (const [method, path] of bodyRoutes()) {
      for (const body of [[], [1], '"x"', '1', 'null', 'true', '-0.5']) {
        const rawBody = typeof body === 'string' ? body : JSON.stringify(body);
        expect422(await api.call(method, path, { rawBody, headers: json }), 'body');
      }
    }
  });
});

describe('bodies over 1 MiB', () => {
  const oversize = `{"workflowId":"wf","input":"${'x'.repeat(LIMITS.requestBodyBytes)}"}`;

  it('answers 413 payload_too_large from Content-Length on every body route', async () => {
    for (const [method, path] of bodyRoutes()) {
      expectError(await api.call(method, path, { rawBody: oversize, headers: json }), 413, 'payload_too_large');
    }
    expectError(
      await api.call('POST', '/v1/runs', { rawBody: oversize, headers: { 'content-type': 'text/plain' } }),
      413,
      'payload_too_large',
    );
    const declared = { ...json, 'content-length': String(Buffer.byteLength(oversize)) };
    expectError(await api.call('POST', '/v1/runs', { rawBody: oversize, headers: declared }), 413, 'payload_too_large');
  });

  it('answers 413 from a declared Content-Length alone, without reading the body', async () => {
    const app = createApp({ services: api.deps, logger: silentLogger, version: 'test' });
    let pulled = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new TextEncoder().encode('{}'));
        controller.close();
      },
    });
    const response = await app.request('/v1/runs', {
      method: 'POST',
      headers: {
        authorization: `Bearer ${api.adminKey}`,
        'content-type': 'application/json',
        'content-length': String(LIMITS.requestBodyBytes + 1),
      },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('payload_too_large');
    expect(pulled).toBeLessThanOrEqual(1);
  });

  it('answers 413 for a streamed body without Content-Length, before reading it whole', async () => {
    const app = createApp({ services: api.deps, logger: silentLogger, version: 'test' });
    const chunk = new TextEncoder().encode('x'.repeat(64 * 1024));
    let sent = 0;
    const total = 16 * LIMITS.requestBodyBytes;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"workflowId":"wf","input":"'));
      },
      pull(controller) {
        if (sent >= total) return controller.close();
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const response = await app.request('/v1/runs', {
      method: 'POST',
      headers: { authorization: `Bearer ${api.adminKey}`, 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    const body = (await response.json()) as { error: { code: string } };
    expect(response.status).toBe(413);
    expect(body.error.code).toBe('payload_too_large');
    expect(sent).toBeLessThan(2 * LIMITS.requestBodyBytes);
  });

  it('accepts a body of exactly 1 MiB as far as size goes', async () => {
    const head = '{"workflowId":"wf","webhook":null,"input":"';
    const exact = `${head}${'x'.repeat(LIMITS.requestBodyBytes - head.length - 2)}"}`;
    expect(Buffer.byteLength(exact)).toBe(LIMITS.requestBodyBytes);
    // Not too large for HTTP; too large for `input` (512 KiB).
    expect422(await api.call('POST', '/v1/runs', { rawBody: exact, headers: json }), 'body.input');
  });

  // Through @hono/node-server on a real socket, as Orbit serves: a declared length is checked
  // without reading the body, a chunked one while it streams (src/api/body-limit.ts).
  it('over a real socket: 413 from Content-Length and for a chunked body; smaller bodies pass, with X-Request-Id', async () => {
    const app = createApp({ services: api.deps, logger: silentLogger, version: 'test' });
    const server = createServer(getRequestListener(app.fetch));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const post = (path: string, body: string, chunked: boolean): Promise<{ status: number; body: string; requestId: unknown }> =>
      new Promise((resolve, reject) => {
        const request = httpRequest(
          {
            host: '127.0.0.1',
            port,
            method: 'POST',
            path,
            headers: {
              authorization: `Bearer ${api.adminKey}`,
              'content-type': 'application/json',
              ...(chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(Buffer.byteLength(body)) }),
            },
          },
          (response) => {
            const chunks: Buffer[] = [];
            response.on('data', (chunk: Buffer) => chunks.push(chunk));
            response.on('end', () =>
              resolve({
                status: response.statusCode ?? 0,
                body: Buffer.concat(chunks).toString(),
                requestId: response.headers['x-request-id'],
              }),
            );
          },
        );
        request.on('error', (error: NodeJS.ErrnoException) =>
          error.code === 'EPIPE' || error.code === 'ECONNRESET' ? undefined : reject(error),
        );
        if (chunked) for (let at = 0; at < body.length; at += 64 * 1024) request.write(body.slice(at, at + 64 * 1024));
        else request.write(body);
        request.end();
      });
    try {
      for (const chunked of [false, true]) {
        const refused = await post('/v1/runs', oversize, chunked);
        expect(refused.status).toBe(413);
        expect(JSON.parse(refused.body).error.code).toBe('payload_too_large');
        expect(refused.requestId).toMatch(/^req_/);
        const created = await post('/v1/runs', JSON.stringify({ workflowId: 'wf_socket' }), chunked);
        expect(created.status).toBe(201);
        expect(JSON.parse(created.body).workflowId).toBe('wf_socket');
        expect(created.requestId).toMatch(/^req_/);
      }
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('wrong types', () => {
  const cases: Array<[string, unknown, string]> = [
    ['workflowId a number', { workflowId: 5 }, 'body.workflowId'],
    ['workflowId an object', { workflowId: { a: 1 } }, 'body.workflowId'],
    ['webhook a string', { workflowId: 'wf', webhook: 'https://example.com/' }, 'body.webhook'],
    ['webhook an array', { workflowId: 'wf', webhook: [] }, 'body.webhook'],
    ['url a number', { workflowId: 'wf', webhook: { url: 1 } }, 'body.webhook.url'],
    ['url missing', { workflowId: 'wf', webhook: {} }, 'body.webhook.url'],
    ['events a string', { workflowId: 'wf', webhook: { url: 'https://example.com/', events: 'run.started' } }, 'body.webhook.events'],
    ['metadata an array', { workflowId: 'wf', webhook: { url: 'https://example.com/', metadata: [1] } }, 'body.webhook.metadata'],
    ['metadata a string', { workflowId: 'wf', webhook: { url: 'https://example.com/', metadata: 'x' } }, 'body.webhook.metadata'],
    ['headers an array', { workflowId: 'wf', webhook: { url: 'https://example.com/', headers: [] } }, 'body.webhook.headers'],
    [
      'a header value a number',
      { workflowId: 'wf', webhook: { url: 'https://example.com/', headers: { 'X-A': 1 } } },
      'body.webhook.headers.X-A',
    ],
  ];
  it.each(cases)('%s → 422', async (_label, body, path) => {
    expect422(await createRun(body), path);
  });

  it('events: wrong types → 422', async () => {
    expect422(await report({ type: 5 }), 'body.type');
    expect422(await report({ type: 'node.completed', data: 'n' }), 'body.data');
    expect422(await report({ type: 'node.completed', data: { nodeId: ['n'] } }), 'body.data.nodeId');
    expect422(await report({ type: 'run.failed', error: { message: 'x' } }), 'body.error');
  });

  it('admin: wrong types → 422', async () => {
    expect422(await api.call('POST', '/v1/admin/tenants', { body: { name: ['x'] } }), 'body.name');
    expect422(await api.call('POST', `/v1/admin/tenants/${api.tenantId}/keys`, { body: { scope: 1 } }), 'body.scope');
  });
});

describe('NUL characters and unpaired surrogates → 422, never 500', () => {
  const BAD = { nul: 'a\u0000b', 'lone high surrogate': '\ud800', 'lone low surrogate': 'x\udc00y' };
  const url = 'https://example.com/hook';

  for (const [label, bad] of Object.entries(BAD)) {
    describe(label, () => {
      const runBodies: Array<[string, unknown, string]> = [
        ['workflowId', { workflowId: bad }, 'body.workflowId'],
        ['webhook.url', { workflowId: 'wf', webhook: { url: `https://example.com/${bad}` } }, 'body.webhook.url'],
        ['webhook.url host', { workflowId: 'wf', webhook: { url: `https://exa${bad}mple.com/` } }, 'body.webhook.url'],
        ['metadata value', { workflowId: 'wf', webhook: { url, metadata: { a: bad } } }, 'body.webhook.metadata'],
        ['metadata key', { workflowId: 'wf', webhook: { url, metadata: { [bad]: 1 } } }, 'body.webhook.metadata'],
        ['nested metadata value', { workflowId: 'wf', webhook: { url, metadata: { a: [{ b: bad }] } } }, 'body.webhook.metadata'],
        ['nested metadata key', { workflowId: 'wf', webhook: { url, metadata: { a: { [bad]: true } } } }, 'body.webhook.metadata'],
        ['header value', { workflowId: 'wf', webhook: { url, headers: { 'X-A': bad } } }, 'body.webhook.headers.X-A'],
        ['header name', { workflowId: 'wf', webhook: { url, headers: { [bad]: 'v' } } }, `body.webhook.headers.${bad}`],
        ['input string', { workflowId: 'wf', input: bad }, 'body.input'],
        ['input value', { workflowId: 'wf', input: { a: bad } }, 'body.input'],
        ['input key', { workflowId: 'wf', input: { [bad]: 1 } }, 'body.input'],
        ['nested input', { workflowId: 'wf', input: [[[{ x: [bad] }]]] }, 'body.input'],
      ];
      it.each(runBodies)('POST /v1/runs: in %s', async (_field, body, path) => {
        expect422(await createRun(body), path);
      });

      const eventBodies: Array<[string, unknown, string]> = [
        ['data.nodeId', { type: 'node.completed', data: { nodeId: bad } }, 'body.data'],
        ['data.nodeType', { type: 'node.completed', data: { nodeId: 'n', nodeType: bad } }, 'body.data'],
        ['a data value', { type: 'node.completed', data: { nodeId: 'n', extra: { deep: bad } } }, 'body.data'],
        ['a data key', { type: 'node.completed', data: { nodeId: 'n', [bad]: 1 } }, 'body.data'],
        ['run event data', { type: 'run.completed', data: { x: bad } }, 'body.data'],
        ['error', { type: 'node.failed', data: { nodeId: 'n' }, error: bad }, 'body.error'],
        ['run.failed error', { type: 'run.failed', error: bad }, 'body.error'],
        ['type', { type: `run.started${bad}` }, 'body.type'],
      ];
      it.each(eventBodies)('POST /v1/runs/{id}/events: in %s, and the run is unchanged', async (_field, body, path) => {
        expect422(await report(body), path);
        const run = await api.call('GET', `/v1/runs/${runningRunId}`);
        expect(run.body).toMatchObject({ status: 'RUNNING', completedNodes: 0, failedNodes: 0 });
      });

      it('POST /v1/admin/tenants: in name', async () => {
        expect422(await api.call('POST', '/v1/admin/tenants', { body: { name: `tenant ${bad}` } }), 'body.name');
      });

      it('POST /v1/admin/tenants/{id}/keys: in scope', async () => {
        expect422(await api.call('POST', `/v1/admin/tenants/${api.tenantId}/keys`, { body: { scope: bad } }), 'body.scope');
      });
    });
  }

  it('in query parameters and path ids', async () => {
    expect422(await api.call('GET', '/v1/runs?workflowId=%00'), 'query.workflowId');
    expect422(await api.call('GET', '/v1/runs?workflowId=a%00b'), 'query.workflowId');
    expect422(await api.call('GET', '/v1/runs?status=%00'), 'query.status');
    expect422(await api.call('GET', '/v1/runs?iterator=%00'), 'query.iterator');
    expect422(await api.call('GET', '/v1/runs?limit=%00'), 'query.limit');
    // Bytes that are not UTF-8 are kept as written, never a 500.
    expect((await api.call('GET', '/v1/runs?workflowId=%ED%A0%80')).status).toBe(200);
    expect((await api.call('GET', '/v1/runs?workflowId=%FF%FE')).status).toBe(200);
    for (const id of ['%00', 'run_%00', '%ED%A0%80', '%FF']) {
      expectError(await api.call('GET', `/v1/runs/${id}`), 404, 'not_found');
      expectError(await api.call('POST', `/v1/runs/${id}/cancel`), 404, 'not_found');
      expectError(await api.call('POST', `/v1/runs/${id}/events`, { body: { type: 'run.started' } }), 404, 'not_found');
    }
  });

  it('numbers JSON cannot hold exactly are no 500', async () => {
    for (const number of ['1e400', '-1e400', '1e-400', '123456789012345678901234567890', '-0', '0.1e1']) {
      const raw = `{"workflowId":"wf","webhook":{"url":"https://example.com/","metadata":{"n":${number}}},"input":{"n":${number}}}`;
      const created = await api.call('POST', '/v1/runs', { rawBody: raw, headers: json });
      expect(created.status, number).toBe(201);
      const event = await api.call('POST', `/v1/runs/${created.body.id}/events`, {
        rawBody: `{"type":"run.started","data":{"n":${number}}}`,
        headers: json,
      });
      expect(event.status, number).toBe(202);
    }
    expect422(await api.call('POST', '/v1/runs', { rawBody: '{"workflowId":1e400}', headers: json }), 'body.workflowId');
  });

  it('control characters other than NUL are kept in JSON values', async () => {
    const created = await createRun({
      workflowId: 'wf\u0001\u001f',
      webhook: { url, metadata: { 'k\u0007': 'v\r\n\u2028' } },
      input: { '\u0002': '\t' },
    });
    expect(created.status).toBe(201);
    expect(created.body.workflowId).toBe('wf\u0001\u001f');
    expect(created.body.webhook.metadata).toEqual({ 'k\u0007': 'v\r\n\u2028' });
  });
});

describe('size limits (src/domain/limits.ts)', () => {
  const url = 'https://example.com/hook';
  const fill = (bytes: number) => 'x'.repeat(bytes);

  it('workflowId: at most 256 characters', async () => {
    expect((await createRun({ workflowId: fill(LIMITS.idLength) })).status).toBe(201);
    expect422(await createRun({ workflowId: fill(LIMITS.idLength + 1) }), 'body.workflowId');
    expect422(await createRun({ workflowId: fill(500_000) }), 'body.workflowId');
    expect422(await api.call('GET', `/v1/runs?workflowId=${fill(LIMITS.idLength + 1)}`), 'query.workflowId');
  });

  it('webhook URL: at most 2048 characters', async () => {
    const base = 'https://example.com/';
    expect((await withWebhook({ url: base + fill(LIMITS.urlLength - base.length) })).status).toBe(201);
    expect422(await withWebhook({ url: base + fill(LIMITS.urlLength - base.length + 1) }), 'body.webhook.url');
  });

  it('metadata: at most 16 KiB of JSON', async () => {
    const sized = (bytes: number) => ({ k: fill(bytes - '{"k":""}'.length) });
    expect((await withWebhook({ metadata: sized(LIMITS.metadataBytes) })).status).toBe(201);
    expect422(await withWebhook({ metadata: sized(LIMITS.metadataBytes + 1) }), 'body.webhook.metadata');
  });

  it('input: at most 512 KiB of JSON, nested at most 32 levels', async () => {
    const sized = (bytes: number) => fill(bytes - 2);
    expect((await createRun({ workflowId: 'wf', input: sized(LIMITS.inputBytes) })).status).toBe(201);
    expect422(await createRun({ workflowId: 'wf', input: sized(LIMITS.inputBytes + 1) }), 'body.input');
    const nest = (depth: number): unknown => (depth === 0 ? 1 : { a: nest(depth - 1) });
    expect((await createRun({ workflowId: 'wf', input: nest(LIMITS.jsonDepth) })).status).toBe(201);
    expect422(await createRun({ workflowId: 'wf', input: nest(LIMITS.jsonDepth + 1) }), 'body.input');
    const deep = `{"workflowId":"wf","input":${'['.repeat(200_000)}${']'.repeat(200_000)}}`;
    expect422(await api.call('POST', '/v1/runs', { rawBody: deep, headers: json }), 'body.input');
    const deepMeta = `{"workflowId":"wf","webhook":{"url":"${url}","metadata":${'{"a":'.repeat(1000)}1${'}'.repeat(1000)}}}`;
    expect422(await api.call('POST', '/v1/runs', { rawBody: deepMeta, headers: json }), 'body.webhook.metadata');
  });

  it('headers: at most 32, names of 128 token characters, values of 4096', async () => {
    const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`X-H${i}`, 'v']));
    expect((await withWebhook({ headers: many(LIMITS.headerCount) })).status).toBe(201);
    expect422(await withWebhook({ headers: many(LIMITS.headerCount + 1) }), 'body.webhook.headers');
    expect((await withWebhook({ headers: { [`X-${fill(LIMITS.headerNameLength - 2)}`]: 'v' } })).status).toBe(201);
    expect422(await withWebhook({ headers: { [`X-${fill(LIMITS.headerNameLength - 1)}`]: 'v' } }));
    expect((await withWebhook({ headers: { 'X-A': fill(LIMITS.headerValueLength) } })).status).toBe(201);
    expect422(await withWebhook({ headers: { 'X-A': fill(LIMITS.headerValueLength + 1) } }), 'body.webhook.headers.X-A');
    for (const name of ['X A', 'X:A', '', 'X-é', 'X(A)', 'X/A']) expect422(await withWebhook({ headers: { [name]: 'v' } }));
  });

  it('event data: at most 64 KiB; error: at most 8 KiB characters', async () => {
    const data = (bytes: number) => ({ nodeId: 'n', pad: fill(bytes - '{"nodeId":"n","pad":""}'.length) });
    expect422(await report({ type: 'node.completed', data: data(LIMITS.eventDataBytes + 1) }), 'body.data');
    expect422(await report({ type: 'run.failed', error: fill(LIMITS.errorLength + 1) }), 'body.error');
    expect((await api.call('GET', `/v1/runs/${runningRunId}`)).body.completedNodes).toBe(0);
    const accepted = await report({ type: 'node.completed', data: data(LIMITS.eventDataBytes) });
    expect(accepted.status).toBe(202);
    const failed = await report({ type: 'node.failed', data: { nodeId: 'n' }, error: fill(LIMITS.errorLength) });
    expect(failed.status).toBe(202);
  });

  it('tenant name: at most 200 characters', async () => {
    expect422(await api.call('POST', '/v1/admin/tenants', { body: { name: fill(201) } }), 'body.name');
    expect((await api.call('POST', '/v1/admin/tenants', { body: { name: fill(200) } })).status).toBe(201);
  });
});

describe('query parameters', () => {
  const bad: Array<[string, string]> = [
    ['limit=0', 'query.limit'],
    ['limit=251', 'query.limit'],
    ['limit=abc', 'query.limit'],
    ['limit=-1', 'query.limit'],
    ['limit=1.5', 'query.limit'],
    ['limit=1e2', 'query.limit'],
    ['limit=', 'query.limit'],
    ['limit=99999999999999999999', 'query.limit'],
    ['limit=1&limit=2', 'query.limit'],
    ['status=nope', 'query.status'],
    ['status=queued', 'query.status'],
    ['status=', 'query.status'],
    ['iterator=bad!', 'query.iterator'],
    ['iterator=', 'query.iterator'],
    [`iterator=${'a'.repeat(65)}`, 'query.iterator'],
    ['workflowId=', 'query.workflowId'],
  ];
  it.each(bad)('GET /v1/runs?%s → 422', async (query, path) => {
    expect422(await api.call('GET', `/v1/runs?${query}`), path);
  });

  it.each(bad.filter(([query]) => query.startsWith('limit') || query.startsWith('iterator')))(
    'GET /v1/admin/tenants?%s → 422',
    async (query, path) => {
      expect422(await api.call('GET', `/v1/admin/tenants?${query}`), path);
    },
  );

  it('accepts every run status and ignores unknown parameters', async () => {
    for (const status of ['QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELED']) {
      expect((await api.call('GET', `/v1/runs?status=${status}`)).status).toBe(200);
    }
    expect((await api.call('GET', '/v1/runs?limit=250&foo=bar')).status).toBe(200);
    expect((await api.call('GET', '/v1/runs?limit=007')).body.data.length).toBeLessThanOrEqual(7);
    expect((await api.call('GET', '/v1/runs?iterator=run_zzzzzzzzzzzzzzzzzzzzzzz')).status).toBe(200);
  });
});

describe('webhook URL rules', () => {
  let permissive: TestApi;
  let privateTen: TestApi;
  beforeAll(async () => {
    [permissive, privateTen] = await Promise.all([startTestApi({ allowHttp: true }), startTestApi({ allowPrivateNetworks: '10.0.0.0/8' })]);
  });
  afterAll(async () => {
    await Promise.all([permissive?.close(), privateTen?.close()]);
  });

  const create = (target: TestApi, url: string) => target.call('POST', '/v1/runs', { body: { workflowId: 'wf', webhook: { url } } });

  it('accepts public https URLs', async () => {
    for (const url of [
      'https://example.com/hook',
      'https://example.com:8443/a/b?c=d',
      'https://93.184.216.34/x',
      'https://[2606:4700::1111]/',
      'https://bücher.example/',
    ]) {
      expect((await create(api, url)).status, url).toBe(201);
    }
  });

  it('refuses http unless ORBIT_ALLOW_HTTP', async () => {
    expect422(await create(api, 'http://example.com/hook'), 'body.webhook.url');
    expect((await create(permissive, 'http://example.com/hook')).status).toBe(201);
  });

  it('refuses other schemes, relative URLs, credentials, fragments, spaces and control characters', async () => {
    for (const url of [
      'ftp://example.com/',
      'file:///etc/passwd',
      'javascript:alert(1)',
      '/relative',
      'example.com',
      'not a url',
      'https://user:pw@example.com/',
      'https://user@example.com/',
      'https://example.com/#frag',
      'https://exa mple.com/',
      ' https://example.com/',
      'https://example.com/\t',
      'https://exa\nmple.com/',
      'https://example.com/\r\nX-Injected: 1',
      'https://example.com/\u007f',
      '',
    ]) {
      expect422(await create(permissive, url), 'body.webhook.url');
    }
  });

  const PRIVATE = [
    'https://127.0.0.1/',
    'https://[::1]/',
    'https://169.254.169.254/latest/meta-data',
    'https://10.0.0.1/',
    'https://localhost/',
    'https://LOCALHOST:8443/',
    'https://app.localhost/',
    'https://localhost./',
    'https://127.0.0.1./',
    'https://127.1/',
    'https://2130706433/',
    'https://0x7f000001/',
    'https://[::ffff:127.0.0.1]/',
    'https://[64:ff9b::7f00:1]/',
    'https://0.0.0.0/',
    'https://[::]/',
    'https://192.168.1.10/',
    'https://172.16.0.1/',
    'https://100.64.0.1/',
    'https://[fe80::1]/',
    'https://[fc00::1]/',
    'https://224.0.0.1/',
    'https://255.255.255.255/',
  ];

  it.each(PRIVATE)('refuses %s by default', async (url) => {
    const answer = await create(api, url);
    expect422(answer, 'body.webhook.url');
    expect(answer.body.error.details[0].message).toContain('ORBIT_ALLOW_PRIVATE_NETWORKS');
  });

  it('allows exactly the ranges of ORBIT_ALLOW_PRIVATE_NETWORKS', async () => {
    for (const url of ['https://10.0.0.1/', 'https://10.255.1.2:9000/x', 'https://[::ffff:10.0.0.1]/']) {
      expect((await create(privateTen, url)).status, url).toBe(201);
    }
    for (const url of PRIVATE.filter((url) => !url.includes('10.0.0.1'))) expect422(await create(privateTen, url), 'body.webhook.url');
  });
});

describe('custom webhook headers', () => {
  const FORBIDDEN = [
    'host',
    'Host',
    'content-type',
    'Content-Length',
    'content-encoding',
    'transfer-encoding',
    'connection',
    'keep-alive',
    'upgrade',
    'te',
    'trailer',
    'user-agent',
    'User-Agent',
    'svix-id',
    'svix-timestamp',
    'Svix-Signature',
    'webhook-id',
    'webhook-timestamp',
    'webhook-signature',
    'proxy-authorization',
  ];
  it.each(FORBIDDEN)('refuses %s', async (name) => {
    expect422(await withWebhook({ headers: { [name]: 'x' } }), `body.webhook.headers.${name}`);
  });

  it.each(['a\rb', 'a\nb', 'a\r\nX-Injected: 1', '\n', 'a\u0000'])('refuses the value %j', async (value) => {
    expect422(await withWebhook({ headers: { 'X-Team': value } }), 'body.webhook.headers.X-Team');
  });

  it('refuses the same name twice in different case', async () => {
    expect422(await withWebhook({ headers: { 'X-Team': 'a', 'x-team': 'b' } }));
  });

  it('accepts ordinary headers and keeps them out of the run object', async () => {
    const created = await withWebhook({ headers: { 'X-Team': 'growth', Authorization: 'Bearer receiver-token', 'X-Empty': '' } });
    expect(created.status).toBe(201);
    expect(created.body.webhook).toEqual({ url: 'https://example.com/hook', events: expect.any(Array), metadata: null });
    expect(JSON.stringify(created.body)).not.toContain('receiver-token');
  });
});

describe('operations routes', () => {
  it('GET /healthz and /readyz answer without a key', async () => {
    const health = await api.call('GET', '/healthz', { key: null });
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: 'ok' });
    const ready = await api.call('GET', '/readyz', { key: null });
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ready' });
  });

  it('GET /openapi.json is OpenAPI 3.1 with every implemented route', async () => {
    const doc = await api.call('GET', '/openapi.json', { key: null });
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toMatch(/^3\.1\./);
    const routes = Object.entries(doc.body.paths as Record<string, Record<string, unknown>>).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(routes).toEqual(
      expect.arrayContaining([
        'POST /v1/runs',
        'GET /v1/runs',
        'GET /v1/runs/{runId}',
        'POST /v1/runs/{runId}/events',
        'POST /v1/runs/{runId}/cancel',
        'POST /v1/admin/tenants',
        'GET /v1/admin/tenants',
        'POST /v1/admin/tenants/{id}/keys',
        'DELETE /v1/admin/keys/{keyId}',
        'GET /v1/admin/tenants/{id}/signing-secret',
        'GET /healthz',
        'GET /readyz',
      ]),
    );
    const createRun = doc.body.paths['/v1/runs'].post;
    expect(createRun.requestBody.content['application/json'].schema).toBeDefined();
    expect(Object.keys(createRun.responses)).toEqual(expect.arrayContaining(['201', '401', '409', '413', '422']));
  });

  it('GET /docs is an HTML page', async () => {
    const docs = await api.call('GET', '/docs', { key: null });
    expect(docs.status).toBe(200);
    expect(docs.headers.get('content-type')).toMatch(/text\/html/);
    expect(String(docs.body)).toContain('/openapi.json');
  });

  it('/docs is served whole by Orbit: every script is local and the bundle is cached for good (regression: it loaded from a CDN)', async () => {
    const docs = await api.call('GET', '/docs', { key: null });
    const page = String(docs.body);
    expect(page).toContain('<a href="/openapi.json">');
    const scripts = [...page.matchAll(/<script src="([^"]+)"/g)].map((match) => match[1] as string);
    expect(scripts.length).toBeGreaterThanOrEqual(2);
    expect(page).not.toMatch(/https?:\/\//);
    for (const src of scripts) {
      expect(src.startsWith('/docs/assets/')).toBe(true);
      const asset = await api.call('GET', src, { key: null });
      expect(asset.status).toBe(200);
      expect(asset.headers.get('content-type')).toMatch(/javascript/);
    }
    const bundle = await api.call('GET', scripts.find((src) => src.includes('scalar-')) as string, { key: null });
    expect(bundle.headers.get('cache-control')).toContain('immutable');
    expect(String(bundle.body).length).toBeGreaterThan(100_000);
    const init = await api.call('GET', '/docs/assets/init.js', { key: null });
    expect(String(init.body)).toContain('telemetry: false');
    expect((await api.call('GET', '/docs/assets/scalar-0000000000000000.js', { key: null })).status).toBe(404);
  });
});

/** JSON text with object keys sorted, own `__proto__` keys included. */
function sortedJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(sortedJson).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${sortedJson(Object.getOwnPropertyDescriptor(value, key)?.value)}`).join(',')}}`;
}

describe('JSON objects come back exactly as sent', () => {
  it('keeps a "__proto__" key in metadata and event data', async () => {
    const raw = '{"workflowId":"wf","webhook":{"url":"https://example.com/hook","metadata":{"__proto__":{"x":1},"b":2}}}';
    const created = await api.call('POST', '/v1/runs', { rawBody: raw, headers: json });
    expect(created.status).toBe(201);
    // PostgreSQL's jsonb may reorder keys; the keys and values stay.
    const sameObject = (value: unknown, expected: string) => expect(sortedJson(value)).toBe(sortedJson(JSON.parse(expected)));
    sameObject(created.body.webhook.metadata, '{"__proto__":{"x":1},"b":2}');
    await api.call('POST', `/v1/runs/${created.body.id}/events`, { body: { type: 'run.started' } });
    const node = await api.call('POST', `/v1/runs/${created.body.id}/events`, {
      rawBody: '{"type":"node.completed","data":{"__proto__":{"a":1},"nodeId":"n1"}}',
      headers: json,
    });
    expect(node.status).toBe(202);
    const [message] = await api.deps.sql`select payload from messages where id = ${node.body.messageId}`;
    const payload = JSON.parse(message?.['payload'] as string);
    expect(JSON.stringify(payload.data)).toBe(
      '{"__proto__":{"a":1},"nodeId":"n1","status":"COMPLETED","completedNodes":1,"failedNodes":0}',
    );
    sameObject(payload.metadata, '{"__proto__":{"x":1},"b":2}');
    // A nodeId inherited through "__proto__" is no nodeId.
    const inherited = await api.call('POST', `/v1/runs/${created.body.id}/events`, {
      rawBody: '{"type":"node.completed","data":{"__proto__":{"nodeId":"n1"}}}',
      headers: json,
    });
    expect422(inherited, 'body.data.nodeId');
  });
});
