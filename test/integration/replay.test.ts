import { WorkflowNotFoundError } from '@temporalio/client';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { findTemporalCli } from '../../src/temporal/cli';
import { startServer, TestServer } from '../support/http-server';
import { devProdProject, putProject, startTrigger, waitForReleases } from '../support/projects';
import { pushImage, TestRegistry } from '../support/registry';
import { eventually, settledHistory, startTestWorker, TestWorkerEnv } from '../support/temporal';
import { ociFeed } from '../support/feeds';
import { patchMarkers as patchMarkersOf } from '../support/markers';
import { watcherWorkflowId } from '../../workflows/contracts/ids';
import { watchedPackageKey } from '../../src/domain/trigger';
import { pollNowSignal } from '../../workflows/contracts/trigger';
import { decideUpdate, deployUpdate } from '../../workflows/contracts/release';
import { createLedgerActivities } from '../../activities/ledger';
import { DEFAULT_MAX_TAGS, HelmHttpFeed } from '../../src/feeds/feed';
import { FreezeSpecSchema } from '../../src/domain/freeze';
import { TRIGGER_PATHS, type RetentionWorkflow } from '../../workflows/contracts/workflows';
import { configureTrigger } from '../../workflows/contracts/client';
import { PACKAGES_ATTRIBUTE } from '../../workflows/contracts/search-attributes';

/**
 * Replays recorded workflow histories with today's workflow code: a change that breaks determinism
 * for running triggers, releases or destination queues fails here (trigger-before-ledger.json: a trigger
recorded before the ledger moved to the database, which must keep running after the upgrade; trigger-remote-poll.json: idle polls as activities, before they
 * ran as local activities first; trigger-before-even-phases.json: poll phases from the plain hash, before
 * the `even-poll-phases` patch; trigger-before-one-patch.json: a run that met each patch on its own marker,
 * before new runs took them all on `trigger-paths-2026-11`). Record new fixtures (after an intended,
 * versioned change) with `RECORD_HISTORIES=1 npx jest test/integration/replay`; release-lifecycle.json and
 * environment.json (a release through its lifecycle, and an environment's queue) with
 * `RECORD_LIFECYCLE_HISTORIES=1`; environment-retrying.json and release-stranded.json (self-healing
 * deployments) with `RECORD_HEALING_HISTORIES=1`;
 * trigger-wanted-tag.json (a notified tag polled for until it is pushed, the
 * poll-again-for-notified-tags patch) with `RECORD_WANTED_HISTORY=1`; trigger-feed-outage.json (a registry
 * stopped and back, the feed-failures-visible-at-once patch) with `RECORD_OUTAGE_HISTORY=1`, and
 * trigger-failing-poll-due.json (the same since the failing-poll-due-at-its-time-2026-12 patch) with
 * `RECORD_OUTAGE_DUE_HISTORY=1`, and trigger-announced.json (the same since the trigger announces what the
 * console shows of it, the announce-shown-changes-2026-12 patch) with `RECORD_ANNOUNCED_HISTORY=1`;
 * destination-retrying.json (a delivery retried on a timer, the destination-backoff-cap-2026-12 patch) with
 * `RECORD_DESTINATION_RETRY_HISTORY=1`; trigger-build-metadata.json (versions equal but for build metadata,
 * the build-metadata-numeric-order patch) with `RECORD_METADATA_HISTORY=1`; environment-frozen.json (a
 * deployment held for a freeze on a timer, the freeze-holds-deployments-2026-12 patch) with
 * `RECORD_FROZEN_HISTORY=1`; environment-scheduled.json (a queue waiting for a scheduled deployment, the
 * scheduled-deployments-2026-12 patch) with `RECORD_SCHEDULED_HISTORY=1`; retention.json (a retention run
 * removing two releases, a statement each, in one round) with `RECORD_RETENTION_HISTORY=1`; release-tenants.json
 * (a tenanted release's automatic phase deploying to two tenants, the tenanted-deployments-2026-12 patch) with
 * `RECORD_TENANT_HISTORY=1`; trigger-watched.json and
 * watcher.json (a trigger woken by its package's watcher, the package-watchers-2026-12 patch) with
 * `RECORD_WATCHED_HISTORY=1`; trigger-watched-caught-up.json (the same trigger subscribing caught up with its
 * watcher: no poll of its own after it) with `RECORD_CAUGHT_UP_HISTORY=1`; trigger-first-poll-at-slot.json (a trigger created in bulk, polling first at its
 * slot: the first-poll-at-slot-2026-12 patch) with `RECORD_FIRST_POLL_HISTORY=1`; release-idle.json (a release
 * with no destination and no lifecycle, ending in its first task: the idle-release-2026-12 patch) with
 * `RECORD_IDLE_HISTORY=1`; trigger-newest.json (a
 * trigger under the trigger-paths-2026-12b umbrella, polling packages and creating releases in its workflow
 * task) with `RECORD_NEWEST_HISTORY=1`; trigger-named-paths.json (a trigger whose input names its paths, with no
 * marker) with `RECORD_NAMED_PATHS_HISTORY=1`; trigger-rolling-upgrade.json is not recorded but made: trigger-newest.json
 * with `paths` added to its input, the history a worker of the code before named paths writes for a run this
 * code started (it asks the patch and records its marker), which this code must replay. The trigger fixtures recorded under earlier umbrellas
 * (trigger-paths-2026-11, trigger-latest.json under trigger-paths-2026-12, trigger-newest.json under
 * trigger-paths-2026-12b) are kept as they were recorded: their recorders (which assert their patch's marker)
 * now fail, since this code starts every new trigger with its paths in its input. Which patch each
 * fixture covers, and when a fixture may leave with its patch: docs/versioning.md.
 */
const FIXTURES = path.resolve(__dirname, '../fixtures/histories');

async function record(): Promise<void> {
  const registry = await TestRegistry.start();
  let hook: TestServer | undefined;
  const env = await startTestWorker();
  try {
    hook = await startServer((_req, res) => void res.writeHead(200).end());
    await pushImage(registry.url, 'replay/web', '1.0.0');
    await pushImage(registry.url, 'replay/worker', '2.0.0');
    await putProject(env, {
      name: 'replay',
      packages: [
        { name: 'web', feed: registry.host, package: 'replay/web' },
        { name: 'worker', feed: registry.host, package: 'replay/worker' },
      ],
      channels: [{ name: 'default', rules: [{ packages: ['web'], range: '^1.0.0' }] }],
      destinations: [{ name: 'hook', type: 'webhook', url: `${hook.url}/hook` }],
    });
    const state = await startTrigger(env, {
      project: 'replay',
      name: 'web',
      watch: ['web'],
      intervalSeconds: 600,
    });
    await waitForReleases(env, 'replay', 1);
    const trigger = env.client.workflow.getHandle('trigger/replay/web');
    await trigger.signal('pause');
    await pushImage(registry.url, 'replay/web', '1.1.0');
    await trigger.signal('resume');
    await waitForReleases(env, 'replay', 2);
    await trigger.signal('pollNow');
    await eventually(
      async () => ((await state()).iterations >= 3 ? true : undefined),
      'a no-change evaluation',
    );
    const release = env.client.workflow.getHandle('release/replay/0.0.2');
    await release.result();
    const destination = env.client.workflow.getHandle('destination/replay/hook');
    await destination.result();
    for (const [file, handle] of [
      ['trigger.json', trigger],
      ['release.json', release],
      ['destination.json', destination],
    ] as const) {
      writeFileSync(path.join(FIXTURES, file), exportHistory(handle.workflowId));
    }
    await trigger.terminate('recorded');
  } finally {
    await env.stop();
    await hook?.close();
    await registry.stop();
  }
}

/** A release through a lifecycle (automatic dev, prod after an approval and a person's deploy) and its queue. */
async function recordLifecycle(): Promise<void> {
  const registry = await TestRegistry.start();
  let hook: TestServer | undefined;
  const env = await startTestWorker();
  try {
    hook = await startServer((_req, res) => void res.writeHead(200).end());
    await pushImage(registry.url, 'cycle/web', '1.0.0');
    await putProject(
      env,
      devProdProject('cycle', registry.host, `${hook.url}/deploy`, { prodApproval: true }),
    );
    await startTrigger(env, { project: 'cycle', name: 'web', intervalSeconds: 600 });
    const [created] = await waitForReleases(env, 'cycle', 1);
    const release = env.client.workflow.getHandle('release/cycle/0.0.1');
    const lifecycle = env.ledger.deployments;
    await eventually(async () => {
      const l = await lifecycle.lifecycle(
        (await env.ledger.getRelease((await env.ledger.getProject('cycle'))!.id, created.number))!.id,
      );
      return l?.progress.deployments.dev?.status === 'succeeded' ? true : undefined;
    }, 'dev deployed');
    await eventually(async () => {
      try {
        return await release.executeUpdate(decideUpdate, {
          args: [{ phase: 'prod', decision: 'approved', by: 'recorder', comment: 'ok' }],
        });
      } catch {
        return undefined;
      }
    }, 'the approval');
    await release.executeUpdate(deployUpdate, {
      args: [{ environment: 'prod', force: false, requestedBy: 'recorder' }],
    });
    await release.result();
    const queue = env.client.workflow.getHandle('environment/cycle/prod');
    await queue.result();
    for (const [file, handle] of [
      ['release-lifecycle.json', release],
      ['environment.json', queue],
    ] as const)
      writeFileSync(path.join(FIXTURES, file), exportHistory(handle.workflowId));
    await env.client.workflow.getHandle('trigger/cycle/web').terminate('recorded');
  } finally {
    await env.stop();
    await hook?.close();
    await registry.stop();
  }
}

/**
 * The paths of self-healing deployments: environment-retrying.json (a queue whose webhook target answers 503
 * twice: the deployment retries, then succeeds) and release-stranded.json (a release waiting for a person at
 * prod that ends once a newer release is deployed there).
 */
async function recordHealing(): Promise<void> {
  const answers = [503, 503];
  const hook = await startServer((_req, res) => void res.writeHead(answers.shift() ?? 200).end());
  const env = await startTestWorker({ deployBackoff: { initialMs: 200, maxMs: 1000 } });
  try {
    await putProject(env, devProdProject('heal', 'registry.example', `${hook.url}/deploy`));
    const activities = createLedgerActivities({
      ledger: env.ledger,
      client: env.client,
      taskQueue: env.taskQueue,
    });
    const make = async (tag: string) =>
      (
        await activities.createRelease({
          project: 'heal',
          request: {
            channel: 'default',
            packages: [{ name: 'web', feed: 'registry.example', package: 'heal/web', tag, digest: null }],
            watched: ['web'],
            requireLater: true,
            reason: 'recorded',
            source: { kind: 'manual' },
            key: `heal-${tag}`,
          },
        })
      ).release!;
    const idOf = async (number: string) =>
      (await env.ledger.getRelease((await env.ledger.getProject('heal'))!.id, number))!.id;
    const first = await make('1.0.0');
    const queue = env.client.workflow.getHandle('environment/heal/dev');
    await eventually(async () => {
      const l = await env.ledger.deployments.lifecycle(await idOf(first.number));
      return l?.progress.deployments.dev?.status === 'succeeded' ? true : undefined;
    }, 'dev deployed after two retries');
    await queue.result();
    writeFileSync(path.join(FIXTURES, 'environment-retrying.json'), exportHistory(queue.workflowId));
    const second = await make('1.1.0');
    await eventually(async () => {
      const l = await env.ledger.deployments.lifecycle(await idOf(second.number));
      return l?.progress.deployments.dev?.status === 'succeeded' ? true : undefined;
    }, 'the newer release in dev');
    await env.client.workflow.getHandle(`release/heal/${second.number}`).executeUpdate(deployUpdate, {
      args: [{ environment: 'prod', force: false, requestedBy: 'recorder' }],
    });
    const stranded = env.client.workflow.getHandle(`release/heal/${first.number}`);
    await stranded.result();
    writeFileSync(path.join(FIXTURES, 'release-stranded.json'), exportHistory(stranded.workflowId));
  } finally {
    await env.stop();
    await hook.close();
  }
}

/**
 * A trigger told of a tag before the registry lists it: it polls again soon (the poll-again-for-notified-tags
 * patch), until the tag is pushed and released.
 */
async function recordWanted(): Promise<void> {
  const registry = await TestRegistry.start();
  const env = await startTestWorker();
  try {
    await pushImage(registry.url, 'wanted/web', '1.0.0');
    await putProject(env, {
      name: 'wanted',
      packages: [{ name: 'web', feed: registry.host, package: 'wanted/web' }],
    });
    const state = await startTrigger(env, {
      project: 'wanted',
      name: 'web',
      intervalSeconds: 600,
    });
    await waitForReleases(env, 'wanted', 1);
    const trigger = env.client.workflow.getHandle('trigger/wanted/web');
    await trigger.signal(pollNowSignal, {
      source: 'webhook recorder',
      tags: [{ key: watchedPackageKey(registry.host, 'wanted/web'), tag: '1.1.0' }],
    });
    await eventually(
      async () => ((await state()).iterations >= 3 ? true : undefined),
      'polls for the notified tag',
    );
    await pushImage(registry.url, 'wanted/web', '1.1.0');
    await waitForReleases(env, 'wanted', 2);
    await eventually(async () => ((await state()).wanted?.length === 0 ? true : undefined), 'the tag seen');
    await settledHistory(trigger);
    writeFileSync(path.join(FIXTURES, 'trigger-wanted-tag.json'), exportHistory(trigger.workflowId));
    await trigger.terminate('recorded');
  } finally {
    await env.stop();
    await registry.stop();
  }
}

/**
 * A trigger whose registry stops and comes back: its failure shows before the retries end, the retries
 * come at most 4 s apart and it polls again 4 s after the failed evaluation (feed-failures-visible-at-once).
 */
async function recordOutage(file: string): Promise<void> {
  const registry = await TestRegistry.start();
  const env = await startTestWorker();
  try {
    await pushImage(registry.url, 'outage/web', '1.0.0');
    await putProject(env, {
      name: 'outage',
      packages: [{ name: 'web', feed: registry.host, package: 'outage/web' }],
    });
    const state = await startTrigger(env, {
      project: 'outage',
      name: 'web',
      intervalSeconds: 600,
    });
    await waitForReleases(env, 'outage', 1);
    const trigger = env.client.workflow.getHandle('trigger/outage/web');
    await registry.halt();
    await trigger.signal(pollNowSignal);
    await eventually(
      async () => ((await state()).history.some((h) => h.outcome === 'error') ? true : undefined),
      'a failed evaluation',
      60_000,
    );
    await registry.restart();
    await eventually(
      async () => ((await state()).lastPoll?.outcome === 'no-change' ? true : undefined),
      'a poll after the return',
    );
    await settledHistory(trigger);
    writeFileSync(path.join(FIXTURES, file), exportHistory(trigger.workflowId));
    await trigger.terminate('recorded');
  } finally {
    await env.stop();
    await registry.stop();
  }
}

/**
 * A destination whose webhook answers 503 past the activity's quick tries: the queue waits on a timer capped
 * by the destination-backoff-cap-2026-12 patch (asked only then), and the next attempt delivers.
 */
async function recordDestinationRetry(): Promise<void> {
  const answers = [503, 503, 503, 503];
  const hook = await startServer((_req, res) => void res.writeHead(answers.shift() ?? 200).end());
  const env = await startTestWorker();
  try {
    await putProject(env, {
      name: 'replay-retry',
      packages: [{ name: 'web', feed: 'registry.example', package: 'retry/web' }],
      destinations: [{ name: 'hook', type: 'webhook', url: `${hook.url}/hook` }],
    });
    const activities = createLedgerActivities({
      ledger: env.ledger,
      client: env.client,
      taskQueue: env.taskQueue,
    });
    await activities.createRelease({
      project: 'replay-retry',
      request: {
        channel: 'default',
        packages: [
          { name: 'web', feed: 'registry.example', package: 'retry/web', tag: '1.0.0', digest: null },
        ],
        watched: ['web'],
        requireLater: true,
        reason: 'recorded',
        source: { kind: 'manual' },
        key: 'replay-retry-1.0.0',
      },
    });
    const queue = env.client.workflow.getHandle('destination/replay-retry/hook');
    await eventually(() => queue.describe().catch(() => undefined), 'the destination queue');
    await queue.result();
    expect(answers).toEqual([]);
    const history = exportHistory(queue.workflowId);
    expect(patchMarkers(history)).toEqual(['destination-backoff-cap-2026-12']);
    writeFileSync(path.join(FIXTURES, 'destination-retrying.json'), history);
  } finally {
    await env.stop();
    await hook.close();
  }
}

/**
 * A trigger on a Helm repository whose newest versions differ only in build metadata: it releases
 * 1.3.1+build.10 over +build.9, asking the build-metadata-numeric-order patch (asked only then).
 */
async function recordMetadataOrder(): Promise<void> {
  const index = ['1.3.0', '1.3.1+build.9', '1.3.1+build.10']
    .map(
      (v) =>
        `  - { apiVersion: v2, name: app, version: ${v}, digest: ${'0'.repeat(64)}, urls: [app-${v}.tgz] }`,
    )
    .join('\n');
  const repo = await startServer((req, res) => {
    if (req.url !== '/repo/index.yaml') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/yaml' }).end(`apiVersion: v1\nentries:\n  app:\n${index}\n`);
  });
  const charts: HelmHttpFeed = {
    id: 'charts',
    type: 'helm',
    url: `${repo.url}/repo`,
    auth: { kind: 'anonymous' },
    maxTags: DEFAULT_MAX_TAGS,
    maxIndexBytes: 64 * 1024 * 1024,
  };
  const env = await startTestWorker({ feeds: new Map([['charts', charts]]) });
  try {
    await putProject(env, {
      name: 'replay-metadata',
      packages: [{ name: 'app', feed: 'charts', package: 'app' }],
    });
    await startTrigger(env, {
      project: 'replay-metadata',
      name: 'app',
      intervalSeconds: 600,
    });
    const [release] = await waitForReleases(env, 'replay-metadata', 1);
    expect(release.packages.map((p) => p.tag)).toEqual(['1.3.1+build.10']);
    const trigger = env.client.workflow.getHandle('trigger/replay-metadata/app');
    await settledHistory(trigger);
    const history = exportHistory(trigger.workflowId);
    expect(patchMarkers(history)).toContain('build-metadata-numeric-order');
    writeFileSync(path.join(FIXTURES, 'trigger-build-metadata.json'), history);
    await trigger.terminate('recorded');
  } finally {
    await env.stop();
    await repo.close();
  }
}

/**
 * environment-frozen.json: a queue holding an automatic deployment for a freeze on a timer, then deploying
 * it when the freeze ends (the freeze-holds-deployments-2026-12 patch).
 */
async function recordFrozen(): Promise<void> {
  const hook = await startServer((_req, res) => void res.writeHead(200).end());
  const env = await startTestWorker();
  try {
    const target = { name: 'hook', type: 'webhook' as const, url: `${hook.url}/deploy` };
    await putProject(env, {
      name: 'frozen',
      packages: [{ name: 'web', feed: 'registry.example', package: 'frozen/web' }],
      environments: [{ name: 'dev', targets: [target] }],
      lifecycles: [{ name: 'standard', phases: [{ name: 'dev', environments: ['dev'], automatic: true }] }],
      lifecycle: 'standard',
    });
    const clock = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString().slice(0, 19);
    await env.ledger.freezes.save(
      FreezeSpecSchema.parse({ name: 'hold', timeZone: 'UTC', start: clock(-60_000), end: clock(4_000) }),
      'recorder',
    );
    const activities = createLedgerActivities({
      ledger: env.ledger,
      client: env.client,
      taskQueue: env.taskQueue,
    });
    await activities.createRelease({
      project: 'frozen',
      request: {
        channel: 'default',
        packages: [
          { name: 'web', feed: 'registry.example', package: 'frozen/web', tag: '1.0.0', digest: null },
        ],
        watched: ['web'],
        requireLater: true,
        reason: 'recorded',
        source: { kind: 'manual' },
        key: 'frozen-1.0.0',
      },
    });
    const queue = env.client.workflow.getHandle('environment/frozen/dev');
    await eventually(async () => {
      try {
        await queue.result();
        return true;
      } catch {
        return undefined;
      }
    }, 'the queue to deploy after the freeze and end');
    const history = exportHistory(queue.workflowId);
    expect(patchMarkers(history)).toContain('freeze-holds-deployments-2026-12');
    writeFileSync(path.join(FIXTURES, 'environment-frozen.json'), history);
  } finally {
    await env.stop();
    await hook.close();
  }
}

/**
 * Runs `record` on a worker with package watchers (one shard) over a registry of its own (feed `local`), then
 * ends the shard's watcher if it still runs, and stops both.
 */
/** A recorder's registry and worker (its options may name the registry), both stopped after it. */
async function withWorker(
  options: (registry: TestRegistry) => Parameters<typeof startTestWorker>[0],
  record: (registry: TestRegistry, env: TestWorkerEnv) => Promise<void>,
): Promise<void> {
  const registry = await TestRegistry.start();
  const env = await startTestWorker(options(registry));
  try {
    await record(registry, env);
  } finally {
    await env.stop();
    await registry.stop();
  }
}

async function withWatchers(
  record: (registry: TestRegistry, env: TestWorkerEnv) => Promise<void>,
): Promise<void> {
  await withWorker(
    (registry) => ({
      feeds: new Map([['local', ociFeed('local', registry.url)]]),
      pollCacheMs: 60_000,
      watcherShards: 1,
    }),
    async (registry, env) => {
      await record(registry, env);
      await env.client.workflow
        .getHandle(watcherWorkflowId(env.taskQueue, 0))
        .terminate('recorded')
        .catch((err: unknown) => {
          if (!(err instanceof WorkflowNotFoundError)) throw err; // a recorder that ended it already
        });
    },
  );
}

/**
 * A trigger on a worker that runs package watchers: it subscribes (package watchers, now under the
 * trigger-paths-2026-12 umbrella), then
 * sleeps on its safety interval and is woken by the watcher for a push, which it releases. Records the
 * watcher's history (watcher.json). trigger-watched.json is this trigger as it ran before polls reported
 * their listing's fingerprint (it polled once more on its own interval after subscribing): kept as recorded,
 * since this code records the caught-up shape (trigger-watched-caught-up.json, below).
 */
async function recordWatched(): Promise<void> {
  await withWatchers(async (registry, env) => {
    await pushImage(registry.url, 'replay/watched', '1.0.0');
    await putProject(env, {
      name: 'replay-watched',
      packages: [{ name: 'app', feed: 'local', package: 'replay/watched' }],
    });
    const state = await startTrigger(env, {
      project: 'replay-watched',
      name: 'app',
      intervalSeconds: 10,
    });
    await waitForReleases(env, 'replay-watched', 1);
    await eventually(async () => ((await state()).watching ? true : undefined), 'the trigger subscribed');
    await pushImage(registry.url, 'replay/watched', '1.1.0');
    await waitForReleases(env, 'replay-watched', 2, 60_000);
    const trigger = env.client.workflow.getHandle('trigger/replay-watched/app');
    await settledHistory(trigger);
    expect(patchMarkers(exportHistory(trigger.workflowId))).toEqual(['trigger-paths-2026-12b']);
    const watcher = env.client.workflow.getHandle(watcherWorkflowId(env.taskQueue, 0));
    await settledHistory(watcher);
    writeFileSync(path.join(FIXTURES, 'watcher.json'), exportHistory(watcher.workflowId));
    await trigger.terminate('recorded');
    await watcher.terminate('recorded');
  });
}

/**
 * trigger-watched-caught-up.json: a trigger whose subscription finds the watcher comparing against the
 * listing its poll saw (the package's fingerprint in its poll result and in the subscription), so it sleeps
 * on its safety interval at once, with no poll of its own after subscribing; woken by the watcher for a push.
 */
async function recordWatchedCaughtUp(): Promise<void> {
  await withWatchers(async (registry, env) => {
    await pushImage(registry.url, 'replay/caught-up', '1.0.0');
    await putProject(env, {
      name: 'replay-caught-up',
      packages: [{ name: 'app', feed: 'local', package: 'replay/caught-up' }],
    });
    const state = await startTrigger(env, { project: 'replay-caught-up', name: 'app', intervalSeconds: 10 });
    await waitForReleases(env, 'replay-caught-up', 1);
    await eventually(async () => ((await state()).watching?.caughtUp ? true : undefined), 'caught up');
    await pushImage(registry.url, 'replay/caught-up', '1.1.0');
    await waitForReleases(env, 'replay-caught-up', 2, 60_000);
    const trigger = env.client.workflow.getHandle('trigger/replay-caught-up/app');
    await settledHistory(trigger);
    writeFileSync(path.join(FIXTURES, 'trigger-watched-caught-up.json'), exportHistory(trigger.workflowId));
    await trigger.terminate('recorded');
  });
}

/**
 * Project `replay-<name>` with packages web and worker (images `replay/<name>-web` 1.0.0, `-worker` 2.0.0), and
 * its trigger `web` on a worker with package watchers, watching web: its first release, then web 1.1.0's (with
 * worker 2.0.0 taken along). Returns the trigger's handle.
 */
async function releaseWebTwice(registry: TestRegistry, env: TestWorkerEnv, name: string) {
  const project = `replay-${name}`;
  await pushImage(registry.url, `replay/${name}-web`, '1.0.0');
  await pushImage(registry.url, `replay/${name}-worker`, '2.0.0');
  await putProject(env, {
    name: project,
    packages: [
      { name: 'web', feed: 'local', package: `replay/${name}-web` },
      { name: 'worker', feed: 'local', package: `replay/${name}-worker` },
    ],
  });
  const state = await startTrigger(env, { project, name: 'web', watch: ['web'], intervalSeconds: 10 });
  await waitForReleases(env, project, 1);
  await eventually(async () => ((await state()).watching?.caughtUp ? true : undefined), 'caught up');
  await pushImage(registry.url, `replay/${name}-web`, '1.1.0');
  const [second] = await waitForReleases(env, project, 2, 60_000);
  expect(second.packages.map((p) => p.tag)).toEqual(['1.1.0', '2.0.0']);
  return env.client.workflow.getHandle(`trigger/${project}/web`);
}

/**
 * trigger-newest.json: a trigger started by this code (the trigger-paths-2026-12b umbrella, its only patch
 * marker), on a worker with package watchers, watching one of two packages: woken for a push, it polls the
 * other package and creates the release in the workflow task (local activities: no activity task at all).
 * trigger-latest.json is the same trigger under trigger-paths-2026-12 (its release an activity task), kept as
 * recorded.
 */
async function recordNewest(): Promise<void> {
  await withWatchers(async (registry, env) => {
    const trigger = await releaseWebTwice(registry, env, 'newest');
    await settledHistory(trigger);
    const history = exportHistory(trigger.workflowId);
    expect(patchMarkers(history)).toEqual(['trigger-paths-2026-12b']);
    // Every poll and both releases ran in a workflow task: no activity task.
    expect(activityTasks(history)).toEqual([]);
    writeFileSync(path.join(FIXTURES, 'trigger-newest.json'), history);
    await trigger.terminate('recorded');
  });
}

/**
 * trigger-named-paths.json: a trigger started by this code, whose input names its paths (TRIGGER_PATHS) and
 * the watched packages it published: no patch marker, no search-attribute upsert for one, and the same
 * releases as trigger-newest.json; then a change of its watch list, which publishes the new packages.
 */
async function recordNamedPaths(): Promise<void> {
  await withWatchers(async (registry, env) => {
    const trigger = await releaseWebTwice(registry, env, 'named');
    await configureTrigger(trigger, { channel: 'default', watch: ['web', 'worker'], intervalSeconds: 10 });
    await pushImage(registry.url, 'replay/named-worker', '2.1.0');
    const [third] = await waitForReleases(env, 'replay-named', 3, 60_000);
    expect(third.packages.map((p) => p.tag)).toEqual(['1.1.0', '2.1.0']);
    await settledHistory(trigger);
    const history = exportHistory(trigger.workflowId);
    interface ExportedEvent {
      workflowExecutionStartedEventAttributes?: { input: { payloads: { data: string }[] } };
      upsertWorkflowSearchAttributesEventAttributes?: {
        searchAttributes?: { indexedFields?: Record<string, unknown> };
      };
    }
    const { events } = JSON.parse(history.toString()) as { events: ExportedEvent[] };
    const started = events[0].workflowExecutionStartedEventAttributes!;
    const input = JSON.parse(Buffer.from(started.input.payloads[0].data, 'base64').toString());
    expect([input.paths, input.packages]).toEqual([
      TRIGGER_PATHS,
      [expect.stringMatching(/\/replay\/named-web$/)],
    ]);
    expect(patchMarkers(history)).toEqual([]);
    const upserted = events.flatMap((e) =>
      Object.keys(e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {}),
    );
    expect(upserted).toEqual([PACKAGES_ATTRIBUTE.name]);
    writeFileSync(path.join(FIXTURES, 'trigger-named-paths.json'), history);
    await trigger.terminate('recorded');
  });
}

/**
 * release-idle.json: the release of a project with no destination and no lifecycle, which its creation
 * marks idle: the idle-release-2026-12 patch, one workflow task and no activity.
 */
async function recordIdleRelease(): Promise<void> {
  await withWorker(
    () => ({}),
    async (registry, env) => {
      await pushImage(registry.url, 'replay/idle', '1.0.0');
      await putProject(env, {
        name: 'replay-idle',
        packages: [{ name: 'idle', feed: registry.host, package: 'replay/idle' }],
      });
      await startTrigger(env, { project: 'replay-idle', name: 'idle', intervalSeconds: 600 });
      const [release] = await waitForReleases(env, 'replay-idle', 1);
      const handle = env.client.workflow.getHandle(`release/replay-idle/${release.number}`);
      await handle.result();
      const history = exportHistory(handle.workflowId);
      expect(patchMarkers(history)).toEqual(['idle-release-2026-12']);
      expect(activityTasks(history)).toEqual([]);
      writeFileSync(path.join(FIXTURES, 'release-idle.json'), history);
      await env.client.workflow.getHandle('trigger/replay-idle/idle').terminate('recorded');
    },
  );
}

/**
 * trigger-first-poll-at-slot.json: a trigger started as the bulk endpoint starts a large manifest's
 * (`firstPoll: 'slot'`): it waits for its slot, releases there, and goes on with idle polls.
 */
async function recordFirstPollAtSlot(): Promise<void> {
  const registry = await TestRegistry.start();
  const env = await startTestWorker();
  try {
    await pushImage(registry.url, 'replay/slot', '1.0.0');
    await putProject(env, {
      name: 'replay-slot',
      packages: [{ name: 'app', feed: registry.host, package: 'replay/slot' }],
    });
    const state = await startTrigger(
      env,
      { project: 'replay-slot', name: 'app', intervalSeconds: 10 },
      { firstPoll: 'slot' },
    );
    await waitForReleases(env, 'replay-slot', 1, 30_000);
    await eventually(
      async () => ((await state()).iterations >= 2 ? true : undefined),
      'an idle poll after the first',
    );
    const trigger = env.client.workflow.getHandle('trigger/replay-slot/app');
    await settledHistory(trigger);
    const history = exportHistory(trigger.workflowId);
    expect(patchMarkers(history)).toContain('first-poll-at-slot-2026-12');
    writeFileSync(path.join(FIXTURES, 'trigger-first-poll-at-slot.json'), history);
    await trigger.terminate('recorded');
  } finally {
    await env.stop();
    await registry.stop();
  }
}

/**
 * environment-scheduled.json: a queue waiting on a timer for a deployment scheduled 2 s ahead, then deploying
 * it (the scheduled-deployments-2026-12 patch).
 */
async function recordScheduled(): Promise<void> {
  const hook = await startServer((_req, res) => void res.writeHead(200).end());
  const env = await startTestWorker();
  try {
    const target = { name: 'hook', type: 'webhook' as const, url: `${hook.url}/deploy` };
    await putProject(env, {
      name: 'scheduled',
      packages: [{ name: 'web', feed: 'registry.example', package: 'scheduled/web' }],
      environments: [{ name: 'prod', targets: [target] }],
      lifecycles: [{ name: 'standard', phases: [{ name: 'prod', environments: ['prod'] }] }],
      lifecycle: 'standard',
    });
    const activities = createLedgerActivities({
      ledger: env.ledger,
      client: env.client,
      taskQueue: env.taskQueue,
    });
    const created = await activities.createRelease({
      project: 'scheduled',
      request: {
        channel: 'default',
        packages: [
          { name: 'web', feed: 'registry.example', package: 'scheduled/web', tag: '1.0.0', digest: null },
        ],
        watched: ['web'],
        requireLater: true,
        reason: 'recorded',
        source: { kind: 'manual' },
        key: 'scheduled-1.0.0',
      },
    });
    await env.client.workflow
      .getHandle(`release/scheduled/${created.release!.number}`)
      .executeUpdate(deployUpdate, {
        args: [
          {
            environment: 'prod',
            force: false,
            requestedBy: 'recorder',
            schedule: { deployAt: new Date(Date.now() + 2_000).toISOString() },
          },
        ],
      });
    const queue = env.client.workflow.getHandle('environment/scheduled/prod');
    await queue.result();
    const history = exportHistory(queue.workflowId);
    expect(patchMarkers(history)).toContain('scheduled-deployments-2026-12');
    writeFileSync(path.join(FIXTURES, 'environment-scheduled.json'), history);
  } finally {
    await env.stop();
    await hook.close();
  }
}

/**
 * release-tenants.json: a tenanted project's release whose automatic phase deploys to two tenants, each in a
 * queue of its own (the tenanted-deployments-2026-12 patch).
 */
async function recordTenants(): Promise<void> {
  const hook = await startServer((_req, res) => void res.writeHead(200).end());
  const env = await startTestWorker();
  try {
    const target = { name: 'hook', type: 'webhook' as const, url: `${hook.url}/deploy` };
    for (const tenant of ['acme', 'globex'])
      await env.ledger.tenants.save({ name: tenant, description: '', tags: [] }, 'recorder');
    await putProject(env, {
      name: 'tenanted',
      packages: [{ name: 'web', feed: 'registry.example', package: 'tenanted/web' }],
      environments: [{ name: 'dev', targets: [target] }],
      lifecycles: [{ name: 'standard', phases: [{ name: 'dev', environments: ['dev'], automatic: true }] }],
      lifecycle: 'standard',
      tenantedDeployments: 'tenanted',
      tenants: [
        { tenant: 'acme', environments: ['dev'] },
        { tenant: 'globex', environments: ['dev'] },
      ],
    });
    const activities = createLedgerActivities({
      ledger: env.ledger,
      client: env.client,
      taskQueue: env.taskQueue,
    });
    const created = await activities.createRelease({
      project: 'tenanted',
      request: {
        channel: 'default',
        packages: [
          { name: 'web', feed: 'registry.example', package: 'tenanted/web', tag: '1.0.0', digest: null },
        ],
        watched: ['web'],
        requireLater: true,
        reason: 'recorded',
        source: { kind: 'manual' },
        key: 'tenanted-1.0.0',
      },
    });
    const release = env.client.workflow.getHandle(`release/tenanted/${created.release!.number}`);
    await release.result();
    const history = exportHistory(release.workflowId);
    expect(patchMarkers(history)).toContain('tenanted-deployments-2026-12');
    writeFileSync(path.join(FIXTURES, 'release-tenants.json'), history);
  } finally {
    await env.stop();
    await hook.close();
  }
}

/**
 * retention.json: a retention run (the workflow the hourly schedule starts) that removes two releases of a
 * project keeping one, a statement each (`batch: 1`), in one round: one activity, then the run ends.
 */
async function recordRetention(): Promise<void> {
  const env = await startTestWorker();
  try {
    await putProject(env, {
      name: 'retained',
      packages: [{ name: 'web', feed: 'registry.example', package: 'retained/web' }],
      retention: { keepLast: 1 },
    });
    const activities = createLedgerActivities({
      ledger: env.ledger,
      client: env.client,
      taskQueue: env.taskQueue,
    });
    for (const tag of ['1.0.0', '1.1.0', '1.2.0'])
      await activities.createRelease({
        project: 'retained',
        request: {
          channel: 'default',
          packages: [{ name: 'web', feed: 'registry.example', package: 'retained/web', tag, digest: null }],
          watched: ['web'],
          requireLater: true,
          reason: 'recorded',
          source: { kind: 'manual' },
          key: `retained-${tag}`,
        },
      });
    const run = await env.client.workflow.start<RetentionWorkflow>('retention', {
      taskQueue: env.taskQueue,
      workflowId: 'retention/recorded',
      args: [{ batch: 1 }],
    });
    expect(await run.result()).toEqual({ removed: 2 });
    writeFileSync(path.join(FIXTURES, 'retention.json'), exportHistory(run.workflowId));
  } finally {
    await env.stop();
  }
}

/** The IDs of the patch markers an exported history holds, in order. */
/** The activity tasks an exported history scheduled. */
function activityTasks(history: Buffer): Record<string, unknown>[] {
  const { events } = JSON.parse(history.toString()) as { events: Record<string, unknown>[] };
  return events.filter((e) => e.activityTaskScheduledEventAttributes !== undefined);
}

function patchMarkers(history: Buffer): string[] {
  return patchMarkersOf(
    (JSON.parse(history.toString()) as { events: Parameters<typeof patchMarkersOf>[0] }).events,
  );
}

/** The Temporal CLI's JSON export, the format `temporal workflow show --output json` gives operators too. */
function exportHistory(workflowId: string): Buffer {
  return execFileSync(findTemporalCli()!, [
    'workflow',
    'show',
    '--address',
    process.env.FEED_TRIGGERS_TEST_TEMPORAL_ADDRESS!,
    '--namespace',
    process.env.FEED_TRIGGERS_TEST_NAMESPACE!,
    '-w',
    workflowId,
    '--output',
    'json',
  ]);
}

test('replays recorded trigger, release and destination histories without nondeterminism', async () => {
  if (process.env.RECORD_HISTORIES === '1') await record();
  if (process.env.RECORD_LIFECYCLE_HISTORIES === '1') await recordLifecycle();
  if (process.env.RECORD_HEALING_HISTORIES === '1') await recordHealing();
  if (process.env.RECORD_WANTED_HISTORY === '1') await recordWanted();
  if (process.env.RECORD_OUTAGE_HISTORY === '1') await recordOutage('trigger-feed-outage.json');
  if (process.env.RECORD_OUTAGE_DUE_HISTORY === '1') await recordOutage('trigger-failing-poll-due.json');
  if (process.env.RECORD_ANNOUNCED_HISTORY === '1') await recordOutage('trigger-announced.json');
  if (process.env.RECORD_DESTINATION_RETRY_HISTORY === '1') await recordDestinationRetry();
  if (process.env.RECORD_METADATA_HISTORY === '1') await recordMetadataOrder();
  if (process.env.RECORD_FROZEN_HISTORY === '1') await recordFrozen();
  if (process.env.RECORD_WATCHED_HISTORY === '1') await recordWatched();
  if (process.env.RECORD_CAUGHT_UP_HISTORY === '1') await recordWatchedCaughtUp();
  if (process.env.RECORD_NEWEST_HISTORY === '1') await recordNewest();
  if (process.env.RECORD_NAMED_PATHS_HISTORY === '1') await recordNamedPaths();
  if (process.env.RECORD_SCHEDULED_HISTORY === '1') await recordScheduled();
  if (process.env.RECORD_RETENTION_HISTORY === '1') await recordRetention();
  if (process.env.RECORD_TENANT_HISTORY === '1') await recordTenants();
  if (process.env.RECORD_FIRST_POLL_HISTORY === '1') await recordFirstPollAtSlot();
  if (process.env.RECORD_IDLE_HISTORY === '1') await recordIdleRelease();
  const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.json'));
  expect(files.sort()).toEqual([
    'destination-retrying.json',
    'destination.json',
    'environment-frozen.json',
    'environment-retrying.json',
    'environment-scheduled.json',
    'environment.json',
    'release-idle.json',
    'release-lifecycle.json',
    'release-stranded.json',
    'release-tenants.json',
    'release.json',
    'retention.json',
    'trigger-announced.json',
    'trigger-before-even-phases.json',
    'trigger-before-ledger.json',
    'trigger-before-one-patch.json',
    'trigger-build-metadata.json',
    'trigger-failing-poll-due.json',
    'trigger-feed-outage.json',
    'trigger-first-poll-at-slot.json',
    'trigger-latest.json',
    'trigger-named-paths.json',
    'trigger-newest.json',
    'trigger-remote-poll.json',
    'trigger-rolling-upgrade.json',
    'trigger-wanted-tag.json',
    'trigger-watched-caught-up.json',
    'trigger-watched.json',
    'trigger.json',
    'watcher.json',
  ]);
  const script = path.resolve(__dirname, '../../dist/scripts/replay-histories.js');
  const { stdout } = await promisify(execFile)(process.execPath, [
    script,
    FIXTURES,
    process.env.FEED_TRIGGERS_TEST_BUNDLE!,
  ]);
  expect(stdout.trim().split('\n')).toEqual([
    'replayed destination-retrying.json',
    'replayed destination.json',
    'replayed environment-frozen.json',
    'replayed environment-retrying.json',
    'replayed environment-scheduled.json',
    'replayed environment.json',
    'replayed release-idle.json',
    'replayed release-lifecycle.json',
    'replayed release-stranded.json',
    'replayed release-tenants.json',
    'replayed release.json',
    'replayed retention.json',
    'replayed trigger-announced.json',
    'replayed trigger-before-even-phases.json',
    'replayed trigger-before-ledger.json',
    'replayed trigger-before-one-patch.json',
    'replayed trigger-build-metadata.json',
    'replayed trigger-failing-poll-due.json',
    'replayed trigger-feed-outage.json',
    'replayed trigger-first-poll-at-slot.json',
    'replayed trigger-latest.json',
    'replayed trigger-named-paths.json',
    'replayed trigger-newest.json',
    'replayed trigger-remote-poll.json',
    'replayed trigger-rolling-upgrade.json',
    'replayed trigger-wanted-tag.json',
    'replayed trigger-watched-caught-up.json',
    'replayed trigger-watched.json',
    'replayed trigger.json',
    'replayed watcher.json',
  ]);
}, 120_000);
