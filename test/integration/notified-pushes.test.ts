import { FeedError } from '../../src/feeds/errors';
import { feedClients, ociFeed } from '../support/feeds';
import {
  NotifiedService,
  pushOneByOne,
  startNotifiedService,
  watchedHourly,
} from '../support/notified-pushes';
import { waitForReleases } from '../support/projects';
import { pushImage } from '../support/registry';

/**
 * Every push is released: the real registry's notifier (distribution 2.8, `notifications.endpoints`) drives
 * `/hooks/<token>` and `/webhooks/registry`, with triggers that poll hourly, so only notifications can
 * release in time. Registry 2.8 notifies before it tags the manifest: a proxy in front of it widens that
 * window (a listed tag whose manifest answers 404, a listing without the tag yet) to prove both are waited out.
 */
const PUSHES = 20;
let service: NotifiedService;

beforeAll(async () => {
  service = await startNotifiedService();
});
afterAll(async () => {
  await service?.stop();
});

test('NOT_FOUND of a manifest names the tag, of a listing the repository', async () => {
  await pushImage(service.hooked.url, 'demo/web', '1.2.2');
  const { oci } = feedClients();
  const feed = ociFeed('local', service.hooked.url);
  const tagMissing = await oci.manifest(feed, 'demo/web', '1.2.3').catch((e: unknown) => e);
  expect(tagMissing).toBeInstanceOf(FeedError);
  expect(tagMissing).toMatchObject({ code: 'NOT_FOUND' });
  expect((tagMissing as FeedError).message).toMatch(/^demo\/web:1\.2\.3 on feed local was not found/);
  const repoMissing = await oci.listTags(feed, 'demo/nothing').catch((e: unknown) => e);
  expect((repoMissing as FeedError).message).toMatch(/^demo\/nothing on feed local was not found/);
});

test('a listed tag whose manifest cannot be read yet is released once it can', async () => {
  await watchedHourly(service, 'late-manifest', 'local', service.hooked, 'late/manifest');
  // Three reads of the new tag's manifest answer 404, as registry 2.8 does between listing and tagging it.
  const manifest = /^\/v2\/late\/manifest\/manifests\/1\.1\.0$/;
  service.hookedProxy.inject(manifest, { kind: 'status', status: 404, body: '' }, 3);
  await pushImage(service.hooked.url, 'late/manifest', '1.1.0');
  const [release] = await waitForReleases(service.env, 'late-manifest', 2, 20_000);
  expect(release.packages[0].tag).toBe('1.1.0');
  expect(service.hookedProxy.count(manifest)).toBeGreaterThanOrEqual(4);
});

test('a notified tag the listing does not hold yet is polled for until it appears', async () => {
  await watchedHourly(service, 'late-listing', 'local', service.hooked, 'late/listing');
  const listing = /^\/v2\/late\/listing\/tags\/list/;
  service.hookedProxy.inject(listing, { kind: 'hide-tags', tags: ['1.1.0'] }, 2);
  const before = service.hookedProxy.count(listing);
  await pushImage(service.hooked.url, 'late/listing', '1.1.0');
  const [release] = await waitForReleases(service.env, 'late-listing', 2, 20_000);
  expect(release.packages[0].tag).toBe('1.1.0');
  expect(service.hookedProxy.count(listing) - before).toBeGreaterThanOrEqual(3);
});

test.each([
  ['/hooks/<token>', 'local', () => service.hooked],
  ['/webhooks/registry', 'legacy', () => service.legacy],
])(
  `${PUSHES} pushes one after the other through %s: each released within seconds`,
  async (path, feed, of) => {
    const project = `pushes-${feed}`;
    await watchedHourly(service, project, feed, of(), 'one/by-one');
    const run = await pushOneByOne(service.env, {
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
