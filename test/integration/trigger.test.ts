import { TriggerState } from '../../src/domain/trigger';
import { TRIGGER_STATE_ATTRIBUTE } from '../../src/domain/search-attributes';
import { startApi, TestApi } from '../support/api';
import { pushImage, TestRegistry } from '../support/registry';
import { eventually, startTestWorker, TestWorkerEnv } from '../support/temporal';

let registry: TestRegistry;
let env: TestWorkerEnv;
let api: TestApi;

beforeAll(async () => {
  registry = await TestRegistry.start();
  env = await startTestWorker();
  api = await startApi(env.client, env.taskQueue);
});

afterAll(async () => {
  await api?.close();
  await env?.stop();
  await registry?.stop();
});

async function state(project: string, name: string): Promise<TriggerState & { status: string }> {
  const res = await api.request('GET', `/triggers/${project}/${name}`);
  if (res.status !== 200) throw new Error(`GET trigger: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as TriggerState & { status: string };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a trigger on a real registry', () => {
  const project = 'shop';
  const name = 'web';

  test('releases 1.0.0, then 1.1.0, holds releases while paused, and catches up on resume', async () => {
    const digest100 = await pushImage(registry.url, 'shop/web', '1.0.0');
    await pushImage(registry.url, 'shop/web', 'latest');
    await pushImage(registry.url, 'shop/web', 'not_a-version.sig', { kind: 'docker' });

    const created = await api.request('POST', '/triggers', {
      project,
      name,
      intervalSeconds: 10,
      packages: [{ name: 'web', feed: registry.host, package: 'shop/web' }],
    });
    expect(created.status).toBe(201);

    const first = await eventually(async () => {
      const s = await state(project, name);
      return s.releases.length >= 1 ? s : undefined;
    }, 'the first release');
    expect(first.releases).toHaveLength(1);
    expect(first.releases[0].number).toBe('0.0.1');
    expect(first.releases[0].packages).toEqual([
      { name: 'web', feed: registry.host, package: 'shop/web', tag: '1.0.0', digest: digest100 },
    ]);

    // 1.1.0 is found by the next scheduled poll, without any signal.
    await pushImage(registry.url, 'shop/web', '1.1.0');
    const second = await eventually(
      async () => {
        const s = await state(project, name);
        return s.releases.length >= 2 ? s : undefined;
      },
      'the second release',
      25_000,
    );
    expect(second.releases.map((r) => [r.number, r.packages[0].tag])).toEqual([
      ['0.0.1', '1.0.0'],
      ['0.0.2', '1.1.0'],
    ]);

    expect((await api.request('POST', `/triggers/${project}/${name}/pause`)).status).toBe(202);
    await eventually(async () => ((await state(project, name)).paused ? true : undefined), 'the pause');
    const pausedIterations = (await state(project, name)).iterations;
    await pushImage(registry.url, 'shop/web', '1.2.0');
    await sleep(31_000); // three intervals
    const paused = await state(project, name);
    expect(paused.releases).toHaveLength(2);
    expect(paused.iterations).toBe(pausedIterations);
    expect(paused.status).toBe('paused');
    const description = await env.client.workflow.getHandle(`trigger/${project}/${name}`).describe();
    expect(description.typedSearchAttributes.get(TRIGGER_STATE_ATTRIBUTE)).toBe('paused');

    expect((await api.request('POST', `/triggers/${project}/${name}/resume`)).status).toBe(202);
    const resumed = await eventually(
      async () => {
        const s = await state(project, name);
        return s.releases.length >= 3 ? s : undefined;
      },
      'the release after resume',
      8_000,
    );
    expect(resumed.releases[2].packages[0].tag).toBe('1.2.0');
    expect(resumed.releases[2].number).toBe('0.0.3');
    expect(resumed.paused).toBe(false);
  }, 120_000);

  test('keeps releases and the pause flag across continue-as-new', async () => {
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
    expect(after.releases).toEqual(before.releases);
    expect(after.history.length).toBeGreaterThanOrEqual(before.history.length);

    // Still a working trigger in the new run: resume and a new version is released.
    await pushImage(registry.url, 'shop/web', '1.3.0');
    await api.request('POST', `/triggers/${project}/${name}/resume`);
    const released = await eventually(async () => {
      const s = await state(project, name);
      return s.releases.length > before.releases.length ? s : undefined;
    }, 'a release in the new run');
    expect(released.releases[released.releases.length - 1].packages[0].tag).toBe('1.3.0');
  });

  test('shows an unknown repository as an error in its state and keeps running', async () => {
    const created = await api.request('POST', '/triggers', {
      project,
      name: 'ghost',
      intervalSeconds: 10,
      packages: [{ name: 'ghost', feed: registry.host, package: 'shop/does-not-exist' }],
    });
    expect(created.status).toBe(201);
    const failed = await eventually(async () => {
      const s = await state(project, 'ghost');
      return s.lastError ? s : undefined;
    }, 'the feed error');
    expect(failed.lastError).toMatchObject({ package: 'ghost', code: 'NOT_FOUND' });
    expect(failed.lastError!.message).toMatch(/repository name not known to registry/);
    expect(failed.status).toBe('error');
    expect(failed.lastPoll?.outcome).toBe('error');
    expect(failed.releases).toEqual([]);

    // The trigger keeps running: a poll now is another evaluation, and a push then releases.
    await pushImage(registry.url, 'shop/does-not-exist', '2.0.0');
    await api.request('POST', `/triggers/${project}/ghost/poll`);
    const healed = await eventually(async () => {
      const s = await state(project, 'ghost');
      return s.releases.length === 1 ? s : undefined;
    }, 'the release after the repository appears');
    expect(healed.iterations).toBeGreaterThan(failed.iterations);
    expect(healed.releases[0].packages[0].tag).toBe('2.0.0');
    expect(healed.status).toBe('active');
    expect(healed.packages.ghost.error).toBeNull();
  });

  test('a channel rule holds back a version outside its range', async () => {
    await pushImage(registry.url, 'shop/api', '1.4.0');
    await pushImage(registry.url, 'shop/api', '2.0.0');
    await pushImage(registry.url, 'shop/api', '1.5.0-beta.1');
    const created = await api.request('POST', '/triggers', {
      project,
      name: 'api-v1',
      intervalSeconds: 10,
      packages: [{ name: 'api', feed: registry.host, package: 'shop/api' }],
      rules: [{ packages: ['api'], range: '[1.0,2.0)', tag: '^$' }],
    });
    expect(created.status).toBe(201);
    const s = await eventually(async () => {
      const st = await state(project, 'api-v1');
      return st.releases.length >= 1 ? st : undefined;
    }, 'the first release in range');
    expect(s.releases[0].packages[0].tag).toBe('1.4.0');
    expect(s.packages.api.discovered).toEqual(['1.4.0']);
  });

  test('digest tracking releases a new digest behind a fixed mutable tag', async () => {
    const first = await pushImage(registry.url, 'shop/config', 'stable');
    await pushImage(registry.url, 'shop/config', '9.9.9');
    const created = await api.request('POST', '/triggers', {
      project,
      name: 'config-stable',
      intervalSeconds: 10,
      packages: [{ name: 'config', feed: registry.host, package: 'shop/config' }],
      rules: [{ filter: '^stable$', trackDigest: true }],
    });
    expect(created.status).toBe(201);
    const one = await eventually(async () => {
      const st = await state(project, 'config-stable');
      return st.releases.length === 1 ? st : undefined;
    }, 'the first release of stable');
    expect(one.releases[0].packages[0]).toMatchObject({ tag: 'stable', digest: first });

    // Same digest again: polling does not release twice.
    await api.request('POST', `/triggers/${project}/config-stable/poll`);
    await eventually(
      async () => ((await state(project, 'config-stable')).iterations > one.iterations ? true : undefined),
      'another poll',
    );
    expect((await state(project, 'config-stable')).releases).toHaveLength(1);

    const second = await pushImage(registry.url, 'shop/config', 'stable');
    expect(second).not.toBe(first);
    await api.request('POST', `/triggers/${project}/config-stable/poll`);
    const two = await eventually(async () => {
      const st = await state(project, 'config-stable');
      return st.releases.length === 2 ? st : undefined;
    }, 'the release of the new digest');
    expect(two.releases[1].packages[0]).toMatchObject({ tag: 'stable', digest: second });
    expect(two.releases[1].reason).toMatch(/new digest/);
  });
});
