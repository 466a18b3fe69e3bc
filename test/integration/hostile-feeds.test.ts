import { gzipSync } from 'node:zlib';
import { FeedError } from '../../src/feeds/errors';
import { HelmHttpFeed } from '../../src/feeds/feed';
import { HelmRepositoryClient } from '../../src/feeds/helm';
import { HttpClient } from '../../src/net/http';
import { CredentialStore } from '../../src/feeds/credentials';
import { guardedLookup, STRICT_OUTBOUND } from '../../src/net/outbound';
import { realmRefusal } from '../../src/feeds/token-realm';
import { feedClients, ociFeed } from '../support/feeds';
import {
  closedPort,
  startElsewhere,
  startHostileRegistry,
  startSilentPort,
} from '../support/hostile-registry';
import { startServer, TestServer } from '../support/http-server';

let elsewhere: TestServer;
let hostile: TestServer;

beforeAll(async () => {
  elsewhere = await startElsewhere();
  hostile = await startHostileRegistry(elsewhere);
});
afterAll(async () => {
  await hostile?.close();
  await elsewhere?.close();
});

const fail = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e: unknown) => e as FeedError,
  );
const credentialed = () =>
  ociFeed('hostile', hostile.url, { kind: 'basic', username: 'deployer', password: 'Pa55-for-hostile-only' });

describe('registry credentials stay with their registry', () => {
  test('a token realm on another host never receives the feed credentials', async () => {
    const before = elsewhere.requests.length;
    const err = await fail(feedClients().oci.listTags(credentialed(), 'realm-elsewhere'));
    expect(err?.code).toBe('DENIED');
    expect(err?.message).toMatch(
      /token realm; credentials withheld: 127\.0\.0\.2 is neither the registry's host/,
    );
    expect(elsewhere.requests.slice(before)).toEqual([]);
  });

  test('a realm is allowed on the same host, a host of the same registrable domain or a listed host, over https', () => {
    const realm = (u: string) => new URL(u);
    expect(realmRefusal('https://registry-1.docker.io', realm('https://auth.docker.io/token'))).toBeNull();
    expect(realmRefusal('https://ghcr.io', realm('https://ghcr.io/token'))).toBeNull();
    expect(realmRefusal('https://eu.gcr.io', realm('https://gcr.io/v2/token'))).toBeNull();
    expect(realmRefusal('https://acme.azurecr.io', realm('https://login.example.net/token'))).toMatch(
      /neither/,
    );
    expect(
      realmRefusal('https://acme.azurecr.io', realm('https://login.example.net/token'), [
        'login.example.net',
      ]),
    ).toBeNull();
    // github.io is a public suffix (private section): one user's pages are not another's.
    expect(realmRefusal('https://alice.github.io', realm('https://mallory.github.io/token'))).toMatch(
      /neither/,
    );
    expect(realmRefusal('https://ghcr.io', realm('http://ghcr.io/token'))).toMatch(/only over https/);
    expect(realmRefusal('http://127.0.0.1:5000', realm('http://127.0.0.1:5001/token'))).toBeNull();
  });

  test('a redirect to another host carries no credentials', async () => {
    const before = elsewhere.requests.length;
    const listing = await feedClients().oci.listTags(
      ociFeed('hostile', hostile.url, { kind: 'basic', username: 'deployer', password: 'x' }),
      'redirect-away',
    );
    expect(listing.tags).toEqual(['9.9.9-internal']);
    const reached = elsewhere.requests.slice(before);
    expect(reached).toHaveLength(1);
    expect(reached[0].headers.authorization).toBeUndefined();
  });
});

describe('the outbound policy', () => {
  const strict = () =>
    feedClients(undefined, { policy: { ...STRICT_OUTBOUND, trustedHosts: new Set(['127.0.0.1']) } });

  test('cloud metadata and link-local addresses are refused before any connection', async () => {
    for (const url of [
      'http://169.254.169.254',
      'http://[fd00:ec2::254]',
      'http://[::ffff:169.254.169.254]',
    ]) {
      const err = await fail(feedClients().oci.listTags(ociFeed('meta', url), 'latest/meta-data'));
      expect([err?.code, err?.retryable]).toEqual(['OUTBOUND_REFUSED', false]);
      expect(err?.message).toMatch(/link-local, metadata and reserved addresses are never reached/);
    }
  });

  test('a redirect into a refused network is re-checked: the internal content is never used', async () => {
    const before = elsewhere.requests.length;
    const err = await fail(strict().oci.listTags(ociFeed('hostile', hostile.url), 'redirect-away'));
    expect(err?.code).toBe('OUTBOUND_REFUSED');
    expect(err?.message).toMatch(/127\.0\.0\.2:\d+ is refused: loopback addresses are not allowed/);
    expect(elsewhere.requests.slice(before)).toEqual([]);
  });

  test('names that resolve to a refused address are refused at connect time', async () => {
    const lookup = guardedLookup(STRICT_OUTBOUND);
    const refused = await new Promise<Error | null>((resolve) =>
      lookup('localhost', { all: true }, (err) => resolve(err)),
    );
    expect(refused?.message).toBe(
      'localhost is refused: loopback addresses are not allowed (outbound.allowLoopback)',
    );
    const allowed = await new Promise<unknown>((resolve) =>
      guardedLookup({ ...STRICT_OUTBOUND, trustedHosts: new Set(['localhost']) })(
        'localhost',
        {},
        (err, address) => resolve(err ?? address),
      ),
    );
    expect(allowed).toMatch(/^(127\.0\.0\.1|::1)$/);
  });

  test('schemes other than http(s) and URLs with credentials are refused with a clear error', async () => {
    const http = new HttpClient();
    expect((await fail(http.request('file:///etc/passwd')))?.message).toMatch(
      /file:\/\/ URLs are not allowed/,
    );
    expect((await fail(http.request(`http://user:pass@127.0.0.1:${hostile.port}/`)))?.message).toMatch(
      /credentials in a URL are not allowed/,
    );
  });

  test('a closed port and a silent one read the same to the caller', async () => {
    const silent = await startSilentPort();
    const closed = await closedPort();
    try {
      const http = new HttpClient({ timeoutMs: 400 });
      const a = await fail(http.request(`http://127.0.0.1:${silent.port}/`));
      const b = await fail(http.request(`http://127.0.0.1:${closed}/`));
      const scrub = (e: FeedError | null) => [e?.code, e?.message.replace(/:\d+/, ':PORT')];
      expect(scrub(a)).toEqual(scrub(b));
      expect(scrub(a)).toEqual([
        'NETWORK',
        'http://127.0.0.1:PORT could not be reached or gave no answer within 400 ms',
      ]);
    } finally {
      await silent.close();
    }
  });

  test('a redirect loop is a clear error', async () => {
    const err = await fail(feedClients().oci.listTags(ociFeed('hostile', hostile.url), 'loop'));
    expect([err?.code, err?.message]).toEqual([
      'BAD_RESPONSE',
      `${hostile.url}/v2/loop/tags/list redirects in a loop`,
    ]);
  });
});

describe('malformed answers', () => {
  test('a tag list that is not an array of strings, and a token answer without a token, are clear errors', async () => {
    const oci = feedClients().oci;
    const tags = await fail(oci.listTags(ociFeed('hostile', hostile.url), 'badtags'));
    expect([tags?.code, tags?.message]).toEqual([
      'BAD_RESPONSE',
      'the tag list of badtags is malformed at tags.1: Invalid input: expected string, received number',
    ]);
    const token = await fail(oci.listTags(ociFeed('hostile', hostile.url), 'notoken'));
    expect([token?.code, token?.message]).toEqual([
      'BAD_RESPONSE',
      'the answer of the token service of feed hostile is malformed: no token or access_token',
    ]);
  });
});

describe('bounded work on hostile feeds', () => {
  test('endless distinct next-page links stop at the page cap', async () => {
    const before = hostile.requests.length;
    const err = await fail(
      feedClients().oci.listTags(ociFeed('hostile', hostile.url, undefined, { maxPages: 50 }), 'endless'),
    );
    expect(err?.code).toBe('TOO_LARGE');
    expect(err?.message).toMatch(/needs more than 50 pages of tags; raise maxPages/);
    expect(hostile.requests.length - before).toBe(50);
  });

  test('an aborted listing sends no further requests', async () => {
    const controller = new AbortController();
    const before = hostile.requests.length;
    const listing = fail(
      feedClients().oci.listTags(
        ociFeed('hostile', hostile.url, undefined, { maxPages: 100_000 }),
        'endless',
        controller.signal,
      ),
    );
    await new Promise((r) => setTimeout(r, 200));
    controller.abort(new Error('cancelled'));
    expect(((await listing) as unknown as Error).message).toBe('cancelled');
    await new Promise((r) => setTimeout(r, 100)); // a request already on the wire may still land
    const sent = hostile.requests.length;
    await new Promise((r) => setTimeout(r, 300));
    expect(hostile.requests.length).toBe(sent);
    expect(sent - before).toBeGreaterThan(0);
  });
});

describe('Helm indexes', () => {
  const indexOf = (charts: number, versions: number) => {
    const lines = ['apiVersion: v1', 'entries:'];
    for (let c = 0; c < charts; c++) {
      lines.push(`  chart-${c}:`);
      for (let v = 0; v < versions; v++)
        lines.push(
          `  - name: chart-${c}`,
          `    version: 1.0.${v}`,
          `    urls: [charts/chart-${c}-1.0.${v}.tgz]`,
        );
    }
    return `${lines.join('\n')}\n`;
  };
  let server: TestServer;
  const bodies = new Map<string, Buffer>();
  beforeAll(async () => {
    bodies.set('/wide/index.yaml', gzipSync(indexOf(20_000, 1)));
    bodies.set('/deep/index.yaml', Buffer.from(indexOf(1, 2_000)));
    bodies.set('/deep2/index.yaml', Buffer.from(indexOf(1, 2_000)));
    bodies.set(
      '/alias/index.yaml',
      Buffer.from(
        [
          'entries:',
          '  a: &v [{version: "1.0.0"}, {version: "1.0.1"}, {version: "1.0.2"}]',
          ...Array.from({ length: 200 }, (_, i) => `  c${i}: *v`),
        ].join('\n'),
      ),
    );
    server = await startServer((req, res) => {
      const body = bodies.get(req.url);
      if (!body) return void res.writeHead(404).end();
      res.writeHead(200, req.url.startsWith('/wide') ? { 'content-encoding': 'gzip' } : {}).end(body);
    });
  });
  afterAll(() => server?.close());

  const helmFeed = (path: string, extra: Partial<HelmHttpFeed> = {}): HelmHttpFeed => ({
    id: path,
    type: 'helm',
    url: `${server.url}/${path}`,
    auth: { kind: 'anonymous' },
    maxTags: 200_000,
    maxIndexBytes: 64 * 1024 * 1024,
    ...extra,
  });

  test('an index of 20,000 charts parses (linear parser) and keeps only what polls need', async () => {
    const http = new HttpClient();
    const helm = new HelmRepositoryClient(http, new CredentialStore(http));
    const versions = await helm.chartVersions(helmFeed('wide'), 'chart-19999');
    expect(versions).toEqual([
      { version: '1.0.0', digest: null, urls: [`${server.url}/wide/charts/chart-19999-1.0.0.tgz`] },
    ]);
  });

  test('parsed indexes are cached by size, the least recently used evicted', async () => {
    const http = new HttpClient();
    const helm = new HelmRepositoryClient(http, new CredentialStore(http), 1024 * 1024);
    await helm.chartVersions(helmFeed('deep'), 'chart-0');
    const one = helm.cacheStats();
    expect(one.indexes).toBe(1);
    expect(one.bytes).toBeGreaterThan(512 * 1024);
    await helm.chartVersions(helmFeed('deep2'), 'chart-0'); // two do not fit: the older goes
    const two = helm.cacheStats();
    expect(two.indexes).toBe(1);
    expect(two.bytes).toBeLessThanOrEqual(1024 * 1024);
    await helm.chartVersions(helmFeed('wide'), 'chart-1'); // larger than the whole budget: never kept
    expect(helm.cacheStats()).toEqual(two);
  });

  test('aliases cannot multiply the work over an index: it stops at maxTags', async () => {
    const http = new HttpClient();
    const helm = new HelmRepositoryClient(http, new CredentialStore(http));
    const err = await fail(helm.chartVersions(helmFeed('alias', { maxTags: 100 }), 'a'));
    expect([err?.code, err?.message]).toEqual([
      'TOO_LARGE',
      'the index of Helm repository alias lists more than 100 chart versions; raise maxTags',
    ]);
  });
});
