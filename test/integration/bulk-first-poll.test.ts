import { phaseHash } from '../../src/domain/trigger-machine';
import { watchedPackageKey } from '../../src/domain/trigger';
import { startApi, TestApi } from '../support/api';
import { pushImage, TestRegistry } from '../support/registry';
import { eventually, startTestWorker, TestWorkerEnv } from '../support/temporal';

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

const INTERVAL_MS = 3_600_000;

/**
 * A package whose slot in the hour is at least 10 minutes away now, so a trigger waiting for its slot cannot
 * reach it while the test runs (the slot is the package's, from its key: see TriggerMachine.nextPollDelayMs).
 */
function packageWithFarSlot(): string {
  for (let i = 0; ; i++) {
    const pkg = `bulk-slot/app${i}`;
    const phase = phaseHash(watchedPackageKey(registry.host, pkg)) % INTERVAL_MS;
    const untilSlot = INTERVAL_MS - ((((Date.now() - phase) % INTERVAL_MS) + INTERVAL_MS) % INTERVAL_MS);
    if (untilSlot > 10 * 60_000 && untilSlot < INTERVAL_MS - 10 * 60_000) return pkg;
  }
}

describe('triggers created in bulk with firstPoll: slot', () => {
  test('poll first at their slot, not at once, and still poll when asked', async () => {
    const pkg = packageWithFarSlot();
    await pushImage(registry.url, pkg, '1.0.0');
    await api.request('PUT', '/projects/bulk-slot', {
      packages: [{ name: 'app', feed: registry.host, package: pkg }],
    });
    const bulk = (body: Record<string, unknown>) =>
      api.request('POST', '/projects/bulk-slot/triggers/bulk', body);

    const refused = await bulk({ triggers: [{ name: 'x' }], firstPoll: 'later' });
    expect([refused.status, refused.body.errors?.[0]?.field]).toEqual([400, 'firstPoll']);

    const now = await bulk({ triggers: [{ name: 'now', intervalSeconds: 3600 }] });
    const slot = await bulk({ triggers: [{ name: 'slot', intervalSeconds: 3600 }], firstPoll: 'slot' });
    expect([now.status, slot.status, slot.body.results[0].created]).toEqual([200, 200, true]);
    const lastPoll = async (name: string) => {
      const res = await api.request('GET', `/triggers/bulk-slot/${name}`);
      return res.status === 200 ? (res.body.lastPoll as { at: string } | null) : undefined;
    };
    // The default polls at once (and releases); the one created for its slot has not polled since.
    await eventually(async () => ((await lastPoll('now')) ? true : undefined), 'the first poll of "now"');
    await eventually(
      async () =>
        (await api.request('GET', '/projects/bulk-slot/releases')).body.releases?.length === 1
          ? true
          : undefined,
      'the release of 1.0.0',
    );
    // Its first workflow task ended on the slot's timer, with no poll (a local activity's marker) before it.
    const history = async () =>
      (await env.client.workflow.getHandle('trigger/bulk-slot/slot').fetchHistory()).events ?? [];
    const events = await eventually(async () => {
      const all = await history();
      return all.some((e) => e.timerStartedEventAttributes) ? all : undefined;
    }, 'the timer of the first slot');
    // Nor a patch marker or search-attribute upsert: the run's input names its paths and its packages.
    expect(
      events.filter(
        (e) => e.markerRecordedEventAttributes || e.upsertWorkflowSearchAttributesEventAttributes,
      ),
    ).toEqual([]);
    expect(await lastPoll('slot')).toBeNull();

    // Waiting for its slot, it still answers a person's poll.
    expect((await api.request('POST', '/triggers/bulk-slot/slot/poll')).status).toBe(202);
    await eventually(
      async () => ((await lastPoll('slot')) ? true : undefined),
      'the asked-for poll of "slot"',
    );
    for (const t of ['now', 'slot']) await api.request('DELETE', `/triggers/bulk-slot/${t}`);
  });
});
