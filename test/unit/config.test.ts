import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig, resolveFeed } from '../../src/config';

// The unit project has no run folder of its own (no global setup): this file removes what it writes.
const root = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-config-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function withFile(yaml: string, env: Record<string, string> = {}) {
  const dir = mkdtempSync(path.join(root, 'case-'));
  const file = path.join(dir, 'config.yaml');
  writeFileSync(file, yaml);
  return () => loadConfig({ FEED_TRIGGERS_CONFIG: file, ...env });
}

describe('configuration', () => {
  test('defaults without a file', () => {
    const c = loadConfig({});
    expect(c.api).toEqual({ host: '127.0.0.1', port: 8080, idleTimeoutMs: 5000 });
    expect(c.temporal.address).toBeNull();
    expect(c.databaseUrl).toBeNull();
    expect(c.pollCacheMs).toBe(30_000);
  });

  test('FEED_TRIGGERS_WORKER_MEMORY takes MiB or a unit, within bounds', () => {
    expect(loadConfig({}).workerMemoryMiB).toBe(2048);
    expect(loadConfig({ FEED_TRIGGERS_WORKER_MEMORY: '768' }).workerMemoryMiB).toBe(768);
    expect(loadConfig({ FEED_TRIGGERS_WORKER_MEMORY: '768MiB' }).workerMemoryMiB).toBe(768);
    expect(loadConfig({ FEED_TRIGGERS_WORKER_MEMORY: '2GiB' }).workerMemoryMiB).toBe(2048);
    for (const bad of ['lots', '-1', '1.5GiB', '64', '99999999', '1TB', '1 GiB; rm -rf /', '9'.repeat(5000)])
      expect(() => loadConfig({ FEED_TRIGGERS_WORKER_MEMORY: bad })).toThrow(
        /environment: FEED_TRIGGERS_WORKER_MEMORY: /,
      );
  });

  test('Docker Hub callbacks go to Docker Hub unless a stand-in origin is configured', () => {
    expect(loadConfig({}).dockerHubCallbackOrigin).toBeNull();
    expect(withFile('dockerHubCallbackOrigin: http://127.0.0.1:9000\n')().dockerHubCallbackOrigin).toBe(
      'http://127.0.0.1:9000',
    );
    for (const bad of ['http://127.0.0.1:9000/steal', 'ftp://127.0.0.1', 'not a url'])
      expect(withFile(`dockerHubCallbackOrigin: "${bad}"\n`)).toThrow(/dockerHubCallbackOrigin: /);
  });

  test('receivers in the file: their secrets and URL tokens from references, each field checked', () => {
    const token = 'T'.repeat(40);
    const c = withFile(
      [
        'receiverSecrets:',
        '  gh: { env: GH_SECRET }',
        'receivers:',
        '  - { name: ghcr, type: github, secret: { secret: gh }, feed: ghcr, urlToken: { env: GH_URL_TOKEN } }',
        '  - { name: quay, type: quay, urlToken: { env: QUAY_URL_TOKEN } }',
      ].join('\n'),
      { GH_SECRET: 's3cret', GH_URL_TOKEN: token, QUAY_URL_TOKEN: `${token}q` },
    )();
    expect(c.receiverSecrets.get('gh')).toBe('s3cret');
    expect(c.receivers).toEqual([
      { spec: { name: 'ghcr', type: 'github', secret: { secret: 'gh' }, feed: 'ghcr' }, token },
      { spec: { name: 'quay', type: 'quay' }, token: `${token}q` },
    ]);
    const bad = (receiver: string, env: Record<string, string> = { T: token }) =>
      withFile(`receiverSecrets: { gh: { env: T } }\nreceivers:\n  - ${receiver}\n`, env);
    expect(bad('{ name: a, type: gitlab, urlToken: { env: T } }')).toThrow(/receivers\.0\.type: /);
    expect(bad('{ name: a, type: github, urlToken: { env: T } }')).toThrow(
      /receivers\.0\.secret: .*name its secret/,
    );
    expect(bad('{ name: a, type: github, secret: { secret: nope }, urlToken: { env: T } }')).toThrow(
      /receivers\.0\.secret\.secret: not in receiverSecrets/,
    );
    expect(bad('{ name: a, type: quay, urlToken: { env: T } }', { T: 'short' })).toThrow(
      /receivers\.0\.urlToken: 32 to 128 letters/,
    );
    expect(bad('{ name: a, type: quay, urlToken: s3cr3t-in-the-file }')).toThrow(/receivers\.0\.urlToken/);
  });

  test('a gar receiver in the file verifies OIDC tokens; its JWKS URL passes the outbound policy', () => {
    const token = 'T'.repeat(40);
    const gar = (oidc: string, extra = '') =>
      withFile(
        `${extra}receivers:\n  - { name: gar, type: gar, feed: gar, urlToken: { env: T }, oidc: ${oidc} }\n`,
        { T: token, FEED_TRIGGERS_API_HOST: '0.0.0.0' },
      );
    const c = gar(
      '{ audience: "https://ft.example/hooks/gar", jwksUrl: "https://www.googleapis.com/oauth2/v3/certs" }',
    )();
    expect(c.receivers[0].spec.oidc).toEqual({
      audience: 'https://ft.example/hooks/gar',
      jwksUrl: 'https://www.googleapis.com/oauth2/v3/certs',
      issuers: ['https://accounts.google.com', 'accounts.google.com'],
    });
    expect(gar('{ audience: a, jwksUrl: "http://keys.example/certs" }')).toThrow(
      /receivers\.0\.oidc\.jwksUrl: https/,
    );
    expect(gar('{ audience: a }')).toThrow(
      /receivers\.0\.oidc\.jwks: give the keys either as jwks or as jwksUrl/,
    );
    // On an open address, loopback is refused unless the file allows it.
    expect(gar('{ audience: a, jwksUrl: "http://127.0.0.1:9/certs" }')).toThrow(
      /receivers\.0\.oidc\.jwksUrl: .*loopback/,
    );
    expect(
      gar('{ audience: a, jwksUrl: "http://127.0.0.1:9/certs" }', 'outbound: { allowLoopback: true }\n')()
        .receivers,
    ).toHaveLength(1);
  });

  test('LOG_LEVEL is one of the levels; anything else names the variable', () => {
    expect(loadConfig({}).logLevel).toBe('info');
    expect(loadConfig({ LOG_LEVEL: 'trace' }).logLevel).toBe('trace');
    for (const bad of ['verbose', 'INFO', 'debug; rm -rf /', 'x'.repeat(5000)])
      expect(() => loadConfig({ LOG_LEVEL: bad })).toThrow(/environment: LOG_LEVEL: /);
  });

  test('DATABASE_URL must be a PostgreSQL URL', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://ft:pw@db:5432/feed_triggers' }).databaseUrl).toBe(
      'postgres://ft:pw@db:5432/feed_triggers',
    );
    for (const bad of ['mysql://db/x', 'file:///etc/passwd', 'postgres://', 'x'.repeat(5000)])
      expect(() => loadConfig({ DATABASE_URL: bad })).toThrow(/environment: DATABASE_URL: /);
  });

  test('resolves feeds with secrets from env and files, Helm oci:// feeds and ECR page caps', () => {
    const load = withFile(
      [
        'pollCacheSeconds: 5',
        'feeds:',
        '  - { id: hub, url: "https://registry-1.docker.io/", auth: { basic: { username: a, password: { env: HUB_PW } } } }',
        '  - { id: charts, type: helm, url: "oci://127.0.0.1:5000/charts" }',
        '  - { id: ecr, type: oci, url: "https://123456789012.dkr.ecr.us-east-1.amazonaws.com", pageSize: 5000, auth: { ecr: { region: us-east-1 } } }',
      ].join('\n'),
      { HUB_PW: 'pw' },
    );
    const c = load();
    expect(c.pollCacheMs).toBe(5000);
    expect(c.feeds.get('hub')).toMatchObject({
      type: 'oci',
      url: 'https://registry-1.docker.io',
      auth: { kind: 'basic', username: 'a', password: 'pw' },
    });
    expect(c.feeds.get('charts')).toMatchObject({
      type: 'oci',
      helm: true,
      url: 'http://127.0.0.1:5000',
      repositoryPrefix: 'charts',
    });
    expect(c.feeds.get('ecr')).toMatchObject({ pageSize: 1000, auth: { kind: 'ecr', region: 'us-east-1' } });
    expect(resolveFeed(c.feeds, 'ghcr.io')).toMatchObject({
      url: 'https://ghcr.io',
      auth: { kind: 'anonymous' },
    });
    expect(resolveFeed(c.feeds, 'docker.io')).toMatchObject({ url: 'https://registry-1.docker.io' });
    expect(resolveFeed(c.feeds, 'nonsense')).toBeNull();
  });

  test.each([
    ['feeds:\n  - { id: x, url: "ftp://x" }', /feeds\.0\.url/],
    [
      'feeds:\n  - { id: x, url: "https://x", auth: { basic: { username: a, password: hunter2 } } }',
      /feeds\.0\.auth/,
    ],
    [
      'feeds:\n  - { id: x, url: "https://x", auth: { basic: { username: a, password: { env: MISSING_PW } } } }',
      /MISSING_PW is not set/,
    ],
    ['feeds:\n  - { id: x, url: "https://x" }\n  - { id: x, url: "https://y" }', /defined twice/],
    ['feeds: [1, 2', /config\.yaml/],
    ['colour: blue', /colour|Unrecognized/i],
    ['secrets:\n  hook: { env: HOOK_KEY }', /secrets\.hook\.sendTo|secrets\.hook/],
    ['secrets:\n  hook: { env: HOOK_KEY, sendTo: [] }', /URL prefixes this secret may be sent to/],
    ['secrets:\n  hook: { env: HOOK_KEY, sendTo: ["ftp://ci.example.com/"] }', /a URL prefix such as/],
    ['secrets:\n  hook: { env: HOOK_KEY, sendTo: ["https://u:p@ci.example.com/"] }', /a URL prefix such as/],
    ['feeds:\n  - { id: x, url: "https://x", tokenRealmHosts: ["evil host/../x"] }', /a host name such as/],
    ['feeds:\n  - { id: x, url: "https://x", maxPages: 1000000000 }', /maxPages/],
    ['outbound: { allowEverything: true }', /outbound|Unrecognized/i],
  ])('refuses %j with a clear error', (yaml, message) => {
    const load = withFile(yaml);
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(message);
  });

  test('outbound policy: permissive when the API is on loopback, strict otherwise, configured feeds trusted', () => {
    const file = 'feeds:\n  - { id: lab, url: "http://10.0.0.5:5000" }\n';
    expect(withFile(file)().outbound).toMatchObject({ allowPrivateNetworks: true, allowLoopback: true });
    const prod = withFile(file, { FEED_TRIGGERS_API_HOST: '0.0.0.0' })();
    expect(prod.outbound).toMatchObject({ allowPrivateNetworks: false, allowLoopback: false });
    expect([...prod.outbound.trustedHosts!]).toEqual(['10.0.0.5']);
    const opened = withFile(`${file}outbound: { allowPrivateNetworks: true }\n`, {
      FEED_TRIGGERS_API_HOST: '0.0.0.0',
    })();
    expect(opened.outbound).toMatchObject({ allowPrivateNetworks: true, allowLoopback: false });
  });

  test('named secrets carry their bindings', () => {
    const c = withFile('secrets:\n  hook: { env: HOOK_KEY, sendTo: ["https://ci.example.com/hooks/"] }\n', {
      HOOK_KEY: 'k',
    })();
    expect(c.secrets.get('hook')).toEqual({ value: 'k', sendTo: ['https://ci.example.com/hooks/'] });
  });

  test('refuses a bad port in the environment', () => {
    expect(() => loadConfig({ FEED_TRIGGERS_API_PORT: 'eighty' })).toThrow(/FEED_TRIGGERS_API_PORT/);
  });

  test.each([
    '0x1F90',
    '1e3',
    ' 80 ',
    '8080.0',
    '+80',
    '-1',
    ' ',
    '８０８０',
    '٨٠٨٠',
    '8080\n',
    '\n8080',
    '65536',
    '99999999999',
  ])('a port or count that is not plain decimal digits (%j) is an error naming the variable', (value) => {
    for (const variable of [
      'FEED_TRIGGERS_API_PORT',
      'TEMPORAL_PORT',
      'TEMPORAL_UI_PORT',
      'TEMPORAL_METRICS_PORT',
      'TEMPORAL_HTTP_PORT',
      'FEED_TRIGGERS_API_IDLE_SECONDS',
    ])
      expect(() => loadConfig({ [variable]: value })).toThrow(new RegExp(`^environment: ${variable}: `));
  });

  test('plain decimal ports and counts are read as numbers; an empty variable is unset', () => {
    const c = loadConfig({
      FEED_TRIGGERS_API_PORT: '8081',
      TEMPORAL_PORT: '07233',
      FEED_TRIGGERS_API_IDLE_SECONDS: '',
    });
    expect([c.api.port, c.temporal.devServerPort, c.api.idleTimeoutMs]).toEqual([8081, 7233, 5000]);
  });
});
