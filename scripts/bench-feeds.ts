import { createHash, randomBytes } from 'node:crypto';
import { compileRule, evaluateRule } from '../src/domain/rule';
import { CredentialStore } from '../src/feeds/credentials';
import { DEFAULT_MAX_TAGS, OciFeed } from '../src/feeds/feed';
import { HttpClient } from '../src/net/http';
import { OciClient } from '../src/feeds/oci';
import { FaultProxy } from '../test/support/fault-proxy';
import { TestRegistry } from '../test/support/registry';

const TAGS = 10_000;
const RUNS = 5;

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Pushes one image under `count` tags: blobs once, then a manifest PUT per tag, 16 at a time. */
async function pushTags(registryUrl: string, repository: string, count: number): Promise<void> {
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }),
  );
  const layer = randomBytes(32);
  for (const blob of [config, layer]) {
    const start = await fetch(`${registryUrl}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
    const location = new URL(start.headers.get('location')!, registryUrl);
    location.searchParams.set('digest', sha256(blob));
    const put = await fetch(location, {
      method: 'PUT',
      body: blob,
      headers: { 'content-type': 'application/octet-stream' },
    });
    if (put.status !== 201) throw new Error(`blob upload ${put.status}`);
  }
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: sha256(config),
      size: config.length,
    },
    layers: [
      { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(layer), size: layer.length },
    ],
  });
  const tags = Array.from(
    { length: count },
    (_, i) => `${Math.floor(i / 1000)}.${Math.floor(i / 10) % 100}.${i % 10}-b${i}`,
  );
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < tags.length) {
        const tag = tags[next++];
        const res = await fetch(`${registryUrl}/v2/${repository}/manifests/${tag}`, {
          method: 'PUT',
          headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
          body: manifest,
        });
        if (res.status !== 201) throw new Error(`manifest ${tag}: ${res.status}`);
      }
    }),
  );
}

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
}

async function measure(name: string, feed: OciFeed, repository: string): Promise<void> {
  const times: number[] = [];
  const peaks: number[] = [];
  let requests = 0;
  let count = 0;
  for (let i = 0; i < RUNS; i++) {
    const http = new HttpClient();
    const client = new OciClient(http, new CredentialStore(http));
    global.gc?.();
    const baseline = process.memoryUsage().heapUsed;
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 5);
    const start = process.hrtime.bigint();
    const listing = await client.listTags(feed, repository);
    const selected = evaluateRule(compileRule({}), listing.tags).selected;
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
    clearInterval(sampler);
    peaks.push(Math.max(peak, process.memoryUsage().heapUsed) - baseline);
    requests = listing.requests;
    count = listing.tags.length;
    if (!selected) throw new Error('nothing selected');
  }
  process.stdout.write(
    `${name.padEnd(40)} ${count} tags  ${String(requests).padStart(4)} requests  median ${median(times).toFixed(1).padStart(7)} ms  ` +
      `peak heap +${(median(peaks) / 1024 / 1024).toFixed(1)} MiB  (${RUNS} runs)\n`,
  );
}

async function main(): Promise<void> {
  const registry = await TestRegistry.start();
  const proxy = await FaultProxy.start(registry.url);
  try {
    const t0 = Date.now();
    await pushTags(registry.url, 'bench/app', TAGS);
    process.stdout.write(`pushed ${TAGS} tags in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    const feed = (url: string, pageSize: number): OciFeed => ({
      id: 'bench',
      type: 'oci',
      url,
      auth: { kind: 'anonymous' },
      pageSize,
      maxTags: DEFAULT_MAX_TAGS,
      helm: false,
      tokenRealmHosts: [],
      maxPages: 100_000,
      repositoryPrefix: '',
    });
    proxy.pageSize = 100;
    await measure('through the proxy, 100 a page', feed(proxy.url, 100), 'bench/app');
    proxy.pageSize = null;
    await measure('registry 2.8 directly (one page)', feed(registry.url, 1000), 'bench/app');
  } finally {
    await proxy.close();
    await registry.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
