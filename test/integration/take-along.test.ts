import { createPollActivities } from '../../activities/poll';
import { PackageSource } from '../../src/feeds/package-source';
import { SingleFlightCache } from '../../src/feeds/single-flight';
import type { PollPackageInput, PollPackageResult } from '../../workflows/contracts/activities';
import { startApi } from '../support/api';
import { FaultProxy } from '../support/fault-proxy';
import { ociFeed, pollEnvironment } from '../support/feeds';
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
 * of each package's own watcher (up to about an interval old) instead of listing the package again, when a
 * trigger of the same project and channel watches the package (it releases the package when it moves): with
 * a trigger per package, a push to one package is one listing of it, and none of the others. The packages
 * sit in watcher shards about half an interval apart (shards 0 and 3 of 4 check at 5.9 s and 0.0 s of every
 * 10 s), so a take-along package's last read is seconds older than the read that woke the trigger.
 */
const SHARDS = 4;
const FRONT = 'along/front';
const DB = 'along/db';
/** In the project too, but watched only by another project's trigger: nothing here releases its moves. */
const WORKER = 'along/worker';
const ALONG_PACKAGES = [
  { name: 'front', feed: 'along', package: FRONT },
  { name: 'db', feed: 'along', package: DB },
  { name: 'worker', feed: 'along', package: WORKER },
];

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
  for (const pkg of [FRONT, DB, WORKER]) await pushImage(registry.url, pkg, '1.0.0');
  await putProject(env, { name: 'along', packages: ALONG_PACKAGES });
  await putProject(env, { name: 'along-x', packages: [{ name: 'worker', feed: 'along', package: WORKER }] });
  for (const name of ['front', 'db'])
    states[name] = await startTrigger(env, {
      project: 'along',
      name,
      watch: [name],
      intervalSeconds: WATCHED_INTERVAL_S,
    });
  states.x = await startTrigger(env, {
    project: 'along-x',
    name: 'app',
    intervalSeconds: WATCHED_INTERVAL_S,
  });
  await waitForReleases(env, 'along', 1);
  await waitForReleases(env, 'along-x', 1);
  for (const name of ['front', 'db', 'x'])
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
  expect(shardOf(watchedPackageKey('along', WORKER), SHARDS)).toBe(3);
});

test("a push to one package releases it with the others' versions from their watchers' last reads where this channel's triggers watch them", async () => {
  const dbWatcher = env.client.workflow.getHandle(watcherWorkflowId(env.taskQueue, 3));
  const before = await checkAfter(dbWatcher, Date.now(), "a check of db's watcher before the push");
  await pushImage(registry.url, FRONT, '1.1.0');
  const [release] = await waitForReleases(env, 'along', 2, 60_000);
  expect(release.packages.map((p) => [p.name, p.tag]).sort()).toEqual([
    ['db', '1.0.0'],
    ['front', '1.1.0'],
    ['worker', '1.0.0'],
  ]);
  // Released by the trigger on front, woken by front's watcher; db's trigger had nothing to do.
  const front = await states.front();
  expect(front.history.find((h) => h.outcome === 'released' && h.versions?.front === '1.1.0')).toMatchObject({
    source: 'watcher',
  });
  const after = await checkAfter(dbWatcher, Date.now(), "a check of db's watcher after the release");
  // db was listed by its watcher's checks alone: once per check, none for the release that took it along;
  // worker (same watcher) once more, for the release: no trigger of this project would release its moves.
  const window = (await watcherChecks(dbWatcher)).filter(
    (c) => c.scheduled > before.completed! && c.completed! < after.scheduled,
  );
  const listed = (pkg: string) =>
    proxy.requests.filter(
      (r) => listings(pkg).test(r.path) && r.at > before.completed! && r.at < after.scheduled,
    ).length;
  expect({ db: listed(DB), worker: listed(WORKER), checks: window.length }).toEqual({
    db: window.length,
    worker: window.length + 1,
    checks: window.length,
  });
}, 120_000);

test("a paused trigger, or one now releasing into another channel, lends no watcher read to this channel's releases", async () => {
  const api = await startApi(env);
  try {
    const key = watchedPackageKey('along', DB);
    const lastRead = (channel = 'default') => env.stores.watches.lastRead(key, 'along', channel);
    expect(await lastRead()).toEqual(expect.any(Number));
    // Paused through the API: db's moves would not be released, so a release takes db at a fresh read.
    expect((await api.request('POST', '/triggers/along/db/pause')).status).toBe(202);
    expect(await lastRead()).toBeNull();
    expect((await api.request('POST', '/triggers/along/db/resume')).status).toBe(202);
    expect(await lastRead()).toEqual(expect.any(Number));
    // A change of channel through the API is recorded at once (the trigger's next subscription writes it too).
    await putProject(env, {
      name: 'along',
      packages: ALONG_PACKAGES,
      channels: [{ name: 'default' }, { name: 'beta' }],
    });
    // A trigger's own subscription carries its pause as it has it (one paused part-way through a poll).
    const subscription = [{ key, feed: 'along', package: DB, shard: shardOf(key, SHARDS) }];
    const interval = WATCHED_INTERVAL_S * 1000;
    await env.stores.watches.watch('trigger/along/db', subscription, interval, 'default', true);
    expect(await lastRead()).toBeNull();
    await env.stores.watches.watch('trigger/along/db', subscription, interval, 'default', false);
    expect(await lastRead()).toEqual(expect.any(Number));
    const moved = await api.request('PATCH', '/triggers/along/db', { channel: 'beta' });
    expect([moved.status, moved.body.spec.channel]).toEqual([200, 'beta']);
    expect([await lastRead(), await lastRead('beta')]).toEqual([null, expect.any(Number)]);
  } finally {
    await api.close();
  }
});

describe('a take-along poll on its own (one worker, its listing cache, a registry that moved)', () => {
  /** A registry whose tags the test sets, counting listings. */
  const moving = (tags: string[]) => {
    const registryTags = { now: tags, listed: 0 };
    const source = {
      async list() {
        registryTags.listed++;
        return { tags: [...registryTags.now], rateLimitRemaining: null, digests: null };
      },
      async digest(_feed: unknown, _pkg: unknown, tag: string) {
        return `sha256:${tag.replace(/\W/g, '').padEnd(64, '0')}`;
      },
    } as unknown as PackageSource;
    return { registryTags, source };
  };
  const along = { maxAgeMs: 65_000, project: 'p', channel: 'default' };
  const poll = (watermark: string) => ({
    feed: 'f',
    package: 'acme/db',
    rule: {},
    watermark,
    limit: 5,
    maxAgeMs: 3_000,
    takeAlong: along,
  });

  test("takes the listing as old as its watcher's last read; reads afresh when that lacks the channel's last version", async () => {
    const { registryTags, source } = moving(['1.0.0']);
    const acts = createPollActivities({
      source,
      feeds: new Map([['f', ociFeed('f', 'http://127.0.0.1:9')]]),
      tagCache: new SingleFlightCache(30_000),
      digestCache: new SingleFlightCache(30_000),
      configCache: new SingleFlightCache(30_000),
      // The package's watcher read it 20 s ago (older than the 3 s the poll asks for).
      lastWatcherRead: async () => Date.now() - 20_000,
    });
    const run = (input: PollPackageInput): Promise<PollPackageResult> =>
      pollEnvironment().run(acts.pollPackage, input);
    expect((await run({ ...poll('1.0.0'), takeAlong: undefined, maxAgeMs: 0 })).candidates).toEqual([
      '1.0.0',
    ]);
    expect(registryTags.listed).toBe(1);
    registryTags.now = ['1.0.0', '1.1.0'];
    // The cached listing holds the channel's last version: shared, no listing.
    expect((await run(poll('1.0.0'))).candidates).toEqual(['1.0.0']);
    expect(registryTags.listed).toBe(1);
    // The channel's last release holds 1.1.0 (read elsewhere since): the cached listing has nothing at or
    // above it, so the package is listed afresh and the release is not dropped.
    expect((await run(poll('1.1.0'))).candidates).toEqual(['1.1.0']);
    expect(registryTags.listed).toBe(2);
  });

  test('shares no watcher read older than the limit the ledger keeps taken-along packages for', async () => {
    let clock = 0;
    const listed: number[] = [];
    for (const limit of [undefined, 15_000]) {
      const { registryTags, source } = moving(['1.0.0']);
      clock = 0;
      const acts = createPollActivities({
        source,
        feeds: new Map([['f', ociFeed('f', 'http://127.0.0.1:9')]]),
        tagCache: new SingleFlightCache(30_000, 100, () => clock),
        digestCache: new SingleFlightCache(30_000, 100, () => clock),
        configCache: new SingleFlightCache(30_000, 100, () => clock),
        lastWatcherRead: async () => Date.now() - 20_000,
        ...(limit !== undefined ? { takeAlongLimitMs: limit } : {}),
      });
      const run = (input: PollPackageInput): Promise<PollPackageResult> =>
        pollEnvironment().run(acts.pollPackage, input);
      await run({ ...poll('1.0.0'), takeAlong: undefined, maxAgeMs: 0 });
      // The cached listing is 10 s old: older than the 3 s the poll asks, younger than the watcher's read.
      clock = 10_000;
      expect((await run(poll('1.0.0'))).candidates).toEqual(['1.0.0']);
      listed.push(registryTags.listed);
    }
    // Without a limit the 20 s old read is shared (one listing); with a 15 s limit the package is listed.
    expect(listed).toEqual([1, 2]);
  });
});
