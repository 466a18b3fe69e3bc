import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { TemporalSettings } from '../config';
import { SEARCH_ATTRIBUTES } from '../../workflows/contracts/search-attributes';
import { downloadTemporalCli, ensureTemporalCli, NO_CLI_MESSAGE, TemporalCliError } from './cli';
import { startDevServerProcess } from './dev-server';
import { freePort } from '../runtime/ports';

/** Connections to a Temporal server, and how to let go of it. */
export interface TemporalHandle {
  readonly address: string;
  readonly namespace: string;
  readonly connection: Connection;
  readonly nativeConnection: NativeConnection;
  /** The Web UI of an embedded dev server, when there is one. */
  readonly uiUrl: string | null;
  /** The process id of an embedded dev server we started, when there is one. */
  readonly devServerPid: number | null;
  close(): Promise<void>;
}

/** Where the embedded dev server listens; a port left out or 0 is any free port, named to the server. */
export interface DevServerOptions {
  /** SQLite file for persistence; omitted for a throwaway server (tests). */
  readonly dbFile?: string;
  readonly port?: number;
  /** Left out: no Web UI. */
  readonly uiPort?: number;
  readonly metricsPort?: number;
  readonly httpPort?: number;
}

/**
 * How the API's and activities' connection comes back after Temporal was away: gRPC's default reconnect
 * backoff grows to 120 s, so after an outage of two minutes the client stayed down for up to 83 s while
 * the server served again. Reconnect attempts at most a second apart bring it back within about a second.
 */
export const RECONNECT_CHANNEL_ARGS = {
  'grpc.initial_reconnect_backoff_ms': 250,
  'grpc.max_reconnect_backoff_ms': 1_000,
} as const;

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
  metricsPort: 0,
  httpPort: 0,
  cliPath: null,
};

/**
 * Uses TEMPORAL_ADDRESS when set; otherwise starts a dev server from a local CLI (PATH,
 * TEMPORAL_CLI_PATH, cache, or built with Go), falling back to a download from Temporal's CDN.
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
  const connection = await Connection.connect({ ...options, channelArgs: RECONNECT_CHANNEL_ARGS });
  const nativeConnection = await NativeConnection.connect(options);
  await registerSearchAttributes(connection, settings.namespace);
  return {
    address,
    namespace: settings.namespace,
    connection,
    nativeConnection,
    uiUrl: null,
    devServerPid: null,
    async close() {
      await nativeConnection.close();
      await connection.close();
    },
  };
}

async function startDevServer(namespace: string, dev: DevServerOptions): Promise<TemporalHandle> {
  const cli = (await ensureTemporalCli()) ?? (await downloadCli());
  if (dev.dbFile) mkdirSync(path.dirname(dev.dbFile), { recursive: true });
  const ip = '127.0.0.1';
  const server = await startDevServerProcess({
    cli,
    ip,
    namespace,
    dbFile: dev.dbFile,
    ports: {
      frontend: dev.port || (await freePort(ip)),
      ui: dev.uiPort === undefined ? null : dev.uiPort || (await freePort(ip)),
      metrics: dev.metricsPort || (await freePort(ip)),
      http: dev.httpPort || (await freePort(ip)),
    },
    searchAttributes: SEARCH_ATTRIBUTES,
    extraArgs: DEV_SERVER_SQLITE_ARGS,
  });
  try {
    const connection = await Connection.connect({
      address: server.address,
      channelArgs: RECONNECT_CHANNEL_ARGS,
    });
    const nativeConnection = await NativeConnection.connect({ address: server.address }).catch(
      async (err: unknown) => {
        await connection.close();
        throw err;
      },
    );
    return {
      address: server.address,
      namespace,
      connection,
      nativeConnection,
      uiUrl: server.uiUrl,
      devServerPid: server.pid,
      async close() {
        await nativeConnection.close();
        await connection.close();
        await server.stop();
      },
    };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

/** No CLI on this machine and no Go to build one: download it (internet), or say every way to get one. */
async function downloadCli(): Promise<string> {
  try {
    return await downloadTemporalCli();
  } catch (err) {
    throw new TemporalCliError(`${NO_CLI_MESSAGE}\n(download failed: ${(err as Error).message})`);
  }
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
