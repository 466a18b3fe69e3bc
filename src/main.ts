import path from 'node:path';
import type { Server } from 'node:http';
import { Client } from '@temporalio/client';
import { createApp } from './api/app';
import { listen } from './api/listen';
import { ConfigError, loadConfig } from './config';
import { TemporalCliError } from './temporal/cli';
import { connectTemporal } from './temporal/connect';
import { createWorker } from './worker';
import { bindingsOf } from './secrets';
import { DatabaseError, openDatabase, redact } from './db/open';
import { Ledger } from './db/ledger';
import { MigrationError } from './db/migrations';

/** `npm start`: a dev server (unless TEMPORAL_ADDRESS is set), the worker and the API, until Ctrl-C or SIGTERM. */
async function main(): Promise<void> {
  const config = loadConfig();
  const say = (line: string) => process.stdout.write(`${line}\n`);
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
  const worker = await createWorker({
    connection: temporal.nativeConnection,
    namespace: temporal.namespace,
    client,
    ledger,
    config,
  });
  const app = createApp({
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
  const running = worker.run();

  say(`feed-triggers API:  http://${config.api.host}:${config.api.port}`);
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
    // The SDK's runtime also reacts to SIGINT/SIGTERM by draining the worker; shut down only once.
    if (worker.getState() === 'RUNNING') worker.shutdown();
    await running.catch(() => undefined);
    await database.close();
    await temporal.close();
    say('Stopped.');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  await running;
}

main().catch((err: unknown) => {
  if (
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
});
