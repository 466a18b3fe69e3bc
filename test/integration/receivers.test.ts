import { createHmac, generateKeyPairSync, KeyPairKeyObjectResult, sign } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import os from 'node:os';
import { runApply } from '../../src/cli/apply';
import { registry as metricsRegistry } from '../../src/observability/metrics';
import path from 'node:path';
import type { ReceiverType } from '../../src/receivers/spec';
import { ociFeed } from '../support/feeds';
import { startServer, TestServer } from '../support/http-server';
import { fixture, hmac, receiverCases, SECRETS } from '../support/receivers';
import { startApi, TestApi } from '../support/api';
import { pushImage, TestRegistry } from '../support/registry';
import { eventually, startTestWorker, TestWorkerEnv } from '../support/temporal';
import { openStores } from '../../src/db/stores';
import { waitForReleases } from '../support/projects';

/**
 * Registry webhook receivers, one per sender type, with payloads shaped as each provider documents them
 * (test/fixtures/webhooks): a push to the local registry and its notification make a release; bad
 * signatures, unknown URLs and tampered bodies signal nothing; events that move no tag are acknowledged.
 */
const FILE_TOKEN = 'Fi1e-Defined-Receiver-Token-0123456789';
let registry: TestRegistry;
let env: TestWorkerEnv;
let api: TestApi;
let hub: TestServer;

beforeAll(async () => {
  registry = await TestRegistry.start();
  const feeds = new Map([
    ['local', ociFeed('local', registry.url)],
    // Helm charts in the same registry, under charts/ (`oci://HOST/charts`).
    [
      'local-charts',
      ociFeed(
        'local-charts',
        registry.url,
        { kind: 'anonymous' },
        { helm: true, repositoryPrefix: 'charts' },
      ),
    ],
  ]);
  env = await startTestWorker({ feeds });
  hub = await startServer((_req, res) => void res.writeHead(200).end());
  api = await startApi(env, {
    receiverSecrets: SECRETS,
    feeds,
    // Docker Hub's callbacks go to this stand-in only because it is configured.
    dockerHubCallbackOrigin: hub.url,
    receivers: openStores(env.database, {
      receivers: [{ spec: { name: 'from-file', type: 'quay', feed: 'local' }, token: FILE_TOKEN }],
    }).receivers,
  });
});
afterAll(async () => {
  await hub?.close();
  await api?.close();
  await env?.stop();
  await registry?.stop();
});

async function post(url: string, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${api.url}${url}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function receiver(
  name: string,
  type: ReceiverType,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const res = await api.request('POST', '/receivers', { name, type, ...extra });
  expect([res.status, res.body.spec?.name]).toEqual([201, name]);
  expect(res.body.url).toMatch(/^\/hooks\/[A-Za-z0-9_-]{43}$/);
  return res.body.url;
}

/** A project on `repository` with a trigger that polls hourly: only notifications make it poll again. */
async function watched(project: string, repository: string): Promise<void> {
  await pushImage(registry.url, repository, '1.0.0');
  expect(
    (
      await api.request('PUT', `/projects/${project}`, {
        packages: [{ name: 'app', feed: 'local', package: repository }],
        channels: [{ name: 'default', rules: [{ tag: '^$' }] }],
      })
    ).status,
  ).toBe(201);
  expect(
    (await api.request('POST', `/projects/${project}/triggers`, { name: 'app', intervalSeconds: 3600 }))
      .status,
  ).toBe(201);
  await waitForReleases(env, project, 1);
}

/** The same JSON with every object's keys in reverse order, indented by three spaces. */
const respace = (body: string) =>
  JSON.stringify(
    JSON.parse(body, (_key, value: unknown) =>
      value && typeof value === 'object' && !Array.isArray(value)
        ? Object.fromEntries(Object.entries(value).reverse())
        : value,
    ),
    null,
    3,
  );

const newestEntry = async (project: string) =>
  (await api.request('GET', `/triggers/${project}/app/history`)).body.history[0] as {
    outcome: string;
    reason: string;
    source?: string;
    release: string | null;
  };

const CASES = receiverCases(
  () => registry.host,
  () => hub.url,
);

describe.each(CASES)('a $type receiver', ({ type, extra, repository, notify }) => {
  const project = `hook-${type}`;
  let url: string;
  beforeAll(async () => {
    url = await receiver(`r-${type}`, type, extra);
    await watched(project, repository);
  });

  test('a push and its notification make a release, its history naming the receiver', async () => {
    await pushImage(registry.url, repository, '1.1.0');
    const { body, headers } = notify('1.1.0');
    const res = await post(url, body, headers);
    expect([res.status, res.body.receiver, res.body.triggers]).toEqual([
      202,
      `r-${type}`,
      [`trigger/${project}/app`],
    ]);
    const [release] = await waitForReleases(env, project, 2);
    expect(release.packages[0].tag).toBe('1.1.0');
    const entry = await eventually(async () => {
      const e = await newestEntry(project);
      return e.release === release.number ? e : undefined;
    }, 'the evaluation in history');
    expect(entry).toMatchObject({ outcome: 'released', source: `webhook r-${type}` });
    const again = await post(url, body, headers);
    if (type === 'dockerhub' || type === 'quay') {
      // Senders that cannot sign: the same notification again is acknowledged, a poll, nothing released twice.
      expect(again.status).toBe(202);
      await eventually(async () => {
        const e = await newestEntry(project);
        return e.outcome === 'no-change' ? e : undefined;
      }, 'the repeat evaluated');
    } else {
      // A replay of a verified notification (its delivery id, or its signed body) is acknowledged and ignored.
      expect([again.status, again.body]).toEqual([
        202,
        { receiver: `r-${type}`, ignored: 'a replayed notification', triggers: [] },
      ]);
      if (extra?.secret && type !== 'github' && type !== 'generic-hmac') {
        // A header proves the sender, not the bytes: re-spaced, its keys reordered, it is the same notification.
        const respaced = await post(url, respace(body), headers);
        expect([respaced.status, respaced.body]).toEqual([
          202,
          { receiver: `r-${type}`, ignored: 'a replayed notification', triggers: [] },
        ]);
      }
      await new Promise((r) => setTimeout(r, 1500));
      expect(await newestEntry(project)).toEqual(entry);
    }
    expect((await api.request('GET', `/projects/${project}/releases`)).body.releases).toHaveLength(2);
  });

  if (extra?.secret)
    test('a bad, missing or tampered proof is a 401 that signals nothing and says nothing more', async () => {
      const { body, headers } = notify('9.9.9');
      const before = await newestEntry(project);
      const bad = Object.fromEntries(
        Object.entries(headers).map(([k, v]) => [k, k.startsWith('x-github-e') ? v : `${v}x`]),
      );
      const missing = Object.fromEntries(Object.entries(headers).filter(([k]) => k.startsWith('x-github-e')));
      // A body changed after signing fails where the sender signs the body (a header alone cannot tell).
      const signed = type === 'github' || type === 'generic-hmac';
      for (const [what, b, h] of [
        ['bad', body, bad],
        ['missing', body, missing],
        ...(signed ? ([['tampered', body.replace('9.9.9', '9.9.8'), headers]] as const) : []),
      ] as const) {
        const res = await post(url, b, h);
        expect([what, res.status, res.body]).toEqual([
          what,
          401,
          {
            type: 'about:blank',
            title: 'Unauthorized',
            status: 401,
            detail: 'the notification could not be verified',
          },
        ]);
      }
      expect(await newestEntry(project)).toEqual(before);
    });
});

describe('every receiver', () => {
  test('an unknown URL gets the same 401 as a bad signature; a deleted receiver stops at once', async () => {
    const unknown = await post(`/hooks/${'A'.repeat(43)}`, '{}');
    const short = await post('/hooks/nope', '{}');
    for (const res of [unknown, short])
      expect([res.status, res.body.detail]).toEqual([401, 'the notification could not be verified']);
    const url = await receiver('short-lived', 'quay');
    expect(
      (await api.request('GET', '/receivers')).body.receivers.map(
        (r: { spec: { name: string } }) => r.spec.name,
      ),
    ).toContain('short-lived');
    expect(JSON.stringify((await api.request('GET', '/receivers')).body)).not.toContain(url.slice(7));
    expect((await api.request('DELETE', '/receivers/short-lived')).body).toEqual({
      name: 'short-lived',
      deleted: true,
    });
    expect(
      (
        await post(
          url,
          fixture('quay', { REPOSITORY: 'a/b', TAG: '1', HOST: 'quay.io', OWNER: 'a', NAME: 'b' }),
        )
      ).status,
    ).toBe(401);
  });

  test('an unknown URL is refused before its body: a sender that stalls after the headers gets its 401', async () => {
    const { port } = new URL(api.url);
    const socket = connect(Number(port), '127.0.0.1');
    try {
      const answer = new Promise<string>((resolve, reject) => {
        let text = '';
        socket.on('data', (chunk: Buffer) => {
          text += chunk.toString('latin1');
          if (text.includes('\r\n\r\n')) resolve(text);
        });
        socket.on('error', reject);
      });
      // A 1 MiB body announced, 100 bytes of it sent, then nothing.
      socket.write(
        `POST /hooks/${'B'.repeat(43)} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${1024 * 1024}\r\n\r\n${'{'.padEnd(100, ' ')}`,
      );
      const head = await Promise.race([
        answer,
        new Promise<string>((resolve) => setTimeout(() => resolve('(no answer in 3 s)'), 3000)),
      ]);
      expect(head.split('\r\n')[0]).toBe('HTTP/1.1 401 Unauthorized');
      expect(head.toLowerCase()).toContain('connection: close');
    } finally {
      socket.destroy();
    }
  });

  test('a receiver from the configuration file: its URL works, it is listed, it cannot be deleted through the API', async () => {
    await watched('hook-file', 'hooks/file');
    await pushImage(registry.url, 'hooks/file', '1.1.0');
    const res = await post(
      `/hooks/${FILE_TOKEN}`,
      fixture('quay', {
        REPOSITORY: 'hooks/file',
        OWNER: 'hooks',
        NAME: 'file',
        TAG: '1.1.0',
        HOST: 'quay.io',
      }),
    );
    expect([res.status, res.body.triggers]).toEqual([202, ['trigger/hook-file/app']]);
    await waitForReleases(env, 'hook-file', 2);
    const listed = (await api.request('GET', '/receivers')).body.receivers.find(
      (r: { spec: { name: string } }) => r.spec.name === 'from-file',
    );
    expect(listed).toMatchObject({ createdBy: 'configuration', spec: { type: 'quay', feed: 'local' } });
    expect((await api.request('DELETE', '/receivers/from-file')).status).toBe(409);
    expect((await api.request('POST', '/receivers', { name: 'from-file', type: 'quay' })).status).toBe(409);
  });

  test('configuration is checked: a secret where the sender needs one, known secret names, no duplicates', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ name: 'x1', type: 'github' }, 'secret'],
      [{ name: 'x2', type: 'quay', secret: { secret: 'ci-hook' } }, 'secret'],
      [{ name: 'x3', type: 'github', secret: { secret: 'nope' } }, 'secret.secret'],
      [{ name: 'x4', type: 'gitlab' }, 'type'],
      [{ name: 'x5', type: 'quay', secret: 'plain-value' }, 'secret'],
    ];
    for (const [body, field] of cases) {
      const res = await api.request('POST', '/receivers', body);
      expect([body.name, res.status, res.body.errors?.[0]?.field]).toEqual([body.name, 400, field]);
    }
    await receiver('twice', 'quay');
    expect((await api.request('POST', '/receivers', { name: 'twice', type: 'quay' })).status).toBe(409);
    const viewer = await api.tokenFor('viewer');
    expect((await api.request('GET', '/receivers', undefined, { token: viewer })).status).toBe(403);
  });

  test('events that move no tag are acknowledged and ignored; GitHub pings are answered', async () => {
    const ecr = await receiver('ignoring-ecr', 'ecr', { secret: { secret: 'ecr-key' }, feed: 'local' });
    const deleted = fixture('ecr', { REPOSITORY: 'hooks/ecr', TAG: '1.0.0' }).replace('"PUSH"', '"DELETE"');
    expect((await post(ecr, deleted, { 'x-api-key': SECRETS.get('ecr-key')! })).body).toEqual({
      receiver: 'ignoring-ecr',
      ignored: 'ECR DELETE SUCCESS moves no tag',
      triggers: [],
    });
    const github = await receiver('pinged', 'github', { secret: { secret: 'github-hook' } });
    const ping = JSON.stringify({ zen: 'Design for failure.', hook_id: 1 });
    const pong = await post(github, ping, {
      'x-github-event': 'ping',
      'x-hub-signature-256': hmac(SECRETS.get('github-hook')!, ping),
    });
    expect([pong.status, pong.body]).toEqual([200, { receiver: 'pinged', pong: true }]);
    const dist = await receiver('pulls', 'distribution', { secret: { secret: 'hook-auth' } });
    const pull = JSON.stringify({ events: [{ action: 'pull', target: { repository: 'a/b', tag: '1' } }] });
    expect(
      (await post(dist, pull, { authorization: `Bearer ${SECRETS.get('hook-auth')}` })).body.ignored,
    ).toBe('no event moved a tag');
  });

  test('a payload that does not parse is a 400 naming the field; over 1 MiB is a 413', async () => {
    const quay = await receiver('strict-quay', 'quay');
    const res = await post(quay, JSON.stringify({ repository: 'a/b', updated_tags: 'latest' }));
    expect([res.status, res.body.errors?.[0]?.field]).toEqual([400, 'updated_tags']);
    expect((await post(quay, '{not json')).status).toBe(400);
    expect((await post(quay, JSON.stringify({ pad: 'x'.repeat(1_100_000) }))).status).toBe(413);
  });

  test('apply -f creates receivers (printing each URL once), leaves equal ones, replaces changed ones', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-receivers-'));
    const file = path.join(dir, 'receivers.yaml');
    const apply = async (feed: string) => {
      writeFileSync(
        file,
        `receivers:\n  - { name: applied-quay, type: quay, feed: ${feed} }\n  - { name: applied-gh, type: github, secret: { secret: github-hook } }\n`,
      );
      const lines: string[] = [];
      await runApply(['-f', file], (l) => lines.push(l), {
        FEED_TRIGGERS_API_URL: api.url,
        FEED_TRIGGERS_TOKEN: api.token,
      });
      return lines;
    };
    const first = await apply('local');
    expect(first).toEqual([
      expect.stringMatching(
        new RegExp(`^receiver applied-quay created: ${api.url}/hooks/[A-Za-z0-9_-]{43} \\(shown once`),
      ),
      expect.stringMatching(/^receiver applied-gh created: /),
    ]);
    expect(await apply('local')).toEqual([
      'receiver applied-quay unchanged',
      'receiver applied-gh unchanged',
    ]);
    const changed = await apply('other');
    expect(changed[0]).toMatch(/^receiver applied-quay replaced \(its old URL no longer works\): /);
    const oldUrl = /(\/hooks\/\S+)/.exec(first[0])![1];
    expect(
      (
        await post(
          oldUrl,
          fixture('quay', { REPOSITORY: 'a/b', TAG: '1', HOST: 'quay.io', OWNER: 'a', NAME: 'b' }),
        )
      ).status,
    ).toBe(401);
  });

  test('Docker Hub hears back at its callback_url', async () => {
    await eventually(
      async () => hub.requests.find((r) => r.url === '/u/hooks/dockerhub/hook/cb/'),
      'the Docker Hub callback',
    );
    const callback = hub.requests.find((r) => r.url === '/u/hooks/dockerhub/hook/cb/')!;
    expect(JSON.parse(callback.body)).toMatchObject({ state: 'success', context: 'feed-triggers' });
  });

  test('Docker Hub callbacks go only to Docker Hub (or the configured stand-in) and its callback path', async () => {
    const elsewhere = await startServer((_req, res) => void res.writeHead(200).end());
    try {
      const url = await receiver('hub-callbacks', 'dockerhub', { feed: 'local' });
      const sent = hub.requests.length;
      const send = async (callback: string) => {
        const body = fixture('dockerhub', { REPOSITORY: 'hooks/hub-cb', TAG: '1.0.0', CALLBACK: callback });
        expect((await post(url, body)).status).toBe(202);
      };
      // Loopback, but not the configured stand-in; the stand-in with a path of the sender's choosing.
      for (const callback of [
        `${elsewhere.url}/u/hooks/hub-cb/hook/cb/`,
        `${elsewhere.url}/admin/steal`,
        `${hub.url}/admin/steal`,
        `${hub.url}/u/hooks/hub-cb/hook/cb/../../../../../admin`,
        `${hub.url}/u/hooks/hub-cb/hook/cb%2f..%2f..%2fadmin/`,
        `${hub.url}/u/hooks/hub-cb/hook/cb/?next=/admin`,
        `http://user:pw@127.0.0.1:${hub.port}/u/hooks/hub-cb/hook/cb/`,
      ])
        await send(callback);
      await send(`${hub.url}/u/hooks/hub-cb/hook/good/`);
      await eventually(
        async () => hub.requests.find((r) => r.url === '/u/hooks/hub-cb/hook/good/'),
        'the callback to the stand-in',
      );
      await new Promise((r) => setTimeout(r, 500));
      expect(elsewhere.requests).toEqual([]);
      expect(hub.requests.slice(sent).map((r) => r.url)).toEqual(['/u/hooks/hub-cb/hook/good/']);
    } finally {
      await elsewhere.close();
    }
  });

  test('a replayed signed notification is ignored: by delivery id, by signed body, on another API process, and not when its first try failed verification', async () => {
    const url = await receiver('replays', 'github', { secret: { secret: 'github-hook' }, feed: 'local' });
    await watched('hook-replays', 'hooks/replays');
    await pushImage(registry.url, 'hooks/replays', '1.1.0');
    const notice = (tag: string, delivery: string) => {
      const body = fixture('github-registry_package', { OWNER: 'hooks', NAME: 'replays', TAG: tag });
      return {
        body,
        headers: {
          'x-github-event': 'registry_package',
          'x-github-delivery': delivery,
          'x-hub-signature-256': hmac(SECRETS.get('github-hook')!, body),
        },
      };
    };
    const first = notice('1.1.0', 'd-1');
    // A first try that fails verification does not use up the delivery id.
    const forged = { ...first.headers, 'x-hub-signature-256': `${first.headers['x-hub-signature-256']}0` };
    expect((await post(url, first.body, forged)).status).toBe(401);
    const res = await post(url, first.body, first.headers);
    expect([res.status, res.body.triggers]).toEqual([202, ['trigger/hook-replays/app']]);
    await waitForReleases(env, 'hook-replays', 2);
    const entry = await eventually(async () => {
      const e = await newestEntry('hook-replays');
      return e.source === 'webhook replays' && e.release ? e : undefined;
    }, 'the release in history');

    // Another API process on the same ledger (or this one after a restart) knows it too.
    const other = await startApi(env, { receiverSecrets: SECRETS, feeds: new Map() });
    const verdicts = async () => {
      const metric = await metricsRegistry
        .getSingleMetric('feed_triggers_webhook_notifications_total')!
        .get();
      const of = (verdict: string) =>
        metric.values.find((v) => v.labels.receiver === 'replays' && v.labels.verdict === verdict)?.value ??
        0;
      return { accepted: of('accepted'), ignored: of('ignored') };
    };
    const before = await verdicts();
    try {
      const ignored = { receiver: 'replays', ignored: 'a replayed notification', triggers: [] };
      for (const [what, base, n] of [
        ['the same delivery', api.url, first],
        [
          'the signed body under a new delivery id',
          api.url,
          { ...first, headers: { ...first.headers, 'x-github-delivery': 'd-2' } },
        ],
        ['the same delivery id with another signed body', api.url, notice('1.2.0', 'd-1')],
        ['the same delivery on another API process', other.url, first],
      ] as const) {
        const r = await fetch(`${base}${url}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...n.headers },
          body: n.body,
        });
        expect([what, r.status, await r.json()]).toEqual([what, 202, ignored]);
      }
    } finally {
      await other.close();
    }
    // Replays are counted as ignored, not accepted.
    expect(await verdicts()).toEqual({ accepted: before.accepted, ignored: before.ignored + 4 });
    await new Promise((r) => setTimeout(r, 1500));
    expect(await newestEntry('hook-replays')).toEqual(entry);
    // A new delivery of a new body is acted on.
    const next = notice('1.1.0', 'd-3');
    const fresh = { ...next, body: next.body.replace('"action"', '"zen": "new", "action"') };
    fresh.headers['x-hub-signature-256'] = hmac(SECRETS.get('github-hook')!, fresh.body);
    expect((await post(url, fresh.body, fresh.headers)).body.triggers).toEqual(['trigger/hook-replays/app']);
  });

  test('a notified tag the rules reject releases nothing, and history says why', async () => {
    const url = await receiver('rejecting', 'generic-hmac', { secret: { secret: 'ci-hook' } });
    await watched('hook-rejected', 'hooks/rejected');
    await pushImage(registry.url, 'hooks/rejected', '2.0.0-rc.1');
    const body = JSON.stringify({ feed: 'local', package: 'hooks/rejected', tag: '2.0.0-rc.1' });
    expect((await post(url, body, { 'x-signature-256': hmac(SECRETS.get('ci-hook')!, body) })).status).toBe(
      202,
    );
    const entry = await eventually(async () => {
      const e = await newestEntry('hook-rejected');
      return e.source === 'webhook rejecting' ? e : undefined;
    }, 'the notified evaluation');
    expect(entry.outcome).toBe('no-change');
    expect(entry.reason).toMatch(/; notified app 2\.0\.0-rc\.1: pre-release tag does not match$/);
    expect((await api.request('GET', '/projects/hook-rejected/releases')).body.releases).toHaveLength(1);
  });
});

test('a Harbor push of an OCI Helm chart releases the chart version (`_` in the tag read as `+`)', async () => {
  const chart = (version: string) => ({
    configMediaType: 'application/vnd.cncf.helm.config.v1+json',
    config: { apiVersion: 'v2', name: 'ingress', version, type: 'application' },
  });
  await pushImage(registry.url, 'charts/ingress', '1.0.0', chart('1.0.0'));
  await api.request('PUT', '/projects/hook-harbor-chart', {
    packages: [{ name: 'chart', feed: 'local-charts', package: 'ingress' }],
  });
  await api.request('POST', '/projects/hook-harbor-chart/triggers', { name: 'app', intervalSeconds: 3600 });
  await waitForReleases(env, 'hook-harbor-chart', 1);
  // No feed on the receiver: the payload's host names both feeds of the registry, the image one and the
  // chart one rooted at charts/.
  const url = await receiver('r-harbor-chart', 'harbor', { secret: { secret: 'hook-auth' } });
  await pushImage(registry.url, 'charts/ingress', '1.1.0_build.7', chart('1.1.0+build.7'));
  const body = fixture('harbor', {
    REPOSITORY: 'charts/ingress',
    OWNER: 'charts',
    NAME: 'ingress',
    TAG: '1.1.0_build.7',
    HOST: registry.host,
  });
  const res = await post(url, body, { authorization: SECRETS.get('hook-auth')! });
  expect([res.status, res.body.packages, res.body.triggers]).toEqual([
    202,
    [`${registry.host}/charts/ingress`, 'local/charts/ingress', 'local-charts/ingress'],
    ['trigger/hook-harbor-chart/app'],
  ]);
  const [release] = await waitForReleases(env, 'hook-harbor-chart', 2);
  expect(release.packages[0].tag).toBe('1.1.0+build.7');
  const entry = await eventually(async () => {
    const e = await newestEntry('hook-harbor-chart');
    return e.release === release.number ? e : undefined;
  }, 'the evaluation in history');
  expect(entry).toMatchObject({ outcome: 'released', source: 'webhook r-harbor-chart' });
});

describe('a gar receiver verifying the OIDC token of a Pub/Sub push', () => {
  const AUDIENCE = 'https://feed-triggers.example.com/hooks/gar';
  const EMAIL = 'pubsub-push@my-project.iam.gserviceaccount.com';
  const k1 = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const k2 = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwkOf = (pair: KeyPairKeyObjectResult, kid: string) => ({
    ...pair.publicKey.export({ format: 'jwk' }),
    kid,
    alg: 'RS256',
    use: 'sig',
  });
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  /** The fixture's claims, issued now for an hour. */
  const googleClaims = () => {
    const now = Math.floor(Date.now() / 1000);
    return { ...JSON.parse(fixture('gar-oidc-claims', { AUDIENCE, EMAIL })), exp: now + 3600, iat: now };
  };
  /** An ID token as Google signs it: the fixture's claims, changed where a case says. */
  const token = (
    options: { pair?: KeyPairKeyObjectResult; kid?: string; alg?: string; claims?: object } = {},
  ) => {
    const claims = { ...googleClaims(), ...options.claims };
    const head = `${b64({ alg: options.alg ?? 'RS256', kid: options.kid ?? 'k1', typ: 'JWT' })}.${b64(claims)}`;
    const signature = sign('sha256', Buffer.from(head), (options.pair ?? k1).privateKey);
    return `Bearer ${head}.${signature.toString('base64url')}`;
  };
  const push = (repository: string, tag: string) =>
    fixture('gar', {
      DATA: Buffer.from(fixture('gar-message', { REPOSITORY: repository, TAG: tag })).toString('base64'),
    });
  const REFUSED = {
    type: 'about:blank',
    title: 'Unauthorized',
    status: 401,
    detail: 'the notification could not be verified',
  };

  test('keys in the configuration: a genuine push releases; every forged, stale or misdirected token is a 401', async () => {
    const url = await receiver('gar-oidc', 'gar', {
      feed: 'local',
      oidc: { audience: AUDIENCE, serviceAccountEmail: EMAIL, jwks: { keys: [jwkOf(k1, 'k1')] } },
    });
    const listed = (await api.request('GET', '/receivers')).body.receivers.find(
      (r: { spec: { name: string } }) => r.spec.name === 'gar-oidc',
    );
    expect(listed.spec.oidc).toMatchObject({
      audience: AUDIENCE,
      issuers: ['https://accounts.google.com', 'accounts.google.com'],
    });
    await watched('hook-gar-oidc', 'gcp-project/hooks/gar-oidc');
    await pushImage(registry.url, 'gcp-project/hooks/gar-oidc', '1.1.0');
    const before = await newestEntry('hook-gar-oidc');
    const body = push('gcp-project/hooks/gar-oidc', '1.1.0');
    const now = Math.floor(Date.now() / 1000);
    // An HMAC "signed" with the public key (the alg-confusion attack), and no signature at all.
    const publicPem = k1.publicKey.export({ format: 'pem', type: 'spki' });
    const hsHead = `${b64({ alg: 'HS256', kid: 'k1' })}.${token().split('.')[1]}`;
    const hs = `Bearer ${hsHead}.${createHmac('sha256', publicPem).update(hsHead).digest('base64url')}`;
    const none = `Bearer ${b64({ alg: 'none', kid: 'k1' })}.${token().split('.')[1]}.x`;
    const [h, , s] = token().slice(7).split('.');
    const tampered = `Bearer ${h}.${b64({ ...googleClaims(), email: 'attacker@evil.example' })}.${s}`;
    for (const [what, authorization] of [
      ['missing', undefined],
      ['another key', token({ pair: k2 })],
      ['an unknown kid', token({ kid: 'k9' })],
      ['HS256 with the public key', hs],
      ['alg none', none],
      ['claims changed after signing', tampered],
      ['expired', token({ claims: { exp: now - 300, iat: now - 4000 } })],
      ['another audience', token({ claims: { aud: 'https://elsewhere.example/push' } })],
      ['another issuer', token({ claims: { iss: 'https://issuer.example' } })],
      ['another service account', token({ claims: { email: 'other@my-project.iam.gserviceaccount.com' } })],
      ['an unverified email', token({ claims: { email_verified: false } })],
      ['not a JWT', 'Bearer abc'],
    ] as const) {
      const res = await post(url, body, authorization ? { authorization } : {});
      expect([what, res.status, res.body]).toEqual([what, 401, REFUSED]);
    }
    expect(await newestEntry('hook-gar-oidc')).toEqual(before);

    const res = await post(url, body, { authorization: token() });
    expect([res.status, res.body.triggers]).toEqual([202, ['trigger/hook-gar-oidc/app']]);
    const [release] = await waitForReleases(env, 'hook-gar-oidc', 2);
    expect(release.packages[0].tag).toBe('1.1.0');
  });

  test('keys at a JWKS URL: read once, again when an unknown key appears (boundedly), kept through an outage, 503 when never read', async () => {
    let keys = [jwkOf(k1, 'k1')];
    let up = true;
    const issuer = await startServer((req, res) => {
      // Hostile issuers: a huge document, one that is not JSON, one that never answers.
      if (req.url === '/huge/certs') return void res.end(JSON.stringify({ keys, pad: 'x'.repeat(200_000) }));
      if (req.url === '/garbage/certs') return void res.end('<html>not keys</html>');
      if (req.url === '/slow/certs') return; // no answer: the 5 s timeout
      if (!up) return void res.writeHead(500).end();
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=3600' });
      res.end(JSON.stringify({ keys }));
    });
    try {
      const url = await receiver('gar-jwks', 'gar', {
        feed: 'local',
        oidc: { audience: AUDIENCE, jwksUrl: `${issuer.url}/oauth2/v3/certs` },
      });
      await watched('hook-gar-jwks', 'gcp-project/hooks/gar-jwks');
      const body = push('gcp-project/hooks/gar-jwks', '1.0.0');
      for (let i = 0; i < 3; i++)
        expect((await post(url, body, { authorization: token() })).status).toBe(202);
      expect(issuer.requests.map((r) => r.url)).toEqual(['/oauth2/v3/certs']);
      // Google rotates: a token signed with the new key makes the receiver read the keys again, once.
      keys = [jwkOf(k1, 'k1'), jwkOf(k2, 'k2')];
      expect((await post(url, body, { authorization: token({ pair: k2, kid: 'k2' }) })).status).toBe(202);
      expect(issuer.requests).toHaveLength(2);
      // A kid nobody publishes reads the keys once more, then is refused without reading for a minute.
      for (let i = 0; i < 3; i++)
        expect((await post(url, body, { authorization: token({ kid: 'k3' }) })).status).toBe(401);
      expect(issuer.requests).toHaveLength(3);

      // The issuer goes down: keys read before stay in use; an unknown kid is refused, not a 503.
      up = false;
      expect((await post(url, body, { authorization: token() })).status).toBe(202);
      expect((await post(url, body, { authorization: token({ kid: 'k4' }) })).status).toBe(401);
      expect(issuer.requests).toHaveLength(4);

      const cold = await receiver('gar-jwks-down', 'gar', {
        feed: 'local',
        oidc: { audience: AUDIENCE, jwksUrl: `${issuer.url}/other/certs` },
      });
      const res = await post(cold, body, { authorization: token() });
      expect([res.status, res.body.detail]).toEqual([503, 'the notification cannot be verified now; retry']);
      for (const where of ['huge', 'garbage', 'slow']) {
        const hostile = await receiver(`gar-jwks-${where}`, 'gar', {
          feed: 'local',
          oidc: { audience: AUDIENCE, jwksUrl: `${issuer.url}/${where}/certs` },
        });
        expect([where, (await post(hostile, body, { authorization: token() })).status]).toEqual([where, 503]);
      }
      // A token far larger than any ID token is refused before anything is decoded.
      const padded = token({ claims: { pad: 'x'.repeat(10_000) } });
      expect((await post(url, body, { authorization: padded })).status).toBe(401);
    } finally {
      await issuer.close();
    }
  });

  test('keys at a JWKS URL that hangs: the first push waits out the timeout, the next is answered 503 at once without reading again', async () => {
    const issuer = await startServer(() => undefined); // never answers
    try {
      const url = await receiver('gar-jwks-hang', 'gar', {
        feed: 'local',
        oidc: { audience: AUDIENCE, jwksUrl: `${issuer.url}/hang/certs` },
      });
      const body = push('gcp-project/hooks/gar-hang', '1.0.0');
      const first = await post(url, body, { authorization: token() });
      expect([first.status, first.body.detail]).toEqual([
        503,
        'the notification cannot be verified now; retry',
      ]);
      expect(issuer.requests).toHaveLength(1);
      const started = Date.now();
      const second = await post(url, push('gcp-project/hooks/gar-hang', '1.0.1'), { authorization: token() });
      expect([second.status, second.body.detail]).toEqual([
        503,
        'the notification cannot be verified now; retry',
      ]);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(issuer.requests).toHaveLength(1);
    } finally {
      await issuer.close();
    }
  });

  test('configuration is checked: oidc only on gar, one source of keys, strong keys, https', async () => {
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
    for (const [extra, field, message] of [
      [{ type: 'quay', oidc: { audience: AUDIENCE, jwks: { keys: [jwkOf(k1, 'k1')] } } }, 'oidc', /only gar/],
      [{ oidc: { audience: AUDIENCE } }, 'oidc.jwks', /either as jwks or as jwksUrl/],
      [
        {
          oidc: {
            audience: AUDIENCE,
            jwks: { keys: [jwkOf(k1, 'k1')] },
            jwksUrl: 'https://www.googleapis.com/oauth2/v3/certs',
          },
        },
        'oidc.jwks',
        /either as jwks or as jwksUrl/,
      ],
      [
        { oidc: { audience: AUDIENCE, jwks: { keys: [jwkOf(weak, 'w')] } } },
        'oidc.jwks.keys.0',
        /1024 bits; at least 2048/,
      ],
      [{ oidc: { audience: AUDIENCE, jwksUrl: 'http://keys.example.com/certs' } }, 'oidc.jwksUrl', /https/],
      [
        { oidc: { audience: AUDIENCE, jwks: { keys: [jwkOf(k1, 'a'), jwkOf(k2, 'a')] } } },
        'oidc.jwks.keys',
        /distinct/,
      ],
    ] as const) {
      const res = await api.request('POST', '/receivers', { name: 'bad-oidc', ...{ type: 'gar' }, ...extra });
      expect([res.status, res.body.errors?.[0]?.field]).toEqual([400, field]);
      expect(res.body.detail).toMatch(message);
    }
  });
});
