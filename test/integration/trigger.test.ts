import { ProjectRelease } from '../../src/domain/project';
import { TRIGGER_STATE_ATTRIBUTE } from '../../workflows/contracts/search-attributes';
import { TriggerState } from '../../src/domain/trigger';
import { startApi, TestApi } from '../support/api';
import { FaultProxy } from '../support/fault-proxy';
import { localActivities, patchMarkers } from '../support/markers';
import { pushImage, TestRegistry } from '../support/registry';
import {
  eventually,
  localActivityHeartbeats,
  settledHistory,
  startTestWorker,
  TestWorkerEnv,
} from '../support/temporal';

let registry: TestRegistry;
let env: TestWorkerEnv;
let api: TestApi;

beforeAll(async () => {
  registry = await TestRegistry.start();
  env = await startTestWorker();
  api = await startApi(env);
});

afterAll(async () => {
  await api?.close();
  await env?.stop();
  await registry?.stop();
});

type TriggerView = TriggerState & { status: string };

async function state(project: string, name: string): Promise<TriggerView> {
  const res = await api.request('GET', `/triggers/${project}/${name}`);
  if (res.status !== 200) throw new Error(`GET trigger: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as TriggerView;
}

async function releases(project: string): Promise<ProjectRelease[]> {
  const res = await api.request('GET', `/projects/${project}/releases?limit=100`);
  if (res.status !== 200) throw new Error(`GET releases: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.releases as ProjectRelease[];
}

async function waitForReleases(
  project: string,
  count: number,
  timeoutMs = 30_000,
): Promise<ProjectRelease[]> {
  return eventually(
    async () => {
      const r = await releases(project);
      return r.length >= count ? r : undefined;
    },
    `${count} release(s) of ${project}`,
    timeoutMs,
  );
}

async function putProject(name: string, body: object): Promise<void> {
  const res = await api.request('PUT', `/projects/${name}`, body);
  if (res.status !== 201 && res.status !== 200)
    throw new Error(`PUT project: ${res.status} ${JSON.stringify(res.body)}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a trigger on a real registry', () => {
  const project = 'shop';
  const name = 'web';

  test('releases 1.0.0, then 1.1.0, holds releases while paused, and catches up on resume', async () => {
    const digest100 = await pushImage(registry.url, 'shop/web', '1.0.0');
    await pushImage(registry.url, 'shop/web', 'not_a-version.sig', { kind: 'docker' });
    await putProject(project, { packages: [{ name: 'web', feed: registry.host, package: 'shop/web' }] });

    const created = await api.request('POST', `/projects/${project}/triggers`, { name, intervalSeconds: 10 });
    expect(created.status).toBe(201);

    const first = await waitForReleases(project, 1);
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({
      number: '0.0.1',
      channel: 'default',
      source: { kind: 'trigger', trigger: 'trigger/shop/web' },
    });
    expect(first[0].packages).toEqual([
      { name: 'web', feed: registry.host, package: 'shop/web', tag: '1.0.0', digest: digest100 },
    ]);
    // The ledger has the release as soon as createRelease returns; the trigger records it in its next task.
    await eventually(
      async () => ((await state(project, name)).lastRelease?.number === '0.0.1' ? true : undefined),
      'the trigger recording release 0.0.1',
    );

    // 1.1.0 is found by the next scheduled poll, without any signal.
    await pushImage(registry.url, 'shop/web', '1.1.0');
    const second = await waitForReleases(project, 2, 25_000);
    expect(second.map((r) => [r.number, r.packages[0].tag])).toEqual([
      ['0.0.2', '1.1.0'],
      ['0.0.1', '1.0.0'],
    ]);

    expect((await api.request('POST', `/triggers/${project}/${name}/pause`)).status).toBe(202);
    await eventually(async () => ((await state(project, name)).paused ? true : undefined), 'the pause');
    const pausedIterations = (await state(project, name)).iterations;
    await pushImage(registry.url, 'shop/web', '1.2.0');
    await sleep(31_000); // three intervals
    const paused = await state(project, name);
    expect(await releases(project)).toHaveLength(2);
    expect(paused.iterations).toBe(pausedIterations);
    expect(paused.status).toBe('paused');
    const description = await env.client.workflow.getHandle(`trigger/${project}/${name}`).describe();
    expect(description.typedSearchAttributes.get(TRIGGER_STATE_ATTRIBUTE)).toBe('paused');

    expect((await api.request('POST', `/triggers/${project}/${name}/resume`)).status).toBe(202);
    const resumed = await waitForReleases(project, 3, 8_000);
    expect(resumed[0].packages[0].tag).toBe('1.2.0');
    expect(resumed[0].number).toBe('0.0.3');
    expect((await state(project, name)).paused).toBe(false);

    const history = await eventually(async () => {
      const res = await api.request('GET', `/triggers/${project}/${name}/history`);
      return res.body.history[0]?.outcome === 'released' ? res : undefined;
    }, 'the trigger recording release 0.0.3');
    expect(history.body.history[0]).toMatchObject({
      outcome: 'released',
      release: '0.0.3',
      versions: { web: '1.2.0' },
    });
  }, 120_000);

  test('keeps its history and the pause flag across continue-as-new', async () => {
    const handle = env.client.workflow.getHandle(`trigger/${project}/${name}`);
    const before = await state(project, name);
    const runBefore = (await handle.describe()).runId;
    await api.request('POST', `/triggers/${project}/${name}/pause`);
    await api.request('POST', `/triggers/${project}/${name}/continue-as-new`);
    await eventually(
      async () => ((await handle.describe()).runId !== runBefore ? true : undefined),
      'a new run',
    );
    const after = await state(project, name);
    expect(after.runs).toBe(before.runs + 1);
    expect(after.paused).toBe(true);
    expect(after.lastRelease).toEqual(before.lastRelease);
    expect(after.history.slice(0, before.history.length)).toEqual(before.history);

    // Still a working trigger in the new run: resume and a new version is released.
    await pushImage(registry.url, 'shop/web', '1.3.0');
    await api.request('POST', `/triggers/${project}/${name}/resume`);
    const all = await waitForReleases(project, 4);
    expect(all[0].packages[0].tag).toBe('1.3.0');
  });

  test('an idle iteration is one local activity, one workflow task and a few events', async () => {
    const handle = env.client.workflow.getHandle(`trigger/${project}/${name}`);
    const iterations = async () => (await state(project, name)).iterations;
    // After the release of the previous test the channel changed: the first poll reloads it (in the same local activity).
    const warm = await iterations();
    await api.request('POST', `/triggers/${project}/${name}/poll`);
    await eventually(async () => ((await iterations()) > warm ? true : undefined), 'a warm-up evaluation');
    const start = (await settledHistory(handle)).length;
    const before = await iterations();
    for (let i = 1; i <= 3; i++) {
      await api.request('POST', `/triggers/${project}/${name}/poll`);
      await eventually(async () => ((await iterations()) >= before + i ? true : undefined), 'an evaluation');
    }
    // The timer of the last iteration is started in the task after the activity.
    const events = (await settledHistory(handle)).slice(start);
    const activities = events
      .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
      .filter((n): n is string => n !== undefined);
    expect(activities).toEqual([]);
    const localActivities = events.filter(
      (e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity',
    );
    expect(localActivities).toHaveLength(3);
    // Per iteration: the poll signal, one workflow task (3 events), the cancelled timer, the local
    // activity's marker and the new timer. A local activity slowed past 8 s by a loaded box makes the SDK
    // add a task of its own (3 events): those are left out of the count, and only those.
    const heartbeats = localActivityHeartbeats(events);
    const tasks = events.filter((e) => e.workflowTaskCompletedEventAttributes);
    expect(
      tasks.filter((e) => !heartbeats.has(String(e.workflowTaskCompletedEventAttributes!.scheduledEventId))),
    ).toHaveLength(3);
    expect((events.length - 3 * heartbeats.size) / 3).toBeLessThanOrEqual(7);
    expect((await state(project, name)).lastPoll?.outcome).toBe('no-change');
  });

  test("a new trigger's first evaluation, and the one after its release, run in their workflow tasks: no activity task", async () => {
    await pushImage(registry.url, 'fresh/api', '2.0.0');
    await putProject('fresh', { packages: [{ name: 'api', feed: registry.host, package: 'fresh/api' }] });
    const created = await api.request('POST', '/projects/fresh/triggers', {
      name: 'api',
      intervalSeconds: 3600,
    });
    expect(created.status).toBe(201);
    expect((await waitForReleases('fresh', 1))[0].packages).toEqual([
      expect.objectContaining({ name: 'api', tag: '2.0.0' }),
    ]);
    // The release moved the channel's revision: the next poll loads the new view and polls with its
    // watermark in the same local activity.
    await api.request('POST', '/triggers/fresh/api/poll');
    const after = await eventually(async () => {
      const s = await state('fresh', 'api');
      return s.iterations >= 2 ? s : undefined;
    }, 'the evaluation after the release');
    expect(after.lastPoll?.outcome).toBe('no-change');
    expect(after.view?.lastRelease?.packages).toEqual([
      expect.objectContaining({ name: 'api', tag: '2.0.0' }),
    ]);
    const events = await settledHistory(env.client.workflow.getHandle('trigger/fresh/api'));
    const activities = events
      .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
      .filter((n): n is string => n !== undefined);
    expect(activities).toEqual([]);
    // The first evaluation polls and creates its release in its workflow task; each evaluation changed what
    // the console shows (the first release, then the poll after it), so each is followed by its announcement.
    expect(localActivities(events).map((a) => a.type)).toEqual([
      'pollChannel',
      'createRelease',
      'announceTrigger',
      'pollChannel',
      'announceTrigger',
    ]);
    // No version marker (nor the search-attribute upsert beside one): the run's input names its paths
    // (TRIGGER_PATHS). Runs started before took them on one umbrella marker, trigger-paths-2026-12b.
    expect(patchMarkers(events)).toEqual([]);
    expect(events.filter((e) => e.upsertWorkflowSearchAttributesEventAttributes)).toEqual([]);
  });

  test('shows an unknown repository as an error in its state and keeps running', async () => {
    await putProject('ghosts', {
      packages: [{ name: 'ghost', feed: registry.host, package: 'shop/does-not-exist' }],
    });
    const created = await api.request('POST', '/triggers', {
      project: 'ghosts',
      name: 'ghost',
      intervalSeconds: 10,
    });
    expect(created.status).toBe(201);
    const failed = await eventually(async () => {
      const s = await state('ghosts', 'ghost');
      return s.lastError ? s : undefined;
    }, 'the feed error');
    expect(failed.lastError).toMatchObject({ package: 'ghost', code: 'NOT_FOUND' });
    expect(failed.lastError!.message).toMatch(/repository name not known to registry/);
    expect(failed.status).toBe('error');
    expect(failed.lastPoll?.outcome).toBe('error');
    expect(await releases('ghosts')).toEqual([]);

    // The trigger keeps running: a poll now is another evaluation, and a push then releases.
    await pushImage(registry.url, 'shop/does-not-exist', '2.0.0');
    await api.request('POST', '/triggers/ghosts/ghost/poll');
    const healed = await waitForReleases('ghosts', 1);
    expect(healed[0].packages[0].tag).toBe('2.0.0');
    const s = await state('ghosts', 'ghost');
    expect(s.iterations).toBeGreaterThan(failed.iterations);
    expect(s.status).toBe('active');
    expect(s.packages.ghost.error).toBeNull();
  });

  test('a channel rule holds back a version outside its range', async () => {
    await pushImage(registry.url, 'shop/api', '1.4.0');
    await pushImage(registry.url, 'shop/api', '2.0.0');
    await pushImage(registry.url, 'shop/api', '1.5.0-beta.1');
    await putProject('apis', {
      packages: [{ name: 'api', feed: registry.host, package: 'shop/api' }],
      channels: [{ name: 'v1', rules: [{ packages: ['api'], range: '[1.0,2.0)', tag: '^$' }] }],
    });
    const created = await api.request('POST', '/projects/apis/triggers', {
      name: 'api-v1',
      channel: 'v1',
      intervalSeconds: 10,
    });
    expect(created.status).toBe(201);
    const r = await waitForReleases('apis', 1);
    expect(r[0]).toMatchObject({ channel: 'v1' });
    expect(r[0].packages[0].tag).toBe('1.4.0');
    expect((await state('apis', 'api-v1')).packages.api.discovered).toEqual(['1.4.0']);
  });

  test('digest tracking releases a new digest behind a fixed mutable tag', async () => {
    const first = await pushImage(registry.url, 'shop/config', 'stable');
    await pushImage(registry.url, 'shop/config', '9.9.9');
    await putProject('configs', {
      packages: [{ name: 'config', feed: registry.host, package: 'shop/config' }],
      channels: [{ name: 'default', rules: [{ filter: '^stable$', trackDigest: true }] }],
    });
    expect(
      (await api.request('POST', '/projects/configs/triggers', { name: 'stable', intervalSeconds: 10 }))
        .status,
    ).toBe(201);
    const one = await waitForReleases('configs', 1);
    expect(one[0].packages[0]).toMatchObject({ tag: 'stable', digest: first });

    // Same digest again: polling does not release twice.
    const iterations = (await state('configs', 'stable')).iterations;
    await api.request('POST', '/triggers/configs/stable/poll');
    await eventually(
      async () => ((await state('configs', 'stable')).iterations > iterations ? true : undefined),
      'another poll',
    );
    expect(await releases('configs')).toHaveLength(1);

    const second = await pushImage(registry.url, 'shop/config', 'stable');
    expect(second).not.toBe(first);
    await api.request('POST', '/triggers/configs/stable/poll');
    const two = await waitForReleases('configs', 2);
    expect(two[0].packages[0]).toMatchObject({ tag: 'stable', digest: second });
    expect(two[0].reason).toMatch(/new digest/);
  });
});

test('a trigger read is answered while the trigger polls a feed that takes 10 s to answer', async () => {
  // The poll runs in the trigger's workflow task (a local activity); a read is a query the server holds until
  // that task completes or is heartbeaten (about every second): the read must not wait for the feed.
  const proxy = await FaultProxy.start(registry.url);
  try {
    await pushImage(registry.url, 'slow-read/app', '1.0.0');
    expect(
      (
        await api.request('PUT', '/projects/slow-read', {
          packages: [{ name: 'app', feed: proxy.host, package: 'slow-read/app' }],
        })
      ).status,
    ).toBe(201);
    expect(
      (await api.request('POST', '/projects/slow-read/triggers', { name: 'app', intervalSeconds: 3600 }))
        .status,
    ).toBe(201);
    await eventually(
      async () => ((await releases('slow-read')).length === 1 ? true : undefined),
      'release 1',
    );
    const listing = /^\/v2\/slow-read\/app\/tags\/list/;
    proxy.inject(listing, { kind: 'slow', ms: 10_000 }, 3);
    const before = proxy.count(listing);
    expect((await api.request('POST', '/triggers/slow-read/app/poll')).status).toBe(202);
    await eventually(async () => (proxy.count(listing) > before ? true : undefined), 'the slow poll');
    const pollStarted = Date.now();
    await new Promise((r) => setTimeout(r, 300));
    const view = await state('slow-read', 'app');
    expect(view.spec.name).toBe('app');
    // The poll was still waiting on the feed when the read was answered (how fast it answers is a bench's
    // business, not a test's).
    expect(Date.now() - pollStarted).toBeLessThan(10_000);
  } finally {
    await proxy.close();
  }
});
