/**
 * Orbit's API served over real HTTP on 127.0.0.1 with a real delivery worker, for tests that drive
 * the Svix-compatible API with the official `svix` SDK. Every answer the SDK gets is recorded, so a
 * test can assert that none was a 5xx.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { Svix } from 'svix';
import { createApp } from '../../src/api/app.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { bootstrap } from '../../src/services/bootstrap.ts';
import { createTenant } from '../../src/services/tenants.ts';
import { startDeliveryHarness, type DeliveryHarness, type HarnessOptions } from './delivery-fixtures.ts';

export interface SvixTestServer {
  url: string;
  h: DeliveryHarness;
  adminKey: string;
  tenantId: string;
  /** The official SDK, with the admin key of the default tenant. */
  svix: Svix;
  /** Every HTTP status the SDK clients made by `client` received. */
  statuses: number[];
  /** Another SDK client (another tenant's key, a bad key, …) whose answers are recorded too. */
  client(key: string): Svix;
  /** A new tenant with its own key and SDK client. */
  otherTenant(): Promise<{ tenantId: string; apiKey: string; svix: Svix }>;
  close(): Promise<void>;
}

export async function startSvixServer(options: HarnessOptions = {}): Promise<SvixTestServer> {
  const h = await startDeliveryHarness(options);
  const adminKey = `gx_test_${Math.random().toString(36).slice(2)}_svix_admin_key`;
  const { tenantId } = await bootstrap(h.deps, { adminKey });
  const app = createApp({ services: h.deps, logger: silentLogger, version: '0.0.0-test' });
  const server: Server = createServer(getRequestListener(app.fetch));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const statuses: number[] = [];
  const recording: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    statuses.push(response.status);
    if (response.status >= 500 && process.env['SVIX_DEBUG']) console.log('5xx', init?.method, String(input), await response.clone().text());
    return response;
  };
  // No retries: a 5xx must show up as one, not be retried away.
  const client = (key: string) => new Svix(key, { serverUrl: url, fetch: recording, retryScheduleInMs: [] });
  return {
    url,
    h,
    adminKey,
    tenantId,
    svix: client(adminKey),
    statuses,
    client,
    async otherTenant() {
      const tenant = await createTenant(h.deps, `other ${Math.random().toString(36).slice(2)}`);
      return { tenantId: tenant.id, apiKey: tenant.apiKey, svix: client(tenant.apiKey) };
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await h.close();
    },
  };
}
