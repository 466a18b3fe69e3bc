import { execFileSync } from 'node:child_process';
import { FeedError } from '../../src/feeds/errors';
import { basic, feedClients, ociFeed } from '../support/feeds';
import { pushImage, TestRegistry } from '../support/registry';
import { TokenServer } from '../support/token-server';

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
    const anonymous = await oci.listTags(ociFeed('anon', registry.url), 'team/app').catch((e: unknown) => e);
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
