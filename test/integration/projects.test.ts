import { createHmac } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { CreateReleaseRequest, ProjectRelease } from '../../src/domain/project';
import { PACKAGES_ATTRIBUTE } from '../../workflows/contracts/search-attributes';
import { TriggerState } from '../../src/domain/trigger';
import { createLedgerActivities } from '../../activities/ledger';
import { bindingsOf } from '../../src/config/secrets';
import { startApi, TestApi } from '../support/api';
import { RecordedRequest, startServer, TestServer } from '../support/http-server';
import { putProject, releasesOf, startTrigger, waitForReleases } from '../support/projects';
import { pushImage, TestRegistry } from '../support/registry';
import { eventually, startTestWorker, TestWorkerEnv } from '../support/temporal';

let registry: TestRegistry;
let env: TestWorkerEnv;
let api: TestApi;
let hook: TestServer;
let octopus: TestServer;
let hookFailures = 0;
const HMAC_KEY = 'hook-signing-key-123';
const OCTOPUS_KEY = 'API-OCTOPUSKEY0001';

beforeAll(async () => {
  registry = await TestRegistry.start();
  // A webhook receiver that is down (503) for its first `hookFailures` requests.
  hook = await startServer((_req, res) => {
    if (hookFailures > 0) {
      hookFailures--;
      return void res.writeHead(503).end('down for maintenance');
    }
    res.writeHead(202).end();
  });
  // Octopus Deploy's release endpoint: POST /api/{spaceId}/releases with X-Octopus-ApiKey.
  const octopusReleases = new Set<string>();
  octopus = await startServer((req, res) => {
    if (req.method !== 'POST' || req.url !== '/api/Spaces-2/releases') return void res.writeHead(404).end();
    if (req.headers['x-octopus-apikey'] !== OCTOPUS_KEY)
      return void res.writeHead(401).end(JSON.stringify({ ErrorMessage: 'Invalid API key' }));
    const body = JSON.parse(req.body) as { Version: string };
    if (octopusReleases.has(body.Version)) {
      res.writeHead(400, { 'content-type': 'application/json' });
      return void res.end(
        JSON.stringify({ ErrorMessage: `A release with the version ${body.Version} already exists.` }),
      );
    }
    octopusReleases.add(body.Version);
    res
      .writeHead(201, { 'content-type': 'application/json' })
      .end(JSON.stringify({ Id: `Releases-${octopusReleases.size}`, Version: body.Version }));
  });
  const secrets = new Map([
    ['hook-key', { value: HMAC_KEY, sendTo: [`${hook.url}/`] }],
    ['octopus', { value: OCTOPUS_KEY, sendTo: [`${octopus.url}/api/`] }],
  ]);
  env = await startTestWorker({ secrets });
  api = await startApi(env, {
    secretBindings: bindingsOf(secrets),
  });
});

afterAll(async () => {
  await api?.close();
  await env?.stop();
  await hook?.close();
  await octopus?.close();
  await registry?.stop();
});

const ref = (name: string, repo: string) => ({ name, feed: registry.host, package: repo });

describe('projects, channels and releases', () => {
  test('a release holds every package of the project; only watched packages start one', async () => {
    await pushImage(registry.url, 'two/web', '1.0.0');
    await pushImage(registry.url, 'two/worker', '2.0.0');
    await pushImage(registry.url, 'two/worker', '2.1.0');
    await pushImage(registry.url, 'two/worker', '3.0.0');
    await putProject(env, {
      name: 'two',
      packages: [ref('web', 'two/web'), ref('worker', 'two/worker')],
      channels: [{ name: 'default', rules: [{ packages: ['worker'], range: '^2.0.0' }] }],
    });
    const state = await startTrigger(env, {
      project: 'two',
      name: 'web-only',
      watch: ['web'],
      intervalSeconds: 600,
    });
    const [first] = await waitForReleases(env, 'two', 1);
    expect(first.packages.map((p) => [p.name, p.tag])).toEqual([
      ['web', '1.0.0'],
      ['worker', '2.1.0'],
    ]);
    expect(first.packages.every((p) => /^sha256:[0-9a-f]{64}$/.test(p.digest ?? ''))).toBe(true);

    // A new worker alone does not release (not watched) ...
    await pushImage(registry.url, 'two/worker', '2.2.0');
    const handle = env.client.workflow.getHandle('trigger/two/web-only');
    const before = (await state()).iterations;
    await handle.signal('pollNow');
    await eventually(
      async () => ((await state()).iterations > before ? true : undefined),
      'another evaluation',
    );
    expect(await releasesOf(env, 'two')).toHaveLength(1);
    // ... but the next web release carries it.
    await pushImage(registry.url, 'two/web', '1.1.0');
    await handle.signal('pollNow');
    const [second] = await waitForReleases(env, 'two', 2);
    expect(second.packages.map((p) => [p.name, p.tag])).toEqual([
      ['web', '1.1.0'],
      ['worker', '2.2.0'],
    ]);
    expect(second.reason).toBe('later version: web 1.0.0 -> 1.1.0');
  });

  test("a package taken along never goes back: a release another trigger made after this one's read keeps its version", async () => {
    await pushImage(registry.url, 'keep/web', '1.0.0');
    await pushImage(registry.url, 'keep/worker', '2.0.0');
    const taskQueue = `keep-${Date.now()}`;
    // worker's own trigger releases worker 2.1.0 between web's trigger's read of worker (2.0.0) and its
    // request: pushed, and released with the web it read, while web's trigger was polling.
    const racing = await startTestWorker({
      taskQueue,
      database: env.database,
      extraActivities: {
        async createRelease(input: { project: string; request: CreateReleaseRequest }) {
          await env.ledger.createRelease('keep', {
            channel: 'default',
            packages: [
              { ...ref('web', 'keep/web'), tag: '0.9.0', digest: null },
              { ...ref('worker', 'keep/worker'), tag: '2.1.0', digest: null },
            ],
            watched: ['worker'],
            requireLater: true,
            reason: 'later version: worker 2.0.0 -> 2.1.0',
            source: { kind: 'trigger', trigger: 'trigger/keep/worker' },
            key: 'keep-worker-2.1.0',
          });
          const real = createLedgerActivities({
            ledger: env.ledger,
            client: env.client,
            taskQueue,
            keepTakenAlongMs: 5 * 60_000,
          });
          return real.createRelease(input);
        },
      },
    });
    try {
      await putProject(racing, {
        name: 'keep',
        packages: [ref('web', 'keep/web'), ref('worker', 'keep/worker')],
        channels: [{ name: 'default' }],
      });
      await startTrigger(racing, { project: 'keep', name: 'web', watch: ['web'], intervalSeconds: 600 });
      const [second] = await waitForReleases(racing, 'keep', 2);
      expect(second.packages.map((p) => [p.name, p.tag, p.digest])).toEqual([
        ['web', '1.0.0', expect.stringMatching(/^sha256:[0-9a-f]{64}$/)],
        ['worker', '2.1.0', null],
      ]);
      expect(second.reason).toMatch(/; kept from release 0\.0\.1: worker 2\.1\.0 \(read 2\.0\.0\)$/);
      // The trigger learns the release as recorded: worker 2.1.0 is its channel's last version now.
      const state = await eventually(async () => {
        const st = await racing.client.workflow.getHandle('trigger/keep/web').query<TriggerState>('state');
        return st.lastRelease ? st : undefined;
      }, "web's trigger to record its release");
      expect(state.lastRelease?.number).toBe('0.0.2');
      expect(state.history.at(-1)).toMatchObject({ outcome: 'released', release: '0.0.2' });
    } finally {
      await racing.stop();
    }
  }, 90_000);

  test('the watched-packages search attribute follows a changed watch list', async () => {
    const handle = env.client.workflow.getHandle('trigger/two/web-only');
    expect((await handle.describe()).typedSearchAttributes.get(PACKAGES_ATTRIBUTE)).toEqual([
      `${registry.host}/two/web`,
    ]);
    const res = await api.request('PATCH', '/triggers/two/web-only', { watch: ['web', 'worker'] });
    expect([res.status, res.body.changed]).toEqual([200, true]);
    const keys = await eventually(async () => {
      const k = (await handle.describe()).typedSearchAttributes.get(PACKAGES_ATTRIBUTE) ?? [];
      return k.length === 2 ? [...k].sort() : undefined;
    }, 'the updated search attribute');
    expect(keys).toEqual([`${registry.host}/two/web`, `${registry.host}/two/worker`]);

    // The next run starts knowing what it published (its input, not the server's copy of the attribute,
    // which a server that has just been told of the attribute may not serve yet): it publishes nothing again.
    const runBefore = (await handle.describe()).runId;
    expect((await api.request('POST', '/triggers/two/web-only/continue-as-new')).status).toBe(202);
    const next = await eventually(async () => {
      const d = await handle.describe();
      return d.runId !== runBefore ? handle : undefined;
    }, 'a new run');
    const iterations = async () => (await next.query<TriggerState>('state')).iterations;
    const polled = await iterations();
    await api.request('POST', '/triggers/two/web-only/poll');
    await eventually(async () => ((await iterations()) > polled ? true : undefined), "the new run's poll");
    const events = (await next.fetchHistory()).events ?? [];
    const started = events[0].workflowExecutionStartedEventAttributes!;
    const input = JSON.parse(Buffer.from(started.input!.payloads![0].data!).toString());
    expect(input.packages).toEqual([`${registry.host}/two/web`, `${registry.host}/two/worker`]);
    // ...which is the attribute the new run carries over: it has nothing to publish.
    expect([...((await next.describe()).typedSearchAttributes.get(PACKAGES_ATTRIBUTE) ?? [])].sort()).toEqual(
      input.packages,
    );
    const upserted = events.flatMap((e) =>
      Object.keys(e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {}),
    );
    expect(upserted).not.toContain(PACKAGES_ATTRIBUTE.name);
  });

  test('two triggers on one channel racing on the same push make one release', async () => {
    await pushImage(registry.url, 'race/app', '1.0.0');
    await putProject(env, { name: 'race', packages: [ref('app', 'race/app')] });
    const a = await startTrigger(env, {
      project: 'race',
      name: 'a',
      intervalSeconds: 600,
    });
    const b = await startTrigger(env, {
      project: 'race',
      name: 'b',
      intervalSeconds: 600,
    });
    await waitForReleases(env, 'race', 1);
    await eventually(
      async () => ((await a()).iterations >= 1 && (await b()).iterations >= 1 ? true : undefined),
      'both evaluated',
    );
    for (let round = 0; round < 3; round++) {
      await pushImage(registry.url, 'race/app', `1.${round + 1}.0`);
      await Promise.all(
        ['a', 'b'].map((t) => env.client.workflow.getHandle(`trigger/race/${t}`).signal('pollNow')),
      );
      await waitForReleases(env, 'race', round + 2);
      await new Promise((r) => setTimeout(r, 1500)); // let the slower trigger finish its attempt
    }
    const releases = await releasesOf(env, 'race');
    expect(releases.map((r) => r.packages[0].tag)).toEqual(['1.3.0', '1.2.0', '1.1.0', '1.0.0']);
    expect(releases.map((r) => r.number)).toEqual(['0.0.4', '0.0.3', '0.0.2', '0.0.1']);
  });

  test('a worker stopped during release creation and started again makes exactly one release', async () => {
    await pushImage(registry.url, 'crash/app', '4.0.0');
    // A worker whose createRelease records the release, then "crashes" before it can answer.
    const taskQueue = `crash-${Date.now()}`;
    const crashing = await startTestWorker({
      taskQueue,
      database: env.database,
      extraActivities: {
        async createRelease(input: never) {
          const real = createLedgerActivities({ ledger: env.ledger, client: env.client, taskQueue });
          await real.createRelease(input);
          await Context.current().cancelled; // stuck until the worker goes away
          throw new Error('unreachable');
        },
      },
    });
    await putProject(crashing, {
      name: 'crash',
      packages: [ref('app', 'crash/app')],
    });
    await startTrigger(crashing, {
      project: 'crash',
      name: 'app',
      intervalSeconds: 600,
    });
    await waitForReleases(crashing, 'crash', 1);
    await crashing.stop();
    const healthy = await startTestWorker({ taskQueue: crashing.taskQueue, database: env.database });
    try {
      const s = await eventually(
        async () => {
          const st = await healthy.client.workflow
            .getHandle('trigger/crash/app')
            .query<TriggerState>('state');
          return st.lastRelease ? st : undefined;
        },
        'the trigger to learn of its release after the restart',
        60_000,
      );
      expect(s.lastRelease?.number).toBe('0.0.1');
      expect(s.history.at(-1)).toMatchObject({ outcome: 'released', release: '0.0.1' });
      expect(await releasesOf(healthy, 'crash')).toHaveLength(1);
    } finally {
      await healthy.stop();
    }
  }, 90_000);

  test('delivers to a webhook that is down for a while, once per idempotency key, signed; and to Octopus', async () => {
    hookFailures = 4;
    await pushImage(registry.url, 'deliver/app', '1.0.0');
    await putProject(env, {
      name: 'deliver',
      packages: [ref('app', 'deliver/app')],
      destinations: [
        {
          name: 'hook',
          type: 'webhook',
          url: `${hook.url}/hooks/release`,
          cloudEvents: true,
          signingSecret: { secret: 'hook-key' },
        },
        {
          name: 'octo',
          type: 'octopus',
          serverUrl: octopus.url,
          spaceId: 'Spaces-2',
          projectId: 'Projects-7',
          channelId: 'Channels-3',
          apiKey: { secret: 'octopus' },
          steps: { app: { actionName: 'Deploy web', packageReferenceName: 'app' } },
        },
      ],
    });
    await startTrigger(env, { project: 'deliver', name: 'app', intervalSeconds: 600 });
    const [release] = await waitForReleases(env, 'deliver', 1);
    const get = async (): Promise<ProjectRelease> =>
      (await api.request('GET', `/projects/deliver/releases/${release.number}`)).body;
    const pending = await eventually(async () => {
      const r = await get();
      return r.deliveries.hook.status === 'pending' && r.deliveries.hook.lastError ? r : undefined;
    }, 'the failed first delivery attempt');
    expect(pending.deliveries.hook.lastError).toMatch(/503/);
    const delivered = await eventually(
      async () => {
        const r = await get();
        return r.deliveries.hook.status === 'delivered' && r.deliveries.octo.status === 'delivered'
          ? r
          : undefined;
      },
      'both deliveries',
      60_000,
    );
    expect(delivered.deliveries.hook.attempts).toBeGreaterThanOrEqual(2);

    const hookRequests: RecordedRequest[] = hook.requests.filter((r) => r.url === '/hooks/release');
    expect(hookRequests).toHaveLength(5); // four refused, one accepted
    const key = `feed-triggers:deliver:${release.number}:${Date.parse(release.createdAt)}`;
    expect(new Set(hookRequests.map((r) => r.headers['idempotency-key']))).toEqual(new Set([key]));
    // Every request counted, before it was sent: four refused and the one accepted.
    expect(delivered.deliveries.hook.attempts).toBe(5);
    expect(delivered.deliveries.octo).toMatchObject({ status: 'delivered', attempts: 1, lastError: null });
    const accepted = hookRequests[4];
    expect(accepted.headers['content-type']).toBe('application/cloudevents+json');
    expect(accepted.headers['x-feed-triggers-signature']).toBe(
      `sha256=${createHmac('sha256', HMAC_KEY).update(accepted.body).digest('hex')}`,
    );
    const event = JSON.parse(accepted.body);
    expect(event).toMatchObject({
      specversion: '1.0',
      id: key,
      type: 'io.feed-triggers.release.created',
      source: 'feed-triggers/projects/deliver',
      datacontenttype: 'application/json',
      data: {
        project: 'deliver',
        release: '0.0.1',
        channel: 'default',
        packages: [{ name: 'app', tag: '1.0.0' }],
      },
    });

    const octopusRequests = octopus.requests.filter((r) => r.url === '/api/Spaces-2/releases');
    expect(octopusRequests).toHaveLength(1);
    expect(JSON.parse(octopusRequests[0].body)).toEqual({
      ProjectId: 'Projects-7',
      ChannelId: 'Channels-3',
      Version: '0.0.1',
      SelectedPackages: [{ ActionName: 'Deploy web', PackageReferenceName: 'app', Version: '1.0.0' }],
    });
  }, 90_000);

  test('numbers with a custom template per channel; a donor package gives the version', async () => {
    await pushImage(registry.url, 'numbers/app', '1.0.0');
    await putProject(env, {
      name: 'numbers',
      packages: [ref('app', 'numbers/app')],
      channels: [{ name: 'stable', rules: [{ tag: '^$' }] }, { name: 'beta' }],
      versioning: {
        template:
          '#{Octopus.Version.LastMajor}.#{Octopus.Version.NextMinor}.0-#{Octopus.Release.Channel.Name}',
      },
    });
    const stable = await startTrigger(env, {
      project: 'numbers',
      name: 'stable',
      channel: 'stable',
      intervalSeconds: 600,
    });
    await waitForReleases(env, 'numbers', 1);
    await startTrigger(env, {
      project: 'numbers',
      name: 'beta',
      channel: 'beta',
      intervalSeconds: 600,
    });
    await waitForReleases(env, 'numbers', 2);
    await pushImage(registry.url, 'numbers/app', '1.1.0');
    await env.client.workflow.getHandle('trigger/numbers/stable').signal('pollNow');
    await eventually(
      async () => ((await stable()).lastRelease?.number === '0.3.0-stable' ? true : undefined),
      'the third release',
    );
    const releases = await releasesOf(env, 'numbers');
    expect(releases.map((r) => [r.number, r.channel])).toEqual([
      ['0.3.0-stable', 'stable'],
      ['0.2.0-beta', 'beta'],
      ['0.1.0-stable', 'stable'],
    ]);

    await pushImage(registry.url, 'donor/web', 'v2.4.1');
    await pushImage(registry.url, 'donor/worker', '7.0.0');
    await putProject(env, {
      name: 'donor',
      packages: [ref('web', 'donor/web'), ref('worker', 'donor/worker')],
      versioning: { donorPackage: 'web' },
    });
    await startTrigger(env, { project: 'donor', name: 'all', intervalSeconds: 600 });
    await waitForReleases(env, 'donor', 1);
    await pushImage(registry.url, 'donor/worker', '7.1.0');
    await env.client.workflow.getHandle('trigger/donor/all').signal('pollNow');
    const donor = await waitForReleases(env, 'donor', 2);
    expect(donor.map((r) => r.number)).toEqual(['2.4.1-1', '2.4.1']);
  });

  test('manual releases: latest versions, pinned versions checked against the rules, never the same set twice', async () => {
    await pushImage(registry.url, 'manual/web', '1.0.0');
    await pushImage(registry.url, 'manual/web', '1.1.0');
    await pushImage(registry.url, 'manual/web', '2.0.0');
    await pushImage(registry.url, 'manual/worker', '5.0.0');
    await api.request('PUT', '/projects/manual', {
      packages: [ref('web', 'manual/web'), ref('worker', 'manual/worker')],
      channels: [{ name: 'default', rules: [{ packages: ['web'], range: '[1.0,2.0)' }] }],
    });
    const latest = await api.request('POST', '/projects/manual/releases', {});
    expect(latest.status).toBe(201);
    expect(latest.body.packages.map((p: { tag: string }) => p.tag)).toEqual(['1.1.0', '5.0.0']);
    expect(latest.body.source).toEqual({ kind: 'manual' });
    const pinned = await api.request('POST', '/projects/manual/releases', { versions: { web: '1.0.0' } });
    expect(pinned.status).toBe(201);
    expect(pinned.body.packages.map((p: { tag: string }) => p.tag)).toEqual(['1.0.0', '5.0.0']);
    expect(pinned.body.number).toBe('0.0.2');
    const again = await api.request('POST', '/projects/manual/releases', { versions: { web: '1.0.0' } });
    expect([again.status, again.body.detail]).toEqual([409, 'release 0.0.2 already holds these versions']);
    const outOfRange = await api.request('POST', '/projects/manual/releases', { versions: { web: '2.0.0' } });
    expect([outOfRange.status, outOfRange.body.detail]).toEqual([
      422,
      "web 2.0.0 does not pass the channel's rules: out of range",
    ]);
    const missing = await api.request('POST', '/projects/manual/releases', { versions: { web: '1.9.9' } });
    expect(missing.status).toBe(404);
    expect(missing.body.detail).toMatch(/no tag 1.9.9/);
    expect((await api.request('POST', '/projects/manual/releases', { channel: 'beta' })).status).toBe(404);

    const first = await api.request('GET', '/projects/manual/releases?limit=1');
    expect(first.body.releases.map((r: ProjectRelease) => r.number)).toEqual(['0.0.2']);
    const page = await api.request(
      'GET',
      `/projects/manual/releases?limit=1&cursor=${first.body.nextCursor}`,
    );
    expect([page.body.nextCursor, page.body.releases.map((r: ProjectRelease) => r.number)]).toEqual([
      null,
      ['0.0.1'],
    ]);
    expect((await api.request('GET', '/projects/manual/releases?cursor=bogus!')).status).toBe(400);
    expect((await api.request('GET', '/projects/manual/releases/9.9.9')).status).toBe(404);
    expect((await api.request('GET', '/projects/manual/releases?limit=0')).status).toBe(400);

    const preview = await api.request('GET', '/projects/manual/channels/default/preview');
    expect(preview.status).toBe(200);
    expect(preview.body.packages.web).toMatchObject({
      selected: '1.1.0',
      accepted: ['1.1.0', '1.0.0'],
      rejected: [{ tag: '2.0.0', reason: 'out of range' }],
    });
    expect(preview.body.packages.worker.selected).toBe('5.0.0');
  });

  test('deleting a project deletes its triggers', async () => {
    await pushImage(registry.url, 'gone/app', '1.0.0');
    await api.request('PUT', '/projects/gone', { packages: [ref('app', 'gone/app')] });
    expect(
      (await api.request('POST', '/projects/gone/triggers', { name: 'app', intervalSeconds: 600 })).status,
    ).toBe(201);
    await waitForReleases(env, 'gone', 1);
    // Deleting the project cancels its triggers (found through visibility, so wait until it is listed).
    await eventually(
      async () =>
        (await api.request('GET', '/projects/gone/triggers')).body.triggers.length === 1 ? true : undefined,
      'the listing',
    );
    const deleted = await api.request('DELETE', '/projects/gone');
    expect(deleted.status).toBe(200);
    expect(deleted.body).toMatchObject({ triggersDeleted: ['trigger/gone/app'], releases: 1, purged: false });
    expect((await api.request('GET', '/projects/gone')).status).toBe(404);
    expect((await api.request('GET', '/triggers/gone/app')).status).toBe(404);
    // Re-created under the same name: nothing left over collides, numbering starts again.
    await api.request('PUT', '/projects/gone', { packages: [ref('app', 'gone/app')] });
    expect(
      (await api.request('POST', '/projects/gone/triggers', { name: 'app', intervalSeconds: 600 })).status,
    ).toBe(201);
    const [again] = await waitForReleases(env, 'gone', 1);
    expect(again.number).toBe('0.0.1');
    const purged = await api.request('DELETE', '/projects/gone?purge=true');
    expect(purged.body).toMatchObject({ purged: true, releases: 1 });
    expect((await api.request('DELETE', '/projects/gone?purge=maybe')).status).toBe(400);
  });

  test('a trigger whose project is gone records the error and keeps running', async () => {
    await pushImage(registry.url, 'orphan/app', '1.0.0');
    await putProject(env, { name: 'orphan', packages: [ref('app', 'orphan/app')] });
    const state = await startTrigger(env, {
      project: 'orphan',
      name: 'app',
      intervalSeconds: 600,
    });
    await waitForReleases(env, 'orphan', 1);
    // Deleted in the ledger behind the API's back (the API would cancel the trigger too).
    await env.ledger.deleteProject('orphan', false);
    await env.client.workflow.getHandle('trigger/orphan/app').signal('pollNow');
    const s = await eventually(async () => {
      const st = await state();
      return st.lastError?.code === 'PROJECT_NOT_FOUND' ? st : undefined;
    }, 'the missing-project error');
    expect(s.lastPoll).toMatchObject({ outcome: 'error', reason: 'project orphan does not exist' });
    expect((await env.client.workflow.getHandle('trigger/orphan/app').describe()).status.name).toBe(
      'RUNNING',
    );
    await env.client.workflow.getHandle('trigger/orphan/app').terminate('test done');
  });

  test('a bad configuration is refused before anything is recorded', async () => {
    await putProject(env, { name: 'refuse', packages: [ref('app', 'refuse/app')] });
    const before = (await api.request('GET', '/projects/refuse')).body;
    const bad = [
      { ...before.spec, versioning: { template: '#{Octopus.Nope}' } },
      { ...before.spec, name: 'renamed' },
      { ...before.spec, channels: [{ name: 'default', rules: [{ tag: '(x+)\\1' }] }] },
    ];
    for (const spec of bad) expect((await api.request('PUT', '/projects/refuse', spec)).status).toBe(400);
    expect((await api.request('GET', '/projects/refuse')).body).toEqual(before);
    expect((await api.request('GET', '/projects/refuse/revisions')).body.revisions).toHaveLength(1);
  });
});
