import path from 'node:path';
import type { Server } from 'node:http';
import { Client } from '@temporalio/client';
import express from 'express';
import { createApp, healthRoutes } from './api/app';
import { listen } from './api/listen';
import { ConfigError, loadConfig } from './config';
import { TemporalCliError } from './temporal/cli';
import { connectTemporal } from './temporal/connect';
import { createWorker } from './worker';
import { bindingsOf } from './secrets';
import { DatabaseError, openDatabase, redact } from './db/open';
import { Ledger } from './db/ledger';
import { MigrationError } from './db/migrations';

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

/** Runs the role until Ctrl-C or SIGTERM. */
export async function runService(role: Role): Promise<void> {
  const config = loadConfig();
  const say = (line: string) => process.stdout.write(`${line}\n`);
  if (role !== 'serve' && (!config.temporal.address || !config.databaseUrl))
    throw new RoleError(
      `the ${role} role shares its Temporal server and ledger with the other roles: set TEMPORAL_ADDRESS and DATABASE_URL (or run "serve")`,
    );
  if (!config.temporal.address) say('Starting an embedded Temporal dev server...');
  const temporal = await connectTemporal(config.temporal, {
    dbFile: path.join(config.dataDir, 'temporal.sqlite'),
    port: config.temporal.devServerPort,
    uiPort: config.temporal.uiPort,
  });
  const client = new Client({ connection: temporal.connection, namespace: temporal.namespace });
  const database = await openDatabase(
    config.databaseUrl ? { url: config.databaseUrl } : { dataDir: path.join(config.dataDir, 'ledger') },
  );
  const ledger = new Ledger(database.db, database.ledgerOptions);
  const worker =
    role === 'api'
      ? null
      : await createWorker({
          connection: temporal.nativeConnection,
          namespace: temporal.namespace,
          client,
          ledger,
          config,
        });
  // A worker alone answers only health checks on its port.
  const app =
    role === 'worker'
      ? healthOnly(client, database)
      : createApp({
          client,
          ledger,
          database,
          taskQueue: config.taskQueue,
          webhookToken: config.webhookToken,
          secretBindings: bindingsOf(config.secrets),
          outbound: config.outbound,
          feeds: config.feeds,
          log: (m) => process.stderr.write(`${m}\n`),
        });
  const server: Server = await listen(app, config.api.port, config.api.host);
  const running = worker ? worker.run() : new Promise<void>(() => undefined);

  say(`Role:               ${role}`);
  say(
    role === 'worker'
      ? `Health checks:      http://${config.api.host}:${config.api.port}/readyz`
      : `feed-triggers API:  http://${config.api.host}:${config.api.port}`,
  );
  say(`Temporal server:    ${temporal.address} (namespace ${temporal.namespace})`);
  say(
    `Ledger database:    ${config.databaseUrl ? redact(config.databaseUrl) : `embedded, in ${path.join(config.dataDir, 'ledger')}`}`,
  );
  if (temporal.uiUrl) say(`Temporal Web UI:    ${temporal.uiUrl}`);
  say('Press Ctrl-C to stop.');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: shutting down...`);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    // The SDK's runtime also reacts to SIGINT/SIGTERM by draining the worker; shut down only once. The
    // drain lets running activities and workflow tasks finish (their results are not lost).
    if (worker) {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running.catch(() => undefined);
    }
    await database.close();
    await temporal.close();
    say('Stopped.');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  await running;
}

function healthOnly(client: Client, database: Parameters<typeof healthRoutes>[2]): express.Express {
  const app = express();
  app.disable('x-powered-by');
  healthRoutes(app, client, database);
  return app;
}

if (require.main === module) void start(process.argv[2]);

/** Starts a role and exits with 2 and one line for a configuration the service refuses. */
export function start(arg: string | undefined): Promise<void> {
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
    err instanceof MigrationError
  ) {
    process.stderr.write(`feed-triggers: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`feed-triggers: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
}
