import { WorkflowHandle } from '@temporalio/client';
import { ociFeed } from '../support/feeds';
import { startApi, TestApi } from '../support/api';
import { FaultProxy } from '../support/fault-proxy';
import { putProject, releasesOf, startTrigger, waitForReleases } from '../support/projects';
import { pushImage, TestRegistry } from '../support/registry';
import { eventually, settledHistory, startTestWorker, TestWorkerEnv } from '../support/temporal';
import { ensureWatcher } from '../../workflows/contracts/client';
import { triggerWorkflowId, watcherWorkflowId } from '../../workflows/contracts/ids';
import { pauseSignal, resumeSignal } from '../../workflows/contracts/trigger';
import { TriggerState, watchedPackageKey } from '../../src/domain/trigger';

/**
 * Package watchers (FEED_TRIGGERS_WATCHER_SHARDS) on a real registry behind a counting proxy: one watcher
 * (one shard) reads every package of this file once per check and wakes only the triggers of a package that
 * changed. Intervals are the shortest a trigger takes (10 s); every wait is for a state, never for a time.
 */
const INTERVAL_S = 10;
let registry: TestRegistry;
let proxy: FaultProxy;
let env: TestWorkerEnv;
let api: TestApi;
let watcher: WorkflowHandle;
let states: Record<string, () => Promise<TriggerState>>;

const PROJECTS: Record<string, string> = {
  'wt-shared-a': 'wt/shared', // two triggers on one package
  'wt-shared-b': 'wt/shared',
  'wt-paused': 'wt/paused',
  'wt-killed': 'wt/killed',
  'wt-rule': 'wt/rule', // a rule holds 1.1.0 back until the project changes
  'wt-deleted': 'wt/deleted', // deleted through the API
  'wt-dropped': 'wt/dropped', // its project deleted through the API
};

/** Seconds of a history event's time, as epoch ms. */
const msOf = (t: { seconds?: unknown; nanos?: number | null } | null | undefined): number =>
  Number(String(t?.seconds ?? 0)) * 1000 + Math.floor((t?.nanos ?? 0) / 1e6);

/** The watcher's checks so far: when each was scheduled and, once done, completed. */
async function checks(): Promise<{ scheduled: number; completed: number | null }[]> {
  const events = (await watcher.fetchHistory()).events ?? [];
  const done = new Map<string, number>();
  for (const e of events)
    if (e.activityTaskCompletedEventAttributes)
      done.set(String(e.activityTaskCompletedEventAttributes.scheduledEventId), msOf(e.eventTime));
  return events
    .filter((e) => e.activityTaskScheduledEventAttributes)
    .map((e) => ({ scheduled: msOf(e.eventTime), completed: done.get(String(e.eventId)) ?? null }));
}

/** Waits for a check of the watcher that started after `afterMs` to complete; returns it. */
const checkAfter = (afterMs: number, what = 'a watcher check') =>
  eventually(
    async () => (await checks()).find((c) => c.scheduled > afterMs && c.completed !== null),
    what,
    60_000,
  );

const subscribed = (s: TriggerState) => Boolean(s.watching && s.lastPoll && s.lastPoll.at > s.watching.since);
const listings = (pkg: string) => new RegExp(`^/v2/${pkg}/tags/list`);
const triggerHandle = (project: string) => env.client.workflow.getHandle(triggerWorkflowId(project, 'app'));

beforeAll(async () => {
  registry = await TestRegistry.start();
  proxy = await FaultProxy.start(registry.url);
  const feeds = new Map([['local', ociFeed('local', proxy.url)]]);
  env = await startTestWorker({ feeds, pollCacheMs: 60_000, watcherShards: 1 });
  api = await startApi(env, { feeds });
  watcher = env.client.workflow.getHandle(watcherWorkflowId(env.taskQueue, 0));
  states = {};
  for (const pkg of new Set(Object.values(PROJECTS))) await pushImage(registry.url, pkg, '1.0.0');
  await pushImage(registry.url, 'wt/rule', '1.1.0');
  for (const [project, pkg] of Object.entries(PROJECTS)) {
    await putProject(env, {
      name: project,
      packages: [{ name: 'app', feed: 'local', package: pkg }],
      ...(project === 'wt-rule' ? { channels: [{ name: 'default', rules: [{ range: '[1.0,1.1)' }] }] } : {}),
    });
    states[project] = await startTrigger(env, {
      project,
      name: 'app',
      intervalSeconds: INTERVAL_S,
    });
  }
  for (const project of Object.keys(PROJECTS)) await waitForReleases(env, project, 1);
  // Subscribed, and polled once since (the first sleep after subscribing is the trigger's own interval).
  for (const project of Object.keys(PROJECTS))
    await eventually(
      async () => subscribed(await states[project]()) || undefined,
      `${project} subscribed to its watcher`,
      60_000,
    );
}, 120_000);

afterAll(async () => {
  await api?.close();
  await env?.stop();
  await proxy?.close();
  await registry?.stop();
});

test('a push to a package two triggers watch releases once in each, from one listing per check', async () => {
  const before = await checkAfter(Date.now(), 'a check after both subscribed');
  await pushImage(registry.url, 'wt/shared', '1.1.0');
  for (const project of ['wt-shared-a', 'wt-shared-b']) {
    const [newest] = await waitForReleases(env, project, 2, 60_000);
    expect(newest.packages.map((p) => p.tag)).toEqual(['1.1.0']);
  }
  // Both woken by the watcher, not by a poll of their own.
  for (const project of ['wt-shared-a', 'wt-shared-b'])
    expect((await states[project]()).history.at(-1)).toMatchObject({
      outcome: 'released',
      source: 'watcher',
    });
  const after = await checkAfter(Date.now(), 'a check after the releases');
  // Between the end of one check and the start of a later one, the package was listed by the watcher's reads
  // alone: once per check, however many triggers it woke.
  const window = (await checks()).filter(
    (c) => c.scheduled > before.completed! && c.completed! < after.scheduled,
  );
  const listed = proxy.requests.filter(
    (r) => listings('wt/shared').test(r.path) && r.at > before.completed! && r.at < after.scheduled,
  ).length;
  expect({ listed, checks: window.length }).toEqual({ listed: window.length, checks: window.length });
  expect(window.length).toBeGreaterThanOrEqual(1);
  for (const project of ['wt-shared-a', 'wt-shared-b'])
    expect(await releasesOf(env, project)).toHaveLength(2);
}, 120_000);

test("an idle watched trigger's history gains no event across three checks of its watcher", async () => {
  const handle = triggerHandle('wt-shared-a');
  const length = (await settledHistory(handle)).length;
  let last = Date.now();
  for (let i = 0; i < 3; i++) last = (await checkAfter(last, `check ${i + 1} of 3`)).completed!;
  expect((await settledHistory(handle)).length).toBe(length);
  expect(subscribed(await states['wt-shared-a']())).toBe(true);
}, 120_000);

test('a paused trigger ignores its watcher and releases the push on resume', async () => {
  const handle = triggerHandle('wt-paused');
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
  await checkAfter(Date.now(), 'a check after the release');
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
  // Idle, the trigger's own poll lies behind it: what the state shows as checked is the watcher's read.
  const done = await checkAfter(Date.now(), 'a check to show');
  const idle = await eventually(async () => {
    const app = (await view('wt-shared-b')).packages.app;
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
        const t = await view('wt-shared-b');
        return (t.status === 'error' || t.status === 'retrying') && t.packages.app.watcherCheck?.error
          ? t
          : undefined;
      },
      'the failure in the state',
      60_000,
    );
    expect(failing.packages.app.watcherCheck!.error).toEqual({
      code: 'SERVER_ERROR',
      message: 'wt/shared on feed local failed with 502',
    });
  } finally {
    proxy.target = registry.url;
  }
  await eventually(
    async () => ((await view('wt-shared-b')).status === 'active' ? true : undefined),
    'the trigger active again',
    60_000,
  );
  await eventually(
    async () => ((await view('wt-shared-b')).packages.app.watcherCheck?.error === null ? true : undefined),
    "the watcher's next check passing",
    60_000,
  );
  expect(await releasesOf(env, 'wt-shared-b')).toHaveLength(2);
}, 180_000);

test('a watched trigger is woken by a change of its project, and releases what the new rule lets through', async () => {
  const [first] = await releasesOf(env, 'wt-rule');
  expect(first.packages.map((p) => p.tag)).toEqual(['1.0.0']);
  const put = await api.request('PUT', '/projects/wt-rule', {
    packages: [{ name: 'app', feed: 'local', package: 'wt/rule' }],
  });
  expect(put.status).toBe(200);
  const [newest] = await waitForReleases(env, 'wt-rule', 2);
  expect(newest.packages.map((p) => p.tag)).toEqual(['1.1.0']);
  expect((await states['wt-rule']()).history.at(-1)).toMatchObject({
    outcome: 'released',
    source: 'project change',
  });
}, 60_000);

test('a trigger deleted through the API leaves no subscription for its watcher to read on', async () => {
  // Kept, a deleted trigger's package was read every interval for ever unless it changed (a change's wake
  // finds the trigger gone and only then forgets it): create and delete enough, and the watcher reads junk.
  const key = watchedPackageKey('local', 'wt/deleted');
  expect(await env.stores.watches.subscribers([key])).toEqual([triggerWorkflowId('wt-deleted', 'app')]);
  const deleted = await api.request('DELETE', '/triggers/wt-deleted/app');
  expect(deleted.status).toBe(200);
  expect(await env.stores.watches.subscribers([key])).toEqual([]);
}, 60_000);

test('a project deleted through the API leaves no subscription of its triggers', async () => {
  const key = watchedPackageKey('local', 'wt/dropped');
  expect(await env.stores.watches.subscribers([key])).toEqual([triggerWorkflowId('wt-dropped', 'app')]);
  expect((await api.request('DELETE', '/projects/wt-dropped')).status).toBe(200);
  expect(await env.stores.watches.subscribers([key])).toEqual([]);
}, 60_000);
