// First: Node's compile cache is on before any other module of the service loads.
import './runtime/compile-cache';
import path from 'node:path';
import { ensureRetentionSchedule } from '../workflows/contracts/client';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@temporalio/client';
import express from 'express';
import { createApp, healthRoutes, metricsRoutes } from './api/app';
import { listen } from './api/listen';
import { Config, ConfigError, loadConfig } from './config';
import { findTemporalCli, TemporalCliError } from './temporal/cli';
import { connectTemporal } from './temporal/connect';
import { DevServerStartError } from './temporal/dev-server';
import { TemporalHealth } from './api/temporal-health';
import { bindRefusal, checkPortsFree, freePort, PortClaim, PortUnavailableError } from './runtime/ports';
import { roleUsage } from './runtime/role-help';
import { ensureWatcher } from '../workflows/contracts/client';
import { createWorker } from './runtime/worker';
import { CacheFullEvictions, watchWorkflowCache } from './runtime/workflow-cache-watch';
import { createLogger, TemporalLogger } from './observability/log';
import { collectProcessMetrics, setSdkMetricsUrl } from './observability/metrics';
import { makeTelemetryFilterString, Runtime } from '@temporalio/worker';
import { bindingsOf } from './config/secrets';
import { DatabaseError, keepFilesPrivate, openDatabase, redact } from './db/open';
import { MigrationError } from './db/migrations';
import { AccessStore } from './db/access';
import { openStores } from './db/stores';
import { isLoopback } from './feeds/feed';

/**
 * What one process runs: `serve` is the worker and the API (what `npm start` runs, with an embedded dev
 * server unless TEMPORAL_ADDRESS is set); `worker` and `api` split them, so workers scale out on one task
 * queue behind one API. Split roles share the ledger, so they need DATABASE_URL and a Temporal server.
 */
export type Role = 'serve' | 'worker' | 'api';
export const ROLES: readonly Role[] = ['serve', 'worker', 'api'];

class RoleError extends Error {}

/** The role from the first argument or FEED_TRIGGERS_ROLE; `serve` by default. */
export function roleOf(arg: string | undefined, env: NodeJS.ProcessEnv): Role {
  const given = arg ?? env.FEED_TRIGGERS_ROLE ?? 'serve';
  if (!(ROLES as readonly string[]).includes(given))
    throw new RoleError(`unknown role "${given.slice(0, 40)}": use one of ${ROLES.join(', ')}`);
  return given as Role;
}

/** Every port a role listens on, with the variable that moves it: all checked before anything starts. */
export function servicePorts(role: Role, config: Config): PortClaim[] {
  const api: PortClaim = {
    port: config.api.port,
    host: config.api.host,
    purpose: role === 'worker' ? 'the health endpoint' : 'the API',
    variable: 'FEED_TRIGGERS_API_PORT',
  };
  if (role !== 'serve' || config.temporal.address) return [api];
  const t = config.temporal;
  const dev = (port: number, purpose: string, variable: string): PortClaim => ({
    port,
    host: DEV_SERVER_IP,
    purpose,
    variable,
  });
  return [
    dev(t.devServerPort, 'the Temporal dev server', 'TEMPORAL_PORT'),
    dev(t.httpPort, "the Temporal dev server's HTTP API", 'TEMPORAL_HTTP_PORT'),
    dev(t.uiPort, 'the Temporal Web UI', 'TEMPORAL_UI_PORT'),
    dev(t.metricsPort, "the Temporal dev server's metrics", 'TEMPORAL_METRICS_PORT'),
    api,
  ];
}

/** Runs the role until Ctrl-C, SIGTERM (or SIGQUIT, SIGUSR2), or its worker stops. */
export async function runService(role: Role): Promise<void> {
  const config = loadConfig();
  keepFilesPrivate(config.dataDir);
  if (role !== 'serve' && (!config.temporal.address || !config.databaseUrl))
    throw new RoleError(
      `the ${role} role shares its Temporal server and ledger with the other roles: set TEMPORAL_ADDRESS and DATABASE_URL (or run "serve")`,
    );
  // A TEMPORAL_CLI_PATH that is not a program is a configuration error, said before any port is looked at.
  if (!config.temporal.address) findTemporalCli();
  // Before anything starts: a port that is taken is said at once, and nothing is left running.
  const ports = servicePorts(role, config);
  await checkPortsFree(ports);
  const logger = createLogger({ level: config.logLevel });
  const log = logger.child({ component: 'service' });
  // What startup has opened, closed in reverse if a later step fails or a signal arrives before it is done.
  const opened: Array<() => Promise<unknown>> = [];
  const closeOpened = async () => {
    for (let close = opened.pop(); close; close = opened.pop()) await close().catch(() => undefined);
  };
  let started = false;
  const abortStartup = (signal: string) => {
    if (started) return;
    log.info({ signal }, 'stopping before the service had started');
    void closeOpened().then(() => {
      logger.flush();
      process.exit(0);
    });
  };
  for (const signal of SHUTDOWN_SIGNALS) process.on(signal, abortStartup);
  try {
    const { ended } = await startService(role, config, logger, opened, ports);
    started = true;
    for (const signal of SHUTDOWN_SIGNALS) process.off(signal, abortStartup);
    await ended;
  } catch (err) {
    if (started) throw err;
    await closeOpened();
    throw err;
  }
}

const SHUTDOWN_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGQUIT', 'SIGUSR2'] as const;
const DEV_SERVER_IP = '127.0.0.1';

/**
 * Opens the ledger, Temporal, the worker and the API in that order, registering each in `opened` so a
 * failure of a later step closes the earlier ones. Resolves once the service runs, with a promise for its end.
 */
async function startService(
  role: Role,
  config: Config,
  logger: ReturnType<typeof createLogger>,
  opened: Array<() => Promise<unknown>>,
  ports: readonly PortClaim[],
): Promise<{ ended: Promise<void> }> {
  const log = logger.child({ component: 'service' });
  // Before any connection: the SDK's logs go through our logger, its metrics to a loopback port /metrics reads.
  const sdkMetricsPort = await freePort();
  const sdkLogger = new TemporalLogger(logger);
  Runtime.install({
    logger: sdkLogger,
    telemetryOptions: {
      logging: {
        filter: makeTelemetryFilterString({ core: config.logLevel === 'trace' ? 'INFO' : 'WARN' }),
        forward: {},
      },
      metrics: { prometheus: { bindAddress: `127.0.0.1:${sdkMetricsPort}` } },
    },
  });
  setSdkMetricsUrl(`http://127.0.0.1:${sdkMetricsPort}/metrics`);
  collectProcessMetrics();
  // The database first: a refusal to start (no API token on an open address) comes before a dev server.
  const database = await openDatabase(
    config.databaseUrl ? { url: config.databaseUrl } : { dataDir: path.join(config.dataDir, 'ledger') },
  );
  opened.push(() => database.close());
  const { ledger, access, receivers, listings, digests, sessions, overview, changes, watches } = openStores(
    database,
    {
      receivers: config.receivers,
      listings: {
        onError: (err) =>
          logger.warn(
            { component: 'worker' },
            `shared feed reads: the database failed (${(err as Error).message}); reading the feed`,
          ),
      },
    },
  );
  const firstToken = role === 'worker' ? null : await bootstrapToken(access, config.api.host);
  if (!config.temporal.address) log.info('starting an embedded Temporal dev server');
  const temporal = await connectTemporal(config.temporal, {
    dbFile: path.join(config.dataDir, 'temporal.sqlite'),
    port: config.temporal.devServerPort,
    uiPort: config.temporal.uiPort,
    metricsPort: config.temporal.metricsPort,
    httpPort: config.temporal.httpPort,
  }).catch((err: unknown) => {
    // Taken between our check and the server's own bind: the same one line as a port found taken before.
    const claim = err instanceof DevServerStartError && ports.find((c) => c.port === err.port);
    if (claim) throw new PortUnavailableError([{ claim, reason: 'in use by another process' }]);
    throw err;
  });
  opened.push(() => temporal.close());
  const client = new Client({ connection: temporal.connection, namespace: temporal.namespace });
  const cacheFullEvictions = new CacheFullEvictions();
  const worker =
    role === 'api'
      ? null
      : await createWorker({
          connection: temporal.nativeConnection,
          namespace: temporal.namespace,
          client,
          ledger,
          config,
          // Workers on one PostgreSQL ledger list each package and read its digest once between them.
          ...(config.databaseUrl ? { listings, digests } : {}),
          watches,
          changes,
          cacheFullEvictions,
          log: (m) => logger.warn({ component: 'worker' }, m),
        });
  // Retention runs hourly on a Temporal schedule, which a worker makes sure exists (it does nothing while
  // no project has a policy).
  if (worker)
    await ensureRetentionSchedule(client, config.taskQueue).catch((err: Error) =>
      logger.warn({ component: 'worker' }, `cannot create the retention schedule: ${err.message}`),
    );
  const health = new TemporalHealth(client).start();
  opened.push(async () => health.stop());
  // A worker alone answers only health checks on its port.
  const app =
    role === 'worker'
      ? healthOnly(client, database, health)
      : createApp({
          client,
          ledger,
          database,
          access,
          receivers,
          sessions,
          overview,
          changes,
          watches,
          health,
          taskQueue: config.taskQueue,
          webhookToken: config.webhookToken,
          receiverSecrets: config.receiverSecrets,
          dockerHubCallbackOrigin: config.dockerHubCallbackOrigin,
          secretBindings: bindingsOf(config.secrets),
          signatureKeys: new Set(config.signatureKeys.keys()),
          trustedRoots: new Set(config.trustedRoots.keys()),
          outbound: config.outbound,
          feeds: config.feeds,
          log: (m) => logger.error({ component: 'api' }, m),
          temporalUi: temporal.uiUrl ? { url: temporal.uiUrl, namespace: temporal.namespace } : null,
        });
  const server: Server = await listen(app, config.api.port, config.api.host, {
    idleMs: config.api.idleTimeoutMs,
  }).catch((err: unknown) => {
    const claim = ports.find((c) => c.variable === 'FEED_TRIGGERS_API_PORT')!;
    throw new PortUnavailableError([{ claim, reason: bindRefusal(err) }]);
  });
  const running = worker ? worker.run() : new Promise<void>(() => undefined);
  // Every shard with subscribers has its watcher (one that ended as a trigger subscribed is started again).
  if (worker && config.watcherShards > 0)
    void watches
      .shards()
      .then((shards) => Promise.all(shards.map((shard) => ensureWatcher(client, config.taskQueue, shard))))
      .catch((err: unknown) =>
        logger.warn({ component: 'worker' }, `package watchers: ${(err as Error).message}; triggers poll on`),
      );
  // A cache too small for the workflows that wake every interval makes each replay at every wake: say so.
  const cacheWatch =
    worker &&
    watchWorkflowCache({
      capacity: worker.options.maxCachedWorkflows,
      memoryMiB: config.workerMemoryMiB,
      evictions: cacheFullEvictions,
      warn: (fields, message) => logger.warn({ component: 'worker', ...fields }, message),
    });

  const url = `http://${config.api.host}:${(server.address() as AddressInfo).port}`;
  log.info(
    {
      role,
      node: process.version,
      ...(role === 'worker' ? { health: `${url}/readyz` } : { api: url }),
      metrics: `${url}/metrics`,
      temporal: temporal.address,
      namespace: temporal.namespace,
      ledger: config.databaseUrl
        ? redact(config.databaseUrl)
        : `embedded, in ${path.join(config.dataDir, 'ledger')}`,
      ...(temporal.uiUrl ? { temporalUi: temporal.uiUrl } : {}),
    },
    'feed-triggers started; Ctrl-C stops it',
  );
  if (firstToken)
    // Straight to the terminal, never into the log stream: the one time this token is shown.
    process.stderr.write(
      [
        '',
        `No API token existed, so this admin token was made (${firstToken.name}). It is shown once and`,
        'stored only as a hash; use it as FEED_TRIGGERS_TOKEN, make tokens for people with',
        '"feed-triggers token create NAME --role viewer|operator|admin", then revoke this one:',
        `  ${firstToken.token}`,
        '',
        '',
      ].join('\n'),
    );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: draining the worker');
    // Event streams never end on their own: end them, or close() would wait for them.
    (app.locals.changeHub as { endStreams(): void } | undefined)?.endStreams();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    // The SDK's runtime also reacts to SIGINT/SIGTERM by draining the worker; shut down only once. The
    // drain lets running activities and workflow tasks finish (their results are not lost).
    cacheWatch?.stop();
    health.stop();
    if (worker) {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running.catch(() => undefined);
    }
    await database.close();
    await temporal.close();
    sdkLogger.flushRepeats();
    log.info('stopped');
    logger.flush();
    process.exit(0);
  };
  // The SDK's runtime drains the worker on each of these (its default shutdown signals): the whole service
  // stops with it, so a process whose worker has stopped never lives on with its API and /readyz up.
  for (const signal of SHUTDOWN_SIGNALS) process.on(signal, () => void stop(signal));
  const ended = running.then(async () => {
    // The worker stopped without a signal of ours (a failure rejects `running` and exits 1): stop the rest.
    if (worker) await stop('the worker stopped');
  });
  return { ended };
}

/**
 * The API refuses calls without a token. On a loopback address with no token yet, the first start makes an
 * admin token and prints it once; on any other address the service will not start without one, so a
 * fresh install is never open to its network.
 */
async function bootstrapToken(
  access: AccessStore,
  host: string,
): Promise<{ name: string; token: string } | null> {
  if (await access.hasLiveTokens()) return null;
  if (!isLoopback(host) && host !== '::1')
    throw new RoleError(
      `the API would listen on ${host} and no API token exists: create an admin token first with ` +
        '"feed-triggers token create NAME --role admin" (on this database), or listen on 127.0.0.1',
    );
  const name = `bootstrap-admin-${new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14)}`;
  const { token } = await access.createToken(name, 'admin', 'feed-triggers start');
  return { name, token };
}

function healthOnly(
  client: Client,
  database: Parameters<typeof healthRoutes>[2],
  health: TemporalHealth,
): express.Express {
  const app = express();
  app.disable('x-powered-by');
  metricsRoutes(app);
  healthRoutes(app, client, database, health);
  return app;
}

if (require.main === module) void start(process.argv[2]);

/** Starts a role and exits with 2 and one line for a configuration the service refuses. */
export function start(arg: string | undefined): Promise<void> {
  keepFilesPrivate();
  if (arg === '--help' || arg === '-h') {
    process.stdout.write(`${ROLES.map(roleUsage).join('\n\n')}\n`);
    return Promise.resolve();
  }
  return Promise.resolve()
    .then(() => runService(roleOf(arg, process.env)))
    .catch(exitOnError);
}

function exitOnError(err: unknown): never {
  if (
    err instanceof RoleError ||
    err instanceof ConfigError ||
    err instanceof TemporalCliError ||
    err instanceof DatabaseError ||
    err instanceof MigrationError ||
    err instanceof PortUnavailableError ||
    err instanceof DevServerStartError
  ) {
    process.stderr.write(`feed-triggers: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`feed-triggers: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
}
