import { FeedError } from '../../src/feeds/errors';
import { FeedAuth } from '../../src/feeds/feed';
import { sendJson, startServer, TestServer } from '../support/http-server';
import { decodeBasic, FakeRegistry, RegistryProfile } from '../support/fake-registry';
import { feedClients, ociFeed } from '../support/feeds';

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
      (b, params) => b?.user === 'octocat' && b.password === 'ghp_xyz' && params.get('service') === 'ghcr.io',
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
      (await list(legacy.server.url, { kind: 'refresh-token', refreshToken: 'identity-token' }, 'app')).tags,
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
