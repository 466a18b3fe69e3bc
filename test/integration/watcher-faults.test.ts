import { WorkflowHandle, WorkflowNotFoundError } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createListingReader } from '../../activities/poll';
import { createWatcherActivities } from '../../activities/watch';
import { PackageWatches } from '../../src/db/package-watches';
import { CredentialStore } from '../../src/feeds/credentials';
import { HelmRepositoryClient } from '../../src/feeds/helm';
import { OciClient } from '../../src/feeds/oci';
import { PackageSource } from '../../src/feeds/package-source';
import { SingleFlightCache } from '../../src/feeds/single-flight';
import { HttpClient } from '../../src/net/http';
import { ociFeed } from '../support/feeds';
import { TestApi } from '../support/api';
import { FaultProxy } from '../support/fault-proxy';
import { releasesOf, waitForReleases } from '../support/projects';
import { pushImage, TestRegistry } from '../support/registry';
import { eventually, TestWorkerEnv } from '../support/temporal';
import { checkAfter, listings, msOf, startWatchedProjects, WatchedProjects } from '../support/watchers';
import { ensureWatcher } from '../../workflows/contracts/client';
import { pauseSignal, resumeSignal } from '../../workflows/contracts/trigger';
import { TriggerState, watchedPackageKey } from '../../src/domain/trigger';

/**
 * Package watchers when something goes wrong: a paused trigger woken, a watcher terminated in the middle of a
 * read, a registry that fails and comes back (test/support/watchers.ts has the setup; watchers.test.ts has
 * the wakes that go right).
 */
let w: WatchedProjects;
let registry: TestRegistry;
let proxy: FaultProxy;
let env: TestWorkerEnv;
let api: TestApi;
let watcher: WorkflowHandle;
let states: Record<string, () => Promise<TriggerState>>;

beforeAll(async () => {
  w = await startWatchedProjects({
    'wt-paused': 'wt/paused',
    'wt-killed': 'wt/killed',
    'wt-failing': 'wt/failing', // its registry fails through the proxy, and comes back
    'wt-late-a': 'wt/late', // two triggers on one package: b subscribes while a watcher records a change
    'wt-late-b': 'wt/late',
  });
  ({ registry, proxy, env, api, watcher, states } = w);
}, 120_000);

afterAll(async () => {
  await w?.close();
});

test('a paused trigger ignores its watcher and releases the push on resume', async () => {
  const handle = w.trigger('wt-paused');
  await handle.signal(pauseSignal);
  await eventually(async () => (await states['wt-paused']()).paused || undefined, 'paused');
  const pushedAt = Date.now();
  await pushImage(registry.url, 'wt/paused', '1.1.0');
  // The watcher saw the push and woke the trigger, which ignored it.
  await eventually(
    async () =>
      (await handle.fetchHistory()).events?.some(
        (e) =>
          e.workflowExecutionSignaledEventAttributes?.signalName === 'pollNow' &&
          msOf(e.eventTime) > pushedAt,
      ) || undefined,
    'the watcher woke the paused trigger',
    60_000,
  );
  // Its workflow task for the wake is done (a paused trigger waits on no timer).
  await eventually(async () => {
    const events = (await handle.fetchHistory()).events ?? [];
    return events.at(-1)?.workflowTaskCompletedEventAttributes ? true : undefined;
  }, 'the paused trigger to finish its task');
  expect(await releasesOf(env, 'wt-paused')).toHaveLength(1);
  await handle.signal(resumeSignal);
  const [newest] = await waitForReleases(env, 'wt-paused', 2);
  expect(newest.packages.map((p) => p.tag)).toEqual(['1.1.0']);
}, 120_000);

test('a watcher terminated in the middle of a read and started again still releases the push, once', async () => {
  // The watcher's next read of the package hangs long enough to terminate the watcher during it.
  proxy.inject(listings('wt/killed'), { kind: 'slow', ms: 8_000 });
  const pushedAt = Date.now();
  await pushImage(registry.url, 'wt/killed', '1.1.0');
  await eventually(
    async () =>
      proxy.requests.some((r) => listings('wt/killed').test(r.path) && r.at > pushedAt) || undefined,
    'the watcher reading the package',
    60_000,
  );
  await watcher.terminate('test: a watcher lost in the middle of a read');
  await ensureWatcher(env.client, env.taskQueue, 0);
  const [newest] = await waitForReleases(env, 'wt-killed', 2, 60_000);
  expect(newest.packages.map((p) => p.tag)).toEqual(['1.1.0']);
  // Whatever the lost read did before it was cut short, the next check reads from fingerprints that had not
  // moved past the push; a trigger woken twice asks for the same release and gets it once.
  await checkAfter(watcher, Date.now(), 'a check after the release');
  expect(await releasesOf(env, 'wt-killed')).toHaveLength(2);
}, 120_000);

interface PackageView {
  polledAt: string | null;
  checkedAt: string | null;
  watcherCheck?: { at: string; error: { code: string; message: string } | null };
}
interface TriggerView {
  status: string;
  packages: Record<string, PackageView>;
  history: { outcome: string; source?: string }[];
}
const view = async (project: string): Promise<TriggerView> =>
  (await api.request('GET', `/triggers/${project}/app`)).body as TriggerView;

test("a watched trigger's state shows its watcher's checks, a registry failure they find, and the recovery", async () => {
  // Idle, the trigger's own poll lies behind it: what the state shows as checked is the watcher's read. Any
  // check since that poll shows it, one made while the tests before ran included.
  const polledAt = Date.parse((await states['wt-failing']()).lastPoll!.at);
  const done = await checkAfter(watcher, polledAt, 'a check to show');
  const idle = await eventually(async () => {
    const app = (await view('wt-failing')).packages.app;
    return app.watcherCheck && Date.parse(app.watcherCheck.at) >= done.scheduled - 1000 ? app : undefined;
  }, 'the state showing the check');
  expect(idle.checkedAt).toBe(idle.watcherCheck!.at);
  expect(Date.parse(idle.checkedAt!)).toBeGreaterThan(Date.parse(idle.polledAt!));
  expect(idle.watcherCheck!.error).toBeNull();

  // The registry fails: the watcher's failed read wakes the triggers, whose own polls fail and show it.
  proxy.target = 'http://127.0.0.1:9'; // nothing listens there: every read through the proxy fails
  try {
    const failing = await eventually(
      async () => {
        const t = await view('wt-failing');
        return (t.status === 'error' || t.status === 'retrying') && t.packages.app.watcherCheck?.error
          ? t
          : undefined;
      },
      'the failure in the state',
      60_000,
    );
    expect(failing.packages.app.watcherCheck!.error).toEqual({
      code: 'SERVER_ERROR',
      message: 'wt/failing on feed local failed with 502',
    });
  } finally {
    proxy.target = registry.url;
  }
  await eventually(
    async () => ((await view('wt-failing')).status === 'active' ? true : undefined),
    'the trigger active again',
    60_000,
  );
  await eventually(
    async () => ((await view('wt-failing')).packages.app.watcherCheck?.error === null ? true : undefined),
    "the watcher's next check passing",
    60_000,
  );
  // The failure and the recovery released nothing more.
  expect(await releasesOf(env, 'wt-failing')).toHaveLength(1);
}, 180_000);

/** Attempts of the test below (jest retries it once): each pushes a version of its own. */
let lateAttempts = 0;

test('a trigger that subscribes while a watcher records a change is woken by its second look', async () => {
  const version = `1.1.${lateAttempts++}`;
  // The file's own watcher stops: the check below is a watcher of the test's making, at a chosen moment.
  await watcher.terminate('the test checks the shard itself').catch((err: unknown) => {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  });
  const late = 'trigger/wt-late-b/app';
  const key = watchedPackageKey('local', 'wt/late');
  expect((await env.stores.watches.checks([key])).get(key)).toBeDefined();
  // b is unsubscribed: it subscribes again while the check records what it read (after the check looked for
  // the package's subscribers, before it recorded the new fingerprint). Had it subscribed then, it read the
  // old fingerprint, equal to its poll's, and took itself as caught up: only a second look can wake it.
  await env.stores.watches.forget([late]);
  const watches = Object.create(env.stores.watches) as PackageWatches;
  watches.record = async (checks) => {
    if (checks.some((c) => c.key === key))
      await env.stores.watches.watch(late, [{ key, feed: 'local', package: 'wt/late', shard: 0 }], 10_000);
    return env.stores.watches.record(checks);
  };
  const before = {
    a: (await releasesOf(env, 'wt-late-a')).length,
    b: (await releasesOf(env, 'wt-late-b')).length,
  };
  await pushImage(registry.url, 'wt/late', version);
  const http = new HttpClient();
  const credentials = new CredentialStore(http);
  const reader = createListingReader({
    source: new PackageSource(new OciClient(http, credentials), new HelmRepositoryClient(http, credentials)),
    feeds: new Map([['local', ociFeed('local', proxy.url)]]),
    tagCache: new SingleFlightCache(0),
    digestCache: new SingleFlightCache(0),
    configCache: new SingleFlightCache(0),
  });
  const activities = createWatcherActivities({
    watches,
    shards: 1,
    client: env.client,
    taskQueue: env.taskQueue,
    reader,
  });
  // Checked when the package is next due (the file's watcher read it less than an interval ago).
  const check = () =>
    new MockActivityEnvironment().run(activities.checkPackages, { shard: 0 }) as ReturnType<
      typeof activities.checkPackages
    >;
  let checked = await check();
  for (let i = 0; i < 5 && checked.changed === 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, checked.nextCheckInMs));
    checked = await check();
  }
  expect(checked.changed).toBeGreaterThanOrEqual(1);
  // Both release the version, woken by the watcher: a by its first look, b by its second.
  for (const project of ['wt-late-a', 'wt-late-b'] as const) {
    const [newest] = await waitForReleases(
      env,
      project,
      before[project === 'wt-late-a' ? 'a' : 'b'] + 1,
      60_000,
    );
    expect(newest.packages.map((p) => p.tag)).toEqual([version]);
    const entry = (await states[project]()).history.find(
      (h) => h.outcome === 'released' && h.versions?.app === version,
    );
    expect(entry).toMatchObject({ source: 'watcher' });
  }
  await ensureWatcher(env.client, env.taskQueue, 0);
}, 120_000);
