import { TriggerState } from '../../src/domain/trigger';
import { FaultProxy } from '../support/fault-proxy';
import { ociFeed } from '../support/feeds';
import { pushImage, TestRegistry } from '../support/registry';
import { eventually, startTestWorker, TestWorkerEnv } from '../support/temporal';

let registry: TestRegistry;
let proxy: FaultProxy;
let env: TestWorkerEnv;

beforeAll(async () => {
  registry = await TestRegistry.start();
  proxy = await FaultProxy.start(registry.url);
  await pushImage(registry.url, 'shared/base', '3.0.0');
  env = await startTestWorker({
    feeds: new Map([['shared', ociFeed('shared', proxy.url)]]),
    pollCacheMs: 30_000,
  });
});
afterAll(async () => {
  await env?.stop();
  await proxy?.close();
  await registry?.stop();
});

test('50 triggers on one image share one tag listing and one manifest lookup per cache period', async () => {
  const handles = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      env.client.workflow.start('trigger', {
        taskQueue: env.taskQueue,
        workflowId: `trigger/dedup/t${i}`,
        args: [
          {
            spec: {
              project: 'dedup',
              name: `t${i}`,
              intervalSeconds: 600,
              rules: [],
              packages: [{ name: 'base', feed: 'shared', package: 'shared/base' }],
            },
          },
        ],
      }),
    ),
  );
  const states = await eventually(
    async () => {
      const all = await Promise.all(handles.map((h) => h.query<TriggerState>('state')));
      return all.every((s) => s.releases.length === 1) ? all : undefined;
    },
    'a release in each of the 50 triggers',
    60_000,
  );
  expect(new Set(states.map((s) => s.releases[0].packages[0].tag))).toEqual(new Set(['3.0.0']));
  expect(proxy.count(/\/v2\/shared\/base\/tags\/list/)).toBe(1);
  expect(proxy.requests.filter((r) => r.method === 'HEAD' && /manifests/.test(r.path))).toHaveLength(1);
  await Promise.all(handles.map((h) => h.terminate('test done')));
});
