import { WorkflowHandle } from '@temporalio/client';
import { TestApi } from '../support/api';
import { FaultProxy } from '../support/fault-proxy';
import { releasesOf, waitForReleases } from '../support/projects';
import { pushImage, TestRegistry } from '../support/registry';
import { eventually, settledHistory, TestWorkerEnv } from '../support/temporal';
import {
  checkAfter,
  listings,
  startWatchedProjects,
  subscribed,
  WatchedProjects,
  watcherChecks,
} from '../support/watchers';
import { triggerWorkflowId } from '../../workflows/contracts/ids';
import { TriggerState, watchedPackageKey } from '../../src/domain/trigger';

/**
 * Package watchers, as they wake triggers: a push to a shared package, an idle trigger's history, a project
 * change, deletes (test/support/watchers.ts has the setup). Pauses, a watcher lost mid-read and a failing
 * registry are in watcher-faults.test.ts, so the two files' waits on the watchers' 10 s checks overlap.
 */
let w: WatchedProjects;
let registry: TestRegistry;
let proxy: FaultProxy;
let env: TestWorkerEnv;
let api: TestApi;
let watcher: WorkflowHandle;
let states: Record<string, () => Promise<TriggerState>>;
/** wt-dropped's history once it settled after set-up, and when: the idle test counts the checks since then. */
let idle: { length: number; since: number };

/** The trigger's history entry that released `version` (the release is listed before the workflow records it). */
const releasedEntry = (project: string, version: string) =>
  eventually(async () => {
    const entries = (await states[project]()).history.filter((h) => h.outcome === 'released');
    return entries.find((h) => h.versions?.app === version);
  }, `the release of ${version} in ${project}'s history`);

beforeAll(async () => {
  w = await startWatchedProjects(
    {
      'wt-shared-a': 'wt/shared', // two triggers on one package
      'wt-shared-b': 'wt/shared',
      'wt-rule': 'wt/rule', // a rule holds 1.1.0 back until the project changes
      'wt-deleted': 'wt/deleted', // deleted through the API
      'wt-dropped': 'wt/dropped', // its project deleted through the API (idle until then)
    },
    {
      extraTags: { 'wt/rule': ['1.1.0'] },
      channels: { 'wt-rule': [{ name: 'default', rules: [{ range: '[1.0,1.1)' }] }] },
    },
  );
  ({ registry, proxy, env, api, watcher, states } = w);
  // Read before the checks are counted from, so each of them comes after what the history held.
  const length = (await settledHistory(w.trigger('wt-dropped'))).length;
  idle = { length, since: Date.now() };
}, 120_000);

afterAll(async () => {
  await w?.close();
});

test('a push to a package two triggers watch releases once in each, from one listing per check', async () => {
  const before = await checkAfter(watcher, Date.now(), 'a check after both subscribed');
  await pushImage(registry.url, 'wt/shared', '1.1.0');
  for (const project of ['wt-shared-a', 'wt-shared-b']) {
    const [newest] = await waitForReleases(env, project, 2, 60_000);
    expect(newest.packages.map((p) => p.tag)).toEqual(['1.1.0']);
  }
  // Both released 1.1.0 when woken by the watcher, not by a poll of their own. The release's entry, not the
  // last one: on a loaded machine a trigger's scheduled poll can follow it (no-change), and that poll is not
  // what this checks.
  for (const project of ['wt-shared-a', 'wt-shared-b'])
    expect(await releasedEntry(project, '1.1.0')).toMatchObject({ outcome: 'released', source: 'watcher' });
  const after = await checkAfter(watcher, Date.now(), 'a check after the releases');
  // Between the end of one check and the start of a later one, the package was listed by the watcher's reads
  // alone: once per check, however many triggers it woke.
  const window = (await watcherChecks(watcher)).filter(
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
  // Counted from the end of set-up, so the checks the test before waited through count too (one of them
  // woke other triggers of the same watcher) and this test waits only for those still missing.
  let last = idle.since;
  for (let i = 0; i < 3; i++) last = (await checkAfter(watcher, last, `check ${i + 1} of 3`)).completed!;
  expect((await settledHistory(w.trigger('wt-dropped'))).length).toBe(idle.length);
  const state = await states['wt-dropped']();
  expect(subscribed(state)).toBe(true);
  // Subscribed caught up (its poll's listing is what the watcher compares against), it made no poll of its
  // own after subscribing, although three checks (over 20 s) outlast its 10 s interval. (Its watcher may have
  // woken it once: a check under way as it subscribed looks for subscribers again after recording.)
  expect(state.watching?.caughtUp).toBe(true);
  const since = state.history.filter((h) => h.at > state.watching!.since);
  expect(since.map((h) => h.source ?? 'its own poll')).not.toContain('its own poll');
}, 120_000);

test('a watched trigger is woken by a change of its project, and releases what the new rule lets through', async () => {
  const [first] = await releasesOf(env, 'wt-rule');
  expect(first.packages.map((p) => p.tag)).toEqual(['1.0.0']);
  const put = await api.request('PUT', '/projects/wt-rule', {
    packages: [{ name: 'app', feed: 'local', package: 'wt/rule' }],
  });
  expect(put.status).toBe(200);
  const [newest] = await waitForReleases(env, 'wt-rule', 2);
  expect(newest.packages.map((p) => p.tag)).toEqual(['1.1.0']);
  expect(await releasedEntry('wt-rule', '1.1.0')).toMatchObject({
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
