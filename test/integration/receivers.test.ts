import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { runApply } from '../../src/cli/apply';
import path from 'node:path';
import type { ReceiverType } from '../../src/receivers';
import { ociFeed } from '../support/feeds';
import { startServer, TestServer } from '../support/http-server';
import { fixture, hmac, receiverCases, SECRETS } from '../support/receivers';
import { startApi, TestApi } from '../support/api';
import { pushImage, TestRegistry } from '../support/registry';
import { eventually, startTestWorker, TestWorkerEnv } from '../support/temporal';
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
  const feeds = new Map([['local', ociFeed('local', registry.url)]]);
  env = await startTestWorker({ feeds });
  api = await startApi(env, {
    receiverSecrets: SECRETS,
    feeds,
    configReceivers: [{ spec: { name: 'from-file', type: 'quay', feed: 'local' }, token: FILE_TOKEN }],
  });
  hub = await startServer((_req, res) => void res.writeHead(200).end());
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
    // The same notification again: acknowledged, a poll, nothing released twice.
    expect((await post(url, body, headers)).status).toBe(202);
    await eventually(async () => {
      const e = await newestEntry(project);
      return e.outcome === 'no-change' ? e : undefined;
    }, 'the replay evaluated');
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
