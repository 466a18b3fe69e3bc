import { FaultProxy } from '../support/fault-proxy';
import { ociFeed } from '../support/feeds';
import { pushImage, TestRegistry } from '../support/registry';
import { putProject, releasesOf, startTrigger } from '../support/projects';
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
    // Longer than the slowest start of 50 triggers on a loaded CI machine: the test is about sharing.
    pollCacheMs: 180_000,
  });
});
afterAll(async () => {
  await env?.stop();
  await proxy?.close();
  await registry?.stop();
});

test('50 triggers on one image share one tag listing and one manifest lookup, and release once', async () => {
  await putProject(env, {
    name: 'dedup',
    packages: [{ name: 'base', feed: 'shared', package: 'shared/base' }],
  });
  const states = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      startTrigger(env, { project: 'dedup', name: `t${i}`, intervalSeconds: 600 }),
    ),
  );
  const all = await eventually(
    async () => {
      // Every query settles before the next probe: one that failed first must not leave the others
      // retrying on a loaded server after the test has closed its connection.
      const read = await Promise.allSettled(states.map((st) => st()));
      const s = read.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      return s.length === states.length && s.every((x) => x.iterations >= 1) ? s : undefined;
    },
    'an evaluation in each of the 50 triggers',
    120_000,
  );
  const releases = await releasesOf(env, 'dedup');
  expect(releases).toHaveLength(1);
  expect(releases[0].packages[0].tag).toBe('3.0.0');
  // One trigger created it; the other 49 were told the version set is already released.
  expect(all.filter((s) => s.lastRelease !== null)).toHaveLength(1);
  expect(proxy.count(/\/v2\/shared\/base\/tags\/list/)).toBe(1);
  expect(proxy.requests.filter((r) => r.method === 'HEAD' && /manifests/.test(r.path))).toHaveLength(1);
  await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      env.client.workflow.getHandle(`trigger/dedup/t${i}`).terminate('test done'),
    ),
  );
}, 180_000);
