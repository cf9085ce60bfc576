/**
 * Server time of every console and portal page on a big delivery log (issue: under 200 ms with
 * 1,000,000 messages and 3,000,000 attempts).
 *
 *   npm run bench:log:seed -- <database url>      # once: the 1M-message log
 *   node bench/console-pages.ts <database url>
 *
 * Rolls the log up first (what the overview job does every minute; the first run over a month of
 * log takes a while), then requests each page in-process (the app's own handling: session, queries,
 * HTML) five times and prints the best, median and worst time (the first run of a query also plans
 * it). Pages whose median is over the budget are marked.
 */
import { createApp } from '../src/api/app.ts';
import { openDatabase } from '../src/db/client.ts';
import { migrateDatabase } from '../src/db/migrate.ts';
import { createSecretCipher } from '../src/lib/cipher.ts';
import { systemClock } from '../src/lib/clock.ts';
import { silentLogger } from '../src/lib/logger.ts';
import { createBoss, startBoss } from '../src/queue/boss.ts';
import { bootstrap } from '../src/services/bootstrap.ts';
import type { ServiceDeps } from '../src/services/deps.ts';
import { rollUpDeliveryLog } from '../src/services/overview.ts';
import { createPortalAccess, redeemPortalLink } from '../src/services/portal.ts';
import { signIn } from '../src/services/ui-sessions.ts';

const BUDGET_MS = 200;
const RUNS = 5;

const url = process.argv[2];
if (!url || !/^postgres(ql)?:\/\//.test(url)) {
  console.error('usage: node bench/console-pages.ts <postgres url>   (seed it first: npm run bench:log:seed -- <url>)');
  process.exit(2);
}

await migrateDatabase(url);
const database = openDatabase(url, { poolSize: 10 });
const boss = createBoss({ connectionString: url, logger: silentLogger });
await startBoss(boss, { deliveryTimeoutMs: 30_000 });
const services: ServiceDeps = {
  db: database.db,
  sql: database.sql,
  boss,
  clock: systemClock,
  logger: silentLogger,
  random: Math.random,
  cipher: createSecretCipher(undefined),
  delivery: { retrySchedule: [5_000], retryJitter: 0, deliveryTimeoutMs: 30_000 },
  webhookRules: { allowHttp: false, allowPrivateNetworks: [] },
  onEnqueued: () => {},
};

try {
  const adminKey = 'gx_bench_console_pages_0000000000000';
  await bootstrap(services, { adminKey });

  let started = performance.now();
  let rolled = await rollUpDeliveryLog(services, { maxRunMs: 3_600_000 });
  console.log(`rollup: ${rolled.windows} window(s) of at most an hour in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  started = performance.now();
  rolled = await rollUpDeliveryLog(services);
  console.log(`rollup, the minute job's usual run: ${rolled.windows} window(s) in ${(performance.now() - started).toFixed(0)} ms`);

  const session = await signIn(services, { apiKey: adminKey, client: 'bench', peer: 'bench' });
  if (!session.ok) throw new Error('could not sign in');
  const [sample] = await database.sql<{ id: string; tenant_id: string; run_id: string; workflow_id: string }[]>`
    select m.id, m.tenant_id, m.run_id, m.workflow_id from deliveries d join messages m on m.id = d.message_id
    where d.status = 'failed' and m.run_id is not null order by d.created_at desc limit 1`;
  if (!sample) throw new Error('the database has no failed message: seed it first');
  const big = 'ten_bench_0';
  // The big tenant's first application (seed-log.ts: two per tenant, three endpoints each, a message to two of them).
  const bigApp = 'app_b00';
  const bigEndpoint = 'ep_b000';
  const [fanOut] = await database.sql<{ id: string }[]>`
    select message_id as id from deliveries where endpoint_id = ${bigEndpoint} and status = 'failed' order by created_at desc limit 1`;
  if (!fanOut) throw new Error('the database has no application message: seed it again with this version of seed-log.ts');
  const access = await createPortalAccess(services, 'http://localhost', { tenantId: big });
  const portal = await redeemPortalLink(services, access.token);
  const appAccess = await createPortalAccess(services, 'http://localhost', { tenantId: big, appId: bigApp });
  const appPortal = await redeemPortalLink(services, appAccess.token);
  if (!portal || !appPortal) throw new Error('could not open the portal');
  const [portalSample] = await database.sql<
    { id: string }[]
  >`select id from messages where tenant_id = ${big} order by created_at desc limit 1`;

  const app = createApp({ services, logger: silentLogger, version: 'bench' });
  const cookie = `orbit_console=${session.token}; orbit_portal=${portal.token}`;
  /** An application's portal (its own portal cookie): pages marked with this prefix use it. */
  const APP_PORTAL = 'app:';
  const appCookie = `orbit_portal=${appPortal.token}`;

  // The second page of the unfiltered list, through the iterator the first page links to.
  const first = await (await app.request('http://localhost/ui/messages', { headers: { cookie } })).text();
  const older = /href="(\/ui\/messages\?iterator=[^"]+)"/.exec(first)?.[1]?.replaceAll('&amp;', '&');

  const pages: Array<[string, string]> = [
    ['overview, 1 hour', '/ui?range=1h'],
    ['overview, 24 hours', '/ui'],
    ['overview, 7 days', '/ui?range=7d'],
    ['overview, 30 days', '/ui?range=30d'],
    ['messages', '/ui/messages'],
    ['messages, page 2', older ?? '/ui/messages'],
    ['messages, 250 per page', '/ui/messages?limit=250'],
    ['messages, failed', '/ui/messages?status=failed'],
    ['messages, big tenant', `/ui/messages?tenantId=${big}`],
    ['messages, big tenant failed', `/ui/messages?tenantId=${big}&status=failed`],
    ['messages, event type', '/ui/messages?eventType=run.failed'],
    ['messages, run', `/ui/messages?runId=${sample.run_id}`],
    ['messages, workflow', `/ui/messages?workflowId=${sample.workflow_id}`],
    ['messages, window', '/ui/messages?since=7d&until=6d'],
    ['messages, small tenant + rare event type', '/ui/messages?tenantId=ten_bench_9&eventType=run.canceled'],
    ['messages, every filter', `/ui/messages?status=failed&tenantId=${sample.tenant_id}&eventType=run.failed&since=30d&until=1d`],
    ['messages, live refresh', '/ui/messages?live=1'],
    ['search by message id', `/ui/messages?q=${sample.id}`],
    ['message page', `/ui/messages/${sample.id}`],
    ['recover, 30 days counted', '/ui/recover?since=30d'],
    ['tenants', '/ui/tenants'],
    ['tenant', `/ui/tenants/${sample.tenant_id}`],
    ['portal messages (tenant with half the log)', '/portal/messages'],
    ['portal messages, failed', '/portal/messages?status=failed'],
    ['portal message page', `/portal/messages/${portalSample?.id}`],
    ['applications', '/ui/applications'],
    ['applications, big tenant', `/ui/applications?tenantId=${big}`],
    ['application page', `/ui/apps/${bigApp}`],
    ['endpoint page', `/ui/apps/${bigApp}/endpoints/${bigEndpoint}`],
    ['endpoint, edit form', `/ui/apps/${bigApp}/endpoints/${bigEndpoint}/edit`],
    ['endpoint, secret', `/ui/apps/${bigApp}/endpoints/${bigEndpoint}/secret`],
    ['messages, application', `/ui/messages?appId=${bigApp}`],
    ['messages, application failed', `/ui/messages?appId=${bigApp}&status=failed`],
    ['messages, endpoint', `/ui/messages?endpointId=${bigEndpoint}`],
    ['messages, endpoint failed', `/ui/messages?endpointId=${bigEndpoint}&status=failed`],
    ['fanned-out message page', `/ui/messages/${fanOut.id}`],
    ['app portal messages', `${APP_PORTAL}/portal/messages`],
    ['app portal messages, failed', `${APP_PORTAL}/portal/messages?status=failed`],
    ['app portal messages, endpoint', `${APP_PORTAL}/portal/messages?endpointId=${bigEndpoint}`],
    ['app portal message page', `${APP_PORTAL}/portal/messages/${fanOut.id}`],
    ['app portal endpoints', `${APP_PORTAL}/portal/endpoints`],
    ['app portal endpoint page', `${APP_PORTAL}/portal/endpoints/${bigEndpoint}`],
  ];

  console.log(`\n${'page'.padEnd(46)} ${'best'.padStart(9)} ${'median'.padStart(9)} ${'worst'.padStart(9)}  status`);
  let over = 0;
  for (const [label, page] of pages) {
    const inAppPortal = page.startsWith(APP_PORTAL);
    const path = inAppPortal ? page.slice(APP_PORTAL.length) : page;
    const times: number[] = [];
    let status = 0;
    for (let i = 0; i < RUNS; i++) {
      const at = performance.now();
      const response = await app.request(`http://localhost${path}`, { headers: { cookie: inAppPortal ? appCookie : cookie } });
      await response.arrayBuffer();
      times.push(performance.now() - at);
      status = response.status;
    }
    times.sort((a, b) => a - b);
    const best = times[0] as number;
    const median = times[Math.floor(times.length / 2)] as number;
    const worst = times.at(-1) as number;
    if (median > BUDGET_MS) over++;
    const ms = (value: number) => `${value.toFixed(1)} ms`.padStart(9);
    console.log(`${label.padEnd(46)} ${ms(best)} ${ms(median)} ${ms(worst)}  ${status}${median > BUDGET_MS ? '  OVER BUDGET' : ''}`);
  }
  console.log(over === 0 ? `\nevery page under ${BUDGET_MS} ms` : `\n${over} page(s) over ${BUDGET_MS} ms`);
} finally {
  await boss.stop({ graceful: false, timeout: 2_000 });
  await database.close();
}
