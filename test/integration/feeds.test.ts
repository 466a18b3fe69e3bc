import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { createPollActivities } from '../../activities/poll';
import type { PollPackageResult } from '../../workflows/contracts/activities';
import { SingleFlightCache } from '../../src/feeds/single-flight';
import { FaultProxy } from '../support/fault-proxy';
import { feedClients, ociFeed, pollEnvironment, basic } from '../support/feeds';
import { pushImage, TestRegistry } from '../support/registry';
import { FeedError } from '../../src/feeds/errors';
import { TokenServer } from '../support/token-server';
import { FeedAuth, DEFAULT_MAX_TAGS, HelmHttpFeed } from '../../src/feeds/feed';
import { sendJson, startServer, TestServer } from '../support/http-server';
import { decodeBasic, FakeRegistry, RegistryProfile } from '../support/fake-registry';
import { HelmRepositoryClient } from '../../src/feeds/helm';
import { HttpClient } from '../../src/net/http';
import { CredentialStore } from '../../src/feeds/credentials';
import { guardedLookup, STRICT_OUTBOUND } from '../../src/net/outbound';
import { realmRefusal } from '../../src/feeds/token-realm';
import {
  closedPort,
  startElsewhere,
  startHostileRegistry,
  startSilentPort,
} from '../support/hostile-registry';

/**
 * Feeds read directly (no Temporal worker): registry auth and its exchanges, Helm repositories, label and
 * age rules, hostile registries. One file, each former file a describe block of its own with its own
 * servers: they share the cost of loading the modules, which was most of what each small file spent.
 */

describe('labels', () => {
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
});

describe('registry-auth', () => {
  describe("Debian's docker-registry with htpasswd (Basic) auth", () => {
    let registry: TestRegistry;
    beforeAll(async () => {
      // bcrypt at a low cost keeps the test fast; the registry checks it like any other.
      const line = execFileSync('htpasswd', ['-nbB', '-C', '4', 'ci', 's3cret-basic']).toString().trim();
      registry = await TestRegistry.start({ htpasswd: `${line}\n` });
      await pushImage(registry.url, 'team/app', '1.0.0', { authorization: basic('ci', 's3cret-basic') });
      await pushImage(registry.url, 'team/app', '1.1.0', { authorization: basic('ci', 's3cret-basic') });
    });
    afterAll(() => registry?.stop());

    test('lists tags with Basic credentials and sends Basic up front afterwards', async () => {
      const { oci } = feedClients();
      const feed = ociFeed('private', registry.url, {
        kind: 'basic',
        username: 'ci',
        password: 's3cret-basic',
      });
      const first = await oci.listTags(feed, 'team/app');
      expect(first.tags.sort()).toEqual(['1.0.0', '1.1.0']);
      const before = oci.requests;
      await oci.listTags(feed, 'team/app');
      expect(oci.requests - before).toBe(1); // no second 401 round trip
      expect((await oci.manifest(feed, 'team/app', '1.1.0')).digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    });

    test('refuses wrong and missing credentials as UNAUTHORIZED, without the password in the message', async () => {
      const { oci } = feedClients();
      const wrong = ociFeed('private', registry.url, {
        kind: 'basic',
        username: 'ci',
        password: 'wrong-password-xyz',
      });
      const err = await oci.listTags(wrong, 'team/app').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FeedError);
      expect((err as FeedError).code).toBe('UNAUTHORIZED');
      expect((err as FeedError).retryable).toBe(false);
      expect((err as FeedError).message).not.toContain('wrong-password-xyz');
      const anonymous = await oci
        .listTags(ociFeed('anon', registry.url), 'team/app')
        .catch((e: unknown) => e);
      expect((anonymous as FeedError).code).toBe('UNAUTHORIZED');
    });
  });

  describe("Debian's docker-registry with token auth (ES256 JWTs from a local token server)", () => {
    let tokens: TokenServer;
    let registry: TestRegistry;
    beforeAll(async () => {
      tokens = await TokenServer.start({ reader: 'token-pass-123' });
      registry = await TestRegistry.start({ authYaml: tokens.registryAuthYaml });
      const push = `Bearer ${tokens.issue('pusher', 'team/api', ['pull', 'push'])}`;
      await pushImage(registry.url, 'team/api', '2.0.0', { authorization: push });
      await pushImage(registry.url, 'team/api', '2.1.0-rc.1', { authorization: push });
    });
    afterAll(async () => {
      await registry?.stop();
      await tokens?.close();
    });

    test('answers the Bearer challenge with Basic credentials at the realm and reuses the token until it expires', async () => {
      const { oci } = feedClients();
      const feed = ociFeed('tok', registry.url, {
        kind: 'basic',
        username: 'reader',
        password: 'token-pass-123',
      });
      const before = tokens.tokenRequests;
      expect((await oci.listTags(feed, 'team/api')).tags.sort()).toEqual(['2.0.0', '2.1.0-rc.1']);
      await oci.listTags(feed, 'team/api');
      await oci.manifest(feed, 'team/api', '2.0.0');
      expect(tokens.tokenRequests - before).toBe(1);
      const tokenRequest = tokens.server.requests.filter((r) => r.url.startsWith('/token')).at(-1)!;
      const query = new URL(tokenRequest.url, 'http://x').searchParams;
      expect(query.get('service')).toBe('feed-triggers-test');
      expect(query.get('scope')).toBe('repository:team/api:pull');
    });

    test('a token service refusing the credentials is UNAUTHORIZED', async () => {
      const { oci } = feedClients();
      const feed = ociFeed('tok', registry.url, { kind: 'basic', username: 'reader', password: 'nope' });
      const err = (await oci.listTags(feed, 'team/api').catch((e: unknown) => e)) as FeedError;
      expect(err.code).toBe('UNAUTHORIZED');
      expect(err.message).toMatch(/token service of feed tok refused the credentials/);
    });
  });
});

describe('registry-exchanges', () => {
  const bearerOf = (h: string | undefined) => (h?.startsWith('Bearer ') ? h.slice(7) : null);

  /** A registry whose Bearer tokens come from a realm on the same server, granted by `grant`. */
  async function start(
    realmPath: string,
    service: string,
    grant: (
      basic: { user: string; password: string } | null,
      params: URLSearchParams,
      method: string,
    ) => boolean,
    tags: Record<string, string[]>,
    extra: Partial<RegistryProfile> = {},
    field: 'token' | 'access_token' | 'both' = 'both',
  ): Promise<FakeRegistry> {
    // eslint-disable-next-line prefer-const
    let registry: FakeRegistry;
    const profile: RegistryProfile = {
      challenge: (base) => `Bearer realm="${base}${realmPath}",service="${service}"`,
      tokenPath: realmPath,
      token: (req, params) =>
        grant(decodeBasic(req.headers.authorization), params, req.method)
          ? { token: registry.mint(), field }
          : { status: 401 },
      authorized: (h) => {
        const t = bearerOf(h);
        return t !== null && registry.issued.has(t);
      },
      ...extra,
    };
    registry = await FakeRegistry.start(profile, tags);
    return registry;
  }

  async function list(url: string, auth: FeedAuth, repository: string) {
    const { oci } = feedClients();
    return oci.listTags(ociFeed('feed', url, auth), repository);
  }

  describe('registry auth exchanges, each against a local server speaking that registry', () => {
    const servers: Array<{ close(): Promise<void> }> = [];
    afterAll(async () => {
      for (const s of servers) await s.close();
    });

    test('Docker Hub: anonymous token for a public image, rate-limit headers read', async () => {
      const hub = await start(
        '/token',
        'registry.docker.io',
        (basic, params) =>
          basic === null &&
          params.get('service') === 'registry.docker.io' &&
          params.get('scope') === 'repository:library/nginx:pull',
        { 'library/nginx': ['1.27.0', '1.27.1', 'latest'] },
        { listingHeaders: { 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '76;w=21600' } },
      );
      servers.push(hub);
      const listing = await list(hub.server.url, { kind: 'anonymous' }, 'library/nginx');
      expect(listing.tags).toEqual(['1.27.0', '1.27.1', 'latest']);
      expect(listing.rateLimitRemaining).toBe(76);
    });

    test('Docker Hub: a personal access token is sent as Basic to the token service', async () => {
      const hub = await start(
        '/token',
        'registry.docker.io',
        (b) => b?.user === 'alice' && b.password === 'dckr_pat_abc',
        {
          'alice/private': ['0.1.0'],
        },
      );
      servers.push(hub);
      expect(
        (
          await list(
            hub.server.url,
            { kind: 'basic', username: 'alice', password: 'dckr_pat_abc' },
            'alice/private',
          )
        ).tags,
      ).toEqual(['0.1.0']);
      const err = (await list(hub.server.url, { kind: 'anonymous' }, 'alice/private').catch(
        (e: unknown) => e,
      )) as FeedError;
      expect(err.code).toBe('UNAUTHORIZED');
    });

    test('GHCR: token-only answers ({"token"}), username plus PAT for private packages', async () => {
      const ghcr = await start(
        '/token',
        'ghcr.io',
        (b, params) =>
          b?.user === 'octocat' && b.password === 'ghp_xyz' && params.get('service') === 'ghcr.io',
        {
          'octocat/app': ['v1.0.0', 'v1.1.0'],
        },
        {},
        'token',
      );
      servers.push(ghcr);
      expect(
        (
          await list(
            ghcr.server.url,
            { kind: 'basic', username: 'octocat', password: 'ghp_xyz' },
            'octocat/app',
          )
        ).tags,
      ).toEqual(['v1.0.0', 'v1.1.0']);
    });

    test('Quay: robot account credentials at /v2/auth', async () => {
      const quay = await start(
        '/v2/auth',
        'quay.io',
        (b) => b?.user === 'org+deployer' && b.password === 'ROBOTTOKEN',
        { 'org/web': ['2.0'] },
      );
      servers.push(quay);
      expect(
        (
          await list(
            quay.server.url,
            { kind: 'basic', username: 'org+deployer', password: 'ROBOTTOKEN' },
            'org/web',
          )
        ).tags,
      ).toEqual(['2.0']);
      expect(quay.requestsTo('/v2/auth')).toHaveLength(1);
    });

    test('Harbor: robot account with a $ in its name at /service/token', async () => {
      const harbor = await start(
        '/service/token',
        'harbor-registry',
        (b) => b?.user === 'robot$ci' && b.password === 'harbor-secret',
        {
          'library/app': ['3.1.0'],
        },
      );
      servers.push(harbor);
      expect(
        (
          await list(
            harbor.server.url,
            { kind: 'basic', username: 'robot$ci', password: 'harbor-secret' },
            'library/app',
          )
        ).tags,
      ).toEqual(['3.1.0']);
    });

    test('Google Artifact Registry: oauth2accesstoken and _json_key', async () => {
      const key = JSON.stringify({
        type: 'service_account',
        client_email: 'ci@p.iam.gserviceaccount.com',
        private_key: '-----BEGIN PRIVATE KEY-----\nx\n',
      });
      const gar = await start(
        '/v2/token',
        'us-docker.pkg.dev',
        (b) =>
          (b?.user === 'oauth2accesstoken' && b.password === 'ya29.token') ||
          (b?.user === '_json_key' && b.password === key),
        { 'proj/repo/img': ['1.0.0'] },
      );
      servers.push(gar);
      expect(
        (
          await list(
            gar.server.url,
            { kind: 'basic', username: 'oauth2accesstoken', password: 'ya29.token' },
            'proj/repo/img',
          )
        ).tags,
      ).toEqual(['1.0.0']);
      expect(
        (await list(gar.server.url, { kind: 'basic', username: '_json_key', password: key }, 'proj/repo/img'))
          .tags,
      ).toEqual(['1.0.0']);
    });

    test('Azure ACR: Entra ID token exchanged for a refresh token, then OAuth2 POST for an access token', async () => {
      const refresh = 'acr-refresh-token-1';
      const acr = await start(
        '/oauth2/token',
        'myacr.azurecr.io',
        (_b, params, method) =>
          method === 'POST' &&
          params.get('grant_type') === 'refresh_token' &&
          params.get('refresh_token') === refresh &&
          params.get('scope') === 'repository:team/svc:pull',
        { 'team/svc': ['1.0.0', '1.2.0'] },
        {
          // ACR answers with access_token only.
          challenge: (base) => `Bearer realm="${base}/oauth2/token",service="myacr.azurecr.io"`,
          route: (req, res) => {
            if (!req.url.startsWith('/oauth2/exchange')) return false;
            const form = new URLSearchParams(req.body);
            if (
              form.get('grant_type') === 'access_token' &&
              form.get('access_token') === 'entra-token' &&
              form.get('tenant') === 'tenant-1'
            ) {
              sendJson(res, 200, { refresh_token: refresh });
            } else {
              sendJson(res, 401, { error: 'invalid token' });
            }
            return true;
          },
        },
      );
      servers.push(acr);
      const { oci } = feedClients();
      const feed = ociFeed('acr', acr.server.url, {
        kind: 'acr-exchange',
        accessToken: 'entra-token',
        tenant: 'tenant-1',
      });
      expect((await oci.listTags(feed, 'team/svc')).tags).toEqual(['1.0.0', '1.2.0']);
      await oci.listTags(feed, 'team/svc');
      expect(acr.requestsTo('/oauth2/exchange')).toHaveLength(1);
      const exchange = new URLSearchParams(acr.requestsTo('/oauth2/exchange')[0].body);
      expect(exchange.get('service')).toBe(new URL(acr.server.url).host);
      const bad = ociFeed('acr2', acr.server.url, {
        kind: 'acr-exchange',
        accessToken: 'stale',
        tenant: 'tenant-1',
      });
      expect(((await oci.listTags(bad, 'team/svc').catch((e: unknown) => e)) as FeedError).code).toBe(
        'UNAUTHORIZED',
      );
    });

    test('Azure ACR: the admin user takes the Basic GET', async () => {
      const acr = await start(
        '/oauth2/token',
        'admin.azurecr.io',
        (b, _p, method) => method === 'GET' && b?.user === 'admin' && b.password === 'adminpw',
        {
          app: ['5.0.0'],
        },
      );
      servers.push(acr);
      expect(
        (await list(acr.server.url, { kind: 'basic', username: 'admin', password: 'adminpw' }, 'app')).tags,
      ).toEqual(['5.0.0']);
    });

    test('a refresh token falls back to GET when the token service does not speak OAuth2 POST', async () => {
      const legacy = await start(
        '/token',
        'legacy',
        (_b, _p, method) => method === 'GET',
        { app: ['1.0'] },
        {
          route: (req, res) => {
            if (req.method !== 'POST') return false;
            res.writeHead(405).end();
            return true;
          },
        },
      );
      servers.push(legacy);
      expect(
        (await list(legacy.server.url, { kind: 'refresh-token', refreshToken: 'identity-token' }, 'app'))
          .tags,
      ).toEqual(['1.0']);
      expect(legacy.server.requests.filter((r) => r.url.startsWith('/token')).map((r) => r.method)).toEqual([
        'POST',
        'GET',
      ]);
    });

    test('insufficient_scope: a new token for the scope the challenge names, and one retry', async () => {
      let first = true;
      const registry: FakeRegistry = await FakeRegistry.start(
        {
          challenge: (base) =>
            `Bearer realm="${base}/token",service="s",scope="repository:team/x:pull",error="insufficient_scope"`,
          tokenPath: '/token',
          token: () => {
            const token = first ? 'weak-token' : registry.mint();
            first = false;
            return { token };
          },
          authorized: (h) => {
            const t = bearerOf(h);
            return t !== null && t !== 'weak-token' && registry.issued.has(t);
          },
        },
        { 'team/x': ['1.0.0'] },
      );
      servers.push(registry);
      const { oci } = feedClients();
      const feed = ociFeed('scoped', registry.server.url);
      // The weak token is cached after the first exchange fails; the next request answers the challenge once more.
      await oci.listTags(feed, 'team/x').catch(() => undefined);
      expect((await oci.listTags(feed, 'team/x')).tags).toEqual(['1.0.0']);
      expect(registry.requestsTo('/token').length).toBe(2);
    });
  });

  describe('Amazon ECR through the AWS SDK, against a local ECR API', () => {
    let ecrApi: TestServer;
    let registry: FakeRegistry;
    let expiresInSeconds = 12 * 3600;
    const password = 'ecr-password-abc';

    beforeAll(async () => {
      ecrApi = await startServer((req, res) => {
        // The AWS JSON 1.1 protocol: a POST with X-Amz-Target naming the operation, signed with SigV4.
        if (
          req.headers['x-amz-target'] !== 'AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken' ||
          !/^AWS4-HMAC-SHA256 /.test(String(req.headers.authorization))
        ) {
          return sendJson(res, 400, { __type: 'ValidationException', message: 'bad request' });
        }
        const expiresAt = Math.floor(Date.now() / 1000) + expiresInSeconds;
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(
          JSON.stringify({
            authorizationData: [
              {
                authorizationToken: Buffer.from(`AWS:${password}`).toString('base64'),
                expiresAt,
                proxyEndpoint: 'https://123.dkr.ecr.us-east-1.amazonaws.com',
              },
            ],
          }),
        );
      });
      registry = await FakeRegistry.start(
        {
          challenge: (base) => `Basic realm="${base}/",service="ecr.amazonaws.com"`,
          authorized: (h) => {
            const b = decodeBasic(h);
            return b?.user === 'AWS' && b.password === password;
          },
        },
        { 'team/ecr-app': ['1.0.0', '1.0.1'] },
      );
    });
    afterAll(async () => {
      await registry?.close();
      await ecrApi?.close();
    });

    const ecrAuth = (): FeedAuth => ({
      kind: 'ecr',
      region: 'us-east-1',
      accessKeyId: 'AKIDTEST',
      secretAccessKey: 'secret-key-test',
      endpoint: ecrApi.url,
    });

    test('GetAuthorizationToken gives Basic credentials, reused while the 12-hour token is fresh', async () => {
      expiresInSeconds = 12 * 3600;
      const before = ecrApi.requests.length;
      const { oci } = feedClients();
      const feed = ociFeed('ecr', registry.server.url, ecrAuth());
      expect((await oci.listTags(feed, 'team/ecr-app')).tags).toEqual(['1.0.0', '1.0.1']);
      expect((await oci.listTags(feed, 'team/ecr-app')).tags).toEqual(['1.0.0', '1.0.1']);
      expect(ecrApi.requests.length - before).toBe(1);
    });

    test('a token within an hour of expiry is renewed before use', async () => {
      expiresInSeconds = 30 * 60;
      const before = ecrApi.requests.length;
      const { oci } = feedClients();
      const feed = ociFeed('ecr', registry.server.url, ecrAuth());
      await oci.listTags(feed, 'team/ecr-app');
      await oci.listTags(feed, 'team/ecr-app');
      expect(ecrApi.requests.length - before).toBe(2);
    });
  });
});

describe('helm', () => {
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
      res
        .writeHead(200, { 'content-type': 'text/yaml', 'last-modified': modified })
        .end(indexYaml(['1.0.0']));
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
});

describe('hostile-feeds', () => {
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
    ociFeed('hostile', hostile.url, {
      kind: 'basic',
      username: 'deployer',
      password: 'Pa55-for-hostile-only',
    });

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
});
