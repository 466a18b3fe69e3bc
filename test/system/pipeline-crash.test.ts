import { ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { ProjectSpecInput } from '../../src/domain/project';
import { freePort } from '../../src/runtime/ports';
import { ensureTemporalCli } from '../../src/temporal/cli';
import { DEV_SERVER_SQLITE_ARGS } from '../../src/temporal/connect';
import { DevServerProcess, startDevServerProcess } from '../../src/temporal/dev-server';
import { SEARCH_ATTRIBUTES } from '../../workflows/contracts/search-attributes';
import { environmentWorkflowId } from '../../workflows/contracts/ids';
import { openTestDatabase } from '../support/database';
import { devProdProject } from '../support/projects';
import { startServer, TestServer } from '../support/http-server';
import { pushImage, TestRegistry } from '../support/registry';
import { eventually } from '../support/temporal';

/**
 * Issue 31's crash tests: the service as it runs in production, in a process of its own, killed with SIGKILL
 * while a deployment waits (on a freeze's end, on its deployAt) and started again on the same data folder,
 * database and task queue. The wait lives in Temporal (a timer), the ledger in PostgreSQL: the deployment goes
 * once, at its time. The file has a Temporal dev server of its own on a SQLite file, so the second test can
 * kill -9 the server too and start it again on the same file, which the run's shared server cannot afford.
 */
const MAIN = path.resolve(__dirname, '../../dist/src/main.js');
const FEED = 'pc-registry';
const suffix = randomUUID().slice(0, 8);
const taskQueue = `pc-${randomUUID()}`;
let dir: string;
let registry: TestRegistry;
let hook: TestServer;
let temporal: DevServerProcess;
let startTemporal: () => Promise<DevServerProcess>;
let connection: Connection;
let client: Client;
let service: Service | undefined;
let database: Awaited<ReturnType<typeof openTestDatabase>>;

interface Service {
  readonly child: ChildProcess;
  readonly url: string;
}

/** The bootstrap admin token the first start prints (the next starts print none). */
let token = '';

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-pipeline-crash-'));
  registry = await TestRegistry.start();
  hook = await startServer((_req, res) => void res.writeHead(202).end());
  // The ledger on the run's PostgreSQL, as production keeps it (an embedded one would boot PostgreSQL in
  // WebAssembly at each of the three starts; recovery.test.ts proves an embedded ledger survives a kill -9).
  database = await openTestDatabase();
  writeFileSync(path.join(dir, 'config.yaml'), `feeds:\n  - { id: ${FEED}, url: "${registry.url}" }\n`);
  const cli = await ensureTemporalCli();
  if (!cli) throw new Error('no Temporal CLI');
  const ports = { frontend: await freePort(), ui: null, metrics: await freePort(), http: await freePort() };
  startTemporal = () =>
    startDevServerProcess({
      cli,
      ip: '127.0.0.1',
      namespace: 'default',
      dbFile: path.join(dir, 'temporal.sqlite'),
      ports,
      searchAttributes: SEARCH_ATTRIBUTES,
      extraArgs: DEV_SERVER_SQLITE_ARGS,
    });
  temporal = await startTemporal();
  connection = await Connection.connect({ address: temporal.address });
  client = new Client({ connection, namespace: 'default' });
  service = await startService();
});

afterAll(async () => {
  if (service) await killService(service);
  await connection?.close();
  await temporal?.stop();
  await database?.close();
  await hook?.close();
  await registry?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Starts dist/src/main.js on the file's data folder and task queue; answers once its API is up. */
async function startService(): Promise<Service> {
  const child = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_NAMESPACE: 'default',
      FEED_TRIGGERS_TASK_QUEUE: taskQueue,
      FEED_TRIGGERS_API_PORT: '0',
      FEED_TRIGGERS_CONFIG: path.join(dir, 'config.yaml'),
      FEED_TRIGGERS_DATA_DIR: dir,
      DATABASE_URL: database.url,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const startedAt = Date.now();
  let log = '';
  let terminal = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (terminal += d.toString()));
  try {
    const url = await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`the service exited (${child.exitCode}): ${terminal}`);
        const started = log.split('\n').find((line) => line.includes('feed-triggers started'));
        // The first start's admin token comes on stderr, a pipe of its own: it may be read after stdout's
        // "started" line, so wait for it too.
        if (!token && !/^ {2}ft_\S+$/m.test(terminal)) return undefined;
        return started ? (JSON.parse(started) as { api: string }).api : undefined;
      },
      'the service to start',
      90_000,
    );
    token ||= /^ {2}(ft_\S+)$/m.exec(terminal)?.[1] ?? '';
    expect(token).toMatch(/^ft_/);
    process.stdout.write(`pipeline-crash: the service started in ${Date.now() - startedAt} ms\n`);
    return { child, url };
  } catch (err) {
    await killService({ child, url: '' });
    throw err;
  }
}

/** kill -9, as a crash or the OOM killer would; answers once the process is gone. */
async function killService({ child }: Service): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

/** A request to the running service's API as its admin; answers the status and the JSON body. */
async function request(
  method: string,
  route: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${service!.url}${route}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** dev deploys automatically, prod when a person asks; both through the webhook. */
const project = (name: string): ProjectSpecInput => devProdProject(name, FEED, `${hook.url}/deploy`);

/** Saves the project through the API and releases web 1.0.0 (pushed to the registry) by hand. */
async function released(name: string): Promise<string> {
  await pushImage(registry.url, `${name}/web`, '1.0.0');
  const saved = await request('PUT', `/projects/${name}`, project(name));
  expect([saved.status, saved.body.warnings]).toEqual([201, []]);
  const created = await request('POST', `/projects/${name}/releases`, {});
  expect(created.status).toBe(201);
  return created.body.number as string;
}

interface DeploymentBody {
  environment: string;
  status: string;
  startedAt: string | null;
  attempts: number;
}

async function deployments(name: string, number: string, environment: string): Promise<DeploymentBody[]> {
  const res = await request('GET', `/projects/${name}/releases/${number}/deployments`);
  expect(res.status).toBe(200);
  return (res.body.deployments as DeploymentBody[]).filter((d) => d.environment === environment);
}

/** Waits until the release's deployment to the environment has the status; answers it. */
function waitForStatus(name: string, number: string, environment: string, status: string) {
  return eventually(
    async () => {
      const [d] = await deployments(name, number, environment);
      return d?.status === status ? d : undefined;
    },
    `${name} ${number} to ${environment}: ${status}`,
    60_000,
  );
}

/** What the webhook target received for the project's environment. */
const delivered = (name: string, environment: string) =>
  hook.requests.filter((r) => {
    const sent = JSON.parse(r.body) as { project: string; environment: string };
    return sent.project === name && sent.environment === environment;
  });

/** `YYYY-MM-DDTHH:MM:SS` on UTC's wall clock, `offsetMs` from now. */
const utcClock = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString().slice(0, 19);

test('a freeze holds an automatic deployment across its end with a kill -9 of the service in between; it goes once', async () => {
  const name = `pc-freeze-${suffix}`;
  const end = utcClock(18_000);
  const saved = await request('PUT', `/freezes/${name}-dev`, {
    timeZone: 'UTC',
    start: utcClock(-60_000),
    end,
    projects: [name],
    environments: ['dev'],
  });
  expect(saved.status).toBe(201);
  const number = await released(name);

  // Held: queued, the environment's queue asleep on the freeze's timer, nothing sent.
  const queue = client.workflow.getHandle(environmentWorkflowId(name, 'dev'));
  await eventually(async () => {
    const history = await queue.fetchHistory();
    return history.events?.some((e) => e.timerStartedEventAttributes) ? true : undefined;
  }, 'the dev queue holding on a timer');
  expect((await deployments(name, number, 'dev')).map((d) => d.status)).toEqual(['queued']);
  expect(delivered(name, 'dev')).toHaveLength(0);

  await killService(service!);
  // The premise of the test: the process died while the freeze still held.
  const margin = Date.parse(`${end}Z`) - Date.now();
  process.stdout.write(`pipeline-crash: killed ${margin} ms before the freeze ended\n`);
  expect(margin).toBeGreaterThan(0);
  service = await startService();

  const done = await waitForStatus(name, number, 'dev', 'succeeded');
  expect(Date.parse(done.startedAt!)).toBeGreaterThanOrEqual(Date.parse(`${end}Z`));
  expect((await deployments(name, number, 'dev')).map((d) => [d.status, d.attempts])).toEqual([
    ['succeeded', 1],
  ]);
  expect(delivered(name, 'dev')).toHaveLength(1);
});

test('a scheduled deployment is listed as scheduled across a kill -9 of the service and the Temporal server, and goes once at its time', async () => {
  const name = `pc-sched-${suffix}`;
  const number = await released(name);
  await waitForStatus(name, number, 'dev', 'succeeded');

  const deployAt = new Date(Date.now() + 15_000).toISOString();
  const asked = await request('POST', `/projects/${name}/releases/${number}/deployments`, {
    environment: 'prod',
    deployAt,
  });
  expect(asked.status).toBe(202);
  expect(asked.body).toMatchObject({ status: 'scheduled', deployAt });
  expect((await deployments(name, number, 'prod')).map((d) => d.status)).toEqual(['scheduled']);

  // Both die: the service, then the Temporal server; the server comes back on its SQLite file, then the service.
  await killService(service!);
  process.kill(temporal.pid, 'SIGKILL');
  await temporal.stop();
  const margin = Date.parse(deployAt) - Date.now();
  process.stdout.write(`pipeline-crash: both killed ${margin} ms before the deployment was due\n`);
  expect(margin).toBeGreaterThan(0);
  temporal = await startTemporal();
  service = await startService();
  // Still scheduled after the restart, with nothing sent before its time.
  const [after] = await deployments(name, number, 'prod');
  if (Date.now() < Date.parse(deployAt)) {
    expect(after.status).toBe('scheduled');
    expect(delivered(name, 'prod')).toHaveLength(0);
  }

  const done = await waitForStatus(name, number, 'prod', 'succeeded');
  expect(Date.parse(done.startedAt!)).toBeGreaterThanOrEqual(Date.parse(deployAt));
  expect((await deployments(name, number, 'prod')).map((d) => [d.status, d.attempts])).toEqual([
    ['succeeded', 1],
  ]);
  expect(delivered(name, 'prod')).toHaveLength(1);
});
