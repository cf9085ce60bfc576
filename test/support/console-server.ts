/**
 * A real Orbit over real HTTP on 127.0.0.1, for the browser tests and the screenshot script: the
 * whole API app (console and portal included) on a fresh database, with a delivery worker allowed
 * to reach loopback receivers, and the first start's tenant and admin key.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { createApp } from '../../src/api/app.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { bootstrap } from '../../src/services/bootstrap.ts';
import { startDeliveryHarness, type DeliveryHarness } from './delivery-fixtures.ts';

export interface ConsoleServer {
  /** `http://127.0.0.1:<port>` */
  base: string;
  harness: DeliveryHarness;
  adminKey: string;
  /** The default tenant (the first start's). */
  tenantId: string;
  close(): Promise<void>;
}

export async function startConsoleServer(options: { databaseUrl?: string; retrySchedule?: number[] } = {}): Promise<ConsoleServer> {
  const harness = await startDeliveryHarness({
    retrySchedule: options.retrySchedule ?? [50, 50],
    ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}),
  });
  const adminKey = `gx_console_${Math.random().toString(36).slice(2)}_0123456789`;
  const { tenantId } = await bootstrap(harness.deps, { adminKey });
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const app = createApp({ services: harness.deps, logger: silentLogger, version: '0.0.0-test', publicUrl: base });
  server.on('request', getRequestListener(app.fetch));
  return {
    base,
    harness,
    adminKey,
    tenantId,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await harness.close();
    },
  };
}
