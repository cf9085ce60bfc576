/**
 * Orbit's composition root and CLI: `orbit serve | api | worker | migrate`.
 * config → database (embedded when DATABASE_URL is unset) → migrations → pool → pg-boss →
 * bootstrap → roles. Everything started is pushed on a stack and stopped in reverse order.
 */
import { createServer, type Server } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import type { PgBoss } from 'pg-boss';
import packageJson from '../package.json' with { type: 'json' };
import { createApp } from './api/app.ts';
import { createOpsApp } from './api/ops-app.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { openDatabase } from './db/client.ts';
import { startEmbeddedPostgres } from './db/embedded.ts';
import { migrateDatabase } from './db/migrate.ts';
import { createSecretCipher } from './lib/cipher.ts';
import { systemClock } from './lib/clock.ts';
import { createLogger, type Logger } from './lib/logger.ts';
import { createMetrics, type Metrics } from './lib/metrics.ts';
import { createBoss, startBoss } from './queue/boss.ts';
import type { PlannedDelivery } from './queue/delivery-queue.ts';
import { bootstrap } from './services/bootstrap.ts';
import { createWakePublisher } from './services/wakes.ts';
import { sealPlainSecrets } from './services/encrypt-secrets.ts';
import type { ServiceDeps } from './services/deps.ts';
import { readDeliveryGauges } from './services/observe.ts';
import { registerRetention } from './worker/retention.ts';
import { startWorker, type DeliveryWorker } from './worker/worker.ts';

const VERSION = packageJson.version;

const USAGE = `Usage: orbit <command>

Commands:
  serve     the HTTP API and the delivery worker in one process (what npm start runs)
  api       the HTTP API only
  worker    the delivery worker only
  migrate   apply pending database migrations and exit

Configuration comes from environment variables only (DATABASE_URL, PORT, HOST, ORBIT_*,
LOG_LEVEL); see the README. Without DATABASE_URL, Orbit runs an embedded PostgreSQL whose
data lives under ORBIT_DATA_DIR (default ./.orbit).
`;

type Command = 'serve' | 'api' | 'worker' | 'migrate';
const COMMANDS: readonly string[] = ['serve', 'api', 'worker', 'migrate'];

interface Stoppable {
  name: string;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Queue, worker and API: the parts owned by other modules, kept together here.

async function startQueue(url: string, config: Config, logger: Logger): Promise<{ boss: PgBoss; stop(): Promise<void> }> {
  const boss = createBoss({ connectionString: url, logger, applicationName: 'orbit-queue' });
  await startBoss(boss, { deliveryTimeoutMs: config.deliveryTimeoutMs });
  return { boss, stop: () => boss.stop() };
}

function startDeliveryWorker(services: ServiceDeps, config: Config): Promise<DeliveryWorker> {
  return startWorker(services, {
    concurrency: config.workerConcurrency,
    maxConnectionsPerOrigin: config.maxConnectionsPerOrigin,
  });
}

/** Listens with the full API (`serve`, `api`) or, for a worker, with health and metrics only. */
async function startHttp(
  services: ServiceDeps,
  config: Config,
  logger: Logger,
  role: 'api' | 'ops',
): Promise<{ server: Server; url: string }> {
  const app = role === 'api' ? createApp({ services, logger, version: VERSION }) : createOpsApp({ services, logger });
  const server = createServer(getRequestListener(app.fetch));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  return { server, url: `http://${displayHost(config.host)}:${port}` };
}

/**
 * One registry per process. The database gauges are read where the API runs (`serve`, `api`):
 * every worker exporting the same database-wide numbers would multiply them in sums across pods.
 */
function processMetrics(command: Command, services: ServiceDeps): Metrics {
  if (command === 'worker') return createMetrics();
  return createMetrics({ collectGauges: () => readDeliveryGauges(services) });
}

/**
 * A worker's health and metrics server on PORT. A worker started beside an API on one machine
 * would find PORT taken: it then delivers without the server rather than refuse to start, and
 * says so (set PORT per process, as containers get for free).
 */
async function startOpsHttp(services: ServiceDeps, config: Config, logger: Logger): Promise<{ server: Server; url: string } | null> {
  try {
    const ops = await startHttp(services, config, logger, 'ops');
    logger.info({ url: ops.url, version: VERSION }, 'worker health and metrics listening');
    return ops;
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'EADDRINUSE') throw error;
    logger.warn(
      { port: config.port, host: config.host },
      'PORT is in use: this worker serves no /healthz, /readyz or /metrics; give it a PORT of its own',
    );
    return null;
  }
}

// ---------------------------------------------------------------------------------------------

/** A wildcard listen address is not something to type into a browser: show localhost instead. */
function displayHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '[::]') return 'localhost';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

function closeHttp(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    // Idle keep-alive connections would hold close() open; requests in progress may finish.
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), 10_000).unref();
  });
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

function fail(line: string): void {
  process.stderr.write(`orbit: ${line}\n`);
}

/** Runs `orbit <argv>`: usage and configuration errors exit here, the rest goes on in run(). */
async function main(argv: readonly string[]): Promise<void> {
  const command = argv[0];
  if (command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  if (command === undefined || !COMMANDS.includes(command) || argv.length > 1) {
    fail(command === undefined ? 'no command given' : `unknown command: ${argv.join(' ')}`);
    process.stderr.write(`\n${USAGE}`);
    process.exit(2);
  }

  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    fail(error.message);
    process.exit(1);
  }
  await run(command as Command, config);
}

async function run(command: Command, config: Config): Promise<void> {
  const logger = createLogger(config.logLevel);
  const started: Stoppable[] = [];
  // Set once a shutdown or a crash has begun: it alone decides the exit from then on.
  let stopping = false;

  /** Stops everything started so far, newest first; a failing step does not skip the others. */
  async function teardown(): Promise<boolean> {
    let clean = true;
    for (let item = started.pop(); item; item = started.pop()) {
      try {
        await item.stop();
        logger.debug({ part: item.name }, 'stopped');
      } catch (error) {
        clean = false;
        logger.error({ err: error, part: item.name }, 'error while stopping');
      }
    }
    return clean;
  }

  // Exiting closes the embedded database's stdin, so it stops even when we cannot wait for it.
  function forceExit(reason: string): void {
    logger.error(reason);
    process.exit(1);
  }

  let startup: Promise<void> = Promise.resolve();

  async function shutdown(signal: NodeJS.Signals): Promise<void> {
    if (stopping) return forceExit(`second ${signal} during shutdown: exiting at once`);
    stopping = true;
    logger.info({ signal }, 'shutting down');
    // In-flight attempts may take up to the delivery timeout; beyond that, something hangs.
    setTimeout(() => forceExit('shutdown took too long: exiting'), config.deliveryTimeoutMs + 30_000).unref();
    // A start in progress finishes (or fails) first, so nothing it opens is left behind.
    await startup.catch(() => undefined);
    const clean = await teardown();
    logger.info('stopped');
    process.exit(clean ? 0 : 1);
  }

  async function crash(error: unknown): Promise<void> {
    const wasStopping = stopping;
    stopping = true;
    logger.fatal({ err: error }, 'crashed');
    fail(`crashed: ${error instanceof Error ? error.message : String(error)}`);
    if (wasStopping) process.exit(1);
    setTimeout(() => forceExit('cleanup after a crash took too long: exiting'), 15_000).unref();
    await teardown();
    process.exit(1);
  }

  process.on('SIGTERM', (signal) => void shutdown(signal));
  process.on('SIGINT', (signal) => void shutdown(signal));
  process.on('uncaughtException', (error) => void crash(error));
  process.on('unhandledRejection', (error) => void crash(error));

  startup = start(command, config, logger, started);
  try {
    await startup;
  } catch (error) {
    // A signal that came during start-up owns the exit; otherwise a failed start is a crash.
    if (!stopping) await crash(error);
    return;
  }
  if (command === 'migrate' && !stopping) {
    stopping = true;
    const clean = await teardown();
    process.exit(clean ? 0 : 1);
  }
}

async function start(command: Command, config: Config, logger: Logger, started: Stoppable[]): Promise<void> {
  let databaseUrl = config.databaseUrl;
  if (databaseUrl === undefined) {
    const embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort });
    started.push({ name: 'embedded PostgreSQL', stop: () => embedded.stop() });
    logger.info({ port: embedded.port, dataDir: config.dataDir }, `embedded PostgreSQL started on 127.0.0.1:${embedded.port}`);
    databaseUrl = embedded.url;
  }

  await migrateDatabase(databaseUrl);
  logger.info('database migrations applied');
  if (command === 'migrate') return;

  const database = openDatabase(databaseUrl, { poolSize: config.dbPoolSize, applicationName: `orbit-${command}` });
  started.push({ name: 'database pool', stop: () => database.close() });

  const queue = await startQueue(databaseUrl, config, logger);
  started.push({ name: 'pg-boss', stop: () => queue.stop() });

  // The worker is created after the services it uses; until then an enqueue wakes nothing.
  let wakeWorker = (_jobs?: readonly PlannedDelivery[]): void => undefined;
  const wakePublisher = createWakePublisher({ sql: database.sql }, logger);
  const services: ServiceDeps = {
    db: database.db,
    sql: database.sql,
    boss: queue.boss,
    clock: systemClock,
    logger,
    random: Math.random,
    cipher: createSecretCipher(config.encryptionKey),
    delivery: {
      retrySchedule: config.retrySchedule,
      retryJitter: config.retryJitter,
      deliveryTimeoutMs: config.deliveryTimeoutMs,
    },
    webhookRules: { allowHttp: config.allowHttp, allowPrivateNetworks: config.allowPrivateNetworks },
    onEnqueued: (jobs) => {
      wakeWorker(jobs);
      wakePublisher.publish(jobs);
    },
  };
  services.metrics = processMetrics(command, services);

  const { generatedAdminKey } = await bootstrap(services, { adminKey: config.adminKey, signingSecret: config.signingSecret });
  // With ORBIT_ENCRYPTION_KEY set, secrets stored in clear by earlier versions are sealed now.
  await sealPlainSecrets(services);

  if (command === 'serve' || command === 'worker') {
    const worker = await startDeliveryWorker(services, config);
    started.push({ name: 'delivery worker', stop: () => worker.stop() });
    wakeWorker = (jobs) => worker.wake(jobs);
    logger.info({ concurrency: config.workerConcurrency }, 'delivery worker started');
    const stopRetention = await registerRetention(queue.boss, services, { retentionMs: config.retentionMs });
    started.push({ name: 'retention', stop: stopRetention });
  }

  if (command === 'serve' || command === 'api') {
    const http = await startHttp(services, config, logger, 'api');
    started.push({ name: 'HTTP server', stop: () => closeHttp(http.server) });
    logger.info({ url: http.url, version: VERSION }, 'HTTP API listening');
    say(`Orbit ${VERSION} listening on ${http.url}`);
  } else {
    const ops = await startOpsHttp(services, config, logger);
    if (ops !== null) started.push({ name: 'HTTP server', stop: () => closeHttp(ops.server) });
    say(`Orbit ${VERSION} delivery worker running${ops === null ? '' : `; health and metrics on ${ops.url}`}`);
  }

  // Printed, never logged: the key must not end up in log storage.
  if (generatedAdminKey !== null) say(`Admin API key (shown once): ${generatedAdminKey}`);
}

await main(process.argv.slice(2));
