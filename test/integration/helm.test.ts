import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { FeedError } from '../../src/feeds/errors';
import { DEFAULT_MAX_TAGS, HelmHttpFeed } from '../../src/feeds/feed';
import { feedClients, ociFeed } from '../support/feeds';
import { startServer, TestServer } from '../support/http-server';
import { pushImage, TestRegistry } from '../support/registry';

const digestOf = (s: string) => createHash('sha256').update(s).digest('hex');

function indexYaml(versions: string[]): string {
  const entries = versions
    .map(
      (v) => `  - apiVersion: v2
    name: ingress
    version: ${v}
    digest: ${digestOf(v)}
    urls:
      - charts/ingress-${v}.tgz`,
    )
    .join('\n');
  return `apiVersion: v1\nentries:\n  ingress:\n${entries}\n  other:\n  - name: other\n    version: 9.9.9\ngenerated: "2026-11-26T00:00:00Z"\n`;
}

describe('Helm HTTP repositories', () => {
  let server: TestServer;
  let body = indexYaml(['4.10.0', '4.11.0+build.7', '4.12.0-beta.1']);
  let mode: 'normal' | 'garbage' | 'huge' | 'missing' | 'limited' = 'normal';
  const etag = () => `"${digestOf(body).slice(0, 16)}"`;

  beforeAll(async () => {
    server = await startServer((req, res) => {
      if (req.url !== '/repo/index.yaml') return void res.writeHead(404).end();
      if (mode === 'missing') return void res.writeHead(404).end();
      if (mode === 'limited') return void res.writeHead(429, { 'retry-after': '12' }).end();
      if (mode === 'garbage')
        return void res.writeHead(200, { 'content-type': 'text/yaml' }).end('entries: [unclosed\n  - : :');
      if (mode === 'huge') {
        res.writeHead(200, { 'content-type': 'text/yaml' });
        return void res.end(`entries: {}\npadding: "${'x'.repeat(3 * 1024 * 1024)}"\n`);
      }
      if (req.headers['if-none-match'] === etag()) return void res.writeHead(304, { etag: etag() }).end();
      const gz = String(req.headers['accept-encoding'] ?? '').includes('gzip');
      res.writeHead(200, {
        'content-type': 'text/yaml',
        etag: etag(),
        ...(gz ? { 'content-encoding': 'gzip' } : {}),
      });
      res.end(gz ? gzipSync(body) : body);
    });
  });
  afterAll(() => server?.close());

  const feed = (extra: Partial<HelmHttpFeed> = {}): HelmHttpFeed => ({
    id: 'charts',
    type: 'helm',
    url: `${server.url}/repo`,
    auth: { kind: 'anonymous' },
    maxTags: DEFAULT_MAX_TAGS,
    maxIndexBytes: 64 * 1024 * 1024,
    ...extra,
  });

  test('reads chart versions, digests and absolute URLs from a gzipped index', async () => {
    const { helm } = feedClients();
    const versions = await helm.chartVersions(feed(), 'ingress');
    expect(versions.map((v) => v.version)).toEqual(['4.10.0', '4.11.0+build.7', '4.12.0-beta.1']);
    expect(versions[0].digest).toBe(`sha256:${digestOf('4.10.0')}`);
    expect(versions[0].urls).toEqual([`${server.url}/repo/charts/ingress-4.10.0.tgz`]);
    expect(server.requests.at(-1)!.headers['accept-encoding']).toContain('gzip');
  });

  test('an unchanged index costs a 304 and no parse; a changed one is parsed again', async () => {
    const { helm } = feedClients();
    await helm.chartVersions(feed(), 'ingress');
    await helm.chartVersions(feed(), 'ingress');
    expect(helm.requests).toBe(2);
    expect(helm.parses).toBe(1);
    body = indexYaml(['4.10.0', '4.11.0+build.7', '4.12.0-beta.1', '4.13.0']);
    expect((await helm.chartVersions(feed(), 'ingress')).map((v) => v.version)).toContain('4.13.0');
    expect(helm.parses).toBe(2);
  });

  test('errors: unknown chart, missing index, garbage YAML, an index over the size cap', async () => {
    const { helm } = feedClients();
    const code = async (f: HelmHttpFeed, chart: string) =>
      ((await helm.chartVersions(f, chart).catch((e: unknown) => e)) as FeedError).code;
    expect(await code(feed(), 'nope')).toBe('NOT_FOUND');
    mode = 'missing';
    expect(await code(feed({ id: 'c2' }), 'ingress')).toBe('NOT_FOUND');
    mode = 'garbage';
    expect(await code(feed({ id: 'c3' }), 'ingress')).toBe('BAD_RESPONSE');
    mode = 'huge';
    expect(await code(feed({ id: 'c4', maxIndexBytes: 1024 * 1024 }), 'ingress')).toBe('TOO_LARGE');
    mode = 'limited';
    const limited = (await helm
      .chartVersions(feed({ id: 'c5' }), 'ingress')
      .catch((e: unknown) => e)) as FeedError;
    expect([limited.code, limited.retryable, limited.retryAfterMs]).toEqual(['RATE_LIMITED', true, 12_000]);
    mode = 'normal';
  });
});

test('a repository that sends only Last-Modified gets If-Modified-Since and answers 304 without a parse', async () => {
  const modified = 'Wed, 25 Nov 2026 10:00:00 GMT';
  const repo = await startServer((req, res) => {
    if (req.headers['if-modified-since'] === modified) return void res.writeHead(304).end();
    res.writeHead(200, { 'content-type': 'text/yaml', 'last-modified': modified }).end(indexYaml(['1.0.0']));
  });
  try {
    const { helm } = feedClients();
    const feed: HelmHttpFeed = {
      id: 'lm',
      type: 'helm',
      url: repo.url,
      auth: { kind: 'anonymous' },
      maxTags: DEFAULT_MAX_TAGS,
      maxIndexBytes: 1 << 20,
    };
    expect((await helm.chartVersions(feed, 'ingress')).map((v) => v.version)).toEqual(['1.0.0']);
    expect((await helm.chartVersions(feed, 'ingress')).map((v) => v.version)).toEqual(['1.0.0']);
    expect([helm.requests, helm.parses]).toEqual([2, 1]);
    expect(repo.requests[1].headers['if-modified-since']).toBe(modified);
  } finally {
    await repo.close();
  }
});

describe('OCI Helm charts in the registry', () => {
  let registry: TestRegistry;
  beforeAll(async () => {
    registry = await TestRegistry.start();
    const chart = {
      configMediaType: 'application/vnd.cncf.helm.config.v1+json',
      config: { name: 'ingress', version: '1.2.3+build.5', apiVersion: 'v2' },
    };
    await pushImage(registry.url, 'charts/ingress', '1.2.3_build.5', chart);
    await pushImage(registry.url, 'charts/ingress', '1.2.2', {
      ...chart,
      config: { ...chart.config, version: '1.2.2' },
    });
  });
  afterAll(() => registry?.stop());

  test('reads `_` in tags as `+` and finds the digest under the stored tag', async () => {
    const { source } = feedClients();
    const feed = ociFeed(
      'oci-charts',
      registry.url,
      { kind: 'anonymous' },
      { helm: true, repositoryPrefix: 'charts' },
    );
    const listing = await source.list(feed, 'ingress');
    expect(listing.tags.sort()).toEqual(['1.2.2', '1.2.3+build.5']);
    expect(await source.digest(feed, 'ingress', '1.2.3+build.5', listing)).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});
