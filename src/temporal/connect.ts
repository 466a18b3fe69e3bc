import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { temporal } from '@temporalio/proto';
import { TemporalSettings } from '../config';
import { SEARCH_ATTRIBUTES } from '../domain/search-attributes';
import { ensureTemporalCli, NO_CLI_MESSAGE, TemporalCliError } from './cli';

/** Connections to a Temporal server, and how to let go of it. */
export interface TemporalHandle {
  readonly address: string;
  readonly namespace: string;
  readonly connection: Connection;
  readonly nativeConnection: NativeConnection;
  /** The Web UI of an embedded dev server, when there is one. */
  readonly uiUrl: string | null;
  close(): Promise<void>;
}

export interface DevServerOptions {
  /** SQLite file for persistence; omitted for a throwaway server (tests). */
  readonly dbFile?: string;
  readonly port?: number;
  readonly uiPort?: number;
}

/**
 * The embedded dev server keeps its SQLite file in write-ahead-log mode, synced at checkpoints: by default
 * SQLite fsyncs every transaction, and at 2,000 triggers that made the server's disk writes (not CPU) the
 * ceiling: workflow tasks took 1–2 s to complete and the task queue's backlog grew. A crash of the server
 * process loses nothing committed; only a power loss can lose the last moments, as with any WAL database.
 */
export const DEV_SERVER_SQLITE_ARGS: readonly string[] = [
  '--sqlite-pragma',
  'journal_mode=wal',
  '--sqlite-pragma',
  'synchronous=normal',
];

/** Settings for a throwaway embedded dev server on free ports (tests and benchmarks). */
export const EMBEDDED_DEV_SERVER: TemporalSettings = {
  address: null,
  namespace: 'default',
  apiKey: null,
  tls: false,
  devServerPort: 0,
  uiPort: 0,
  cliPath: null,
};

/**
 * Uses TEMPORAL_ADDRESS when set; otherwise starts a dev server from a local CLI (PATH,
 * TEMPORAL_CLI_PATH, cache, or built with Go), falling back to the SDK's download.
 * Registers the project's search attributes either way.
 */
export async function connectTemporal(
  settings: TemporalSettings,
  dev: DevServerOptions = {},
): Promise<TemporalHandle> {
  if (settings.address) return connectExisting(settings);
  return startDevServer(settings.namespace, dev);
}

async function connectExisting(settings: TemporalSettings): Promise<TemporalHandle> {
  const address = settings.address as string;
  const options = { address, tls: settings.tls ? {} : undefined, apiKey: settings.apiKey ?? undefined };
  const connection = await Connection.connect(options);
  const nativeConnection = await NativeConnection.connect(options);
  await registerSearchAttributes(connection, settings.namespace);
  return {
    address,
    namespace: settings.namespace,
    connection,
    nativeConnection,
    uiUrl: null,
    async close() {
      await nativeConnection.close();
      await connection.close();
    },
  };
}

async function startDevServer(namespace: string, dev: DevServerOptions): Promise<TemporalHandle> {
  const cli = await ensureTemporalCli();
  if (dev.dbFile) mkdirSync(path.dirname(dev.dbFile), { recursive: true });
  let env: TestWorkflowEnvironment;
  try {
    env = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: cli ? { type: 'existing-path', path: cli } : { type: 'cached-download' },
        namespace,
        ip: '127.0.0.1',
        port: dev.port,
        dbFilename: dev.dbFile,
        ui: dev.uiPort !== undefined,
        uiPort: dev.uiPort,
        searchAttributes: [...SEARCH_ATTRIBUTES],
        // The server's own warnings as JSON lines, like ours.
        log: { format: 'json', level: 'warn' },
        extraArgs: [...DEV_SERVER_SQLITE_ARGS],
      },
    });
  } catch (err) {
    if (!cli) throw new TemporalCliError(`${NO_CLI_MESSAGE}\n(download failed: ${(err as Error).message})`);
    throw err;
  }
  return {
    address: env.address,
    namespace,
    connection: env.connection,
    nativeConnection: env.nativeConnection,
    uiUrl: dev.uiPort !== undefined ? `http://127.0.0.1:${dev.uiPort}` : null,
    close: () => env.teardown(),
  };
}

const { IndexedValueType } = temporal.api.enums.v1;

/** Adds our custom search attributes to a namespace; ones already there are left alone. */
export async function registerSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const missing = SEARCH_ATTRIBUTES.filter((key) => !(key.name in (existing.customAttributes ?? {})));
  if (missing.length > 0) await addSearchAttributes(connection, namespace, missing);
  // A server takes new attributes into use when its namespace cache refreshes (about 10 s on a real server;
  // the dev server at once), and lists them before that. Until then it refuses a workflow start that sets
  // them (INVALID_ARGUMENT), so the first trigger created after a fresh install would fail. Whichever role
  // added them, wait until a query naming them all is accepted (one call when they are in use already).
  const query = SEARCH_ATTRIBUTES.map((key) => `${key.name} = '_'`).join(' OR ');
  for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
    const accepted = await connection.workflowService
      .countWorkflowExecutions({ namespace, query })
      .then(() => true)
      .catch(() => false);
    if (accepted) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function addSearchAttributes(
  connection: Connection,
  namespace: string,
  missing: ReadonlyArray<(typeof SEARCH_ATTRIBUTES)[number]>,
): Promise<void> {
  const types: Record<string, number> = {
    KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    KEYWORD_LIST: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
  };
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map((key) => [key.name, types[key.type]])),
  });
}
