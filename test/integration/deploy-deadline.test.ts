import { putProject } from '../support/projects';
import { pushImage, TestRegistry } from '../support/registry';
import { startServer, TestServer } from '../support/http-server';
import { startApi, TestApi } from '../support/api';
import { eventually, startTestWorker, TestWorkerEnv } from '../support/temporal';

/**
 * An environment's retry deadline, on its own file: the test waits out the whole deadline, which beside the
 * other lifecycle tests (test/integration/lifecycles.test.ts) would lengthen them by as much. The shortest
 * deadline a project can set is a minute; the worker's deploy backoff makes a deadline minute last
 * DEADLINE_MINUTE_MS here, long enough for many more attempts than five even on a loaded box.
 */
const DEADLINE_MINUTE_MS = 20_000;
let registry: TestRegistry;
let env: TestWorkerEnv;
let api: TestApi;
let hook: TestServer;
let sent = 0;

beforeAll(async () => {
  hook = await startServer((_req, res) => {
    sent += 1;
    res.writeHead(503).end();
  });
  env = await startTestWorker({
    deployBackoff: { initialMs: 200, maxMs: 1000, deadlineMinuteMs: DEADLINE_MINUTE_MS },
  });
  api = await startApi(env);
  registry = await TestRegistry.start();
});

afterAll(async () => {
  await api?.close();
  await env?.stop();
  await hook?.close();
  await registry?.stop();
});

interface DeploymentView {
  deployments: Array<{ environment: string; status: string; error: string | null; attempts: number }>;
}

test('an environment with a retry deadline gives up on a target down for longer, naming the deadline and the last error', async () => {
  await pushImage(registry.url, 'deadline/web', '1.0.0');
  await putProject(env, {
    name: 'deadline',
    packages: [{ name: 'web', feed: registry.host, package: 'deadline/web' }],
    environments: [
      {
        name: 'deadline-dev',
        targets: [{ name: 'hook', type: 'webhook', url: `${hook.url}/deploy` }],
        retry: { deadlineMinutes: 1 },
      },
    ],
    lifecycles: [{ name: 'l', phases: [{ name: 'dev', environments: ['deadline-dev'], automatic: true }] }],
    lifecycle: 'l',
  });
  const created = await api.request('POST', '/projects/deadline/releases', {});
  expect(created.status).toBe(201);
  const number = created.body.number as string;
  const started = Date.now();
  const view = await eventually(
    async () => {
      const res = await api.request('GET', `/projects/deadline/releases/${number}/deployments`);
      const body = res.body as DeploymentView;
      return body.deployments.find((d) => d.environment === 'deadline-dev')?.status === 'failed'
        ? body
        : undefined;
    },
    'the deployment given up',
    90_000,
  );
  // Not before the deadline: a (deadline) minute of attempts, not five.
  expect(Date.now() - started).toBeGreaterThanOrEqual(DEADLINE_MINUTE_MS - 2_000);
  expect(view.deployments[0].error).toMatch(
    /^gave up after 1 minute\(s\) of retrying \(the environment's deadline\): webhook hook answered 503$/,
  );
  expect(view.deployments[0].attempts).toBeGreaterThan(5);
  expect(sent).toBeGreaterThanOrEqual(view.deployments[0].attempts);
}, 120_000);
