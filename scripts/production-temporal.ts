import { ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { ensureTemporalCli } from '../src/temporal/cli';
import { registerSearchAttributes } from '../src/temporal/connect';
import { eventually } from '../test/support/temporal';

/**
 * A real Temporal server (not the dev server) persisting to PostgreSQL, as docker-compose.yml runs it: the
 * single binary with all four services, its schema set up with Temporal's SQL tool. Used by
 * `prove:production` and by `bench:scale --temporal production`. Needs the server and SQL tool binaries:
 * `go install go.temporal.io/server/cmd/server@v1.29.1` and `…/cmd/tools/sql@v1.29.1` (or
 * TEMPORAL_SERVER_PATH and TEMPORAL_SQL_TOOL_PATH).
 */
const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const gobin = process.env.GOBIN ?? path.join(process.env.GOPATH ?? path.join(os.homedir(), 'go'), 'bin');
const SERVER = process.env.TEMPORAL_SERVER_PATH ?? path.join(gobin, 'server');
const SQL_TOOL = process.env.TEMPORAL_SQL_TOOL_PATH ?? path.join(gobin, 'sql');

/** The Temporal server's schema source: the module the binary was built from. */
function schemaDir(): string {
  const mod = path.join(
    process.env.GOPATH ?? path.join(os.homedir(), 'go'),
    'pkg/mod/go.temporal.io/server@v1.29.1',
  );
  const dir = path.join(mod, 'schema/postgresql/v12');
  if (!existsSync(dir))
    throw new Error(`no Temporal schema at ${dir}: go install go.temporal.io/server/cmd/server@v1.29.1`);
  return dir;
}

/** Throws, naming what to install, when the server or its SQL tool is missing: before anything starts. */
export function checkProductionTemporal(): void {
  for (const [what, file] of [
    ['Temporal server', SERVER],
    ['Temporal SQL tool', SQL_TOOL],
  ])
    if (!existsSync(file))
      throw new Error(
        `no ${what} at ${file}: go install go.temporal.io/server/cmd/{server,tools/sql}@v1.29.1`,
      );
}

export interface ProductionTemporal {
  /** host:port of its frontend. */
  readonly address: string;
  readonly process: ChildProcess;
  /** Seconds the schema took, and the server until it registered the default namespace. */
  readonly schemaSeconds: number;
  readonly startSeconds: number;
  stop(): Promise<void>;
}

/**
 * Sets up Temporal's databases (temporal, temporal_visibility) on the PostgreSQL server at `postgresUrl`,
 * writes the server's configuration under `dir`, starts it on free loopback ports and registers the
 * default namespace. Its data stays in PostgreSQL; its configuration in `dir` (the caller removes both).
 */
export async function startProductionTemporal(options: {
  readonly postgresUrl: string;
  readonly dir: string;
  /** History shards (4 unless given: prove:production's and the smallest production setup's). */
  readonly historyShards?: number;
}): Promise<ProductionTemporal> {
  checkProductionTemporal();
  const cli = await ensureTemporalCli();
  if (!cli) throw new Error('no Temporal CLI (for namespace registration)');
  const { dir } = options;
  const t0 = Date.now();
  const pgUrl = new URL(options.postgresUrl);
  const sql = async (db: string, ...args: string[]) =>
    run(SQL_TOOL, [
      '--plugin',
      'postgres12',
      '--ep',
      pgUrl.hostname,
      '-p',
      pgUrl.port,
      '-u',
      'postgres',
      '--db',
      db,
      ...args,
    ]);
  for (const [db, schema] of [
    ['temporal', 'temporal'],
    ['temporal_visibility', 'visibility'],
  ]) {
    await sql(db, 'create-database');
    await sql(db, 'setup-schema', '-v', '0.0');
    await sql(db, 'update-schema', '-d', path.join(schemaDir(), schema, 'versioned'));
  }
  const schemaSeconds = (Date.now() - t0) / 1000;

  // A single-binary Temporal server with all four services, on free loopback ports.
  const ports = Object.fromEntries(
    await Promise.all(
      [
        'frontend',
        'frontendHttp',
        'frontendMembership',
        'history',
        'historyMembership',
        'matching',
        'matchingMembership',
        'worker',
        'workerMembership',
        'metrics',
      ].map(async (k) => [k, await lowPort()] as const),
    ),
  );
  const store = (db: string, conns: number) => `
      sql:
        pluginName: postgres12
        databaseName: ${db}
        connectAddr: "127.0.0.1:${pgUrl.port}"
        connectProtocol: tcp
        user: postgres
        password: ""
        maxConns: ${conns}
        maxIdleConns: ${conns}
        maxConnLifetime: 1h`;
  const service = (grpc: number, membership: number, http?: number) => `
    rpc:
      grpcPort: ${grpc}
      membershipPort: ${membership}
      bindOnLocalHost: true${http ? `\n      httpPort: ${http}` : ''}`;
  writeFileSync(path.join(dir, 'dynamic.yaml'), '{}\n');
  writeFileSync(
    path.join(dir, 'temporal.yaml'),
    `log:
  stdout: true
  level: warn
persistence:
  defaultStore: default
  visibilityStore: visibility
  numHistoryShards: ${options.historyShards ?? 4}
  datastores:
    default:${store('temporal', 20)}
    visibility:${store('temporal_visibility', 4)}
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: "127.0.0.1"
  metrics:
    prometheus:
      framework: tally
      timerType: histogram
      listenAddress: "127.0.0.1:${ports.metrics}"
services:
  frontend:${service(ports.frontend, ports.frontendMembership, ports.frontendHttp)}
  history:${service(ports.history, ports.historyMembership)}
  matching:${service(ports.matching, ports.matchingMembership)}
  worker:${service(ports.worker, ports.workerMembership)}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: "127.0.0.1:${ports.frontend}"
dcRedirectionPolicy:
  policy: noop
dynamicConfigClient:
  filepath: "${path.join(dir, 'dynamic.yaml')}"
  pollInterval: 10s
`,
  );
  const address = `127.0.0.1:${ports.frontend}`;
  const t1 = Date.now();
  let serverErrors = '';
  const launch = () => {
    const child = spawn(
      SERVER,
      ['--root', dir, '--config', '.', '--env', 'temporal', '--allow-no-auth', 'start'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    for (const stream of [child.stdout!, child.stderr!])
      stream.on('data', (d: Buffer) => (serverErrors = (serverErrors + d.toString()).slice(-4000)));
    return child;
  };
  let server = launch();
  try {
    await registerNamespace(
      cli,
      address,
      () => server,
      () => serverErrors,
    );
    // The project's search attributes, then the server once more: each of its services caches the custom
    // search attributes for up to a minute from its start, so in the first minute after they were added the
    // history service refused a trigger's upsert of one ("no mapping defined": the workflow task fails and is
    // tried again until the service has them) and, before a trigger's input carried its packages, served
    // histories that replayed differently on another worker. A server started after they exist knows them
    // everywhere.
    const connection = await Connection.connect({ address });
    try {
      await registerSearchAttributes(connection, 'default');
    } finally {
      await connection.close();
    }
    await stopChild(server);
    server = launch();
    await registerNamespace(
      cli,
      address,
      () => server,
      () => serverErrors,
    );
  } catch (err) {
    await stopChild(server);
    throw err;
  }
  return {
    address,
    process: server,
    schemaSeconds,
    startSeconds: (Date.now() - t1) / 1000,
    stop: () => stopChild(server),
  };
}

/** Registers the default namespace once the server answers (already there on a restart: fine). */
async function registerNamespace(
  cli: string,
  address: string,
  server: () => ChildProcess,
  errors: () => string,
): Promise<void> {
  await eventually(
    async () => {
      if (server().exitCode !== null) throw new Error(`the Temporal server exited: ${errors()}`);
      await run(cli, [
        'operator',
        'namespace',
        'create',
        '--namespace',
        'default',
        '--address',
        address,
        '--retention',
        '72h',
      ]).catch((err: { stderr?: string }) => {
        if (!/already|exists/i.test(err.stderr ?? '')) throw err;
      });
      return true;
    },
    'the Temporal server to register the default namespace',
    120_000,
  );
}

/** A free loopback port below 32768: Temporal keeps membership ports in a smallint column. */
export async function lowPort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const probe = createServer();
      probe.once('error', () => resolve(false));
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

/** SIGTERM, then SIGKILL after 15 s. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const exited = new Promise((r) => child.once('exit', r));
  if ((await Promise.race([exited, sleep(15_000).then(() => 'timeout')])) === 'timeout') {
    child.kill('SIGKILL');
    // Gone before the caller goes on (a restart on the same ports would otherwise race it).
    await exited;
  }
}
