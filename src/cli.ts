/**
 * Orbit's composition root and CLI: `orbit serve | api | worker | migrate` (main.ts, the entry
 * point, loads this).
 *
 * - `api`, `worker` and `migrate` run in this one process: config → database (embedded when
 *   DATABASE_URL is unset) → migrations → pool → pg-boss → bootstrap → the role. Everything
 *   started is stopped in reverse order, so the database goes last.
 * - `serve` supervises: it owns the database, runs migrations and bootstrap once, then runs the
 *   API and the delivery worker as child processes (src/process/supervisor.ts), which start here
 *   too, as `api` / `worker` under node:cluster, skipping what the supervisor did.
 *
 * Process mechanics (signals, shutdown, output) live in src/process/.
 */
import cluster from 'node:cluster';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import packageJson from '../package.json' with { type: 'json' };
import { ConfigError, loadConfig, type Config } from './config.ts';
import { openClaimsPool, openDatabase } from './db/client.ts';
import { startEmbeddedPostgres } from './db/embedded.ts';
import { migrateDatabase } from './db/migrate.ts';
import { createLogger, guardedOutput, type Logger } from './lib/logger.ts';
import { createMetrics, type Metrics } from './lib/metrics.ts';
import { clusterMetrics } from './process/cluster-metrics.ts';
import { Lifecycle } from './process/lifecycle.ts';
import { describeAddress, fail, say, urlOf } from './process/output.ts';
import { defaultProcessCounts, startSupervisor, type ChildRole, type ReadyMessage } from './process/supervisor.ts';
import { createBoss, startBoss } from './queue/boss.ts';
import { bootstrap } from './services/bootstrap.ts';
import { createServiceDeps, type ServiceDeps } from './services/deps.ts';
import { createWakePublisher } from './services/wakes.ts';
import { sealPlainSecrets } from './services/encrypt-secrets.ts';
import { readDeliveryGauges } from './services/observe.ts';
import { WORKER_INSTANCE_NAME } from './worker/peers.ts';

const VERSION = packageJson.version;

const USAGE = `Usage: orbit <command>

Commands:
  serve     the HTTP API and the delivery worker, in child processes sized to the machine's
            cores (ORBIT_API_PROCESSES, ORBIT_WORKER_PROCESSES); what npm start runs
  api       the HTTP API only, in this one process
  worker    the delivery worker only, in this one process
  migrate   apply pending database migrations and exit

Configuration comes from environment variables only (DATABASE_URL, PORT, HOST, ORBIT_*,
LOG_LEVEL); see the README. Without DATABASE_URL, Orbit runs an embedded PostgreSQL whose
data lives under ORBIT_DATA_DIR (default ./.orbit).
`;

const COMMANDS: readonly string[] = ['serve', 'api', 'worker', 'migrate'];

// ---------------------------------------------------------------------------------------------
// The parts.

/** The embedded database, stopped last; its unexpected end is fatal to this process. */
async function startDatabase(config: Config, logger: Logger, life: Lifecycle): Promise<string> {
  const embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort });
  life.started.push({ name: 'embedded PostgreSQL', stop: () => embedded.stop() });
  logger.info({ port: embedded.port, dataDir: config.dataDir }, `embedded PostgreSQL started on 127.0.0.1:${embedded.port}`);
  void embedded.unexpectedExit.then((reason) => life.fatal(`${reason}: stopping (start Orbit again to restart it)`));
  return embedded.url;
}

async function openServices(databaseUrl: string, config: Config, logger: Logger, life: Lifecycle, name: string): Promise<ServiceDeps> {
  const database = openDatabase(databaseUrl, {
    poolSize: config.dbPoolSize,
    applicationName: `orbit-${name}`,
    // The delivery worker's statements (its job fetch among them) have fixed shapes: plan each once.
    genericPlans: name === 'worker',
  });
  life.started.push({ name: 'database pool', stop: () => database.close() });
  const boss = createBoss({
    connectionString: databaseUrl,
    logger,
    applicationName: 'orbit-queue',
    // Delivery workers find each other in pg-boss's registry to share each origin's cap.
    ...(name === 'worker' ? { instanceName: WORKER_INSTANCE_NAME } : {}),
  });
  await startBoss(boss, { deliveryTimeoutMs: config.deliveryTimeoutMs });
  life.started.push({ name: 'pg-boss', stop: () => boss.stop() });
  // Jobs enqueued here are delivered by worker processes: wake them with a NOTIFY after the commit.
  const wakes = createWakePublisher({ sql: database.sql }, logger);
  return createServiceDeps(
    { db: database.db, sql: database.sql, boss },
    {
      logger,
      encryptionKey: config.encryptionKey,
      delivery: {
        retrySchedule: config.retrySchedule,
        retryJitter: config.retryJitter,
        deliveryTimeoutMs: config.deliveryTimeoutMs,
        endpointDisableAfterMs: config.endpointDisableAfterMs,
      },
      webhookRules: { allowHttp: config.allowHttp, allowPrivateNetworks: config.allowPrivateNetworks },
      onEnqueued: (jobs) => wakes.publish(jobs),
    },
  );
}

/** Once per start, before any role runs: the default tenant, keys, secrets, the operational endpoint. */
async function prepare(services: ServiceDeps, config: Config): Promise<string | null> {
  const { generatedAdminKey, generatedOperationalSecret } = await bootstrap(services, {
    adminKey: config.adminKey,
    signingSecret: config.signingSecret,
    operationalWebhookUrl: config.operationalWebhookUrl,
    operationalWebhookSecret: config.operationalWebhookSecret,
  });
  // With ORBIT_ENCRYPTION_KEY set, secrets stored in clear by earlier versions are sealed now.
  await sealPlainSecrets(services);
  // Printed, never logged, like the admin key: receivers verify operational webhooks with it.
  if (generatedOperationalSecret !== null) say(`Operational webhook signing secret (shown once): ${generatedOperationalSecret}`);
  return generatedAdminKey;
}

/**
 * One registry per process. The database gauges are read where the API runs: every worker
 * exporting the same database-wide numbers would multiply them in sums across pods. Under
 * `orbit serve` an API child answers for all children (src/process/cluster-metrics.ts).
 */
function processMetrics(role: ChildRole, services: ServiceDeps): Metrics {
  const local = role === 'worker' ? createMetrics() : createMetrics({ collectGauges: () => readDeliveryGauges(services) });
  return cluster.isWorker ? clusterMetrics(local) : local;
}

async function listen(
  app: { fetch: (request: Request) => Response | Promise<Response> },
  config: Config,
): Promise<{ server: Server; address: AddressInfo }> {
  const server = createServer(getRequestListener(app.fetch));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return { server, address: server.address() as AddressInfo };
}

function closeHttp(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    // Idle keep-alive connections would hold close() open; requests in progress may finish.
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), 10_000).unref();
  });
}

/**
 * A worker's health and metrics server on PORT. A worker started beside an API on one machine
 * would find PORT taken: it then delivers without the server rather than refuse to start, and
 * says so (set PORT per process, as containers get for free).
 */
async function startOpsHttp(services: ServiceDeps, config: Config, logger: Logger): Promise<{ server: Server; url: string } | null> {
  try {
    const { createOpsApp } = await import('./api/ops-app.ts');
    const { server, address } = await listen(createOpsApp({ services, logger }), config);
    const url = describeAddress(address);
    logger.info({ url, version: VERSION }, 'worker health and metrics listening');
    return { server, url };
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
// The commands.

/**
 * `api`, `worker` or `migrate` in this process. Under `orbit serve` (a cluster child) the
 * supervisor has already started the database, migrated and bootstrapped, and prints the banner.
 */
async function startRole(role: ChildRole | 'migrate', config: Config, logger: Logger, life: Lifecycle): Promise<void> {
  const supervised = cluster.isWorker;
  const databaseUrl = config.databaseUrl ?? (await startDatabase(config, logger, life));
  if (!supervised) {
    await migrateDatabase(databaseUrl);
    logger.info('database migrations applied');
  }
  if (role === 'migrate') return;

  const services = await openServices(databaseUrl, config, logger, life, role);
  services.metrics = processMetrics(role, services);
  const generatedAdminKey = supervised ? null : await prepare(services, config);
  const ready: ReadyMessage = { type: 'orbit:ready', role };

  // Each role loads only its own modules: a worker never loads the API, the console or their
  // schemas (tens of MB resident), nor the supervisor either role.
  if (role === 'worker') {
    const [{ startWorker }, { registerRetention }, { registerOverview }] = await Promise.all([
      import('./worker/worker.ts'),
      import('./worker/retention.ts'),
      import('./worker/overview.ts'),
    ]);
    // Closed after the worker stops.
    const claims = openClaimsPool(databaseUrl);
    life.started.push({ name: 'claims pool', stop: () => claims.close() });
    const worker = await startWorker(services, {
      concurrency: config.workerConcurrency,
      maxConnectionsPerOrigin: config.maxConnectionsPerOrigin,
      claims: claims.sql,
    });
    life.started.push({ name: 'delivery worker', stop: () => worker.stop() });
    logger.info({ concurrency: config.workerConcurrency }, 'delivery worker started');
    const stopRetention = await registerRetention(services.boss, services, { retentionMs: config.retentionMs });
    life.started.push({ name: 'retention', stop: stopRetention });
    // The console's minute job: the overview's rollup, expired sessions and portal links.
    const stopOverview = await registerOverview(services.boss, services);
    life.started.push({ name: 'overview', stop: stopOverview });
    // Under `orbit serve` the API children hold PORT: a worker child serves no HTTP of its own.
    if (!supervised) {
      const ops = await startOpsHttp(services, config, logger);
      if (ops !== null) life.started.push({ name: 'HTTP server', stop: () => closeHttp(ops.server) });
      say(`Orbit ${VERSION} delivery worker running${ops === null ? '' : `; health and metrics on ${ops.url}`}`);
    }
  } else {
    const { createApp } = await import('./api/app.ts');
    const { server, address } = await listen(createApp({ services, logger, version: VERSION, publicUrl: config.publicUrl }), config);
    life.started.push({ name: 'HTTP server', stop: () => closeHttp(server) });
    ready.address = { address: address.address, port: address.port };
    logger.info({ url: urlOf(address), version: VERSION }, 'HTTP API listening');
    if (!supervised) say(`Orbit ${VERSION} listening on ${describeAddress(address)}`);
  }
  if (supervised) process.send?.(ready);
  // Printed, never logged: the key must not end up in log storage.
  if (generatedAdminKey !== null) say(`Admin API key (shown once): ${generatedAdminKey}`);
}

/** `serve`: the database and the set-up here, the roles in supervised child processes. */
async function startServe(config: Config, logger: Logger, life: Lifecycle): Promise<void> {
  const databaseUrl = config.databaseUrl ?? (await startDatabase(config, logger, life));
  await migrateDatabase(databaseUrl);
  logger.info('database migrations applied');

  // The set-up runs on connections of its own, closed before the children open theirs.
  const setup = new Lifecycle({ logger, deadlineMs: 30_000, fail });
  let generatedAdminKey: string | null;
  try {
    generatedAdminKey = await prepare(await openServices(databaseUrl, config, logger, setup, 'serve'), config);
  } finally {
    await setup.teardown();
  }

  const defaults = defaultProcessCounts();
  const counts = { api: config.apiProcesses ?? defaults.api, worker: config.workerProcesses ?? defaults.worker };
  const supervisor = await startSupervisor({
    counts,
    env: { DATABASE_URL: databaseUrl },
    logger,
    drainDeadlineMs: config.deliveryTimeoutMs + 30_000,
  });
  life.started.push({ name: 'child processes', stop: () => supervisor.stop() });
  // A later, repeated Ctrl-C or SIGTERM: every child stops at once; the database still goes last.
  life.onEscalate = (reason) => {
    logger.warn({ reason }, 'passing the repeated request on: child processes stop at once');
    supervisor.forward('SIGTERM');
  };
  logger.info(counts, 'API and delivery worker processes started');
  const address = supervisor.address;
  say(
    `Orbit ${VERSION} listening on ${address ? describeAddress(address) : '(no address)'} with ` +
      `${counts.api} API and ${counts.worker} delivery worker process${counts.worker === 1 ? '' : 'es'}`,
  );
  if (generatedAdminKey !== null) say(`Admin API key (shown once): ${generatedAdminKey}`);
}

/** Runs `orbit <argv>`: usage and configuration errors exit here, the rest goes on in a Lifecycle. */
async function main(argv: readonly string[]): Promise<void> {
  const command = argv[0];
  if (command === '--help' || command === '-h' || command === 'help') {
    guardedOutput(process.stdout).write(USAGE);
    process.exit(0);
  }
  if (command === undefined || !COMMANDS.includes(command) || argv.length > 1) {
    fail(command === undefined ? 'no command given' : `unknown command: ${argv.join(' ')}`);
    guardedOutput(process.stderr).write(`\n${USAGE}`);
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

  // A child of `orbit serve` says which role it runs in every line.
  const logger = cluster.isWorker ? createLogger(config.logLevel).child({ role: command }) : createLogger(config.logLevel);
  // In-flight attempts may take up to the delivery timeout; beyond that, something hangs.
  const life = new Lifecycle({ logger, deadlineMs: config.deliveryTimeoutMs + (command === 'serve' ? 45_000 : 30_000), fail });
  life.install();
  // Started by bin/orbit.js: end with it. (A cluster child ends with its supervisor by itself.)
  if (!cluster.isWorker) life.watchLauncher();
  if (command === 'serve' && !cluster.isWorker) {
    await life.run(() => startServe(config, logger, life));
    return;
  }
  await life.run(() => startRole(command as ChildRole | 'migrate', config, logger, life));
  if (command === 'migrate') life.finish();
}

await main(process.argv.slice(2));
