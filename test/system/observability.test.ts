import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AccessStore } from '../../src/db/access';
import { openTestDatabase } from '../support/database';
import { basic } from '../support/feeds';
import { startServer, TestServer } from '../support/http-server';
import { pushImage, TestRegistry } from '../support/registry';
import { eventually } from '../support/temporal';

/**
 * The service as operators run it, in a process of its own at the most verbose log level: its logs are JSON
 * lines with context and no secret in any of them, and /metrics serves its own series and the Temporal
 * SDK's, with no trigger or tag in a label.
 */
const REGISTRY_PASSWORD = 'Reg1stry-Pa55-Obs3rved';
const SIGNING_SECRET = 'S1gning-S3cret-Obs3rved';
const WEBHOOK_TOKEN = 'W3bhook-T0ken-Obs3rved';
const dir = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-observability-'));
let registry: TestRegistry;
let hook: TestServer;
let child: ChildProcess;
let api: string;
let token: string;
let database: Awaited<ReturnType<typeof openTestDatabase>>;
let stdout = '';
let stderr = '';

beforeAll(async () => {
  const line = execFileSync('htpasswd', ['-nbB', '-C', '4', 'ops', REGISTRY_PASSWORD]).toString().trim();
  registry = await TestRegistry.start({ htpasswd: `${line}\n` });
  await pushImage(registry.url, 'obs/app', '1.0.0', { authorization: basic('ops', REGISTRY_PASSWORD) });
  hook = await startServer((_req, res) => void res.writeHead(204).end());
  const config = path.join(dir, 'config.yaml');
  writeFileSync(
    config,
    [
      'feeds:',
      `  - id: secure`,
      `    url: ${registry.url}`,
      '    auth: { basic: { username: ops, password: { env: OBS_REGISTRY_PASSWORD } } }',
      'secrets:',
      `  hook-signing: { env: OBS_SIGNING_SECRET, sendTo: ["${hook.url}/"] }`,
      'webhookToken: { env: OBS_WEBHOOK_TOKEN }',
      '',
    ].join('\n'),
  );
  // A token made before start, on the database the service will open: the run's PostgreSQL (what this file
  // proves does not depend on where the ledger lives, and an embedded one boots PostgreSQL in WebAssembly in
  // this process and again in the service's, about 3 s of CPU each).
  database = await openTestDatabase();
  token = (await new AccessStore(database.db).createToken('ops-admin', 'admin', 'test')).token;
  child = spawn(process.execPath, [path.resolve(__dirname, '../../dist/src/main.js')], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: process.env.FEED_TRIGGERS_TEST_TEMPORAL_ADDRESS,
      TEMPORAL_NAMESPACE: process.env.FEED_TRIGGERS_TEST_NAMESPACE,
      FEED_TRIGGERS_TASK_QUEUE: `observability-${process.pid}`,
      FEED_TRIGGERS_API_PORT: '0',
      FEED_TRIGGERS_CONFIG: config,
      FEED_TRIGGERS_DATA_DIR: dir,
      DATABASE_URL: database.url,
      LOG_LEVEL: 'trace',
      OBS_REGISTRY_PASSWORD: REGISTRY_PASSWORD,
      OBS_SIGNING_SECRET: SIGNING_SECRET,
      OBS_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  api = await eventually(
    async () => /"api":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(stdout)?.[1],
    'the service to start',
    60_000,
  );
});

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
  }
  await database?.close();
  await hook?.close();
  await registry?.stop();
});

const call = async (method: string, p: string, body?: unknown, headers: Record<string, string> = {}) => {
  const res = await fetch(`${api}${p}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) };
};

test('a release end to end, then metrics without unbounded labels and logs without secrets', async () => {
  expect(
    (
      await call('PUT', '/projects/observed', {
        packages: [{ name: 'app', feed: 'secure', package: 'obs/app' }],
        destinations: [
          {
            name: 'hook',
            type: 'webhook',
            url: `${hook.url}/releases`,
            signingSecret: { secret: 'hook-signing' },
          },
        ],
      })
    ).status,
  ).toBe(201);
  expect(
    (await call('POST', '/projects/observed/triggers', { name: 'app', intervalSeconds: 3600 })).status,
  ).toBe(201);
  await eventually(async () => (hook.requests.length > 0 ? true : undefined), 'the delivery', 60_000);
  expect(hook.requests[0].headers['x-feed-triggers-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
  const notified = await call(
    'POST',
    '/webhooks/registry?feed=secure',
    { events: [{ action: 'push', target: { repository: 'obs/app', tag: '1.0.0' } }] },
    { authorization: `Bearer ${WEBHOOK_TOKEN}` },
  );
  expect(notified.status).toBe(202);
  expect(
    (await call('POST', '/webhooks/registry', { events: [] }, { authorization: 'Bearer wrong' })).status,
  ).toBe(401);

  // /metrics needs no token; its text is Prometheus's, ours first, then the SDK's.
  const scraped = await eventually(async () => {
    const res = await fetch(`${api}/metrics`);
    const text = await res.text();
    return res.status === 200 && /feed_triggers_deliveries_total\{state="delivered"\} 1/.test(text)
      ? { text, type: res.headers.get('content-type') }
      : undefined;
  }, 'metrics of the delivery');
  const { text } = scraped;
  expect(scraped.type).toMatch(/^text\/plain; version=0\.0\.4/);
  for (const series of [
    /^feed_triggers_polls_total\{feed="secure",outcome="ok"\} [1-9]/m,
    /^feed_triggers_poll_duration_seconds_count\{feed="secure"\} [1-9]/m,
    /^feed_triggers_releases_created_total\{source="trigger"\} 1$/m,
    new RegExp(
      `^feed_triggers_registry_requests_total\\{host="${registry.host.replace('.', '\\.')}",code="200"\\} [1-9]`,
      'm',
    ),
    /^feed_triggers_registry_requests_total\{host="[^"]+",code="401"\} [1-9]/m,
    /^feed_triggers_webhook_notifications_total\{receiver="registry",verdict="accepted"\} 1$/m,
    /^feed_triggers_webhook_notifications_total\{receiver="registry",verdict="unauthorized"\} 1$/m,
    /^feed_triggers_api_requests_total\{method="PUT",route="\/projects\/:project",status="201"\} 1$/m,
    /^feed_triggers_api_request_duration_seconds_bucket\{le="[^"]+",method="POST",route="\/projects\/:project\/triggers"\}/m,
    /^feed_triggers_process_resident_memory_bytes [1-9]/m,
    // The Temporal SDK's own worker metrics, through its runtime's Prometheus exporter.
    /^temporal_workflow_task_execution_latency\S*\{/m,
    /^temporal_activity_execution_latency\S*\{/m,
  ])
    expect([series.source, series.test(text)]).toEqual([series.source, true]);
  // No trigger, project or tag is a label value.
  expect(text).not.toMatch(/observed|obs\/app|1\.0\.0"/);

  child.kill('SIGTERM');
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  expect(code).toBe(0);

  const lines = stdout.split('\n').filter((l) => l !== '');
  expect(lines.length).toBeGreaterThan(20);
  const parsed = lines.map((l) => {
    try {
      return JSON.parse(l) as Record<string, unknown>;
    } catch {
      throw new Error(`not a JSON line: ${l.slice(0, 200)}`);
    }
  });
  for (const entry of parsed) {
    expect(LEVELS).toContain(entry.level);
    expect(entry.time).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(typeof entry.msg).toBe('string');
  }
  // Lines about a trigger's workflow carry its project, trigger, workflow and run.
  const triggerLine = parsed.find((e) => e.workflowId === 'trigger/observed/app');
  expect(triggerLine).toMatchObject({ project: 'observed', trigger: 'app', runId: expect.any(String) });
  expect(parsed.find((e) => e.component === 'temporal.activity' && e.msg === 'polled package')).toMatchObject(
    {
      feed: 'secure',
      package: 'obs/app',
    },
  );
  expect(parsed.find((e) => e.msg === 'shutting down: draining the worker')).toMatchObject({
    signal: 'SIGTERM',
  });

  const everything = `${stdout}\n${stderr}`;
  for (const secret of [
    REGISTRY_PASSWORD,
    Buffer.from(`ops:${REGISTRY_PASSWORD}`).toString('base64'),
    SIGNING_SECRET,
    WEBHOOK_TOKEN,
    token,
  ])
    expect([secret, everything.includes(secret)]).toEqual([secret, false]);
});

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
