import { randomUUID } from 'node:crypto';
import { createLedgerActivities } from '../../activities/ledger';
import { metrics } from '../../src/observability/metrics';
import type { RetentionWorkflow } from '../../workflows/contracts/workflows';
import { releaseWorkflowId } from '../../workflows/contracts/ids';
import { startApi, TestApi } from '../support/api';
import { startServer, TestServer } from '../support/http-server';
import { putProject, releasesOf } from '../support/projects';
import { eventually, startTestWorker, TestWorkerEnv } from '../support/temporal';

let env: TestWorkerEnv;
let api: TestApi;
let hook: TestServer;

beforeAll(async () => {
  hook = await startServer((_req, res) => void res.writeHead(202).end());
  env = await startTestWorker();
  api = await startApi(env);
});

afterAll(async () => {
  await api?.close();
  await env?.stop();
  await hook?.close();
});

async function release(name: string, tag: string): Promise<string> {
  const ledger = createLedgerActivities({ ledger: env.ledger, client: env.client, taskQueue: env.taskQueue });
  const created = await ledger.createRelease({
    project: name,
    request: {
      channel: 'default',
      packages: [{ name: 'web', feed: 'registry.example', package: `${name}/web`, tag, digest: null }],
      watched: ['web'],
      requireLater: true,
      reason: 'test',
      source: { kind: 'manual' },
      key: `${name}-${tag}`,
    },
  });
  return created.release!.number;
}

test('retention leaves the release deployed in prod and the newest, and removes the older undeployed ones', async () => {
  const name = 'ret-keep';
  await putProject(env, {
    name,
    packages: [{ name: 'web', feed: 'registry.example', package: `${name}/web` }],
    environments: [{ name: 'prod', targets: [{ name: 'hook', type: 'webhook', url: `${hook.url}/deploy` }] }],
    lifecycles: [{ name: 'standard', phases: [{ name: 'prod', environments: ['prod'] }] }],
    lifecycle: 'standard',
    retention: { keepLast: 1 },
  });
  const deployed = await release(name, '1.0.0');
  expect(
    (await api.request('POST', `/projects/${name}/releases/${deployed}/deployments`, { environment: 'prod' }))
      .status,
  ).toBe(202);
  await eventually(async () => {
    const res = await api.request('GET', `/projects/${name}/releases/${deployed}/deployments`);
    return res.body.deployments[0]?.status === 'succeeded' ? true : undefined;
  }, 'prod deployed');
  const older = [await release(name, '1.1.0'), await release(name, '1.2.0')];
  const newest = await release(name, '1.3.0');
  // Their workflows wait for a person to deploy them to prod: retention ends them.
  await eventually(async () => {
    const d = await env.client.workflow.getHandle(releaseWorkflowId(name, older[0])).describe();
    return d.status.name === 'RUNNING' ? true : undefined;
  }, 'an older release waiting for a person');
  const before = (await metrics.retentionRemoved.get()).values[0]?.value ?? 0;

  const result = await env.client.workflow.execute<RetentionWorkflow>('retention', {
    taskQueue: env.taskQueue,
    workflowId: `retention-test-${randomUUID()}`,
    args: [{ batch: 1 }],
  });

  expect(result).toEqual({ removed: 2 });
  expect((await releasesOf(env, name)).map((r) => r.number)).toEqual([newest, deployed]);
  const kept = await api.request('GET', `/projects/${name}/releases/${deployed}/deployments`);
  expect(kept.body.deployments.map((d: { status: string }) => d.status)).toEqual(['succeeded']);
  expect((await api.request('GET', `/projects/${name}/releases/${older[0]}`)).status).toBe(404);
  const ended = await env.client.workflow.getHandle(releaseWorkflowId(name, older[0])).describe();
  expect(ended.status.name).toBe('TERMINATED');
  expect((await metrics.retentionRemoved.get()).values[0].value - before).toBe(2);
  const audit = await api.request('GET', '/audit?actor=retention&limit=5');
  expect(audit.body.records[0]).toMatchObject({
    actor: 'retention',
    path: `/projects/${name}/releases`,
    detail: `retention removed 2 release(s) of ${name} (${older.join(', ')}); policy default: last 1`,
  });

  // A second run finds nothing more to remove.
  const again = await env.client.workflow.execute<RetentionWorkflow>('retention', {
    taskQueue: env.taskQueue,
    workflowId: `retention-test-${randomUUID()}`,
    args: [{}],
  });
  expect(again).toEqual({ removed: 0 });
});
