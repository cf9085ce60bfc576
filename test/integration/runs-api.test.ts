import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type CallResult, type TestApi } from '../support/api.ts';

let api: TestApi;

beforeAll(async () => {
  api = await startTestApi();
});

afterAll(async () => {
  await api?.close();
});

const ALL_EVENTS = ['run.started', 'node.completed', 'node.failed', 'run.completed', 'run.failed', 'run.canceled'];
const STATUSES = ['QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELED'] as const;
type Status = (typeof STATUSES)[number];
type EventType = 'run.started' | 'node.completed' | 'node.failed' | 'run.completed' | 'run.failed' | 'run.canceled';

const WEBHOOK = { url: 'https://example.com/webhooks/orbit', metadata: { orderId: 'order_456' } };
let workflowSeq = 0;
const uniqueWorkflow = (label: string) => `wf_${label}_${Date.now()}_${workflowSeq++}`;

/** A valid body for each reported event type. */
const EVENT_BODY: Record<Exclude<EventType, 'run.canceled'>, Record<string, unknown>> = {
  'run.started': { type: 'run.started' },
  'node.completed': { type: 'node.completed', data: { nodeId: 'node_1', nodeType: 'llm' } },
  'node.failed': { type: 'node.failed', data: { nodeId: 'node_2' }, error: 'the node timed out' },
  'run.completed': { type: 'run.completed' },
  'run.failed': { type: 'run.failed', error: 'the run failed' },
};

async function createRun(
  body: Record<string, unknown> = { workflowId: uniqueWorkflow('run'), webhook: WEBHOOK },
): Promise<CallResult['body']> {
  const created = await api.call('POST', '/v1/runs', { body });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body;
}

async function send(runId: string, type: EventType, body?: Record<string, unknown>): Promise<CallResult> {
  if (type === 'run.canceled') return api.call('POST', `/v1/runs/${runId}/cancel`);
  return api.call('POST', `/v1/runs/${runId}/events`, { body: body ?? EVENT_BODY[type] });
}

async function accept(runId: string, type: EventType): Promise<CallResult> {
  const answer = await send(runId, type);
  expect(answer.status, JSON.stringify(answer.body)).toBe(type === 'run.canceled' ? 200 : 202);
  return answer;
}

/** A fresh run (webhook subscribed to everything) brought to the given status. */
async function runIn(status: Status): Promise<string> {
  const run = await createRun();
  const id = run.id as string;
  if (status === 'RUNNING' || status === 'COMPLETED') await accept(id, 'run.started');
  if (status === 'COMPLETED') await accept(id, 'run.completed');
  if (status === 'FAILED') await accept(id, 'run.failed');
  if (status === 'CANCELED') await accept(id, 'run.canceled');
  return id;
}

interface Stored {
  run: Record<string, unknown>;
  events: Array<{ type: string }>;
  messages: Array<{ id: string; event_type: string; payload: string; status: string; created_at: string | Date; url: string }>;
}

async function stored(runId: string): Promise<Stored> {
  const [run] = await api.deps.sql`select * from runs where id = ${runId}`;
  const events = await api.deps.sql<Array<{ type: string }>>`select type from events where run_id = ${runId} order by id`;
  const messages = await api.deps.sql<Stored['messages']>`
    select m.*, d.status, e.url from messages m
    join deliveries d on d.message_id = m.id join endpoints e on e.id = d.endpoint_id
    where m.run_id = ${runId} order by m.id`;
  return { run: run as Record<string, unknown>, events: [...events], messages: [...messages] };
}

describe('POST /v1/runs', () => {
  it('creates a QUEUED run with a webhook; events omitted means all six types', async () => {
    const body = {
      workflowId: 'wf_abc123',
      webhook: { url: 'https://your-app.com/webhooks/galaxyai', metadata: { orderId: 'order_456' }, headers: { 'X-Team': 'growth' } },
      input: { prompt: 'hello', n: 3 },
    };
    const created = await api.call('POST', '/v1/runs', { body });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: expect.stringMatching(/^run_/),
      workflowId: 'wf_abc123',
      status: 'QUEUED',
      completedNodes: 0,
      failedNodes: 0,
      error: null,
      startedAt: null,
      finishedAt: null,
      webhook: { url: 'https://your-app.com/webhooks/galaxyai', events: ALL_EVENTS, metadata: { orderId: 'order_456' } },
      deliveries: { pending: 0, succeeded: 0, failed: 0 },
    });
    expect(new Date(created.body.createdAt).toISOString()).toBe(created.body.createdAt);
    const row = await stored(created.body.id);
    expect(row.run['webhook']).toEqual({
      url: 'https://your-app.com/webhooks/galaxyai',
      events: ALL_EVENTS,
      metadata: { orderId: 'order_456' },
      headers: { 'X-Team': 'growth' },
    });
    expect(row.run['input']).toEqual({ prompt: 'hello', n: 3 });
    expect(row.events).toEqual([]);
  });

  it('creates a run without a webhook', async () => {
    const created = await api.call('POST', '/v1/runs', { body: { workflowId: 'wf_plain' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ workflowId: 'wf_plain', status: 'QUEUED', webhook: null });
  });

  it('keeps the listed event types (known types, deduplicated) and a null metadata', async () => {
    const created = await api.call('POST', '/v1/runs', {
      body: { workflowId: 'wf_x', webhook: { url: 'https://example.com/h', events: ['run.failed', 'run.completed', 'run.failed'] } },
    });
    expect(created.status).toBe(201);
    expect(created.body.webhook).toEqual({ url: 'https://example.com/h', events: ['run.completed', 'run.failed'], metadata: null });
  });

  it('refuses an empty or unknown event list with 422', async () => {
    for (const events of [[], ['run.exploded'], 'run.started', [1]]) {
      const answer = await api.call('POST', '/v1/runs', { body: { workflowId: 'wf', webhook: { url: 'https://example.com/', events } } });
      expect(answer.status).toBe(422);
      expect(answer.body.error.code).toBe('validation_failed');
      expect(answer.body.error.details[0].path).toMatch(/^body\.webhook\.events/);
    }
  });

  it('refuses a missing or empty workflowId with 422', async () => {
    for (const body of [{}, { workflowId: '' }, { workflowId: 7 }, { workflowId: null }]) {
      const answer = await api.call('POST', '/v1/runs', { body });
      expect(answer.status).toBe(422);
      expect(answer.body.error.code).toBe('validation_failed');
      expect(answer.body.error.details).toContainEqual(expect.objectContaining({ path: 'body.workflowId' }));
    }
  });
});

describe('GET /v1/runs/{runId}', () => {
  it('answers the run', async () => {
    const run = await createRun();
    const got = await api.call('GET', `/v1/runs/${run.id}`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual(run);
  });

  it('answers 404 not_found for an unknown or malformed id', async () => {
    for (const id of ['run_doesnotexist000000000000', 'nope', 'a'.repeat(300), 'bad%20id', '%00']) {
      const got = await api.call('GET', `/v1/runs/${id}`);
      expect(got.status, id).toBe(404);
      expect(got.body.error.code).toBe('not_found');
    }
  });

  it('counts deliveries by status: one pending message per subscribed event', async () => {
    const run = await createRun({
      workflowId: uniqueWorkflow('counts'),
      webhook: { ...WEBHOOK, events: ['run.started', 'node.completed'] },
    });
    await accept(run.id, 'run.started');
    const accepted = await accept(run.id, 'node.completed');
    expect(accepted.body.run.deliveries).toEqual({ pending: 2, succeeded: 0, failed: 0 });
    await accept(run.id, 'node.failed');
    const got = await api.call('GET', `/v1/runs/${run.id}`);
    expect(got.body.deliveries).toEqual({ pending: 2, succeeded: 0, failed: 0 });
    const setStatus = (status: string, type: string) =>
      api.deps.sql`update deliveries set status = ${status}
        where message_id in (select id from messages where run_id = ${run.id} and event_type = ${type})`;
    await setStatus('succeeded', 'run.started');
    await setStatus('failed', 'node.completed');
    const after = await api.call('GET', `/v1/runs/${run.id}`);
    expect(after.body.deliveries).toEqual({ pending: 0, succeeded: 1, failed: 1 });
  });
});

describe('GET /v1/runs', () => {
  it('lists newest first, filters by workflowId and status, and pages with limit and iterator', async () => {
    const workflowId = uniqueWorkflow('list');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await createRun({ workflowId, webhook: WEBHOOK })).id);
    await createRun({ workflowId: uniqueWorkflow('other') });
    const newestFirst = [...ids].reverse();

    const seen: string[] = [];
    let iterator: string | null = null;
    const pages: Array<{ size: number; done: boolean }> = [];
    do {
      const query: string = `/v1/runs?workflowId=${workflowId}&limit=2${iterator ? `&iterator=${iterator}` : ''}`;
      const page = await api.call('GET', query);
      expect(page.status).toBe(200);
      expect(Object.keys(page.body).sort()).toEqual(['data', 'done', 'iterator']);
      seen.push(...page.body.data.map((run: { id: string }) => run.id));
      pages.push({ size: page.body.data.length, done: page.body.done });
      iterator = page.body.iterator;
      if (page.body.done) expect(iterator).toBeNull();
      else expect(typeof iterator).toBe('string');
    } while (iterator);
    expect(pages).toEqual([
      { size: 2, done: false },
      { size: 2, done: false },
      { size: 1, done: true },
    ]);
    expect(seen).toEqual(newestFirst);

    await accept(ids[1] as string, 'run.started');
    const running = await api.call('GET', `/v1/runs?workflowId=${workflowId}&status=RUNNING`);
    expect(running.status).toBe(200);
    expect(running.body.data.map((run: { id: string }) => run.id)).toEqual([ids[1]]);
    expect(running.body.data[0]).toMatchObject({ status: 'RUNNING', deliveries: { pending: 1, succeeded: 0, failed: 0 } });
    const queued = await api.call('GET', `/v1/runs?workflowId=${workflowId}&status=QUEUED`);
    expect(queued.body.data).toHaveLength(4);
    expect(queued.body.done).toBe(true);
  });

  it('uses a page of 50 by default and at most 250', async () => {
    const all = await api.call('GET', '/v1/runs');
    expect(all.status).toBe(200);
    expect(all.body.data.length).toBeLessThanOrEqual(50);
    const max = await api.call('GET', '/v1/runs?limit=250');
    expect(max.status).toBe(200);
  });

  it('lists only the caller tenant runs', async () => {
    const tenant = await api.call('POST', '/v1/admin/tenants', { body: { name: 'list-isolation' } });
    const listed = await api.call('GET', '/v1/runs?limit=250', { key: tenant.body.apiKey });
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual({ data: [], iterator: null, done: true });
  });
});

describe('the /api/v1 alias', () => {
  it('serves create, get, list, events and cancel like /v1', async () => {
    const workflowId = uniqueWorkflow('alias');
    const created = await api.call('POST', '/api/v1/runs', { body: { workflowId, webhook: WEBHOOK } });
    expect(created.status).toBe(201);
    const id = created.body.id;
    expect((await api.call('GET', `/api/v1/runs/${id}`)).body).toEqual((await api.call('GET', `/v1/runs/${id}`)).body);
    const listed = await api.call('GET', `/api/v1/runs?workflowId=${workflowId}`);
    expect(listed.body.data.map((run: { id: string }) => run.id)).toEqual([id]);
    const started = await api.call('POST', `/api/v1/runs/${id}/events`, { body: { type: 'run.started' } });
    expect(started.status).toBe(202);
    expect(started.body.run.status).toBe('RUNNING');
    const canceled = await api.call('POST', `/api/v1/runs/${id}/cancel`);
    expect(canceled.status).toBe(200);
    expect(canceled.body.status).toBe('CANCELED');
    const missing = await api.call('GET', '/api/v1/runs/run_missing');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
    const noKey = await api.call('GET', `/api/v1/runs/${id}`, { key: null });
    expect(noKey.status).toBe(401);
    expect(noKey.body.error.code).toBe('unauthenticated');
  });
});

describe('POST /v1/runs/{runId}/events and /cancel', () => {
  it('answers the event with the run after it', async () => {
    const run = await createRun();
    const started = await api.call('POST', `/v1/runs/${run.id}/events`, { body: { type: 'run.started' } });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({
      id: expect.stringMatching(/^evt_/),
      runId: run.id,
      type: 'run.started',
      messageId: expect.stringMatching(/^msg_/),
      run: { id: run.id, status: 'RUNNING', startedAt: expect.any(String), finishedAt: null },
    });
    const done = await accept(run.id, 'run.completed');
    expect(done.body.run).toMatchObject({ status: 'COMPLETED', finishedAt: expect.any(String) });
  });

  it('cancels a run and emits run.canceled', async () => {
    const id = await runIn('RUNNING');
    const canceled = await api.call('POST', `/v1/runs/${id}/cancel`);
    expect(canceled.status).toBe(200);
    expect(canceled.body).toMatchObject({ id, status: 'CANCELED', finishedAt: expect.any(String) });
    const rows = await stored(id);
    expect(rows.events.map((event) => event.type)).toEqual(['run.started', 'run.canceled']);
    expect(rows.messages.map((message) => message.event_type)).toEqual(['run.started', 'run.canceled']);
  });

  it('answers 404 for an unknown run', async () => {
    for (const type of ['run.started', 'run.canceled'] as const) {
      const answer = await send('run_doesnotexist', type);
      expect(answer.status).toBe(404);
      expect(answer.body.error.code).toBe('not_found');
    }
  });
});

describe('the run state machine, every event in every status', () => {
  // The status after each allowed event; a missing entry is a refused transition.
  const TABLE: Record<EventType, Partial<Record<Status, Status>>> = {
    'run.started': { QUEUED: 'RUNNING' },
    'node.completed': { RUNNING: 'RUNNING' },
    'node.failed': { RUNNING: 'RUNNING' },
    'run.completed': { RUNNING: 'COMPLETED' },
    'run.failed': { QUEUED: 'FAILED', RUNNING: 'FAILED' },
    'run.canceled': { QUEUED: 'CANCELED', RUNNING: 'CANCELED' },
  };
  const FINISHED = new Set<Status>(['COMPLETED', 'FAILED', 'CANCELED']);
  const cases = (Object.keys(TABLE) as EventType[]).flatMap((type) =>
    STATUSES.map((status) => ({ type, status, next: TABLE[type][status] })),
  );

  it.each(cases.filter((c) => c.next))('$type on a $status run → $next', async ({ type, status, next }) => {
    const id = await runIn(status);
    const before = await stored(id);
    const answer = await send(id, type);
    expect(answer.status, JSON.stringify(answer.body)).toBe(type === 'run.canceled' ? 200 : 202);
    const run = type === 'run.canceled' ? answer.body : answer.body.run;
    expect(run.status).toBe(next);
    expect(run.completedNodes).toBe((before.run['completed_nodes'] as number) + (type === 'node.completed' ? 1 : 0));
    expect(run.failedNodes).toBe((before.run['failed_nodes'] as number) + (type === 'node.failed' ? 1 : 0));
    expect(run.error).toBe(type === 'run.failed' ? 'the run failed' : null);
    if (type === 'run.started') expect(run.startedAt).not.toBeNull();
    if (FINISHED.has(next as Status)) expect(run.finishedAt).not.toBeNull();
    else expect(run.finishedAt).toBeNull();
    expect(run.deliveries.pending).toBe(before.messages.length + 1);

    const after = await stored(id);
    expect(after.run['status']).toBe(next);
    expect(after.events.map((event) => event.type)).toEqual([...before.events.map((event) => event.type), type]);
    expect(after.messages).toHaveLength(before.messages.length + 1);
    expect(after.messages.at(-1)).toMatchObject({ event_type: type, status: 'pending', url: WEBHOOK.url });
  });

  it.each(cases.filter((c) => !c.next))('$type on a $status run is refused and records nothing', async ({ type, status }) => {
    const id = await runIn(status);
    const before = await stored(id);
    const answer = await send(id, type);
    expect(answer.status).toBe(409);
    expect(answer.body.error.code).toBe(FINISHED.has(status) ? 'run_finished' : 'invalid_transition');
    expect(answer.body.error.requestId).toEqual(expect.any(String));
    expect(await stored(id)).toEqual(before);
    expect((await api.call('GET', `/v1/runs/${id}`)).body.status).toBe(status);
  });

  it('reads a null data or error as absent', async () => {
    const id = await runIn('RUNNING');
    const started = await api.call('POST', `/v1/runs/${id}/events`, {
      body: { type: 'node.completed', data: { nodeId: 'n' }, error: null },
    });
    expect(started.status).toBe(202);
    const done = await api.call('POST', `/v1/runs/${id}/events`, { body: { type: 'run.completed', data: null, error: null } });
    expect(done.status).toBe(202);
    const [message] = (await stored(id)).messages.slice(-1);
    expect(JSON.parse(message?.payload as string)).toMatchObject({ type: 'run.completed', error: null });
  });

  it('counts several node events', async () => {
    const id = await runIn('RUNNING');
    await accept(id, 'node.completed');
    await accept(id, 'node.completed');
    await accept(id, 'node.failed');
    const done = await accept(id, 'run.completed');
    expect(done.body.run).toMatchObject({ status: 'COMPLETED', completedNodes: 2, failedNodes: 1, error: null });
  });

  it('serialises concurrent transitions: of two concurrent run.completed, one wins', async () => {
    const id = await runIn('RUNNING');
    const answers = await Promise.all([send(id, 'run.completed'), send(id, 'run.completed'), send(id, 'run.failed')]);
    expect(answers.map((a) => a.status).sort()).toEqual([202, 409, 409]);
    expect((await stored(id)).events).toHaveLength(2);
  });
});

describe('required event fields', () => {
  const bad: Array<[string, Record<string, unknown>, string]> = [
    ['node.completed without data', { type: 'node.completed' }, 'body.data.nodeId'],
    ['node.completed with empty data', { type: 'node.completed', data: {} }, 'body.data.nodeId'],
    ['node.completed with an empty nodeId', { type: 'node.completed', data: { nodeId: '' } }, 'body.data.nodeId'],
    ['node.completed with a numeric nodeId', { type: 'node.completed', data: { nodeId: 7 } }, 'body.data.nodeId'],
    ['node.completed with a too long nodeId', { type: 'node.completed', data: { nodeId: 'n'.repeat(257) } }, 'body.data.nodeId'],
    ['node.completed with a non-string nodeType', { type: 'node.completed', data: { nodeId: 'n', nodeType: 3 } }, 'body.data.nodeType'],
    ['node.failed without data', { type: 'node.failed', error: 'x' }, 'body.data.nodeId'],
    ['node.failed without error', { type: 'node.failed', data: { nodeId: 'n' } }, 'body.error'],
    ['node.failed with a blank error', { type: 'node.failed', data: { nodeId: 'n' }, error: '  ' }, 'body.error'],
    ['node.failed with a numeric error', { type: 'node.failed', data: { nodeId: 'n' }, error: 5 }, 'body.error'],
    ['run.failed without error', { type: 'run.failed' }, 'body.error'],
    ['run.failed with a null error', { type: 'run.failed', error: null }, 'body.error'],
    ['an unknown type', { type: 'run.exploded' }, 'body.type'],
    ['no type', {}, 'body.type'],
    ['run.canceled (only through /cancel)', { type: 'run.canceled' }, 'body.type'],
    ['data that is not an object', { type: 'run.started', data: [1, 2] }, 'body.data'],
    ['an error too long', { type: 'run.failed', error: 'e'.repeat(8 * 1024 + 1) }, 'body.error'],
  ];

  it.each(bad)('%s → 422 and nothing recorded', async (_label, body, path) => {
    const id = await runIn('RUNNING');
    const before = await stored(id);
    const answer = await api.call('POST', `/v1/runs/${id}/events`, { body });
    expect(answer.status).toBe(422);
    expect(answer.body.error.code).toBe('validation_failed');
    expect(answer.body.error.details).toContainEqual(expect.objectContaining({ path }));
    expect(await stored(id)).toEqual(before);
  });
});

describe('messages and their payloads', () => {
  function expected(fields: {
    success: boolean;
    type: string;
    runId: string;
    data: Record<string, unknown>;
    metadata: unknown;
    error: string | null;
    createdAt: Date;
  }): string {
    // Written out key by key: the order is part of the contract.
    return (
      `{"success":${fields.success},"type":${JSON.stringify(fields.type)},"runId":${JSON.stringify(fields.runId)},` +
      `"workflowId":"wf_abc123","data":${JSON.stringify(fields.data)},"metadata":${JSON.stringify(fields.metadata)},` +
      `"error":${JSON.stringify(fields.error)},"createdAt":${JSON.stringify(fields.createdAt.toISOString())}}`
    );
  }

  it('fixes the exact body of each of the six event types when the event is accepted', async () => {
    const a = (await createRun({ workflowId: 'wf_abc123', webhook: WEBHOOK })).id as string;
    for (const type of ['run.started', 'node.completed', 'node.failed', 'run.completed'] as const) await accept(a, type);
    const b = (await createRun({ workflowId: 'wf_abc123', webhook: { url: WEBHOOK.url } })).id as string;
    await accept(b, 'run.started');
    await accept(b, 'run.failed');
    const c = (await createRun({ workflowId: 'wf_abc123', webhook: WEBHOOK })).id as string;
    await accept(c, 'run.canceled');

    const ma = (await stored(a)).messages;
    const mb = (await stored(b)).messages;
    const mc = (await stored(c)).messages;
    expect(ma.map((m) => m.event_type)).toEqual(['run.started', 'node.completed', 'node.failed', 'run.completed']);
    const meta = { orderId: 'order_456' };
    const counts = (completedNodes: number, failedNodes: number) => ({ completedNodes, failedNodes });
    const want = [
      [ma[0], { success: true, type: 'run.started', runId: a, data: { status: 'RUNNING', ...counts(0, 0) }, metadata: meta, error: null }],
      [
        ma[1],
        {
          success: true,
          type: 'node.completed',
          runId: a,
          data: { nodeId: 'node_1', nodeType: 'llm', status: 'COMPLETED', ...counts(1, 0) },
          metadata: meta,
          error: null,
        },
      ],
      [
        ma[2],
        {
          success: false,
          type: 'node.failed',
          runId: a,
          data: { nodeId: 'node_2', status: 'FAILED', ...counts(1, 1) },
          metadata: meta,
          error: 'the node timed out',
        },
      ],
      [
        ma[3],
        { success: true, type: 'run.completed', runId: a, data: { status: 'COMPLETED', ...counts(1, 1) }, metadata: meta, error: null },
      ],
      [
        mb[1],
        {
          success: false,
          type: 'run.failed',
          runId: b,
          data: { status: 'FAILED', ...counts(0, 0) },
          metadata: null,
          error: 'the run failed',
        },
      ],
      [
        mc[0],
        { success: false, type: 'run.canceled', runId: c, data: { status: 'CANCELED', ...counts(0, 0) }, metadata: meta, error: null },
      ],
    ] as const;
    for (const [message, fields] of want) {
      expect(message, fields.type).toBeDefined();
      const row = message as Stored['messages'][number];
      expect(row.payload).toBe(expected({ ...fields, createdAt: new Date(row.created_at) }));
      expect(row.status).toBe('pending');
    }
  });

  it('metadata keeps the key order the client sent (jsonb would re-sort it)', async () => {
    const metadata = { b: 1, aa: { yy: 2, x: 3 }, a: 'm' };
    const created = await createRun({ workflowId: 'wf_abc123', webhook: { url: WEBHOOK.url, metadata } });
    expect(JSON.stringify(created.webhook.metadata)).toBe(JSON.stringify(metadata));
    await accept(created.id as string, 'run.started');
    const [message] = (await stored(created.id as string)).messages;
    expect(message?.payload).toContain(`"metadata":${JSON.stringify(metadata)},`);
  });

  it('uses the acceptance time as createdAt, ISO 8601 UTC with milliseconds', async () => {
    const id = (await createRun({ workflowId: 'wf_abc123', webhook: WEBHOOK })).id as string;
    const started = await accept(id, 'run.started');
    const [message] = (await stored(id)).messages;
    const payload = JSON.parse(message?.payload as string);
    expect(payload.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(payload.createdAt).toBe(started.body.createdAt);
    expect(started.body.messageId).toBe(message?.id);
  });

  it('creates a message only for the subscribed types, but records every accepted event', async () => {
    const id = (await createRun({ workflowId: 'wf_abc123', webhook: { ...WEBHOOK, events: ['run.completed', 'run.failed'] } }))
      .id as string;
    const started = await accept(id, 'run.started');
    expect(started.body.messageId).toBeNull();
    await accept(id, 'node.completed');
    await accept(id, 'run.completed');
    const rows = await stored(id);
    expect(rows.events.map((event) => event.type)).toEqual(['run.started', 'node.completed', 'run.completed']);
    expect(rows.messages.map((message) => message.event_type)).toEqual(['run.completed']);
  });

  it('creates no message for a run without a webhook', async () => {
    const id = (await createRun({ workflowId: 'wf_abc123' })).id as string;
    await accept(id, 'run.started');
    await accept(id, 'run.canceled');
    const rows = await stored(id);
    expect(rows.events).toHaveLength(2);
    expect(rows.messages).toEqual([]);
  });
});

describe('Idempotency-Key', () => {
  async function runsOf(workflowId: string): Promise<number> {
    const [row] = await api.deps.sql`select count(*)::int as n from runs where workflow_id = ${workflowId}`;
    return row?.['n'] as number;
  }

  it('returns the first run for a retry with the same key and body', async () => {
    const body = { workflowId: uniqueWorkflow('idem'), webhook: WEBHOOK, input: { a: 1 } };
    const headers = { 'idempotency-key': `key-${body.workflowId}` };
    const first = await api.call('POST', '/v1/runs', { body, headers });
    const second = await api.call('POST', '/v1/runs', { body, headers });
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body).toEqual(first.body);
    // The very same answer, key order included.
    expect(JSON.stringify(second.body)).toBe(JSON.stringify(first.body));
    expect(await runsOf(body.workflowId)).toBe(1);
    // Through the alias as well.
    const third = await api.call('POST', '/api/v1/runs', { body, headers });
    expect(third.body.id).toBe(first.body.id);
  });

  it('answers 409 idempotency_conflict for the same key with a different body', async () => {
    const workflowId = uniqueWorkflow('idem');
    const headers = { 'idempotency-key': `key-${workflowId}` };
    const first = await api.call('POST', '/v1/runs', { body: { workflowId }, headers });
    expect(first.status).toBe(201);
    const other = await api.call('POST', '/v1/runs', { body: { workflowId, input: { changed: true } }, headers });
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('idempotency_conflict');
    expect(await runsOf(workflowId)).toBe(1);
  });

  it('creates one run for concurrent requests with the same key', async () => {
    const body = { workflowId: uniqueWorkflow('idem_conc'), webhook: WEBHOOK };
    const headers = { 'idempotency-key': `key-${body.workflowId}` };
    const answers = await Promise.all(Array.from({ length: 12 }, () => api.call('POST', '/v1/runs', { body, headers })));
    expect(answers.map((a) => a.status)).toEqual(Array(12).fill(201));
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    expect(await runsOf(body.workflowId)).toBe(1);
  });

  it('keeps keys apart: different keys, or one key in two tenants, make different runs', async () => {
    const body = { workflowId: uniqueWorkflow('idem_sep') };
    const one = await api.call('POST', '/v1/runs', { body, headers: { 'idempotency-key': 'k1' } });
    const two = await api.call('POST', '/v1/runs', { body, headers: { 'idempotency-key': 'k2' } });
    const none = await api.call('POST', '/v1/runs', { body });
    const tenant = await api.call('POST', '/v1/admin/tenants', { body: { name: 'idem-other' } });
    const other = await api.call('POST', '/v1/runs', { body, headers: { 'idempotency-key': 'k1' }, key: tenant.body.apiKey });
    expect(new Set([one.body.id, two.body.id, none.body.id, other.body.id]).size).toBe(4);
    expect(other.status).toBe(201);
  });

  it('refuses a malformed key with 422', async () => {
    for (const key of ['has space', 'x'.repeat(256), 'é']) {
      const answer = await api.call('POST', '/v1/runs', { body: { workflowId: 'wf' }, headers: { 'idempotency-key': key } });
      expect(answer.status, key).toBe(422);
      expect(answer.body.error.code).toBe('validation_failed');
    }
  });
});

describe('delivery control on a run webhook', () => {
  it('takes ordered, throttleRate and retrySchedule, stores them on its endpoint and echoes them', async () => {
    const run = await createRun({
      workflowId: uniqueWorkflow('control'),
      webhook: { ...WEBHOOK, ordered: true, throttleRate: 20, retrySchedule: ['500ms', '2s', '1m'] },
    });
    const webhook = {
      url: WEBHOOK.url,
      events: ALL_EVENTS,
      metadata: WEBHOOK.metadata,
      ordered: true,
      throttleRate: 20,
      retrySchedule: '500ms,2s,1m',
    };
    expect(run.webhook).toEqual(webhook);
    expect((await api.call('GET', `/v1/runs/${String(run.id)}`)).body.webhook).toEqual(webhook);
    const [endpoint] = await api.deps.sql`select ordered, throttle_rate, retry_schedule from endpoints where run_id = ${run.id as string}`;
    expect(endpoint).toEqual({ ordered: true, throttle_rate: 20, retry_schedule: [500, 2_000, 60_000] });
    // An empty schedule is a schedule: no retries.
    const none = await createRun({ workflowId: uniqueWorkflow('control'), webhook: { ...WEBHOOK, retrySchedule: '' } });
    expect(none.webhook.retrySchedule).toBe('');
    // Without them, the webhook is shown as before.
    expect((await createRun()).webhook).toEqual({ url: WEBHOOK.url, events: ALL_EVENTS, metadata: WEBHOOK.metadata });
  });

  it.each([
    [{ retrySchedule: '5 seconds' }, 'body.webhook.retrySchedule'],
    [{ retrySchedule: '1s,8d' }, 'body.webhook.retrySchedule'],
    [{ retrySchedule: Array.from({ length: 21 }, () => '1s').join(',') }, 'body.webhook.retrySchedule'],
    [{ throttleRate: 0 }, 'body.webhook.throttleRate'],
    [{ throttleRate: 2.5 }, 'body.webhook.throttleRate'],
    [{ ordered: 'yes' }, 'body.webhook.ordered'],
  ])('refuses %j with 422 naming %s', async (fields, path) => {
    const answer = await api.call('POST', '/v1/runs', { body: { workflowId: 'wf', webhook: { ...WEBHOOK, ...fields } } });
    expect(answer.status).toBe(422);
    expect(answer.body.error.code).toBe('validation_failed');
    expect(answer.body.error.details.map((detail: { path: string }) => detail.path)).toContain(path);
  });
});
