/**
 * Secrets (issue 5 item 6): signing secrets encrypted at rest with ORBIT_ENCRYPTION_KEY, an
 * existing database moved to encryption by `sealPlainSecrets`, logs that redact credentials, and
 * error answers that never echo one.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { eq } from 'drizzle-orm';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { signingSecrets } from '../../src/db/schema.ts';
import { createSecretCipher } from '../../src/lib/cipher.ts';
import { createLogger } from '../../src/lib/logger.ts';
import type { DeliveryDeps } from '../../src/services/delivery.ts';
import { sealPlainSecrets } from '../../src/services/encrypt-secrets.ts';
import { createTenant as createTenantService } from '../../src/services/tenants.ts';
import { startDeliveryWorker, type DeliveryWorker } from '../../src/worker/delivery-worker.ts';
import { startTestApi } from '../support/api.ts';
import {
  createTenant,
  queueGroupedMessages,
  getMessage,
  startDeliveryHarness,
  type DeliveryHarness,
} from '../support/delivery-fixtures.ts';
import { startFakeReceiver, type FakeReceiver, type RecordedRequest } from '../support/fake-receiver.ts';

const KEY = randomBytes(32);

let h: DeliveryHarness;
let keyed: DeliveryDeps;
let worker: DeliveryWorker;
let receiver: FakeReceiver;

beforeAll(async () => {
  h = await startDeliveryHarness({ worker: false });
  // What `orbit serve` builds with ORBIT_ENCRYPTION_KEY set.
  keyed = { ...h.deps, cipher: createSecretCipher(KEY) };
  worker = await startDeliveryWorker(keyed, { concurrency: 16, claims: h.claims });
  receiver = await startFakeReceiver({ script: [200] });
});

afterAll(async () => {
  await worker?.stop();
  await receiver?.close();
  await h?.close();
});

async function storedSecrets(tenantId: string): Promise<string[]> {
  const rows = await h.db.select({ secret: signingSecrets.secret }).from(signingSecrets).where(eq(signingSecrets.tenantId, tenantId));
  return rows.map((row) => row.secret);
}

async function deliverOne(tenantId: string): Promise<RecordedRequest> {
  const before = receiver.requests.length;
  const [id] = await queueGroupedMessages(h, tenantId, receiver.url, 1);
  worker.wake();
  const [request] = (await receiver.waitForRequests(before + 1)).slice(before);
  if (request === undefined || id === undefined) throw new Error('no delivery');
  expect(request.headers['svix-id']).toBe(id);
  await expect.poll(async () => (await getMessage(h, id)).status).toBe('succeeded');
  return request;
}

function verifies(secret: string, request: RecordedRequest): void {
  new SvixWebhook(secret).verify(request.body, request.headers);
  new StandardWebhook(secret).verify(request.body, request.headers);
}

describe('encryption at rest', () => {
  it('with a key, the stored secret is enc:v1:… and deliveries still verify with the clear one', async () => {
    const tenant = await createTenantService(keyed, 'encrypted tenant');
    const [stored] = await storedSecrets(tenant.id);
    expect(stored).toMatch(/^enc:v1:[A-Za-z0-9+/]+=*$/);
    expect(stored).not.toContain(tenant.signingSecret.slice('whsec_'.length));
    verifies(tenant.signingSecret, await deliverOne(tenant.id));
  });

  it('sealPlainSecrets moves an existing database to encryption, once, without breaking delivery', async () => {
    // Two tenants written before a key was set: their secrets are in clear.
    const older = await createTenant(h);
    const rotating = await createTenant(h, 2);
    expect(await storedSecrets(older.tenantId)).toEqual(older.secrets);

    // Without a key it changes nothing.
    expect(await sealPlainSecrets(h.deps)).toBe(0);
    expect(await storedSecrets(older.tenantId)).toEqual(older.secrets);

    expect(await sealPlainSecrets(keyed)).toBeGreaterThanOrEqual(3);
    for (const tenant of [older, rotating]) {
      const stored = await storedSecrets(tenant.tenantId);
      expect(stored.every((value) => value.startsWith('enc:v1:'))).toBe(true);
      expect(stored.map((value) => keyed.cipher.open(value)).sort()).toEqual([...tenant.secrets].sort());
    }
    // Idempotent: a second run (or another process starting at the same time) finds nothing left.
    const sealed = await storedSecrets(older.tenantId);
    expect(await sealPlainSecrets(keyed)).toBe(0);
    expect(await storedSecrets(older.tenantId)).toEqual(sealed);

    verifies(older.secrets[0] as string, await deliverOne(older.tenantId));
    // During a rotation's grace period both secrets still sign.
    const request = await deliverOne(rotating.tenantId);
    for (const secret of rotating.secrets) verifies(secret, request);
  });

  it('concurrent runs seal each row once', async () => {
    const tenants = await Promise.all(Array.from({ length: 5 }, () => createTenant(h)));
    const counts = await Promise.all([sealPlainSecrets(keyed), sealPlainSecrets(keyed), sealPlainSecrets(keyed)]);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(5);
    for (const tenant of tenants) {
      const [stored] = await storedSecrets(tenant.tenantId);
      expect(keyed.cipher.open(stored as string)).toBe(tenant.secrets[0]);
    }
  });
});

describe('log redaction', () => {
  function capture(): { lines: string[]; logger: ReturnType<typeof createLogger> } {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    return { lines, logger: createLogger('info', stream) };
  }

  const SECRET = 'whsec_c2VjcmV0LXNob3VsZC1uZXZlci1iZS1sb2dnZWQ=';
  const API_KEY = 'gx_live_key_that_must_not_appear_0123456789';
  const HEADER_VALUE = 'team-token-that-must-not-appear';

  it('drops Authorization, API keys, secrets and custom header values wherever they sit', () => {
    const { lines, logger } = capture();
    logger.info({ authorization: `Bearer ${API_KEY}` }, 'top level');
    logger.info({ headers: { authorization: `Bearer ${API_KEY}`, 'x-api-key': API_KEY, 'content-type': 'application/json' } }, 'headers');
    logger.info({ req: { method: 'POST', headers: { authorization: `Bearer ${API_KEY}` } } }, 'request');
    logger.info({ apiKey: API_KEY, tenant: { apiKey: API_KEY, signingSecret: SECRET } }, 'issued');
    logger.info({ secret: SECRET, row: { secret: SECRET }, rotation: { previous: { secret: SECRET } } }, 'rotated');
    logger.info({ adminKey: API_KEY, config: { encryptionKey: KEY.toString('base64'), databaseUrl: 'postgres://u:pw@h/db' } }, 'config');
    logger.info({ webhook: { url: 'https://example.com/hook', headers: { 'X-Team': HEADER_VALUE } } }, 'webhook');
    logger.info({ run: { webhook: { headers: { 'X-Team': HEADER_VALUE } } } }, 'run');
    logger.info({ body: { webhook: { headers: { Authorization: HEADER_VALUE } } } }, 'body');
    logger.info({ customHeaders: { 'X-Team': HEADER_VALUE } }, 'custom');

    const text = lines.join('');
    expect(lines).toHaveLength(10);
    for (const leaked of [API_KEY, SECRET, HEADER_VALUE, KEY.toString('base64'), 'pw@']) expect(text).not.toContain(leaked);
    // What is not a credential stays readable.
    const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(parsed[1]).toMatchObject({ headers: { 'content-type': 'application/json', authorization: '[redacted]' } });
    expect(parsed[6]).toMatchObject({ webhook: { url: 'https://example.com/hook', headers: { 'X-Team': '[redacted]' } } });
  });
});

describe('no error answer echoes a secret', () => {
  it('the API does not repeat a bad key or a refused header value', async () => {
    const api = await startTestApi({ allowHttp: true, allowPrivateNetworks: '127.0.0.0/8' });
    try {
      const unknownKey = 'gx_unknown_key_that_must_not_be_echoed_0123';
      const unauthenticated = await api.call('GET', '/v1/runs', { key: unknownKey });
      expect(unauthenticated.status).toBe(401);
      expect(JSON.stringify(unauthenticated.body)).not.toContain(unknownKey);

      const value = 'Bearer token-that-must-not-be-echoed';
      const refused = await api.call('POST', '/v1/runs', {
        body: {
          workflowId: 'wf_1',
          webhook: { url: 'http://127.0.0.1:9/hook', headers: { 'X-Auth': `${value}\r\nInjected: 1`, 'svix-id': value } },
        },
      });
      expect(refused.status).toBe(422);
      expect(refused.body.error.code).toBe('validation_failed');
      expect(JSON.stringify(refused.body)).not.toContain('token-that-must-not-be-echoed');
    } finally {
      await api.close();
    }
  });

  it('configuration errors name the variable, never the secret value', () => {
    const secrets: Record<string, string> = {
      ORBIT_ENCRYPTION_KEY: 'not-a-key-but-STILLPRIVATE',
      ORBIT_SIGNING_SECRET: 'whsec_not!base64-but-STILLPRIVATE',
      ORBIT_ADMIN_KEY: 'gx_short!STILLPRIVATE',
      DATABASE_URL: 'mysql://user:STILLPRIVATE@db/orbit',
    };
    for (const [variable, value] of Object.entries(secrets)) {
      let error: unknown;
      try {
        loadConfig({ [variable]: value });
      } catch (caught) {
        error = caught;
      }
      expect(error, variable).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).message).toContain(variable);
      expect((error as ConfigError).message).not.toContain('STILLPRIVATE');
    }
  });
});
