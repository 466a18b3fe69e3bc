import { FaultProxy } from '../support/fault-proxy';
import { ociFeed } from '../support/feeds';
import { putProject, startTrigger, waitForReleases } from '../support/projects';
import { pushImage, TestRegistry } from '../support/registry';
import { eventually, startTestWorker, TestWorkerEnv } from '../support/temporal';
import { checkAfter, listings, subscribed, WATCHED_INTERVAL_S, watcherChecks } from '../support/watchers';
import { watcherWorkflowId } from '../../workflows/contracts/ids';
import { shardOf } from '../../activities/watch';
import { watchedPackageKey } from '../../src/domain/trigger';
import { TriggerState } from '../../src/domain/trigger';

/**
 * A release takes along the project's packages its trigger does not watch. Their polls share the last read
 * of each package's own watcher (up to about an interval old) instead of listing the package again: with a
 * trigger per package, a push to one package is one listing of it, and none of the others. The two packages
 * sit in watcher shards about half an interval apart (shards 0 and 3 of 4 check at 5.9 s and 0.0 s of every
 * 10 s), so the take-along package's last read is seconds older than the read that woke the trigger.
 */
const SHARDS = 4;
const FRONT = 'along/front';
const DB = 'along/db';

let registry: TestRegistry;
let proxy: FaultProxy;
let env: TestWorkerEnv;
const states: Record<string, () => Promise<TriggerState>> = {};

beforeAll(async () => {
  registry = await TestRegistry.start();
  proxy = await FaultProxy.start(registry.url);
  const feeds = new Map([['along', ociFeed('along', proxy.url)]]);
  // The service's default listing TTL (30 s), shorter than the interval the take-along may share.
  env = await startTestWorker({ feeds, pollCacheMs: 30_000, watcherShards: SHARDS });
  for (const pkg of [FRONT, DB]) await pushImage(registry.url, pkg, '1.0.0');
  await putProject(env, {
    name: 'along',
    packages: [
      { name: 'front', feed: 'along', package: FRONT },
      { name: 'db', feed: 'along', package: DB },
    ],
  });
  for (const name of ['front', 'db'])
    states[name] = await startTrigger(env, {
      project: 'along',
      name,
      watch: [name],
      intervalSeconds: WATCHED_INTERVAL_S,
    });
  await waitForReleases(env, 'along', 1);
  for (const name of ['front', 'db'])
    await eventually(async () => subscribed(await states[name]()) || undefined, `${name} subscribed`, 60_000);
}, 120_000);

afterAll(async () => {
  await env?.stop();
  await proxy?.close();
  await registry?.stop();
});

test('the shards this file relies on: the two packages are checked about half an interval apart', () => {
  expect(shardOf(watchedPackageKey('along', FRONT), SHARDS)).toBe(0);
  expect(shardOf(watchedPackageKey('along', DB), SHARDS)).toBe(3);
});

test("a push to one package releases it with the other package's version from its watcher's last read, listing that one no more", async () => {
  const dbWatcher = env.client.workflow.getHandle(watcherWorkflowId(env.taskQueue, 3));
  const before = await checkAfter(dbWatcher, Date.now(), "a check of db's watcher before the push");
  await pushImage(registry.url, FRONT, '1.1.0');
  const [release] = await waitForReleases(env, 'along', 2, 60_000);
  expect(release.packages.map((p) => [p.name, p.tag]).sort()).toEqual([
    ['db', '1.0.0'],
    ['front', '1.1.0'],
  ]);
  // Released by the trigger on front, woken by front's watcher; db's trigger had nothing to do.
  const front = await states.front();
  expect(front.history.find((h) => h.outcome === 'released' && h.versions?.front === '1.1.0')).toMatchObject({
    source: 'watcher',
  });
  const after = await checkAfter(dbWatcher, Date.now(), "a check of db's watcher after the release");
  // db was listed by its watcher's checks alone: once per check, none for the release that took it along.
  const window = (await watcherChecks(dbWatcher)).filter(
    (c) => c.scheduled > before.completed! && c.completed! < after.scheduled,
  );
  const listed = proxy.requests.filter(
    (r) => listings(DB).test(r.path) && r.at > before.completed! && r.at < after.scheduled,
  ).length;
  expect({ listed, checks: window.length }).toEqual({ listed: window.length, checks: window.length });
}, 120_000);
