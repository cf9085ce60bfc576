import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSvixPath } from '../../src/api/svix/index.ts';
import { startTestApi, type CallResult, type TestApi } from '../support/api.ts';

/**
 * Property-based hostile input over every route implemented so far: whatever arrives, the answer is
 * never a 5xx, every 4xx is the error envelope, and a refused request records nothing.
 */

let api: TestApi;
let tenantKey: string;
let tenantId: string;

beforeAll(async () => {
  api = await startTestApi();
  const tenant = await api.call('POST', '/v1/admin/tenants', { body: { name: 'hostile' } });
  tenantKey = tenant.body.apiKey;
  tenantId = tenant.body.id;
});

afterAll(async () => {
  await api?.close();
});

const RUNS = 150;
const settings = { numRuns: RUNS, endOnFailure: true } as const;

const CODES: Record<number, string[]> = {
  400: ['malformed_request'],
  401: ['unauthenticated'],
  403: ['forbidden'],
  404: ['not_found'],
  409: ['invalid_transition', 'run_finished', 'idempotency_conflict'],
  413: ['payload_too_large'],
  415: ['unsupported_media_type'],
  422: ['validation_failed'],
};

type Counts = Record<'runs' | 'events' | 'messages' | 'tenants' | 'keys' | 'idempotency', number>;

async function counts(): Promise<Counts> {
  const [row] = await api.deps.sql`select
    (select count(*)::int from runs) as runs,
    (select count(*)::int from events) as events,
    (select count(*)::int from messages) as messages,
    (select count(*)::int from tenants) as tenants,
    (select count(*)::int from api_keys) as keys,
    (select count(*)::int from idempotency_keys) as idempotency`;
  return row as unknown as Counts;
}

/** Never a 5xx; a 4xx is the envelope with the code of its status (Svix's shapes on the Svix-compatible paths). */
function expectSane(answer: CallResult, method: string, path: string): void {
  expect(answer.status, JSON.stringify(answer.body)?.slice(0, 300)).toBeLessThan(500);
  const svixShaped = answer.body !== null && typeof answer.body === 'object' && !('error' in answer.body);
  // The path as the server sees it: dot segments resolved, percent-escapes decoded, no query.
  let pathname = path.split('?')[0] ?? path;
  try {
    pathname = new URL(`http://x${path}`).pathname;
    pathname = decodeURI(pathname);
  } catch {
    // not a URL path, or not decodable: keep what we have
  }
  // Orbit's own routes under /api/v1 keep the envelope; only the Svix-compatible ones answer Svix's shapes.
  if (isSvixPath(pathname)) expect(svixShaped || answer.status < 400 || method === 'HEAD').toBe(true);
  if (/^\/api\/v1\/(?:runs|admin)(?:\/|$)/.test(pathname)) expect(svixShaped).toBe(false);
  if (answer.status >= 400 && method !== 'HEAD' && svixShaped) {
    expect(pathname.startsWith('/api/v1')).toBe(true);
    if (answer.status === 422) expect(answer.body.detail.length).toBeGreaterThan(0);
    else expect(answer.body).toEqual({ code: expect.any(String), detail: expect.any(String) });
  } else if (answer.status >= 400 && method !== 'HEAD') {
    expect(CODES[answer.status], `unexpected status ${answer.status}`).toBeDefined();
    expect(answer.body).toMatchObject({ error: { code: expect.any(String), message: expect.any(String), requestId: expect.any(String) } });
    expect(CODES[answer.status]).toContain(answer.body.error.code);
    if (answer.status === 422) expect(answer.body.error.details.length).toBeGreaterThan(0);
  }
}

/** Sends a request; if it was refused, asserts that no row changed anywhere. */
async function probe(method: string, path: string, options: Parameters<TestApi['call']>[2] = {}): Promise<CallResult> {
  const before = await counts();
  const answer = await api.call(method, path, options);
  expectSane(answer, method, path);
  if (answer.status >= 400) expect(await counts()).toEqual(before);
  return answer;
}

// Strings that hurt: NUL and other controls, unpaired surrogates, CR/LF, quotes, escapes, long runs.
const hostileUnit = fc.oneof(
  { weight: 2, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.constantFrom('\u0000', '\ud800', '\udc00') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '\u0000',
      '\ud800',
      '\udfff',
      '\r',
      '\n',
      '\t',
      '\u007f',
      '\u2028',
      '\ufeff',
      '"',
      '\\',
      '%',
      '/',
      '.',
      '{',
      '}',
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom('run.started', 'node.completed', 'RUNNING', 'gx_', 'https://', '__proto__', 'constructor') },
);
const hostileString = fc.oneof(
  { weight: 5, arbitrary: fc.string({ unit: hostileUnit, maxLength: 20 }) },
  { weight: 1, arbitrary: fc.string({ unit: hostileUnit, minLength: 200, maxLength: 400 }) },
  { weight: 1, arbitrary: fc.nat({ max: 40_000 }).map((n) => 'x'.repeat(n)) },
);
const hostileJson = fc.jsonValue({ maxDepth: 4, stringUnit: hostileUnit });
const anyValue = fc.oneof(
  hostileJson,
  hostileString,
  fc.double(),
  fc.integer(),
  fc.constantFrom(null, true, false, 0, -0, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, [], {}),
);
const hostileObject = fc.dictionary(hostileString, anyValue, { maxKeys: 5 });

/** Objects shaped like a create-run body, every field hostile or absent. */
const createRunBody = fc.record(
  {
    workflowId: fc.oneof(hostileString, anyValue, fc.constant('wf_hostile')),
    webhook: fc.oneof(
      anyValue,
      fc.record(
        {
          url: fc.oneof(
            hostileString,
            anyValue,
            fc.constantFrom('https://example.com/hook', 'http://example.com/', 'https://127.0.0.1/', 'https://[::1]/', 'https://10.0.0.1/'),
            hostileString.map((s) => `https://example.com/${s}`),
            hostileString.map((s) => `https://${s}/`),
          ),
          events: fc.oneof(
            anyValue,
            fc.array(fc.oneof(fc.constantFrom('run.started', 'run.failed', 'run.canceled'), hostileString), { maxLength: 14 }),
          ),
          metadata: fc.oneof(anyValue, hostileObject),
          headers: fc.oneof(
            anyValue,
            fc.dictionary(
              fc.oneof(hostileString, fc.constantFrom('Host', 'X-Team', 'svix-id', 'content-length')),
              fc.oneof(hostileString, anyValue),
              { maxKeys: 4 },
            ),
          ),
        },
        { requiredKeys: [] },
      ),
    ),
    input: anyValue,
    extra: anyValue,
  },
  { requiredKeys: [] },
);

/** A deep copy of `base` with the value at `path` replaced (objects on the way are kept). */
function setAt(base: unknown, path: readonly string[], value: unknown): unknown {
  if (path.length === 0) return value;
  const [head, ...rest] = path as [string, ...string[]];
  const copy = (Array.isArray(base) ? [...base] : { ...(base as object) }) as Record<string, unknown>;
  Object.defineProperty(copy, head, { value: setAt(copy[head], rest, value), enumerable: true, writable: true, configurable: true });
  return copy;
}

/**
 * A valid body with exactly one hostile change: a field replaced, or a hostile key added to an
 * object. Such near-misses reach the deepest checks, where a fully random body stops at the first.
 */
function nearMiss(
  base: Record<string, unknown>,
  fields: ReadonlyArray<readonly string[]>,
  objects: ReadonlyArray<readonly string[]>,
): fc.Arbitrary<unknown> {
  const value = fc.oneof({ weight: 3, arbitrary: hostileString }, { weight: 1, arbitrary: anyValue });
  return fc.oneof(
    fc.tuple(fc.constantFrom(...fields), value).map(([path, v]) => setAt(base, path, v)),
    fc.tuple(fc.constantFrom(...objects), hostileString, anyValue).map(([path, key, v]) => setAt(base, [...path, key], v)),
  );
}

const VALID_RUN = {
  workflowId: 'wf_hostile',
  webhook: {
    url: 'https://example.com/hook',
    events: ['run.started', 'run.failed'],
    metadata: { a: 1, b: { c: 'd' } },
    headers: { 'X-A': 'v' },
  },
  input: { x: [1, { y: 'z' }] },
};
const runNearMiss = fc.oneof(
  nearMiss(
    VALID_RUN,
    [
      ['workflowId'],
      ['webhook'],
      ['webhook', 'url'],
      ['webhook', 'events'],
      ['webhook', 'events', '0'],
      ['webhook', 'metadata'],
      ['webhook', 'metadata', 'a'],
      ['webhook', 'metadata', 'b', 'c'],
      ['webhook', 'headers'],
      ['webhook', 'headers', 'X-A'],
      ['input'],
      ['input', 'x', '1', 'y'],
    ],
    [[], ['webhook'], ['webhook', 'metadata'], ['webhook', 'metadata', 'b'], ['webhook', 'headers'], ['input'], ['input', 'x', '1']],
  ),
  fc
    .tuple(hostileString, fc.constantFrom('https://example.com/', 'https://', 'https://example.com/?q=', 'https://example.com:', 'http://'))
    .map(([text, prefix]) => setAt(VALID_RUN, ['webhook', 'url'], `${prefix}${text}`)),
);

const VALID_EVENTS: Array<Record<string, unknown>> = [
  { type: 'node.completed', data: { nodeId: 'n1', nodeType: 'llm', extra: { k: 'v' } } },
  { type: 'node.failed', data: { nodeId: 'n1' }, error: 'boom' },
  { type: 'run.failed', error: 'boom' },
];
const eventNearMiss = fc.oneof(
  ...VALID_EVENTS.map((base) =>
    nearMiss(
      base,
      [['type'], ['data'], ['data', 'nodeId'], ['data', 'nodeType'], ['data', 'extra', 'k'], ['error']],
      [[], ['data'], ['data', 'extra']],
    ),
  ),
);

const reportedType = fc.oneof(
  fc.constantFrom('run.started', 'node.completed', 'node.failed', 'run.completed', 'run.failed', 'run.canceled'),
  hostileString,
  anyValue,
);
/** Objects shaped like an event body. */
const eventBody = fc.record(
  {
    type: reportedType,
    data: fc.oneof(
      anyValue,
      hostileObject,
      fc.record({ nodeId: fc.oneof(hostileString, anyValue), nodeType: fc.oneof(hostileString, anyValue) }, { requiredKeys: [] }),
    ),
    error: fc.oneof(hostileString, anyValue),
  },
  { requiredKeys: [] },
);

/** Percent-encodes arbitrary bytes (also invalid UTF-8, NUL, '/', '?'). */
const encodedBytes = (maxLength: number) =>
  fc.uint8Array({ maxLength }).map((bytes) => [...bytes].map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`).join(''));
/** A path segment or query value: plain text, encoded text, or raw encoded bytes. */
const urlPiece = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('%00', 'a%00b', '%ED%A0%80', '%C0%80', '%0D%0A', '%2F', '%E2%80%A8', '%FF%FE') },
  fc.string({ unit: 'grapheme-ascii', maxLength: 30 }).map((s) => s.replace(/[#?/\s%]/g, '_')),
  hostileString.map((s) => encodeURIComponent(s.toWellFormed())),
  encodedBytes(12),
  fc.constantFrom('run_x', '..', '.', '%', '%zz', '', 'a'.repeat(300)),
);
const numberText = fc.oneof(
  fc.integer().map(String),
  fc.double().map(String),
  fc.constantFrom('0', '251', '250', '1', '-0', '1e3', '0x10', ' 5', '5 ', '00000050', '٣'),
);
const queryNearMiss = fc
  .tuple(fc.constantFrom('workflowId', 'status', 'limit', 'iterator'), fc.oneof(urlPiece, numberText.map(encodeURIComponent)))
  .map(([name, value]) =>
    Object.entries({ workflowId: 'wf', status: 'QUEUED', limit: '10', iterator: 'run_zzz', [name]: value })
      .map(([k, v]) => `${k}=${v}`)
      .join('&'),
  );
const queryString = fc.oneof(
  { weight: 3, arbitrary: queryNearMiss },
  {
    weight: 1,
    arbitrary: fc
      .array(
        fc.tuple(
          fc.oneof(fc.constantFrom('workflowId', 'status', 'limit', 'iterator'), urlPiece),
          fc.oneof(urlPiece, numberText.map(encodeURIComponent), fc.constantFrom('QUEUED', 'RUNNING', 'nope')),
        ),
        { maxLength: 5 },
      )
      .map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('&')),
  },
);

const keyOf = fc.constantFrom<'admin' | 'tenant' | 'none' | 'bogus'>('admin', 'tenant', 'none', 'bogus');
const keyFor = (which: 'admin' | 'tenant' | 'none' | 'bogus') =>
  which === 'admin' ? api.adminKey : which === 'tenant' ? tenantKey : which === 'none' ? null : 'gx_bogus_bogus_bogus';

/** A run in RUNNING, replaced by a fresh one when a property finished it. */
let current: string | null = null;
async function runningRun(): Promise<string> {
  if (current) {
    const run = await api.call('GET', `/v1/runs/${current}`);
    if (run.body.status === 'RUNNING') return current;
  }
  const created = await api.call('POST', '/v1/runs', { body: { workflowId: 'wf_target', webhook: { url: 'https://example.com/hook' } } });
  await api.call('POST', `/v1/runs/${created.body.id}/events`, { body: { type: 'run.started' } });
  current = created.body.id as string;
  return current;
}

// Each property takes a few seconds; the margin is for a busy machine running the suite in parallel.
describe('hostile input never yields a 5xx, answers the envelope and records nothing when refused', { timeout: 60_000 }, () => {
  it('POST /v1/runs with arbitrary JSON', async () => {
    await fc.assert(
      fc.asyncProperty(hostileJson, async (body) => {
        await probe('POST', '/v1/runs', { body });
      }),
      settings,
    );
  });

  it('POST /v1/runs with run-shaped bodies, with and without an Idempotency-Key', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(createRunBody, runNearMiss),
        fc.option(fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 8 }).filter((s) => !/[\s]/.test(s))),
        async (body, key) => {
          const answer = await probe('POST', '/v1/runs', { body, ...(key ? { headers: { 'idempotency-key': `hostile-${key}` } } : {}) });
          if (answer.status === 201) {
            // Whatever was accepted reads back as it was answered.
            const got = await api.call('GET', `/v1/runs/${answer.body.id}`);
            expect(got.status).toBe(200);
            expect(got.body).toEqual(answer.body);
          }
        },
      ),
      settings,
    );
  });

  it('POST /v1/runs/{id}/events with arbitrary and event-shaped bodies', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(eventBody, eventNearMiss, hostileJson), async (body) => {
        const runId = await runningRun();
        const answer = await probe('POST', `/v1/runs/${runId}/events`, { body });
        if (answer.status === 202) expect(answer.body.runId).toBe(runId);
      }),
      settings,
    );
  });

  it('GET, events and cancel with arbitrary run ids and keys', async () => {
    await fc.assert(
      fc.asyncProperty(urlPiece, fc.constantFrom('get', 'events', 'cancel'), keyOf, async (id, route, which) => {
        const key = keyFor(which);
        if (route === 'get') await probe('GET', `/v1/runs/${id}`, { key });
        else if (route === 'events') await probe('POST', `/v1/runs/${id}/events`, { key, body: { type: 'run.started' } });
        else await probe('POST', `/v1/runs/${id}/cancel`, { key });
      }),
      settings,
    );
  });

  it('GET /v1/runs and /v1/admin/tenants with arbitrary query strings', async () => {
    await fc.assert(
      fc.asyncProperty(queryString, async (query) => {
        for (const path of ['/v1/runs', '/v1/admin/tenants']) {
          const answer = await probe('GET', `${path}?${query}`);
          if (answer.status === 200) {
            expect(answer.body).toEqual({
              data: expect.any(Array),
              iterator: answer.body.done ? null : expect.any(String),
              done: expect.any(Boolean),
            });
          }
        }
      }),
      { ...settings, numRuns: 250 },
    );
  });

  it('admin routes: create tenant, issue and revoke keys with arbitrary bodies and ids', async () => {
    const adminBody = fc.oneof(
      hostileJson,
      nearMiss({ name: 'tenant', scope: 'admin' }, [['name'], ['scope']], [[]]),
      fc.record(
        { name: fc.oneof(hostileString, anyValue), scope: fc.oneof(fc.constantFrom('tenant', 'admin'), hostileString, anyValue) },
        { requiredKeys: [] },
      ),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('tenants', 'keys', 'revoke', 'secret'),
        adminBody,
        urlPiece,
        keyOf,
        async (route, body, id, which) => {
          const key = keyFor(which);
          if (route === 'tenants') {
            const answer = await probe('POST', '/v1/admin/tenants', { body, key });
            if (answer.status === 201) {
              // The name is stored exactly as answered (nothing replaced on the way to the database).
              const [row] = await api.deps.sql`select name from tenants where id = ${answer.body.id}`;
              expect(row?.['name']).toBe(answer.body.name);
            }
          } else if (route === 'keys') await probe('POST', `/v1/admin/tenants/${id === '' ? tenantId : id}/keys`, { body, key });
          else if (route === 'revoke') await probe('DELETE', `/v1/admin/keys/${id}`, { key });
          else await probe('GET', `/v1/admin/tenants/${id}/signing-secret`, { key });
        },
      ),
      settings,
    );
  });

  it('raw bodies that are not JSON, with arbitrary content types', async () => {
    const rawBody = fc.oneof(
      fc.string({ unit: hostileUnit, maxLength: 200 }),
      hostileJson.map((value) => JSON.stringify(value).slice(0, -1)),
    );
    const contentType = fc.oneof(
      fc.constantFrom(
        'application/json',
        'application/json; charset=utf-8',
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data',
        'application/jsonx',
        '',
      ),
      fc.string({ unit: 'grapheme-ascii', maxLength: 30 }),
    );
    const route = fc.constantFrom('/v1/runs', 'events', '/v1/admin/tenants', 'keys');
    await fc.assert(
      fc.asyncProperty(rawBody, contentType, route, async (body, type, target) => {
        const path =
          target === 'events' ? `/v1/runs/${await runningRun()}/events` : target === 'keys' ? `/v1/admin/tenants/${tenantId}/keys` : target;
        await probe('POST', path, { rawBody: body, headers: type ? { 'content-type': type } : {} });
      }),
      settings,
    );
  });

  it('arbitrary methods and paths under /v1 and /api/v1', async () => {
    const method = fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS');
    const path = fc.tuple(
      fc.constantFrom('/v1', '/api/v1', '/v1/runs', '/v1/admin', '/v1/admin/tenants', ''),
      fc.array(urlPiece, { maxLength: 4 }),
    );
    await fc.assert(
      fc.asyncProperty(method, path, fc.option(hostileJson, { nil: undefined }), keyOf, async (verb, [prefix, segments], body, which) => {
        const target = `${prefix}/${segments.join('/')}`;
        await probe(verb, target, { key: keyFor(which), ...(body !== undefined && verb !== 'GET' && verb !== 'HEAD' ? { body } : {}) });
      }),
      settings,
    );
  });

  it('arbitrary Authorization headers', async () => {
    const latin1 = fc.string({
      unit: fc
        .integer({ min: 0x20, max: 0xff })
        .filter((c) => c !== 0x7f)
        .map((c) => String.fromCharCode(c)),
      maxLength: 80,
    });
    const authorization = fc.oneof(
      latin1,
      latin1.map((s) => `Bearer ${s}`),
      latin1.map((s) => `Bearer gx_${s}`),
      fc.constantFrom('Bearer', 'Basic', 'bearer  '),
    );
    await fc.assert(
      fc.asyncProperty(authorization, fc.constantFrom('/v1/runs', '/v1/admin/tenants'), async (header, path) => {
        const answer = await probe('GET', path, { key: null, headers: { authorization: header } });
        expect(answer.status).toBe(401);
      }),
      settings,
    );
  });
});
