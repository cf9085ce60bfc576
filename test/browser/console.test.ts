/**
 * The console and the portal in a real browser: Debian's Chromium driven by playwright-core, against
 * a real Orbit served over HTTP with a real delivery worker and receiver. An operator signs in,
 * filters the log, opens a failed message, reads what the receiver said, retries and sees the new
 * attempt, recovers, rotates a secret, hands out a portal link; the customer opens it and cannot
 * reach another tenant's message. An application's owner opens a portal link made with the svix
 * SDK, adds an endpoint, sends an example that a real receiver verifies with the endpoint's secret,
 * and cannot reach another application's message; the operator sees a fanned-out message per
 * endpoint and retries it. On every page: the CSP header, no request leaving Orbit's origin, no
 * browser console error, and no serious accessibility violation (axe).
 *
 * Run alone with `npx vitest run test/browser/console.test.ts` (or `npm run test:browser`).
 */
import { existsSync } from 'node:fs';
import { AxeBuilder } from '@axe-core/playwright';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM, launchChromium } from '../../scripts/lib/chromium.ts';
import { Svix, Webhook, type ApplicationOut, type MessageOut } from 'svix';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant } from '../../src/services/tenants.ts';
import { CSP } from '../../src/ui/security.ts';
import { startConsoleServer, type ConsoleServer } from '../support/console-server.ts';
import { getMessage, queueMessage } from '../support/delivery-fixtures.ts';
import { startFakeReceiver, type FakeReceiver } from '../support/fake-receiver.ts';

const RECEIVER_ERROR = '{"error":"orders database is down","retryable":true}';

let orbit: ConsoleServer;
let receiver: FakeReceiver;
let browser: Browser;
/** Flipped by the test: the receiver fails until the operator has looked. */
let receiverUp = false;
let failedMessage: string;
let recoverMessage: string;
let otherTenantMessage: string;
/** Applications of the default tenant (Svix-compatible API), with a receiver that always answers 200. */
let svix: Svix;
let appReceiver: FakeReceiver;
let acme: ApplicationOut;
let globexMessage: MessageOut;
const EXAMPLE = { invoiceId: 'inv_42', amount: 4200 };

/** What every page of a context saw: requests, document responses, console errors. */
interface Watch {
  requests: string[];
  documents: Array<{ url: string; status: number; csp: string | undefined }>;
  errors: string[];
}

function watch(context: BrowserContext): Watch {
  const seen: Watch = { requests: [], documents: [], errors: [] };
  context.on('request', (request) => seen.requests.push(request.url()));
  context.on('response', (response) => {
    if (response.request().resourceType() === 'document') {
      seen.documents.push({ url: response.url(), status: response.status(), csp: response.headers()['content-security-policy'] });
    }
  });
  context.on('page', (page) => observePage(page, seen));
  return seen;
}

function observePage(page: Page, seen: Watch): void {
  page.on('console', (message) => {
    if (message.type() === 'error') seen.errors.push(`${page.url()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => seen.errors.push(`${page.url()}: ${error.message}`));
}

async function newContext(colorScheme: 'light' | 'dark' = 'light'): Promise<{ context: BrowserContext; page: Page; seen: Watch }> {
  const context = await browser.newContext({ colorScheme, viewport: { width: 1280, height: 900 } });
  const seen = watch(context);
  const page = await context.newPage();
  observePage(page, seen);
  return { context, page, seen };
}

/** No serious or critical axe violation on the page as it is now. */
async function expectAccessible(page: Page): Promise<void> {
  const results = await new AxeBuilder({ page }).analyze();
  expect(results.passes.length, 'axe ran its checks').toBeGreaterThan(10);
  const serious = results.violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
  const described = serious.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((node) => node.target.join(' ')).join(', ')}`);
  expect(described, page.url()).toEqual([]);
}

/** Every request stayed on Orbit's origin, every page carried the CSP, and the console stayed clean. */
function expectClean(seen: Watch, allowedErrors: RegExp[] = [], otherOrigins: string[] = []): void {
  const origin = new URL(orbit.base).origin;
  const foreign = seen.requests.filter(
    (url) => !url.startsWith('data:') && new URL(url).origin !== origin && !otherOrigins.includes(new URL(url).origin),
  );
  expect(foreign).toEqual([]);
  for (const document of seen.documents) {
    // A redirect has no body to protect; every page of Orbit's that renders carries the policy.
    if (new URL(document.url).origin !== origin || (document.status >= 300 && document.status < 400)) continue;
    expect(document.csp, document.url).toBe(CSP);
  }
  expect(seen.errors.filter((error) => !allowedErrors.some((allowed) => allowed.test(error)))).toEqual([]);
}

async function signIn(page: Page): Promise<void> {
  await page.goto(`${orbit.base}/ui`);
  await expect.poll(() => page.url()).toContain('/ui/login');
  await page.getByLabel('API key').fill(orbit.adminKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`the browser tests need Debian's Chromium at ${CHROMIUM}: apt-get install chromium (.ci/run does it)`);
  }
  receiver = await startFakeReceiver({
    script: () =>
      receiverUp
        ? { status: 200, body: '{"ok":true}' }
        : { status: 500, body: RECEIVER_ERROR, headers: { 'content-type': 'application/json' } },
  });
  orbit = await startConsoleServer({ retrySchedule: [50, 50] });
  const h = orbit.harness;
  failedMessage = await queueMessage(h, { tenantId: orbit.tenantId, url: receiver.url, eventType: 'run.failed' });
  recoverMessage = await queueMessage(h, { tenantId: orbit.tenantId, url: receiver.url, eventType: 'node.failed' });
  const other = await createTenant(h.deps, 'another customer');
  otherTenantMessage = await queueMessage(h, { tenantId: other.id, url: receiver.url });
  // Three attempts each (the first and two retries), then failed for good.
  const deadline = Date.now() + 20_000;
  for (const id of [failedMessage, recoverMessage, otherTenantMessage]) {
    while ((await getMessage(h, id)).status !== 'failed') {
      if (Date.now() > deadline) throw new Error(`message ${id} did not fail in time`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  appReceiver = await startFakeReceiver({ script: [{ status: 200, body: '{"received":true}' }] });
  svix = new Svix(orbit.adminKey, { serverUrl: orbit.base });
  await svix.eventType.create({ name: 'invoice.paid', description: 'An invoice was paid', schemas: { '1': { examples: [EXAMPLE] } } });
  acme = await svix.application.create({ name: 'Acme Corp', uid: 'acme' });
  const globex = await svix.application.create({ name: 'Globex', uid: 'globex' });
  await svix.endpoint.create(globex.id, { url: `${appReceiver.url}/globex` });
  globexMessage = await svix.message.create(globex.id, { eventType: 'invoice.paid', payload: { secret: 'globex only' } });
  browser = await launchChromium();
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await orbit?.close();
  await receiver?.close();
  await appReceiver?.close();
});

describe('the console in Chromium', () => {
  it('an operator signs in, finds the failed message, reads the answer, retries and sees the new attempt', async () => {
    const { context, page, seen } = await newContext();
    try {
      await signIn(page);
      await expectAccessible(page);
      const failedCard = page.locator('.card').filter({ has: page.locator('.label', { hasText: /^Failed$/ }) });
      await expect.poll(() => failedCard.locator('.value').innerText()).toBe('3');

      // The log, filtered to failed messages: state in the URL.
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Messages' }).click();
      await page.getByRole('heading', { level: 1, name: 'Messages' }).waitFor();
      await expectAccessible(page);
      await page.getByLabel('Status').selectOption('failed');
      await page.getByRole('button', { name: 'Apply filters' }).click();
      await expect.poll(() => new URL(page.url()).searchParams.get('status')).toBe('failed');
      const rows = page.locator('#results tbody tr');
      await expect.poll(() => rows.count()).toBe(3);

      // The message page: what the receiver answered.
      await page.getByRole('link', { name: failedMessage }).click();
      await page.getByRole('heading', { level: 1, name: `Message ${failedMessage}` }).waitFor();
      expect(await page.locator('ol.timeline > li').count()).toBe(3);
      expect(await page.locator('ol.timeline > li').first().innerText()).toContain('500');
      expect(await page.locator('ol.timeline > li').first().locator('pre').innerText()).toBe(RECEIVER_ERROR);
      expect(await page.locator('#payload-raw').textContent()).toBe((await getMessage(orbit.harness, failedMessage)).payload);
      await expectAccessible(page);

      // The receiver is fixed; Retry, and the new attempt appears without a reload.
      receiverUp = true;
      await page.getByRole('button', { name: 'Retry' }).click();
      await page.getByText('Retry queued').waitFor();
      const newest = page.locator('ol.timeline > li').first();
      await expect.poll(() => page.locator('ol.timeline > li').count(), { timeout: 15_000 }).toBe(4);
      expect(await newest.innerText()).toMatch(/Attempt 4[\s\S]*succeeded[\s\S]*manual retry[\s\S]*200/);
      await expect.poll(() => page.locator('#delivery .badge').first().innerText()).toBe('succeeded');
      await expect.poll(() => page.locator('#delivery-note').innerText()).toContain('Attempt 4 finished: succeeded, status 200');
      await expectAccessible(page);
      expectClean(seen);
    } finally {
      await context.close();
    }
  });

  it('recover counts the failed messages in a window, then re-queues them on confirmation', async () => {
    const { context, page, seen } = await newContext();
    try {
      await signIn(page);
      await page.getByRole('link', { name: 'Recover' }).click();
      await page.getByLabel('Created since').fill('1h');
      await page.getByLabel('Tenant id').fill(orbit.tenantId);
      await page.getByRole('button', { name: 'Count failed messages' }).click();
      await page.getByRole('heading', { name: '1 failed message in this window' }).waitFor();
      await expectAccessible(page);
      await page.getByRole('button', { name: 'Recover 1 message' }).click();
      await page.getByText('Recover started: 1 failed message is being queued').waitFor();
      await expect.poll(async () => (await getMessage(orbit.harness, recoverMessage)).status, { timeout: 15_000 }).toBe('succeeded');
      expectClean(seen);
    } finally {
      await context.close();
    }
  });

  it('tenants: create one (key shown once), rotate a secret after confirming, hand out a portal link', async () => {
    const { context, page, seen } = await newContext();
    try {
      await signIn(page);
      await page.getByRole('link', { name: 'Tenants' }).click();
      await page.getByRole('heading', { level: 1, name: 'Tenants' }).waitFor();
      await expectAccessible(page);
      await page.getByLabel('New tenant name').fill('Acme');
      await page.getByRole('button', { name: 'Create tenant' }).click();
      await page.getByRole('heading', { name: 'Tenant Acme created' }).waitFor();
      expect(await page.locator('#new-api-key').innerText()).toMatch(/^gx_/);
      await expectAccessible(page);

      await page.goto(`${orbit.base}/ui/tenants/${orbit.tenantId}`);
      await expectAccessible(page);
      const before = await orbit.harness.deps.db.query.signingSecrets.findMany();
      await page.getByRole('link', { name: 'Rotate secret…' }).click();
      await page.getByRole('heading', { name: /Rotate the signing secret/ }).waitFor();
      await expectAccessible(page);
      await page.getByLabel('Grace period for the old secret').selectOption('1h');
      await page.getByRole('button', { name: 'Rotate secret' }).click();
      await page.getByRole('heading', { name: /rotated/ }).waitFor();
      const secret = await page.locator('#rotated-secret').innerText();
      expect(secret).toMatch(/^whsec_/);
      expect(before.map((row) => row.secret)).not.toContain(secret);

      await page.goto(`${orbit.base}/ui/tenants/${orbit.tenantId}`);
      await page.getByRole('button', { name: 'Create portal link' }).click();
      const link = await page.locator('#portal-url').innerText();
      expect(link).toMatch(new RegExp(`^${orbit.base}/portal#token=ptl_`));
      await expectAccessible(page);
      expectClean(seen);

      // The customer opens the link in a browser of their own.
      const customer = await newContext();
      try {
        await customer.page.goto(link);
        await customer.page.getByRole('heading', { level: 1, name: 'Messages' }).waitFor();
        expect(customer.page.url()).toBe(`${orbit.base}/portal/messages`);
        await expectAccessible(customer.page);
        expect(await customer.page.getByRole('link', { name: failedMessage }).count()).toBe(1);
        expect(await customer.page.getByRole('link', { name: otherTenantMessage }).count()).toBe(0);

        await customer.page.getByRole('link', { name: failedMessage }).click();
        await customer.page.getByRole('heading', { level: 1, name: `Message ${failedMessage}` }).waitFor();
        await expectAccessible(customer.page);
        expect(await customer.page.getByRole('button', { name: 'Retry' }).count()).toBe(1);

        // Another tenant's message id answers 404 here.
        const answer = await customer.page.goto(`${orbit.base}/portal/messages/${otherTenantMessage}`);
        expect(answer?.status()).toBe(404);
        await expectAccessible(customer.page);

        // The link opened once: a second browser gets nowhere with it.
        const again = await newContext();
        try {
          await again.page.goto(link);
          await again.page.getByText('has expired or was already used').waitFor();
        } finally {
          await again.context.close();
        }

        await customer.page.goto(`${orbit.base}/portal/messages`);
        await customer.page.getByRole('button', { name: 'Sign out' }).click();
        await customer.page.getByText('Signed out of the portal.').waitFor();
        const signedOut = await customer.page.goto(`${orbit.base}/portal/messages`);
        expect(new URL(signedOut?.url() ?? '').pathname).toBe('/portal');
        // The 404 of the other tenant's message is the one error a browser logs for itself.
        expectClean(customer.seen, [/status of 404/]);
      } finally {
        await customer.context.close();
      }
    } finally {
      await context.close();
    }
  });

  it('signing out ends the session', async () => {
    const { context, page, seen } = await newContext();
    try {
      await signIn(page);
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByText('Signed out.').waitFor();
      await expectAccessible(page);
      await page.goto(`${orbit.base}/ui/messages`);
      await page.getByRole('button', { name: 'Sign in' }).waitFor();
      expect(new URL(page.url()).pathname).toBe('/ui/login');
      expectClean(seen);
    } finally {
      await context.close();
    }
  });

  it('dark mode follows the system and stays accessible', async () => {
    const { context, page, seen } = await newContext('dark');
    try {
      await signIn(page);
      const background = await page
        .locator('body')
        .evaluate((body) => body.ownerDocument.defaultView?.getComputedStyle(body).backgroundColor);
      expect(background).toBe('rgb(17, 20, 24)');
      for (const path of [
        '/ui',
        '/ui/messages?status=failed',
        `/ui/messages/${failedMessage}`,
        `/ui/tenants/${orbit.tenantId}`,
        '/ui/applications',
        `/ui/apps/${acme.id}`,
        `/ui/apps/${acme.id}/endpoints/new`,
      ]) {
        await page.goto(`${orbit.base}${path}`);
        await expectAccessible(page);
      }
      // An application's portal, read-only, in the dark too.
      await page.goto((await svix.authentication.appPortalAccess(acme.id, { readOnly: true })).url);
      await page.getByRole('heading', { level: 1, name: 'Messages' }).waitFor();
      await expectAccessible(page);
      await page.goto(`${orbit.base}/portal/endpoints`);
      await expectAccessible(page);
      expectClean(seen);
    } finally {
      await context.close();
    }
  });

  it('a link pasted from elsewhere lands on its page when the operator is signed in', async () => {
    const { context, page, seen } = await newContext();
    const chat = 'https://chat.example.com';
    try {
      await signIn(page);
      // A page of another site (served by the test itself, nothing leaves the machine) links to the log.
      const target = `${orbit.base}/ui/messages?status=failed`;
      await context.route(`${chat}/**`, (route) =>
        route.fulfill({ contentType: 'text/html', body: `<!doctype html><title>chat</title><a href="${target}">the failed messages</a>` }),
      );
      await page.goto(`${chat}/incident`);
      // The SameSite=Strict cookie is not sent on a navigation from another site: the sign-in page
      // asks (same-origin) whether this browser has a session, and goes on to the page.
      await page.getByRole('link', { name: 'the failed messages' }).click();
      await page.getByRole('heading', { level: 1, name: 'Messages' }).waitFor();
      expect(page.url()).toBe(target);
      expect(seen.documents.some((document) => new URL(document.url).pathname === '/ui/login')).toBe(true);
      expectClean(seen, [], [chat]);
    } finally {
      await context.close();
    }
  });

  it('live updates bring a new message into the list without a reload', async () => {
    const { context, page, seen } = await newContext();
    try {
      await signIn(page);
      await page.goto(`${orbit.base}/ui/messages`);
      await page.getByRole('link', { name: 'Start live updates' }).click();
      await expect.poll(() => new URL(page.url()).searchParams.get('live')).toBe('1');
      // A mark on the page: a reload would lose it.
      await page.locator('body').evaluate((body) => body.setAttribute('data-test-mark', 'still here'));
      const id = await queueMessage(orbit.harness, { tenantId: orbit.tenantId, url: receiver.url });
      await page.getByRole('link', { name: id }).waitFor({ timeout: 15_000 });
      // The region was swapped in place: the page itself never reloaded.
      expect(await page.locator('body').getAttribute('data-test-mark')).toBe('still here');
      expectClean(seen);
    } finally {
      await context.close();
    }
  });
  it("an application's owner opens an SDK-made portal link, adds an endpoint and sends an example a real receiver verifies", async () => {
    const access = await svix.authentication.appPortalAccess(acme.id, {});
    const { context, page, seen } = await newContext();
    try {
      await page.goto(access.url);
      await page.getByRole('heading', { level: 1, name: 'Messages' }).waitFor();
      expect(page.url()).toBe(`${orbit.base}/portal/messages`);
      await expectAccessible(page);

      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Endpoints' }).click();
      await page.getByRole('heading', { level: 1, name: 'Endpoints' }).waitFor();
      await expectAccessible(page);
      await page.getByRole('link', { name: 'Add endpoint' }).click();
      await page.getByRole('heading', { level: 1, name: 'Add an endpoint' }).waitFor();
      await expectAccessible(page);
      await page.getByLabel('URL').fill(`${appReceiver.url}/acme`);
      await page.getByLabel('Description').fill('Order service');
      await page.getByLabel('invoice.paid').check();
      await page.getByRole('button', { name: 'Add endpoint' }).click();
      await page.getByText('Endpoint added').waitFor();
      const endpointPage = page.url();
      const endpointId = /\/portal\/endpoints\/(ep_[A-Za-z0-9]+)$/.exec(endpointPage)?.[1] as string;
      expect(endpointId).toBeDefined();
      await expectAccessible(page);

      await page.getByRole('link', { name: 'Show secret' }).click();
      await page.getByRole('heading', { level: 1, name: /Signing secret/ }).waitFor();
      const secret = await page.locator('#secret-0').innerText();
      expect(secret).toBe((await svix.endpoint.getSecret(acme.id, endpointId)).key);
      await expectAccessible(page);

      await page.goto(endpointPage);
      await page.getByLabel('Event type of the example').selectOption('invoice.paid');
      await page.getByRole('button', { name: 'Send example' }).click();
      await page.getByRole('heading', { level: 1, name: /^Message msg_/ }).waitFor();
      const messageId = (await page.locator('#message-id').innerText()).trim();
      // The attempt appears on the page without a reload.
      await expect.poll(() => page.locator('#delivery .badge').first().innerText(), { timeout: 15_000 }).toBe('succeeded');
      await expectAccessible(page);

      // A real receiver verifies it with the endpoint's own secret, as the svix package does.
      const ofAcme = () => appReceiver.requests.find((received) => received.path === '/hook/acme');
      await expect.poll(() => ofAcme() !== undefined).toBe(true);
      const request = ofAcme();
      const body = request?.body ?? '';
      const headers = request?.headers ?? {};
      expect(() => new Webhook(secret).verify(body, headers)).not.toThrow();
      expect(JSON.parse(body)).toEqual(EXAMPLE);
      // And only with it: another endpoint's secret is refused.
      const globexEndpoint = (await svix.endpoint.list('globex')).data[0]?.id as string;
      const otherSecret = (await svix.endpoint.getSecret('globex', globexEndpoint)).key;
      expect(() => new Webhook(otherSecret).verify(body, headers)).toThrow();
      expect(request?.headers['svix-id']).toBe(messageId);

      // Another application's message is not found here.
      const answer = await page.goto(`${orbit.base}/portal/messages/${globexMessage.id}`);
      expect(answer?.status()).toBe(404);
      await expectAccessible(page);
      expectClean(seen, [/status of 404/]);
    } finally {
      await context.close();
    }
  });

  it('an operator sees a fanned-out message once per endpoint in the log and on its page, and retries every delivery', async () => {
    await svix.endpoint.create(acme.id, { url: `${appReceiver.url}/acme-billing`, description: 'Billing' });
    const endpoints = await svix.endpoint.list(acme.id);
    const message = await svix.message.create(acme.id, { eventType: 'invoice.paid', payload: { invoiceId: 'inv_43' } });
    await expect
      .poll(async () => (await svix.messageAttempt.listAttemptedDestinations(acme.id, message.id)).data.map((d) => d.status), {
        timeout: 15_000,
      })
      .toEqual([0, 0]);
    const { context, page, seen } = await newContext();
    try {
      await signIn(page);
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Applications' }).click();
      await page.getByRole('heading', { level: 1, name: 'Applications' }).waitFor();
      await expectAccessible(page);
      await page.getByRole('link', { name: 'Acme Corp', exact: true }).click();
      await page.getByRole('heading', { level: 1, name: 'Application Acme Corp' }).waitFor();
      expect(await page.locator('tbody tr').count()).toBe(endpoints.data.length);
      await expectAccessible(page);
      await page.getByRole('link', { name: `${appReceiver.url}/acme-billing`, exact: true }).click();
      await page.getByRole('heading', { level: 1, name: /^Endpoint ep_/ }).waitFor();
      await expectAccessible(page);

      await page.goto(`${orbit.base}/ui/messages?appId=${acme.id}`);
      await expect.poll(() => page.getByRole('link', { name: message.id }).count()).toBe(2);
      await expectAccessible(page);
      await page.getByRole('link', { name: message.id }).first().click();
      await page.getByRole('heading', { level: 1, name: `Message ${message.id}` }).waitFor();
      const deliveries = page.locator('#delivery table tbody tr');
      expect(await deliveries.count()).toBe(2);
      expect(await page.locator('#delivery ol.timeline > li').count()).toBe(2);
      await expectAccessible(page);
      await page.getByRole('button', { name: 'Retry every delivery' }).click();
      await page.getByText('Retry queued at 2 endpoints').waitFor();
      await expect.poll(() => page.locator('#delivery ol.timeline > li').count(), { timeout: 15_000 }).toBe(4);
      await expect.poll(() => page.locator('#delivery-note').innerText()).toContain('2 attempts finished: 2 succeeded');
      await expectAccessible(page);
      expectClean(seen);
    } finally {
      await context.close();
    }
  });
});
