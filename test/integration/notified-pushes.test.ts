import { FeedError } from '../../src/feeds/errors';
import { FaultProxy } from '../support/fault-proxy';
import { feedClients, ociFeed } from '../support/feeds';
import { startApi, TestApi } from '../support/api';
import { pushOneByOne } from '../support/notified-pushes';
import { waitForReleases } from '../support/projects';
import { SECRETS } from '../support/receivers';
import { pushImage, TestRegistry } from '../support/registry';
import { startTestWorker, TestWorkerEnv } from '../support/temporal';

/**
 * Every push is released: the real registry's notifier (distribution 2.8, `notifications.endpoints`) drives
 * `/hooks/<token>` and `/webhooks/registry`, with triggers that poll hourly, so only notifications can
 * release in time. Registry 2.8 notifies before it tags the manifest: a proxy in front of it widens that
 * window (a listed tag whose manifest answers 404, a listing without the tag yet) to prove both are waited out.
 */
const WEBHOOK_TOKEN = 'Legacy-Registry-Webhook-Token-42';
const PUSHES = Number(process.env.NOTIFIED_PUSHES ?? 20);
let env: TestWorkerEnv;
let api: TestApi;
let hooked: TestRegistry;
let legacy: TestRegistry;
let hookedProxy: FaultProxy;
let legacyProxy: FaultProxy;

beforeAll(async () => {
  // The registries notify the API, so they start after it; the proxies learn their address then.
  hookedProxy = await FaultProxy.start('http://127.0.0.1:9');
  legacyProxy = await FaultProxy.start('http://127.0.0.1:9');
  const feeds = new Map([
    ['local', ociFeed('local', hookedProxy.url)],
    ['legacy', ociFeed('legacy', legacyProxy.url)],
  ]);
  env = await startTestWorker({ feeds });
  api = await startApi(env, { receiverSecrets: SECRETS, feeds, webhookToken: WEBHOOK_TOKEN });
  const res = await api.request('POST', '/receivers', {
    name: 'distribution',
    type: 'distribution',
    secret: { secret: 'hook-auth' },
    feed: 'local',
  });
  expect(res.status).toBe(201);
  hooked = await TestRegistry.start({
    notify: { url: `${api.url}${res.body.url}`, token: SECRETS.get('hook-auth')! },
  });
  legacy = await TestRegistry.start({
    notify: { url: `${api.url}/webhooks/registry?feed=legacy`, token: WEBHOOK_TOKEN },
  });
  hookedProxy.target = hooked.url;
  legacyProxy.target = legacy.url;
});
afterAll(async () => {
  await hooked?.stop();
  await legacy?.stop();
  await api?.close();
  await env?.stop();
  await hookedProxy?.close();
  await legacyProxy?.close();
});

/** A project on `repository` released at 1.0.0, with a trigger that polls hourly. */
async function watched(project: string, feed: string, registry: TestRegistry, repository: string) {
  await pushImage(registry.url, repository, '1.0.0');
  expect(
    (
      await api.request('PUT', `/projects/${project}`, {
        packages: [{ name: 'app', feed, package: repository }],
      })
    ).status,
  ).toBe(201);
  expect(
    (await api.request('POST', `/projects/${project}/triggers`, { name: 'app', intervalSeconds: 3600 }))
      .status,
  ).toBe(201);
  await waitForReleases(env, project, 1);
  // Visibility must list the trigger under its package before a notification can find it.
  await new Promise((r) => setTimeout(r, 1500));
}

test('NOT_FOUND of a manifest names the tag, of a listing the repository', async () => {
  await pushImage(hooked.url, 'demo/web', '1.2.2');
  const { oci } = feedClients();
  const feed = ociFeed('local', hooked.url);
  const tagMissing = await oci.manifest(feed, 'demo/web', '1.2.3').catch((e: unknown) => e);
  expect(tagMissing).toBeInstanceOf(FeedError);
  expect(tagMissing).toMatchObject({ code: 'NOT_FOUND' });
  expect((tagMissing as FeedError).message).toMatch(/^demo\/web:1\.2\.3 on feed local was not found/);
  const repoMissing = await oci.listTags(feed, 'demo/nothing').catch((e: unknown) => e);
  expect((repoMissing as FeedError).message).toMatch(/^demo\/nothing on feed local was not found/);
});

test('a listed tag whose manifest cannot be read yet is released once it can', async () => {
  await watched('late-manifest', 'local', hooked, 'late/manifest');
  // Three reads of the new tag's manifest answer 404, as registry 2.8 does between listing and tagging it.
  const manifest = /^\/v2\/late\/manifest\/manifests\/1\.1\.0$/;
  hookedProxy.inject(manifest, { kind: 'status', status: 404, body: '' }, 3);
  await pushImage(hooked.url, 'late/manifest', '1.1.0');
  const [release] = await waitForReleases(env, 'late-manifest', 2, 20_000);
  expect(release.packages[0].tag).toBe('1.1.0');
  expect(hookedProxy.count(manifest)).toBeGreaterThanOrEqual(4);
});

test('a notified tag the listing does not hold yet is polled for until it appears', async () => {
  await watched('late-listing', 'local', hooked, 'late/listing');
  const listing = /^\/v2\/late\/listing\/tags\/list/;
  hookedProxy.inject(listing, { kind: 'hide-tags', tags: ['1.1.0'] }, 2);
  const before = hookedProxy.count(listing);
  await pushImage(hooked.url, 'late/listing', '1.1.0');
  const [release] = await waitForReleases(env, 'late-listing', 2, 20_000);
  expect(release.packages[0].tag).toBe('1.1.0');
  expect(hookedProxy.count(listing) - before).toBeGreaterThanOrEqual(3);
});

test.each([
  ['/hooks/<token>', 'local', () => hooked],
  ['/webhooks/registry', 'legacy', () => legacy],
])(
  `${PUSHES} pushes one after the other through %s: each released within seconds`,
  async (path, feed, of) => {
    const project = `pushes-${feed}`;
    await watched(project, feed, of(), 'one/by-one');
    const run = await pushOneByOne(env, {
      registryUrl: of().url,
      repository: 'one/by-one',
      project,
      prefix: '2.0',
      count: PUSHES,
      boundMs: 20_000,
    });
    expect(run.lost).toEqual([]);
    expect(run.released).toBe(PUSHES);
  },
);
