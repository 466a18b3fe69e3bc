import { createPollActivities } from '../../activities/poll';
import type { PollPackageResult } from '../../workflows/contracts/activities';
import { SingleFlightCache } from '../../src/feeds/single-flight';
import { FaultProxy } from '../support/fault-proxy';
import { feedClients, ociFeed, pollEnvironment } from '../support/feeds';
import { pushImage, TestRegistry } from '../support/registry';

let registry: TestRegistry;
let proxy: FaultProxy;

const config = (source: string) => ({
  architecture: 'amd64',
  os: 'linux',
  created: '2026-11-01T00:00:00Z',
  config: { Labels: { 'org.opencontainers.image.source': source } },
  rootfs: { type: 'layers', diff_ids: [] },
});

beforeAll(async () => {
  registry = await TestRegistry.start();
  proxy = await FaultProxy.start(registry.url);
  await pushImage(registry.url, 'lab/app', '1.0.0', { config: config('https://github.com/acme/app') });
  await pushImage(registry.url, 'lab/app', '1.1.0', {
    config: config('https://github.com/someone-else/app'),
  });
  // 1.3.0 is a multi-arch index whose linux/amd64 image carries the acme label.
  const image = await pushImage(registry.url, 'lab/app', '1.3.0-amd64', {
    config: config('https://github.com/acme/app'),
  });
  const manifest = await fetch(`${registry.url}/v2/lab/app/manifests/${image}`, {
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
  });
  const size = (await manifest.arrayBuffer()).byteLength;
  const index = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: image,
        size,
        platform: { os: 'linux', architecture: 'amd64' },
      },
    ],
  });
  const put = await fetch(`${registry.url}/v2/lab/app/manifests/1.3.0`, {
    method: 'PUT',
    headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' },
    body: index,
  });
  expect(put.status).toBe(201);
});
afterAll(async () => {
  await proxy?.close();
  await registry?.stop();
});

function activities() {
  const { source, oci } = feedClients();
  const acts = createPollActivities({
    source,
    feeds: new Map([['lab', ociFeed('lab', proxy.url)]]),
    tagCache: new SingleFlightCache(0),
    digestCache: new SingleFlightCache(0),
    configCache: new SingleFlightCache(0),
  });
  return { acts, oci };
}

const BLOBS = /\/v2\/lab\/app\/blobs\//;

test('a label rule keeps only images whose config labels match, reading configs of multi-arch indexes too', async () => {
  const { acts, oci } = activities();
  expect((await oci.manifest(ociFeed('lab', proxy.url), 'lab/app', '1.3.0')).isIndex).toBe(true);
  const before = proxy.count(BLOBS);
  const result: PollPackageResult = await pollEnvironment().run(acts.pollPackage, {
    feed: 'lab',
    package: 'lab/app',
    rule: { tag: '^$', labels: { 'org.opencontainers.image.source': '^https://github\\.com/acme/' } },
    watermark: null,
    limit: 10,
    maxAgeMs: null,
  });
  expect(result.candidates).toEqual(['1.3.0', '1.0.0']);
  expect(result.acceptedCount).toBe(3);
  expect(proxy.count(BLOBS) - before).toBe(3); // one config per candidate read, no layers
});

test('without a label rule no image config is read', async () => {
  const { acts } = activities();
  const before = proxy.count(BLOBS);
  const result: PollPackageResult = await pollEnvironment().run(acts.pollPackage, {
    feed: 'lab',
    package: 'lab/app',
    rule: { tag: '^$' },
    watermark: null,
    limit: 10,
    maxAgeMs: null,
  });
  expect(result.candidates).toEqual(['1.3.0', '1.1.0', '1.0.0']);
  expect(proxy.count(BLOBS) - before).toBe(0);
});

test('a minimum age holds back images created too recently, by their config', async () => {
  const fresh = { ...config('https://github.com/acme/app'), created: new Date().toISOString() };
  const old = {
    ...config('https://github.com/acme/app'),
    created: new Date(Date.now() - 2 * 86_400_000).toISOString(),
  };
  await pushImage(registry.url, 'soak/app', '2.0.0', { config: old });
  await pushImage(registry.url, 'soak/app', '2.1.0', { config: fresh });
  const { acts } = activities();
  const poll = (minAgeMinutes: number): Promise<PollPackageResult> =>
    pollEnvironment().run(acts.pollPackage, {
      feed: 'lab',
      package: 'soak/app',
      rule: { minAgeMinutes },
      watermark: null,
      limit: 10,
      maxAgeMs: null,
    });
  expect((await poll(60)).candidates).toEqual(['2.0.0']);
  expect((await poll(0)).candidates).toEqual(['2.1.0', '2.0.0']);
});
