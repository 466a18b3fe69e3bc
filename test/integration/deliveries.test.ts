import { Context } from '@temporalio/activity';
import { DefaultLogger, LogEntry } from '@temporalio/worker';
import { CreateReleaseRequest, DeliveryOrder } from '../../src/domain/project';
import { startApi, TestApi } from '../support/api';
import {
  appPackage,
  DestinationHook,
  destinationProject,
  hookDeliveries,
  recordRelease,
  startDestinationHook,
} from '../support/deliveries';
import { putProject, startTrigger, waitForReleases } from '../support/projects';
import { pushImage, TestRegistry } from '../support/registry';
import { eventually, startTestWorker, TestWorkerEnv } from '../support/temporal';

/**
 * Releases after they are recorded: a workflow per release hands each to its destinations' queues, which
 * deliver in release order, never older after newer, with true attempt counts. The two long waits have files
 * of their own, so they overlap the others: a 35 s outage (delivery-outage.test.ts) and hundreds of attempts
 * (delivery-history.test.ts).
 */
let env: TestWorkerEnv;
let api: TestApi;
let registry: TestRegistry;
let hook: DestinationHook;
const logs: string[] = [];

beforeAll(async () => {
  registry = await TestRegistry.start();
  hook = await startDestinationHook();
  env = await startTestWorker({
    // Short waits between attempts, ten attempts per activity, so many attempts fit in a test (Temporal's
    // timers fire at ~1 s granularity).
    deliveryBackoff: { initialMs: 5, maxMs: 20, quickTries: 10 },
    queueHistoryLimit: 100,
    logger: new DefaultLogger('WARN', (entry: LogEntry) => logs.push(entry.message)),
  });
  api = await startApi(env);
});

afterAll(async () => {
  await api?.close();
  await env?.stop();
  await hook?.close();
  await registry?.stop();
});

const app = (project: string) => appPackage(registry.host, project);
const project = (name: string, order: DeliveryOrder, path = name) =>
  destinationProject(env, { feed: registry.host, hook, name, order, path });
const release = (project: string, tag: string) => recordRelease(env, { feed: registry.host, project, tag });
const received = (path: string) => hook.received(path);
const deliveries = (project: string) => hookDeliveries(env, project);

describe('deliveries in order, per destination', () => {
  test('`every`: a destination down across three releases gets all three, oldest first, once up', async () => {
    hook.up = false;
    await project('every', 'every');
    for (const tag of ['1.0.0', '1.1.0', '1.2.0']) await release('every', tag);
    await eventually(async () => (received('every').length >= 3 ? true : undefined), 'attempts while down');
    // While down, only the oldest release is tried: the queue does not skip ahead.
    expect(new Set(received('every'))).toEqual(new Set(['0.0.1']));
    const attemptsWhileDown = received('every').length;
    hook.up = true;
    const done = await eventually(async () => {
      const d = await deliveries('every');
      return Object.values(d).every((x) => x.status === 'delivered') ? d : undefined;
    }, 'all delivered');
    const after = received('every').slice(attemptsWhileDown - 1);
    expect(after.slice(-3)).toEqual(['0.0.1', '0.0.2', '0.0.3']);
    // Attempt counts are the requests really sent.
    expect(done['0.0.1'].attempts).toBe(received('every').filter((n) => n === '0.0.1').length);
    expect([done['0.0.2'].attempts, done['0.0.3'].attempts]).toEqual([1, 1]);
    await eventually(
      async () =>
        (await env.client.workflow.getHandle('release/every/0.0.3').describe()).status.name === 'COMPLETED'
          ? true
          : undefined,
      'the release workflow to end',
    );
    expect(await env.client.workflow.getHandle('release/every/0.0.3').result()).toEqual({
      hook: 'delivered',
    });
  });

  test('`latest`: a destination down across three releases gets only the newest; older ones are superseded', async () => {
    hook.up = false;
    await project('latest', 'latest');
    await release('latest', '1.0.0');
    await eventually(async () => (received('latest').length >= 2 ? true : undefined), 'attempts while down');
    await release('latest', '1.1.0');
    await release('latest', '1.2.0');
    hook.up = true;
    const done = await eventually(async () => {
      const d = await deliveries('latest');
      return d['0.0.3'].status === 'delivered' ? d : undefined;
    }, 'the newest delivered');
    expect([done['0.0.1'].status, done['0.0.2'].status]).toEqual(['superseded', 'superseded']);
    // Never an older release after a newer one: the last request is the newest, and nothing older follows it.
    const sent = received('latest');
    expect(sent.at(-1)).toBe('0.0.3');
    expect(new Set(sent.slice(sent.indexOf('0.0.3')))).toEqual(new Set(['0.0.3']));
    expect(await env.client.workflow.getHandle('release/latest/0.0.1').result()).toEqual({
      hook: 'superseded',
    });
  });

  test('`latest` with a slow destination that loses its answers: a release it received is delivered, never superseded; only never-sent ones are', async () => {
    hook.up = true;
    await project('doubt', 'latest');
    hook.slow.set('doubt', 300);
    hook.dropping.add('doubt');
    await release('doubt', '1.0.0');
    // The destination receives 0.0.1 (more than once) but its answers are lost.
    await eventually(async () => (received('doubt').length >= 2 ? true : undefined), 'requests received');
    await release('doubt', '1.1.0');
    await release('doubt', '1.2.0');
    await eventually(
      async () => (received('doubt').length >= 4 ? true : undefined),
      'more requests received',
    );
    hook.dropping.delete('doubt');
    const done = await eventually(async () => {
      const d = await deliveries('doubt');
      return d['0.0.3'].status === 'delivered' ? d : undefined;
    }, 'the newest delivered');
    const sent = received('doubt');
    // Every release the destination received is delivered in the ledger; superseded only what it never got.
    for (const number of new Set(sent)) expect(done[number].status).toBe('delivered');
    expect(done['0.0.1']).toMatchObject({ status: 'delivered' });
    expect(done['0.0.1'].attempts).toBe(sent.filter((n) => n === '0.0.1').length);
    expect(done['0.0.2']).toMatchObject({ status: 'superseded', attempts: 0 });
    expect(sent).not.toContain('0.0.2');
    // Still never an older release after a newer one.
    expect(new Set(sent.slice(sent.indexOf('0.0.3')))).toEqual(new Set(['0.0.3']));
  }, 60_000);

  test('deleting a project cancels its pending deliveries; a project re-created with its name starts clean', async () => {
    hook.up = false;
    await project('redo', 'every');
    await release('redo', '1.0.0');
    await eventually(async () => (received('redo').length >= 1 ? true : undefined), 'an attempt');
    const deleted = await api.request('DELETE', '/projects/redo');
    expect(deleted.status).toBe(200);
    expect(deleted.body.cancelled).toEqual(['release/redo/0.0.1', 'destination/redo/hook']);
    for (const id of deleted.body.cancelled)
      expect((await env.client.workflow.getHandle(id).describe()).status.name).toBe('CANCELLED');
    const attempts = received('redo').length;
    await new Promise((r) => setTimeout(r, 300));
    expect(received('redo')).toHaveLength(attempts); // nothing more is sent
    hook.up = true;
    await project('redo', 'every', 'redo-again');
    const again = await release('redo', '1.0.0');
    expect(again.number).toBe('0.0.1');
    await eventually(
      async () => (received('redo-again').length === 1 ? true : undefined),
      'the new delivery',
    );
    const res = await api.request('GET', '/projects/redo/releases/0.0.1');
    await eventually(
      async () =>
        (await api.request('GET', '/projects/redo/releases/0.0.1')).body.deliveries.hook.status ===
        'delivered'
          ? true
          : undefined,
      'delivered',
    );
    expect(res.body.createdAt).toBe(again.createdAt);
  });
});

describe('release creation is one idempotent transaction', () => {
  test('50 triggers racing on one push make one release, with no aborted updates', async () => {
    hook.up = true;
    // A project of its own for each try: a retried test must not meet the triggers of the try before.
    const herd = `herd-${Date.now().toString(36)}`;
    await pushImage(registry.url, `${herd}/app`, '1.0.0');
    await putProject(env, {
      name: herd,
      packages: [app(herd)],
      destinations: [{ name: 'hook', type: 'webhook', url: `${hook.url}/${herd}` }],
    });
    const states = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        startTrigger(env, { project: herd, name: `t${i}`, intervalSeconds: 3600 }),
      ),
    );
    const settled = await eventually(
      async () => {
        // Every query settles before the next probe: one that failed first must not leave the others
        // retrying on a loaded server after the test has closed its connection.
        const read = await Promise.allSettled(states.map((s) => s()));
        const all = read.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
        return all.length === states.length && all.every((s) => s.iterations >= 1) ? all : undefined;
      },
      'every trigger to evaluate once',
      // Fifty first evaluations at once queue behind each other on a loaded worker.
      180_000,
    );
    expect(await waitForReleases(env, herd, 1)).toHaveLength(1);
    const released = settled.filter((s) => s.history.at(-1)?.outcome === 'released');
    expect(released.map((s) => s.lastRelease?.number)).toEqual(['0.0.1']);
    // The others learn, in the words the trigger history uses, that their versions are already released
    // (they asked while it was being made) or not later (they loaded the channel after it).
    const reasons = settled.filter((s) => !released.includes(s)).map((s) => s.lastPoll?.reason);
    expect(reasons).toHaveLength(49);
    for (const reason of reasons)
      expect([
        'release 0.0.1 already holds these versions',
        "no watched package has a later version than the channel's previous release",
      ]).toContain(reason);
    await eventually(async () => (received(herd).length === 1 ? true : undefined), 'one delivery');
    expect(logs.filter((l) => /aborted/i.test(l))).toEqual([]);
    await Promise.all(
      states.map((_, i) => env.client.workflow.getHandle(`trigger/${herd}/t${i}`).terminate('test done')),
    );
  }, 300_000);

  test('a worker killed between the insert and the release workflow start: one release, one delivery', async () => {
    hook.up = true;
    await pushImage(registry.url, 'gap/app', '1.0.0');
    const taskQueue = `gap-${Date.now()}`;
    const crashing = await startTestWorker({
      taskQueue,
      database: env.database,
      extraActivities: {
        // Records the release, then "dies" before the release workflow is started.
        async createRelease(input: never) {
          const { project, request } = input as { project: string; request: CreateReleaseRequest };
          await env.ledger.createRelease(project, request);
          await Context.current().cancelled;
          throw new Error('unreachable');
        },
      },
    });
    await putProject(crashing, {
      name: 'gap',
      packages: [app('gap')],
      destinations: [{ name: 'hook', type: 'webhook', url: `${hook.url}/gap` }],
    });
    await startTrigger(crashing, { project: 'gap', name: 'app', intervalSeconds: 3600 });
    await waitForReleases(crashing, 'gap', 1);
    await crashing.stop();
    expect(received('gap')).toEqual([]); // recorded, never handed off
    const healthy = await startTestWorker({ taskQueue, database: env.database });
    try {
      await eventually(async () => (received('gap').length === 1 ? true : undefined), 'the delivery', 60_000);
      const release = await eventually(async () => {
        const [r] = await waitForReleases(env, 'gap', 1);
        return r.deliveries.hook.status === 'delivered' ? r : undefined;
      }, 'delivered');
      expect(release.deliveries.hook.attempts).toBe(1);
      await new Promise((r) => setTimeout(r, 500));
      expect(received('gap')).toEqual(['0.0.1']);
      expect(await waitForReleases(env, 'gap', 1)).toHaveLength(1);
    } finally {
      await env.client.workflow.getHandle('trigger/gap/app').terminate('test done');
      await healthy.stop();
    }
  }, 120_000);
});
