import { WorkflowHandle } from '@temporalio/client';
import { ProjectSpecInput } from '../../src/domain/project';
import { TriggerState } from '../../src/domain/trigger';
import { triggerWorkflowId, watcherWorkflowId } from '../../workflows/contracts/ids';
import { startApi, TestApi } from './api';
import { FaultProxy } from './fault-proxy';
import { ociFeed } from './feeds';
import { putProject, startTrigger, waitForReleases } from './projects';
import { pushImage, TestRegistry } from './registry';
import { eventually, startTestWorker, TestWorkerEnv } from './temporal';

/**
 * Package watchers (FEED_TRIGGERS_WATCHER_SHARDS) on a real registry behind a counting proxy: one watcher
 * (one shard) reads every package of a test file once per check and wakes only the triggers of a package that
 * changed. Intervals are the shortest a trigger takes (10 s); every wait is for a state, never for a time.
 */
export const WATCHED_INTERVAL_S = 10;

/** One test file's watched projects: each has one trigger, `app`, on its package of the feed `local`. */
export interface WatchedProjects {
  readonly registry: TestRegistry;
  readonly proxy: FaultProxy;
  readonly env: TestWorkerEnv;
  readonly api: TestApi;
  /** The watcher of the file's one shard. */
  readonly watcher: WorkflowHandle;
  /** Reads a project's trigger's state. */
  readonly states: Record<string, () => Promise<TriggerState>>;
  /** The handle of a project's trigger. */
  trigger(project: string): WorkflowHandle;
  close(): Promise<void>;
}

/**
 * Pushes 1.0.0 of every package (and `extraTags`), saves the projects (with `channels` where given) and
 * starts their triggers; returns once each has released 1.0.0 and subscribed to the watcher, caught up.
 */
export async function startWatchedProjects(
  projects: Record<string, string>,
  options: {
    extraTags?: Record<string, string[]>;
    channels?: Record<string, ProjectSpecInput['channels']>;
  } = {},
): Promise<WatchedProjects> {
  const registry = await TestRegistry.start();
  const proxy = await FaultProxy.start(registry.url);
  const feeds = new Map([['local', ociFeed('local', proxy.url)]]);
  const env = await startTestWorker({ feeds, pollCacheMs: 60_000, watcherShards: 1 });
  const api = await startApi(env, { feeds });
  const states: Record<string, () => Promise<TriggerState>> = {};
  for (const pkg of new Set(Object.values(projects))) await pushImage(registry.url, pkg, '1.0.0');
  for (const [pkg, tags] of Object.entries(options.extraTags ?? {}))
    for (const tag of tags) await pushImage(registry.url, pkg, tag);
  for (const [project, pkg] of Object.entries(projects)) {
    const channels = options.channels?.[project];
    await putProject(env, {
      name: project,
      packages: [{ name: 'app', feed: 'local', package: pkg }],
      ...(channels ? { channels } : {}),
    });
    states[project] = await startTrigger(env, { project, name: 'app', intervalSeconds: WATCHED_INTERVAL_S });
  }
  for (const project of Object.keys(projects)) await waitForReleases(env, project, 1);
  for (const project of Object.keys(projects))
    await eventually(
      async () => subscribed(await states[project]()) || undefined,
      `${project} subscribed to its watcher`,
      60_000,
    );
  return {
    registry,
    proxy,
    env,
    api,
    watcher: env.client.workflow.getHandle(watcherWorkflowId(env.taskQueue, 0)),
    states,
    trigger: (project) => env.client.workflow.getHandle(triggerWorkflowId(project, 'app')),
    async close() {
      await api.close();
      await env.stop();
      await proxy.close();
      await registry.stop();
    },
  };
}

/** Seconds of a history event's time, as epoch ms. */
export const msOf = (t: { seconds?: unknown; nanos?: number | null } | null | undefined): number =>
  Number(String(t?.seconds ?? 0)) * 1000 + Math.floor((t?.nanos ?? 0) / 1e6);

/** A watcher's checks so far: when each was scheduled and, once done, completed. */
export async function watcherChecks(
  watcher: WorkflowHandle,
): Promise<{ scheduled: number; completed: number | null }[]> {
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
export const checkAfter = (watcher: WorkflowHandle, afterMs: number, what = 'a watcher check') =>
  eventually(
    async () => (await watcherChecks(watcher)).find((c) => c.scheduled > afterMs && c.completed !== null),
    what,
    60_000,
  );

/**
 * Subscribed to its watcher and caught up with it: the watcher compared against the listing the trigger's
 * poll saw (no poll of its own follows), or the trigger polled on its own since.
 */
export const subscribed = (s: TriggerState) =>
  Boolean(s.watching && s.lastPoll && (s.watching.caughtUp || s.lastPoll.at > s.watching.since));

/** A package's tag listings, by request path. */
export const listings = (pkg: string) => new RegExp(`^/v2/${pkg}/tags/list`);
