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

// Evaluated lazily: the registry's port is known only once it runs.
const valid = () => ({
  project: 'billing',
  name: 'worker',
  intervalSeconds: 10,
  packages: [{ name: 'worker', feed: registry?.host ?? '127.0.0.1:5000', package: 'billing/worker' }],
});

describe('the trigger API', () => {
  test.each([
    ['a missing project', { ...valid(), project: undefined }, 'project'],
    ['an interval below 10 seconds', { ...valid(), intervalSeconds: 5 }, 'intervalSeconds'],
    ['no packages', { ...valid(), packages: [] }, 'packages'],
    [
      'a bad repository path',
      { ...valid(), packages: [{ name: 'w', feed: 'docker.io', package: 'Bad Name' }] },
      'packages.0.package',
    ],
    ['an upper-case trigger name', { ...valid(), name: 'Worker' }, 'name'],
    ['an unknown field', { ...valid(), colour: 'blue' }, 'colour'],
    [
      'a rule naming an unknown package',
      { ...valid(), rules: [{ packages: ['nope'] }] },
      'rules.0.packages.0',
    ],
    ['a range that does not parse', { ...valid(), rules: [{ range: '[2.0,1.0]' }] }, 'rules.0.range'],
    ['a catastrophic regex', { ...valid(), rules: [{ tag: '^(a+)+$' }] }, 'rules.0.tag'],
    [
      'a duplicate package name',
      { ...valid(), packages: [valid().packages[0], valid().packages[0]] },
      'packages.1.name',
    ],
  ])('answers 400 naming the field for %s', async (_what, body, field) => {
    const res = await api.request('POST', '/triggers', body);
    expect(res.status).toBe(400);
    expect(res.type).toMatch(/^application\/problem\+json/);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    expect(res.body.detail).toContain(field);
  });

  test('answers 400 for a body that is not JSON', async () => {
    const res = await api.request('POST', '/triggers', '{"project": ');
    expect(res.status).toBe(400);
    expect(res.type).toMatch(/^application\/problem\+json/);
    expect(res.body.detail).toMatch(/not valid JSON/);
  });

  test('answers 404 for an unknown trigger, for every verb', async () => {
    for (const [method, path] of [
      ['GET', '/triggers/billing/nope'],
      ['POST', '/triggers/billing/nope/pause'],
      ['POST', '/triggers/billing/nope/resume'],
      ['POST', '/triggers/billing/nope/poll'],
      ['DELETE', '/triggers/billing/nope'],
    ]) {
      const res = await api.request(method, path);
      expect([method, path, res.status]).toEqual([method, path, 404]);
      expect(res.type).toMatch(/^application\/problem\+json/);
    }
  });

  test('answers 400 for a malformed trigger name in the path', async () => {
    const res = await api.request('GET', '/triggers/billing/NOPE');
    expect(res.status).toBe(400);
    expect(res.body.errors[0].field).toBe('name');
  });

  test('creates, lists, refuses a duplicate, deletes, and lets the name be used again', async () => {
    await pushImage(registry.url, 'billing/worker', '3.1.4');
    expect((await api.request('POST', '/triggers', valid())).status).toBe(201);
    const duplicate = await api.request('POST', '/triggers', valid());
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.detail).toMatch(/already exists/);

    const listed = await eventually(async () => {
      const res = await api.request('GET', '/triggers?project=billing');
      return res.body.triggers.length === 1 ? res.body.triggers : undefined;
    }, 'the trigger in the list (visibility)');
    expect(listed[0]).toMatchObject({
      id: 'trigger/billing/worker',
      project: 'billing',
      name: 'worker',
      packages: [`${registry.host}/billing/worker`],
    });

    const released = await eventually(async () => {
      const res = await api.request('GET', '/triggers/billing/worker');
      return res.body.releases.length === 1 ? res.body : undefined;
    }, 'the release');
    expect(released.releases[0].packages[0].tag).toBe('3.1.4');

    expect((await api.request('DELETE', '/triggers/billing/worker')).status).toBe(202);
    await eventually(
      async () => ((await api.request('GET', '/triggers/billing/worker')).status === 404 ? true : undefined),
      'the deletion',
    );
    expect((await api.request('POST', '/triggers', valid())).status).toBe(201);
  });

  test('answers /healthz and 404 problems for unknown routes', async () => {
    expect((await api.request('GET', '/healthz')).body).toEqual({ status: 'ok' });
    const res = await api.request('GET', '/nowhere');
    expect(res.status).toBe(404);
    expect(res.type).toMatch(/^application\/problem\+json/);
  });
});

describe('the rule preview API', () => {
  test('selects, accepts best first and gives each rejection its reason', async () => {
    const res = await api.request('POST', '/rules/preview', {
      rule: { range: '[1.0,2.0)', tag: '^$' },
      tags: ['1.0.0', 'v1.4.0', '1.5.0-rc.1', '2.0.0', 'x.sig'],
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      selected: 'v1.4.0',
      accepted: ['v1.4.0', '1.0.0'],
      rejected: [
        { tag: '1.5.0-rc.1', reason: 'pre-release tag does not match' },
        { tag: '2.0.0', reason: 'out of range' },
        { tag: 'x.sig', reason: 'excluded' },
      ],
    });
  });

  test('refuses a catastrophic regex with a 400 naming rule.filter and saying why', async () => {
    const res = await api.request('POST', '/rules/preview', { rule: { filter: '^(\\d+)*$' }, tags: ['1'] });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].field).toBe('rule.filter');
    expect(res.body.errors[0].message).toMatch(/backtrack catastrophically/);
  });

  test('refuses tags that are not strings, naming the index', async () => {
    const res = await api.request('POST', '/rules/preview', { tags: ['1.0.0', 42] });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].field).toBe('tags.1');
  });
});
