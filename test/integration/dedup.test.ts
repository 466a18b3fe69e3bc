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
  // A project and an image of their own for each try: a retried test must not meet the triggers, the listing
  // or the lookups of the try before.
  const project = `dedup-${Date.now().toString(36)}`;
  const image = `${project}/base`;
  await pushImage(registry.url, image, '3.0.0');
  await putProject(env, {
    name: project,
    packages: [{ name: 'base', feed: 'shared', package: image }],
  });
  const states = await Promise.all(
    Array.from({ length: 50 }, (_, i) => startTrigger(env, { project, name: `t${i}`, intervalSeconds: 600 })),
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
  const releases = await releasesOf(env, project);
  expect(releases).toHaveLength(1);
  expect(releases[0].packages[0].tag).toBe('3.0.0');
  // One trigger created it; the other 49 were told the version set is already released.
  expect(all.filter((s) => s.lastRelease !== null)).toHaveLength(1);
  const ofImage = proxy.requests.filter((r) => r.path.startsWith(`/v2/${image}/`));
  expect(ofImage.filter((r) => r.path.startsWith(`/v2/${image}/tags/list`))).toHaveLength(1);
  expect(ofImage.filter((r) => r.method === 'HEAD' && /manifests/.test(r.path))).toHaveLength(1);
  await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      env.client.workflow.getHandle(`trigger/${project}/t${i}`).terminate('test done'),
    ),
  );
}, 180_000);
