import {
  CHANNEL_ATTRIBUTE,
  PROJECT_ATTRIBUTE,
  TRIGGER_STATE_ATTRIBUTE,
} from '../../workflows/contracts/search-attributes';
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

// Evaluated lazily: the registry's port is known only once it runs.
const project = () => ({
  packages: [{ name: 'worker', feed: registry?.host ?? '127.0.0.1:5000', package: 'billing/worker' }],
});
const trigger = () => ({ project: 'billing', name: 'worker', intervalSeconds: 10 });
/** Attempts of the trigger API's round trip (jest tries a failed test once more). */
let attempts = 0;

describe('the project API', () => {
  test.each([
    ['no packages', { packages: [] }, 'packages'],
    [
      'a bad repository path',
      { packages: [{ name: 'w', feed: 'docker.io', package: 'Bad Name' }] },
      'packages.0.package',
    ],
    ['a duplicate package', { packages: [project().packages[0], project().packages[0]] }, 'packages.1.name'],
    ['an unknown field', { ...project(), colour: 'blue' }, 'colour'],
    [
      'a rule naming an unknown package',
      { ...project(), channels: [{ name: 'default', rules: [{ packages: ['nope'] }] }] },
      'channels.0.rules.0.packages.0',
    ],
    [
      'a range that does not parse',
      { ...project(), channels: [{ name: 'default', rules: [{ range: '[2.0,1.0]' }] }] },
      'channels.0.rules.0.range',
    ],
    [
      'a regex RE2 cannot run (lookahead)',
      { ...project(), channels: [{ name: 'default', rules: [{ tag: 'x(?!beta)' }] }] },
      'channels.0.rules.0.tag',
    ],
    [
      'a template that cannot render',
      { ...project(), versioning: { template: '#{Octopus.Version.Nope}.0' } },
      'versioning.template',
    ],
    [
      'an unknown donor package',
      { ...project(), versioning: { donorPackage: 'nope' } },
      'versioning.donorPackage',
    ],
    [
      'a webhook without a URL',
      { ...project(), destinations: [{ name: 'hook', type: 'webhook' }] },
      'destinations.0.url',
    ],
  ])('answers 400 naming the field for %s', async (_what, body, field) => {
    const res = await api.request('PUT', '/projects/billing-bad', body);
    expect(res.status).toBe(400);
    expect(res.type).toMatch(/^application\/problem\+json/);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    expect(res.body.detail).toContain(field);
  });

  test('creates, replaces (reporting whether anything changed), gets and lists a project', async () => {
    const created = await api.request('PUT', '/projects/billing', project());
    expect([created.status, created.body.created, created.body.changed]).toEqual([201, true, true]);
    const same = await api.request('PUT', '/projects/billing', project());
    expect([same.status, same.body.created, same.body.changed]).toEqual([200, false, false]);
    const got = await api.request('GET', '/projects/billing');
    expect(got.body.spec.channels).toEqual([{ name: 'default', rules: [] }]);
    expect(got.body.spec.versioning).toEqual({
      template: '#{Octopus.Version.LastMajor}.#{Octopus.Version.LastMinor}.#{Octopus.Version.NextPatch}',
    });
    const listed = await eventually(async () => {
      const res = await api.request('GET', '/projects');
      return res.body.projects.some((p: { name: string }) => p.name === 'billing') ? true : undefined;
    }, 'the project in the list');
    expect(listed).toBe(true);
    expect((await api.request('GET', '/projects/nope')).status).toBe(404);
  });
});

describe('the trigger API', () => {
  test.each([
    ['a missing project', { ...trigger(), project: undefined }, 'project'],
    ['an interval below 10 seconds', { ...trigger(), intervalSeconds: 5 }, 'intervalSeconds'],
    ['an upper-case trigger name', { ...trigger(), name: 'Worker' }, 'name'],
    ['an unknown field', { ...trigger(), colour: 'blue' }, 'colour'],
    ['a package watched twice', { ...trigger(), watch: ['worker', 'worker'] }, 'watch.1'],
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

  test('answers 404 for an unknown project, channel or package reference', async () => {
    await api.request('PUT', '/projects/billing', project());
    const cases: [object, RegExp][] = [
      [{ ...trigger(), project: 'nope' }, /no project nope/],
      [{ ...trigger(), channel: 'beta' }, /has no channel "beta"/],
      [{ ...trigger(), watch: ['ghost'] }, /has no package ghost/],
    ];
    for (const [body, detail] of cases) {
      const res = await api.request('POST', '/triggers', body);
      expect(res.status).toBe(404);
      expect(res.body.detail).toMatch(detail);
    }
  });

  test('answers 404 for an unknown trigger, for every verb', async () => {
    for (const [method, path] of [
      ['GET', '/triggers/billing/nope'],
      ['GET', '/triggers/billing/nope/history'],
      ['PATCH', '/triggers/billing/nope'],
      ['POST', '/triggers/billing/nope/pause'],
      ['POST', '/triggers/billing/nope/resume'],
      ['POST', '/triggers/billing/nope/poll'],
      ['DELETE', '/triggers/billing/nope'],
    ]) {
      const res = await api.request(method, path, method === 'PATCH' ? { intervalSeconds: 60 } : undefined);
      expect([method, path, res.status]).toEqual([method, path, 404]);
      expect(res.type).toMatch(/^application\/problem\+json/);
    }
  });

  test('answers 400 for a malformed trigger name in the path', async () => {
    const res = await api.request('GET', '/triggers/billing/NOPE');
    expect(res.status).toBe(400);
    expect(res.body.errors[0].field).toBe('name');
  });

  test('creates, lists, changes, refuses a duplicate, deletes, and lets the name be used again', async () => {
    // A project of its own per attempt: a retry after a failure meets none of the first attempt's trigger.
    const name = `billing-${++attempts}`;
    await pushImage(registry.url, 'billing/worker', '3.1.4');
    await api.request('PUT', `/projects/${name}`, project());
    expect((await api.request('POST', '/triggers', { ...trigger(), project: name })).status).toBe(201);
    const duplicate = await api.request('POST', `/projects/${name}/triggers`, { name: 'worker' });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.detail).toMatch(/already exists/);

    const listed = await eventually(async () => {
      const res = await api.request('GET', `/projects/${name}/triggers`);
      return res.body.triggers.length === 1 ? res.body.triggers : undefined;
    }, 'the trigger in the list (visibility)');
    expect(listed[0]).toMatchObject({
      id: `trigger/${name}/worker`,
      project: name,
      name: 'worker',
      packages: [`${registry.host}/billing/worker`],
    });
    const attributes = (await env.client.workflow.getHandle(`trigger/${name}/worker`).describe())
      .typedSearchAttributes;
    expect([
      attributes.get(PROJECT_ATTRIBUTE),
      attributes.get(CHANNEL_ATTRIBUTE),
      attributes.get(TRIGGER_STATE_ATTRIBUTE),
    ]).toEqual([name, 'default', 'active']);

    const released = await eventually(async () => {
      const res = await api.request('GET', `/projects/${name}/releases`);
      return res.body.releases.length === 1 ? res.body.releases : undefined;
    }, 'the release');
    expect(released[0].packages[0].tag).toBe('3.1.4');

    // Legible in the Temporal UI: what each workflow is (static summary) and how it goes (current details).
    const handle = env.client.workflow.getHandle(`trigger/${name}/worker`);
    expect(await (await handle.describe()).staticSummary()).toBe(
      `Trigger ${name}/worker: channel default, watching every package, every 10 s`,
    );
    const details = await eventually(async () => {
      const meta = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
      // Right after its release the trigger has no next poll yet ("next poll: now"): wait for it to be asleep
      // (on a slow box its next scheduled poll, no change, may already have come).
      const text = meta.currentDetails ?? '';
      return text.includes('last release: 0.0.1') && /- next poll: \d{4}-/.test(text) ? text : undefined;
    }, "the trigger's current details");
    expect(details).toMatch(
      /^\*\*Active\*\*, channel default, every 10 s\n- watching: worker \(127\.0\.0\.1:\d+\/billing\/worker\) at 3\.1\.4\n- last poll: \S+: (released|no-change): .*\n- next poll: \d{4}-\d\d-\d\dT\S+Z\n- last release: 0\.0\.1 at \S+$/,
    );
    const releaseRun = (await env.client.workflow.getHandle(`release/${name}/0.0.1`).describe()) as Awaited<
      ReturnType<typeof handle.describe>
    >;
    expect(await releaseRun.staticSummary()).toBe('worker 3.1.4 → 0.0.1');
    expect(await releaseRun.staticDetails()).toMatch(
      /^\| package \| image or chart \| version \| digest \|\n\|---\|---\|---\|---\|\n\| worker \| 127\.0\.0\.1:\d+\/billing\/worker \| 3\.1\.4 \| sha256:[0-9a-f]{64} \|$/,
    );

    // The release workflow hands off (to no destinations) after the release is listed: wait for it to get there.
    const releaseDetails = await eventually(async () => {
      const meta = await env.client.workflow
        .getHandle(`release/${name}/0.0.1`)
        .query<{ currentDetails?: string }>('__temporal_workflow_metadata');
      return meta.currentDetails?.startsWith('**Handing off') ? undefined : meta.currentDetails;
    }, "the release's current details");
    expect(releaseDetails).toBe('**Every delivery ended**\n- no destinations');
    // With no destination and no lifecycle there is nothing to hand off or promote: one task, no activity.
    const releaseEvents = await eventually(async () => {
      const handle = env.client.workflow.getHandle(`release/${name}/0.0.1`);
      return (await handle.describe()).status.name === 'COMPLETED'
        ? ((await handle.fetchHistory()).events ?? [])
        : undefined;
    }, 'the release workflow to end');
    const kind = (e: object) => Object.entries(e).find(([k, v]) => k.endsWith('EventAttributes') && v)?.[0];
    // A loaded box may time a workflow task out and run it again: each timed-out attempt (its scheduled and
    // started events, then the time-out) is left out, and the rest is the run's shape.
    const shape: string[] = [];
    for (const k of releaseEvents.map(kind)) {
      if (k !== 'workflowTaskTimedOutEventAttributes') shape.push(k!);
      else
        expect(shape.splice(-2, 2)).toEqual([
          'workflowTaskScheduledEventAttributes',
          'workflowTaskStartedEventAttributes',
        ]);
    }
    expect(shape).toEqual([
      'workflowExecutionStartedEventAttributes',
      'workflowTaskScheduledEventAttributes',
      'workflowTaskStartedEventAttributes',
      'workflowTaskCompletedEventAttributes',
      // The patch marker, and the search attribute the SDK sets beside it.
      'markerRecordedEventAttributes',
      'upsertWorkflowSearchAttributesEventAttributes',
      'workflowExecutionCompletedEventAttributes',
    ]);

    const changed = await api.request('PATCH', `/triggers/${name}/worker`, { intervalSeconds: 120 });
    expect([changed.status, changed.body.changed, changed.body.spec.intervalSeconds]).toEqual([
      200,
      true,
      120,
    ]);
    expect(
      (await api.request('PATCH', `/triggers/${name}/worker`, { intervalSeconds: 120 })).body.changed,
    ).toBe(false);
    expect((await api.request('PATCH', `/triggers/${name}/worker`, { intervalSeconds: 3 })).status).toBe(400);
    expect((await api.request('GET', `/triggers/${name}/worker`)).body.spec.intervalSeconds).toBe(120);

    const deleted = await api.request('DELETE', `/triggers/${name}/worker`);
    expect([deleted.status, deleted.body.deleted]).toEqual([200, true]);
    expect((await api.request('GET', `/triggers/${name}/worker`)).status).toBe(404);
    expect((await api.request('POST', '/triggers', { ...trigger(), project: name })).status).toBe(201);
  });

  test("starts a project's triggers in one request, checked as a whole: the first bad one is named by its index", async () => {
    await api.request('PUT', '/projects/bulk-api', {
      packages: [
        { name: 'a', feed: registry.host, package: 'bulk-api/a' },
        { name: 'b', feed: registry.host, package: 'bulk-api/b' },
      ],
    });
    const bulk = (triggers: unknown) => api.request('POST', '/projects/bulk-api/triggers/bulk', { triggers });
    const refusals: Array<[unknown, number, string]> = [
      [
        [{ name: 't1' }, { name: 't2' }, { name: 't3', intervalSeconds: 5 }],
        400,
        'triggers.2.intervalSeconds',
      ],
      [[{ name: 't1' }, { name: 't1' }], 400, 'triggers.1.name'],
      [[{ name: 't1' }, { name: 't2', project: 'other' }], 400, 'triggers.1.project'],
      [[{ name: 't1', colour: 'blue' }], 400, 'triggers.0.colour'],
      [['t1'], 400, 'triggers.0'],
      [Array.from({ length: 101 }, (_, i) => ({ name: `t${i}` })), 400, 'triggers'],
      [[], 400, 'triggers'],
      [{ name: 't1' }, 400, 'triggers'],
    ];
    for (const [triggers, status, field] of refusals) {
      const res = await bulk(triggers);
      expect([field, res.status, res.body.errors?.[0]?.field]).toEqual([field, status, field]);
    }
    // A missing package or channel is a 404 naming the item.
    const missing = await bulk([{ name: 't1' }, { name: 't2', watch: ['nope'] }]);
    expect([missing.status, missing.body.detail]).toEqual([
      404,
      'triggers.1: project bulk-api has no package nope',
    ]);
    const noChannel = await bulk([{ name: 't1', channel: 'beta' }]);
    expect([noChannel.status, noChannel.body.detail]).toEqual([
      404,
      'triggers.0: project bulk-api has no channel "beta"',
    ]);
    // Nothing was started by a refused request.
    expect((await api.request('GET', '/triggers/bulk-api/t1')).status).toBe(404);

    const first = await bulk([
      { name: 't1', intervalSeconds: 3600 },
      { name: 't2', watch: ['b'], intervalSeconds: 3600 },
    ]);
    expect([first.status, first.body]).toEqual([
      200,
      {
        results: [
          { id: 'trigger/bulk-api/t1', name: 't1', created: true },
          { id: 'trigger/bulk-api/t2', name: 't2', created: true },
        ],
      },
    ]);
    // Sent again with one more: the running one is reported and left as it is, the new one starts.
    const again = await bulk([
      { name: 't2', intervalSeconds: 600 },
      { name: 't3', intervalSeconds: 3600 },
    ]);
    expect(again.body.results.map((r: { created: boolean }) => r.created)).toEqual([false, true]);
    const t2 = await api.request('GET', '/triggers/bulk-api/t2');
    expect([t2.status, t2.body.spec.watch, t2.body.spec.intervalSeconds]).toEqual([200, ['b'], 3600]);
    for (const t of ['t1', 't2', 't3']) await api.request('DELETE', `/triggers/bulk-api/${t}`);
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

  test('refuses a backreference with a 400 naming rule.filter and the construct', async () => {
    const res = await api.request('POST', '/rules/preview', { rule: { filter: '^(\\d+)\\1$' }, tags: ['1'] });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].field).toBe('rule.filter');
    expect(res.body.errors[0].message).toMatch(/backreferences \(\\1\) are not supported/);
  });

  test('runs a filter that backtracks catastrophically on V8 over hostile tags in linear time', async () => {
    const tags = Array.from({ length: 2000 }, (_, i) => `${'a'.repeat(100)}${i}`);
    const started = Date.now();
    const res = await api.request('POST', '/rules/preview', {
      rule: { exclude: ['([a-z]|[a-z0-9])*!', '(a|aa)*b', '^(\\w|\\d)*$'] },
      tags: [...tags, '1.0.0'],
    });
    expect(res.status).toBe(200);
    expect(res.body.selected).toBe('1.0.0'); // every `a…` tag is excluded by the third pattern
    expect(Date.now() - started).toBeLessThan(5000);
  });

  test('takes the feed precedence and refuses an unknown one, naming the field', async () => {
    const tags = ['1.0.0-alpha-2', '1.0.0-alpha-10'];
    const semver = await api.request('POST', '/rules/preview', { tags, precedence: 'semver' });
    expect(semver.body.selected).toBe('1.0.0-alpha-2');
    const docker = await api.request('POST', '/rules/preview', { tags });
    expect(docker.body.selected).toBe('1.0.0-alpha-10');
    const bad = await api.request('POST', '/rules/preview', { tags, precedence: 'x'.repeat(10_000) });
    expect([bad.status, bad.body.errors[0].field]).toEqual([400, 'precedence']);
  });

  test('refuses tags that are not strings, naming the index', async () => {
    const res = await api.request('POST', '/rules/preview', { tags: ['1.0.0', 42] });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].field).toBe('tags.1');
  });
});

describe('the API without a worker', () => {
  test('projects and releases need no worker; a trigger query answers 503 when no worker takes it in time', async () => {
    const lonely = await startApi(
      { ...env, taskQueue: `no-worker-${Date.now()}` },
      { updateDeadlineMs: 1500, log: (m) => process.stdout.write(`API LOG ${m}\n`) },
    );
    try {
      const put = await lonely.request('PUT', '/projects/lonely', {
        packages: [{ name: 'a', feed: 'docker.io', package: 'x/y' }],
      });
      expect(put.status).toBe(201);
      expect((await lonely.request('GET', '/projects/lonely')).body).toMatchObject({
        revision: 1,
        releaseCount: 0,
      });
      expect((await lonely.request('GET', '/projects/lonely/releases')).status).toBe(200);
      expect((await lonely.request('POST', '/projects/lonely/triggers', { name: 't' })).status).toBe(201);
      const res = await lonely.request('GET', '/triggers/lonely/t');
      expect(res.status).toBe(503);
      expect(res.body.detail).toMatch(/no worker (answered in time|has started this workflow yet)/);
    } finally {
      await lonely.close();
      await env.client.workflow
        .getHandle('trigger/lonely/t')
        .terminate('test done')
        .catch(() => undefined);
    }
  });
});
