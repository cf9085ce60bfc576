/**
 * `npm run screenshots`: the README's pictures of the console, made from a seeded database so they
 * stay true to the code.
 *
 * Starts a PostgreSQL of its own (embedded, in a temp dir; or a fresh database on DATABASE_URL's
 * server, dropped at the end), seeds a week of delivery log for four tenants (with incidents: an
 * endpoint answering 503 for two hours, one answering 410, one timing out now), runs one real webhook through Orbit's worker to a
 * local receiver that fails three times, and sends one application message (Svix-compatible API,
 * with the svix SDK) that fans out to three endpoints, one of them failing. Then drives Debian's
 * Chromium: signs in, retries the webhook and the failed delivery, opens the application's portal,
 * and writes docs/screenshots/{overview,messages,message,application-message,portal}.png (and
 * overview-dark.png).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { Svix } from 'svix';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../src/db/embedded.ts';
import { migrateDatabase } from '../src/db/migrate.ts';
import { newId } from '../src/lib/ids.ts';
import { rollUpDeliveryLog } from '../src/services/overview.ts';
import { createTenant } from '../src/services/tenants.ts';
import { startConsoleServer } from '../test/support/console-server.ts';
import { startFakeReceiver } from '../test/support/fake-receiver.ts';
import { launchChromium } from './lib/chromium.ts';

const OUT = fileURLToPath(new URL('../docs/screenshots/', import.meta.url));
const HOUR = 3_600_000;

// ---- a database of its own --------------------------------------------------------------------

async function database(): Promise<{ url: string; stop(): Promise<void> }> {
  const name = `orbit_screenshots_${randomBytes(4).toString('hex')}`;
  let server = process.env['DATABASE_URL'];
  let embedded: EmbeddedPostgres | undefined;
  let dir: string | undefined;
  if (!server) {
    dir = mkdtempSync(join(tmpdir(), 'orbit-screenshots-'));
    embedded = await startEmbeddedPostgres({ dataDir: dir });
    server = embedded.url;
  }
  const admin = postgres(server, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(server);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async stop() {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
      await embedded?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---- a week of delivery log ---------------------------------------------------------------------

/** A small deterministic PRNG, so the pictures only change when the code does. */
function prng(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
}

interface SeedTenant {
  id: string;
  endpoint: string;
  share: number;
  workflows: string[];
}

interface Failure {
  kind: 'timeout' | 'connection' | 'http_status';
  status: number | null;
  body: string | null;
  message: string;
}

const RARE_FAILURES: readonly Failure[] = [
  { kind: 'timeout', status: null, body: null, message: 'no complete answer within the 30000 ms deadline' },
  { kind: 'connection', status: null, body: null, message: 'connection refused' },
  { kind: 'http_status', status: 404, body: 'Not Found', message: 'the receiver answered 404' },
];

interface Incident {
  tenantId: string;
  from: number;
  to: number;
  failure: Failure;
}

async function seedLog(url: string, tenants: SeedTenant[], incidents: readonly Incident[]): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  const random = prng(2026);
  const now = Date.now();
  const messages: Array<Record<string, unknown>> = [];
  const deliveries: Array<Record<string, unknown>> = [];
  const attempts: Array<Record<string, unknown>> = [];
  // Each tenant's runs send their webhooks to one URL: one run-webhook endpoint row per tenant.
  const endpointOf = new Map(tenants.map((tenant) => [tenant.id, newId('ep', now - 8 * 24 * HOUR)]));
  await sql`insert into endpoints ${sql(
    tenants.map((tenant) => ({ id: endpointOf.get(tenant.id), tenant_id: tenant.id, kind: 'run', url: tenant.endpoint })),
  )}`;
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const weighted = (): SeedTenant => {
    let r = random();
    for (const tenant of tenants) if ((r -= tenant.share) <= 0) return tenant;
    return tenants[0] as SeedTenant;
  };

  // Runs start through the week, busier in the (UTC) afternoon; each sends 3 to 7 events.
  for (let at = now - 7 * 24 * HOUR; at < now - 10 * 60_000;) {
    const hour = new Date(at).getUTCHours();
    const perHour = 45 * (1 + 0.7 * Math.sin(((hour - 9) / 24) * 2 * Math.PI));
    at += Math.max(2_000, (-Math.log(1 - random()) * HOUR) / perHour);
    const tenant = weighted();
    const runId = newId('run', at);
    const workflowId = pick(tenant.workflows);
    const nodes = 1 + Math.floor(random() * 5);
    const runFails = random() < 0.06;
    const events = [
      'run.started',
      ...Array.from({ length: nodes }, (_, i) => (runFails && i === nodes - 1 ? 'node.failed' : 'node.completed')),
    ];
    events.push(runFails ? 'run.failed' : 'run.completed');
    events.forEach((type, index) => {
      const createdAt = at + index * (20_000 + random() * 90_000);
      if (createdAt > now - 5 * 60_000) return;
      const id = newId('msg', createdAt);
      const payload = JSON.stringify({
        success: !type.endsWith('failed'),
        type,
        runId,
        workflowId,
        data: {
          status: type === 'run.started' ? 'RUNNING' : type.startsWith('run.') ? type.slice(4).toUpperCase() : 'COMPLETED',
          completedNodes: index,
          failedNodes: 0,
        },
        metadata: { orderId: `order_${Math.floor(random() * 90_000) + 10_000}` },
        error: type.endsWith('failed') ? 'step timed out' : null,
        createdAt: new Date(createdAt).toISOString(),
      });
      // Attempts: while an incident covers the endpoint it fails that way; elsewhere, a rare failure.
      let t = createdAt + 40;
      let delivered: number | null = null;
      let status: 'succeeded' | 'failed' | 'pending' = 'failed';
      let attemptCount = 0;
      const ladder = [0, 5_000, 300_000, 1_800_000, 7_200_000, 28_800_000];
      for (let n = 1; n <= ladder.length; n++) {
        t = createdAt + 40 + ladder.slice(0, n).reduce((sum, ms) => sum + ms, 0);
        if (t > now) {
          status = 'pending';
          break;
        }
        const incident = incidents.find((i) => i.tenantId === tenant.id && t >= i.from && t < i.to);
        const failure: Failure | null = incident?.failure ?? (random() < 0.004 ? pick(RARE_FAILURES) : null);
        const duration = failure?.kind === 'timeout' ? 30_000 : Math.round(40 + -Math.log(1 - random()) * (incident ? 900 : 180));
        const responseStatus = failure ? failure.status : random() < 0.2 ? 204 : 200;
        attemptCount = n;
        attempts.push({
          id: newId('atmpt', t),
          message_id: id,
          endpoint_id: endpointOf.get(tenant.id),
          url: tenant.endpoint,
          tenant_id: tenant.id,
          attempt: n,
          trigger: 'scheduled',
          outcome: failure ? 'failed' : 'succeeded',
          started_at: new Date(t),
          duration_ms: duration,
          response_status: responseStatus,
          response_body: failure ? failure.body : responseStatus === 200 ? '{"ok":true}' : '',
          error_kind: failure?.kind ?? null,
          error_message: failure?.message ?? null,
          next_attempt_at: failure && failure.status !== 410 && n < ladder.length ? new Date(t + (ladder[n] ?? 0)) : null,
        });
        if (!failure) {
          delivered = t + duration;
          status = 'succeeded';
          break;
        }
        // 410 Gone stops the retries at once.
        if (failure.status === 410) break;
      }
      messages.push({
        id,
        tenant_id: tenant.id,
        run_id: runId,
        workflow_id: workflowId,
        event_id: newId('evt', createdAt),
        event_type: type,
        payload,
        created_at: new Date(createdAt),
      });
      deliveries.push({
        message_id: id,
        endpoint_id: endpointOf.get(tenant.id),
        tenant_id: tenant.id,
        status,
        attempt_count: attemptCount,
        steps: attemptCount,
        next_attempt_at: status === 'pending' ? new Date(t) : null,
        created_at: new Date(createdAt),
        delivered_at: delivered === null ? null : new Date(delivered),
      });
    });
  }
  for (const [table, rows] of [
    ['messages', messages],
    ['deliveries', deliveries],
    ['attempts', attempts],
  ] as const) {
    for (let i = 0; i < rows.length; i += 1000) await sql`insert into ${sql(table)} ${sql(rows.slice(i, i + 1000))}`;
    await sql.unsafe(`vacuum analyze ${table}`);
  }
  console.log(`seeded ${messages.length} messages and ${attempts.length} attempts`);
  await sql.end();
}

// ---- the pictures -------------------------------------------------------------------------------

const db = await database();
try {
  await migrateDatabase(db.url);
  const orbit = await startConsoleServer({ databaseUrl: db.url, retrySchedule: [300, 600] });
  let receiverUp = false;
  const receiver = await startFakeReceiver({
    script: (_request, index) =>
      receiverUp
        ? { status: 200, body: '{"received":true}', headers: { 'content-type': 'application/json' } }
        : ([
            {
              status: 503,
              body: '{"error":"orders database is in maintenance","retryAfter":120}',
              headers: { 'content-type': 'application/json' },
            },
            { reset: true as const },
            { status: 500, body: '<html><body><h1>500 Internal Server Error</h1></body></html>', headers: { 'content-type': 'text/html' } },
          ][Math.min(index, 2)] ?? 500),
  });
  try {
    const services = orbit.harness.deps;
    const now = Date.now();
    const made = [];
    for (const name of ['Acme Robotics', 'Globex', 'Initech', 'Umbrella Labs']) made.push(await createTenant(services, name));
    const tenants: SeedTenant[] = [
      {
        id: made[0]?.id as string,
        endpoint: 'https://hooks.acme-robotics.example/orbit',
        share: 0.4,
        workflows: ['wf_assembly_qc', 'wf_inventory_sync', 'wf_nightly_report'],
      },
      {
        id: made[1]?.id as string,
        endpoint: 'https://api.globex.example/webhooks/runs',
        share: 0.3,
        workflows: ['wf_invoice_ocr', 'wf_payouts'],
      },
      {
        id: made[2]?.id as string,
        endpoint: 'https://initech.example/tps/webhook',
        share: 0.2,
        workflows: ['wf_tps_reports', 'wf_staplers'],
      },
      { id: made[3]?.id as string, endpoint: 'https://events.umbrella-labs.example/in', share: 0.1, workflows: ['wf_sample_tracking'] },
    ];
    const [, globex, initech, umbrella] = tenants.map((tenant) => tenant.id);
    await seedLog(db.url, tenants, [
      // Globex's receiver was down for two hours: retries carried its messages through.
      {
        tenantId: globex as string,
        from: now - 7 * HOUR,
        to: now - 5 * HOUR,
        failure: { kind: 'http_status', status: 503, body: '{"error":"service unavailable"}', message: 'the receiver answered 503' },
      },
      // Initech removed its webhook route for 40 minutes: 410 Gone fails a message at once.
      {
        tenantId: initech as string,
        from: now - 3 * HOUR,
        to: now - 3 * HOUR + 40 * 60_000,
        failure: { kind: 'http_status', status: 410, body: '{"error":"this webhook was removed"}', message: 'the receiver answered 410' },
      },
      // Umbrella Labs' receiver stopped answering 25 minutes ago: its messages are waiting to retry.
      { tenantId: umbrella as string, from: now - 25 * 60_000, to: now + HOUR, failure: RARE_FAILURES[0] as Failure },
    ]);
    await rollUpDeliveryLog(services, { maxRunMs: 600_000 });

    // One real webhook through the API and the worker: three failed attempts, then the operator retries.
    const call = (path: string, body: unknown) =>
      fetch(`${orbit.base}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${orbit.adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }).then((response) => response.json() as Promise<{ id: string; messageId?: string }>);
    const run = await call('/v1/runs', {
      workflowId: 'wf_invoice_ocr',
      webhook: {
        url: `${receiver.url}`,
        events: ['run.completed', 'run.failed'],
        metadata: { orderId: 'order_48213', region: 'eu-west-1' },
      },
    });
    await call(`/v1/runs/${run.id}/events`, { type: 'run.started' });
    const completed = await call(`/v1/runs/${run.id}/events`, { type: 'run.completed' });
    const messageId = completed.messageId as string;
    for (let tries = 0; tries < 200; tries++) {
      const [row] = await orbit.harness.sql<{ status: string }[]>`select status from deliveries where message_id = ${messageId}`;
      if (row?.status === 'failed') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    // An application of Globex's, sent one message that fans out to three endpoints; the ledger fails.
    let ledgerUp = false;
    const appReceiver = await startFakeReceiver({
      script: (request) =>
        !request.path.endsWith('/ledger') || ledgerUp
          ? { status: 200, body: '{"received":true}', headers: { 'content-type': 'application/json' } }
          : {
              status: 503,
              body: '{"error":"ledger is closing the books","retryAfter":60}',
              headers: { 'content-type': 'application/json' },
            },
    });
    const svix = new Svix(made[1]?.apiKey as string, { serverUrl: orbit.base });
    const example = { invoiceId: 'inv_2026_0412', customer: 'Northwind Traders', amount: 129900, currency: 'EUR' };
    await svix.eventType.create({ name: 'invoice.paid', description: 'An invoice was paid', schemas: { '1': { examples: [example] } } });
    await svix.eventType.create({ name: 'invoice.refunded', description: 'An invoice was refunded' });
    await svix.application.create({ name: 'Northwind Traders', uid: 'northwind', metadata: { plan: 'enterprise' } });
    await svix.endpoint.create('northwind', { url: `${appReceiver.url}/orders`, description: 'Order service' });
    const ledger = await svix.endpoint.create('northwind', {
      url: `${appReceiver.url}/ledger`,
      description: 'Ledger',
      eventTypes: ['invoice.paid', 'invoice.refunded'],
    });
    await svix.endpoint.create('northwind', { url: `${appReceiver.url}/analytics`, description: 'Analytics warehouse', channels: ['eu'] });
    const invoice = await svix.message.create('northwind', { eventType: 'invoice.paid', channels: ['eu'], payload: example });
    for (let tries = 0; tries < 200; tries++) {
      const [row] = await orbit.harness.sql<{ status: string }[]>`
        select status from deliveries where message_id = ${invoice.id} and endpoint_id = ${ledger.id}`;
      if (row?.status === 'failed') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    mkdirSync(OUT, { recursive: true });
    const browser = await launchChromium();
    try {
      for (const scheme of ['light', 'dark'] as const) {
        const context = await browser.newContext({ colorScheme: scheme, viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
        const page = await context.newPage();
        await page.goto(`${orbit.base}/ui/login`);
        await page.getByLabel('API key').fill(orbit.adminKey);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
        await page.locator('#chart canvas').waitFor();
        if (scheme === 'dark') {
          await page.screenshot({ path: join(OUT, 'overview-dark.png'), fullPage: true });
          await context.close();
          continue;
        }
        await page.screenshot({ path: join(OUT, 'overview.png'), fullPage: true });

        await page.goto(`${orbit.base}/ui/messages?limit=25`);
        await page.setViewportSize({ width: 1280, height: 1100 });
        await page.screenshot({ path: join(OUT, 'messages.png') });
        await page.setViewportSize({ width: 1280, height: 800 });

        await page.goto(`${orbit.base}/ui/messages/${messageId}`);
        receiverUp = true;
        await page.getByRole('button', { name: 'Retry' }).click();
        await page.locator('#delivery-note').filter({ hasText: 'Attempt 4 finished' }).waitFor({ timeout: 15_000 });
        await page.screenshot({ path: join(OUT, 'message.png'), fullPage: true });

        // The fanned-out message: the ledger is back, and its delivery is retried on its own.
        await page.goto(`${orbit.base}/ui/messages/${invoice.id}`);
        ledgerUp = true;
        await page.getByRole('button', { name: `Retry the delivery to ${ledger.url}` }).click();
        await page.locator('#delivery-note').filter({ hasText: 'Attempt 4 finished' }).waitFor({ timeout: 15_000 });
        await page.screenshot({ path: join(OUT, 'application-message.png'), fullPage: true });
        await context.close();

        // The application's portal, opened through a link made with the SDK.
        const portal = await browser.newContext({ colorScheme: scheme, viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
        const customer = await portal.newPage();
        await customer.goto((await svix.authentication.appPortalAccess('northwind', {})).url);
        await customer.getByRole('heading', { level: 1, name: 'Messages' }).waitFor();
        await customer.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Endpoints' }).click();
        await customer.getByRole('heading', { level: 1, name: 'Endpoints' }).waitFor();
        await customer.screenshot({ path: join(OUT, 'portal.png') });
        await portal.close();
      }
    } finally {
      await browser.close();
      await appReceiver.close();
    }
    console.log(`wrote ${OUT}{overview,overview-dark,messages,message,application-message,portal}.png`);
  } finally {
    await receiver.close();
    await orbit.close();
  }
} finally {
  await db.stop();
}
