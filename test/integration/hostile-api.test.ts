import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import type { Server } from 'node:http';
import { createApp } from '../../src/api/app';
import { sharedCpuPool } from '../../src/runtime/cpu-pool';
import { compileRule, evaluateRule, toPreview } from '../../src/domain/rule';
import { listen } from '../../src/api/listen';
import { CreateReleaseRequest, ProjectSpecSchema } from '../../src/domain/project';
import { createLedgerActivities } from '../../activities/ledger';
import { MAX_PROJECT_SPEC_BYTES } from '../../src/domain/size';
import { bindingsOf } from '../../src/config/secrets';
import { startApi, TestApi } from '../support/api';
import { runCli } from '../../src/cli/main';
import { startServer, TestServer } from '../support/http-server';
import { putProject, releasesOf } from '../support/projects';
import { pushImage, TestRegistry } from '../support/registry';
import { eventually, startTestWorker, TestWorkerEnv } from '../support/temporal';

const OCTOPUS_KEY = 'API-OCTOPUS-KEY-THAT-MUST-STAY-HOME';
let registry: TestRegistry;
let octopus: TestServer;
let attacker: TestServer;
let env: TestWorkerEnv;
let api: TestApi;

beforeAll(async () => {
  registry = await TestRegistry.start();
  octopus = await startServer((_req, res) => void res.writeHead(201).end('{}'));
  attacker = await startServer((_req, res) => void res.writeHead(201).end('{}'));
  const secrets = new Map([['octopus-api-key', { value: OCTOPUS_KEY, sendTo: [`${octopus.url}/api/`] }]]);
  env = await startTestWorker({ secrets });
  api = await startApi(env, {
    secretBindings: bindingsOf(secrets),
  });
});

afterAll(async () => {
  await api?.close();
  await env?.stop();
  await attacker?.close();
  await octopus?.close();
  await registry?.stop();
});

const pkg = (name = 'app', repo = 'hostile/app') => ({ name, feed: registry.host, package: repo });
const octopusAt = (serverUrl: string, secret = 'octopus-api-key') => ({
  name: 'octo',
  type: 'octopus',
  serverUrl,
  spaceId: 'Spaces-1',
  projectId: 'Projects-1',
  apiKey: { secret },
});

describe('a regex that backtracks catastrophically on V8', () => {
  test('a manual release pinning a hostile tag is created, and the service keeps answering', async () => {
    const hostileTag = 'a'.repeat(30);
    await pushImage(registry.url, 'hostile/app', hostileTag);
    const put = await api.request('PUT', '/projects/regex-crash', {
      packages: [pkg()],
      channels: [
        { name: 'default', rules: [{ exclude: ['([a-z]|[a-z0-9])*!', '(a|aa)*b', 'a*a*a*a*a*b'] }] },
      ],
    });
    expect(put.status).toBe(201);
    const started = Date.now();
    const res = await api.request('POST', '/projects/regex-crash/releases', {
      versions: { app: hostileTag },
    });
    expect(res.status).toBe(201);
    expect(res.body.packages[0].tag).toBe(hostileTag);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect((await api.request('GET', '/healthz')).status).toBe(200);
    expect(env.worker.getState()).toBe('RUNNING');
  });
});

describe('secrets go only where they are bound', () => {
  test('a destination pointing a secret at another server is refused on save, naming the field', async () => {
    const res = await api.request('PUT', '/projects/steal', {
      packages: [pkg()],
      destinations: [octopusAt(attacker.url)],
    });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].field).toBe('destinations.0.apiKey.secret');
    expect(res.body.errors[0].message).toBe(
      `secret "octopus-api-key" may not be sent to ${attacker.url}/api/Spaces-1/releases: the worker configuration must bind it there (secrets.octopus-api-key.sendTo)`,
    );
  });

  test('the refusal reads the same for a secret that does not exist', async () => {
    const res = await api.request('PUT', '/projects/steal', {
      packages: [pkg()],
      destinations: [octopusAt(attacker.url, 'hook-key')],
    });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].message).toBe(
      `secret "hook-key" may not be sent to ${attacker.url}/api/Spaces-1/releases: the worker configuration must bind it there (secrets.hook-key.sendTo)`,
    );
  });

  test('the bound destination is accepted', async () => {
    const res = await api.request('PUT', '/projects/bound', {
      packages: [pkg()],
      destinations: [octopusAt(octopus.url)],
    });
    expect(res.status).toBe(201);
  });

  test('a project that skipped the API check still cannot send the secret elsewhere', async () => {
    await putProject(env, {
      name: 'steal-direct',
      packages: [pkg()],
      destinations: [octopusAt(attacker.url) as never],
    });
    await createLedgerActivities({
      ledger: env.ledger,
      client: env.client,
      taskQueue: env.taskQueue,
    }).createRelease({
      project: 'steal-direct',
      request: release('steal-1', '1.0.0'),
    });
    const delivery = await eventually(async () => {
      const [r] = await releasesOf(env, 'steal-direct');
      return r?.deliveries.octo.lastError ? r.deliveries.octo : undefined;
    }, 'a refused delivery');
    expect(delivery.status).toBe('pending');
    expect(delivery.lastError).toMatch(
      /secret "octopus-api-key" may not be sent to http:\/\/127\.0\.0\.1:\d+\/api\/Spaces-1\/releases/,
    );
    expect(attacker.requests).toEqual([]);
  });
});

describe('a secret is bound to the path the server reads, decoded', () => {
  // Each would reach ${octopus}/steal once the server (or a proxy before it) decodes the path.
  const TRICKS = [
    '..%2fsteal',
    '..%2Fsteal',
    '%2e%2e%2fsteal',
    '%2E%2E%2Fsteal',
    '%252e%252e%252fsteal',
    '..%25252fsteal',
    '..%5csteal',
    '..%255Csteal',
    '..;/steal',
    '..%3b/steal',
    '..\\steal',
  ];

  test.each(TRICKS)('a destination under the bound prefix by way of %s is refused on save', async (trick) => {
    const res = await api.request('PUT', '/projects/steal-encoded', {
      packages: [pkg()],
      destinations: [octopusAt(`${octopus.url}/api/${trick}`)],
    });
    expect([res.status, res.body.errors?.[0]?.field]).toEqual([400, 'destinations.0.apiKey.secret']);
    expect(res.body.errors[0].message).toMatch(
      /^secret "octopus-api-key" may not be sent to http:\/\/127\.0\.0\.1:\d+\//,
    );
  });

  test('an encoded slash is named in the refusal', async () => {
    const res = await api.request('PUT', '/projects/steal-encoded', {
      packages: [pkg()],
      destinations: [octopusAt(`${octopus.url}/api/..%2Fsteal`)],
    });
    expect(res.body.errors[0].message).toBe(
      `secret "octopus-api-key" may not be sent to ${octopus.url}/api/..%2Fsteal/api/Spaces-1/releases: its path holds an encoded slash, backslash or dot (%2F, %5C, %2E, or encoded again as %252F), which the server may decode into another path`,
    );
  });

  test('a project that skipped the API check: the bound server never gets the key on an encoded path', async () => {
    const tricks = ['..%2fsteal', '%252e%252e%252fsteal', '..%5Csteal'];
    await putProject(env, {
      name: 'steal-encoded-direct',
      packages: [pkg()],
      destinations: tricks.map((trick, i) => ({
        ...octopusAt(`${octopus.url}/api/${trick}`),
        name: `octo${i}`,
      })) as never,
    });
    await createLedgerActivities({
      ledger: env.ledger,
      client: env.client,
      taskQueue: env.taskQueue,
    }).createRelease({
      project: 'steal-encoded-direct',
      request: release('steal-encoded-1', '1.0.0'),
    });
    const deliveries = await eventually(async () => {
      const [r] = await releasesOf(env, 'steal-encoded-direct');
      const all = tricks.map((_, i) => r?.deliveries[`octo${i}`]);
      return all.every((d) => d?.lastError) ? all : undefined;
    }, 'refused deliveries');
    for (const d of deliveries) {
      expect(d!.status).toBe('pending');
      expect(d!.lastError).toMatch(/its path holds an encoded slash, backslash or dot/);
    }
    // Nothing arrived at the bound server on those paths, so its API key never left.
    expect(octopus.requests.filter((r) => r.url.includes('steal'))).toEqual([]);
    expect(octopus.requests.filter((r) => r.headers['x-octopus-apikey'] !== undefined)).toEqual([]);
  });
});

function release(key: string, tag: string, packages = [pkg()]): CreateReleaseRequest {
  return {
    channel: 'default',
    packages: packages.map((p) => ({ ...p, tag, digest: `sha256:${'0'.repeat(64)}` })),
    watched: [],
    requireLater: false,
    reason: 'test',
    source: { kind: 'manual' },
    key,
  };
}

describe('size limits protect the ledger', () => {
  test('a 1 MiB project is refused with the documented cap, before any validation work', async () => {
    const started = Date.now();
    const res = await api.request('PUT', '/projects/huge', {
      packages: [pkg()],
      channels: Array.from({ length: 50 }, (_, i) => ({
        name: `c${i}`,
        rules: Array.from({ length: 40 }, () => ({
          exclude: Array.from({ length: 1 }, () => 'x'.repeat(512)),
        })),
      })),
    });
    expect(res.status).toBe(400);
    expect(res.body.detail).toMatch(new RegExp(`as JSON; at most ${MAX_PROJECT_SPEC_BYTES} are allowed`));
    expect(Date.now() - started).toBeLessThan(3000);
  });

  test('the largest allowed project records and lists releases of all its 50 packages', async () => {
    const name = 'largest';
    const packages = Array.from({ length: 50 }, (_, i) =>
      pkg(`p${i}-${'n'.repeat(55)}`.slice(0, 63), `big/${'r'.repeat(200)}${i}`),
    );
    const spec = { name, packages, channels: [{ name: 'default', rules: [] as object[] }] };
    // Fill up to just under the cap with rules, one per package and channel.
    // The cap applies to the project as stored (defaults filled in).
    const stored = () => JSON.stringify(ProjectSpecSchema.parse(spec)).length;
    const raw = () => JSON.stringify(spec).length;
    for (let i = 0; raw() < MAX_PROJECT_SPEC_BYTES - 16_000 || stored() < MAX_PROJECT_SPEC_BYTES - 900; i++) {
      if (i % 50 === 0) spec.channels.push({ name: `c${spec.channels.length}`, rules: [] });
      spec.channels.at(-1)!.rules.push({ packages: [packages[i % 50].name], exclude: ['y'.repeat(400)] });
    }
    const put = await api.request('PUT', `/projects/${name}`, spec);
    expect([put.status, put.body.detail]).toEqual([201, undefined]);
    const tag = (i: number) => `${i}.0.0-${'t'.repeat(118)}`;
    for (let i = 1; i <= 40; i++) await env.ledger.createRelease(name, release(`big-${i}`, tag(i), packages));
    const page = await api.request('GET', `/projects/${name}/releases?limit=100`);
    expect(page.body.releases).toHaveLength(40);
    expect(page.body.releases[0].packages).toHaveLength(50);
    expect(page.body.releases[0].packages[0].tag).toBe(tag(40));
    expect(page.body.releases[0].number).toBe('0.0.40');
  });
});

describe('URLs and feeds pass the outbound policy on save', () => {
  test.each([
    [
      'a feed at the metadata address',
      { packages: [{ name: 'a', feed: '169.254.169.254', package: 'x/y' }] },
      'packages.0.feed',
      /never reached/,
    ],
    [
      'a webhook URL with credentials',
      {
        packages: [{ name: 'a', feed: 'docker.io', package: 'x/y' }],
        destinations: [{ name: 'h', type: 'webhook', url: 'http://user:pass@127.0.0.1:1/hook' }],
      },
      'destinations.0.url',
      /credentials in a URL are not allowed/,
    ],
    [
      'a webhook at a link-local address',
      {
        packages: [{ name: 'a', feed: 'docker.io', package: 'x/y' }],
        destinations: [{ name: 'h', type: 'webhook', url: 'http://169.254.169.254/latest' }],
      },
      'destinations.0.url',
      /never reached/,
    ],
  ])('%s is a 400 naming the field', async (_what, body, field, message) => {
    const res = await api.request('PUT', '/projects/outbound', body);
    expect(res.status).toBe(400);
    expect(res.body.errors[0].field).toBe(field);
    expect(res.body.errors[0].message).toMatch(message);
  });
});

describe('smaller holes', () => {
  test("a destination's delivery order is `every` or `latest`, nothing else", async () => {
    for (const order of ['sometimes', '', 42, 'x'.repeat(10_000)]) {
      const res = await api.request('PUT', '/projects/ordered', {
        packages: [pkg()],
        destinations: [{ name: 'hook', type: 'webhook', url: 'https://hooks.example.com/x', order }],
      });
      expect([res.status, res.body.errors[0].field]).toEqual([400, 'destinations.0.order']);
    }
    const ok = await api.request('PUT', '/projects/ordered', {
      packages: [pkg()],
      destinations: [{ name: 'hook', type: 'webhook', url: 'https://hooks.example.com/x' }],
    });
    expect([ok.status, ok.body.spec.destinations[0].order]).toEqual([201, 'latest']);
  });

  test('release list filters are checked: bad times, cursors and oversized values are 400s naming the field', async () => {
    await api.request('PUT', '/projects/filters', { packages: [pkg()] });
    for (const [query, field] of [
      ['createdSince=yesterday', 'query.createdSince'],
      ['createdSince=2026-13-45T99:00:00Z', 'query.createdSince'],
      ['cursor=MTA%3D%3D%3D%27', 'query.cursor'],
      [`cursor=${Buffer.from('-5').toString('base64url')}`, 'query.cursor'],
      [`version=${'v'.repeat(129)}`, 'query.version'],
      [`package=${'p'.repeat(257)}`, 'query.package'],
      ['limit=101', 'query.limit'],
      ['offset=10', 'query.offset'],
    ] as const) {
      const res = await api.request('GET', `/projects/filters/releases?${query}`);
      expect([query, res.status, res.type]).toEqual([query, 400, 'application/problem+json; charset=utf-8']);
      expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    }
    // Filter text is data: quotes, wildcards and JSON are matched literally and find nothing.
    for (const value of ["1' OR '1'='1", '%', '"}]', '\\']) {
      const res = await api.request('GET', `/projects/filters/releases?version=${encodeURIComponent(value)}`);
      expect([value, res.status, res.body.releases]).toEqual([value, 200, []]);
    }
  });

  test('an invalid filter with extract is a 400 on preview and on save', async () => {
    const rule = { filter: '^(?<ts>\\d+', extract: '$ts' };
    const preview = await api.request('POST', '/rules/preview', { rule, tags: ['1'] });
    expect([preview.status, preview.body.errors[0].field]).toEqual([400, 'rule.filter']);
    const put = await api.request('PUT', '/projects/extract', {
      packages: [pkg()],
      channels: [{ name: 'default', rules: [rule] }],
    });
    expect([put.status, put.body.errors[0].field]).toEqual([400, 'channels.0.rules.0.filter']);
  });

  test("the path's project wins: a body naming another project is a 400", async () => {
    await api.request('PUT', '/projects/path-a', { packages: [pkg()] });
    const res = await api.request('POST', '/projects/path-a/triggers', { name: 't', project: 'path-b' });
    expect(res.status).toBe(400);
    expect(res.body.detail).toBe('project: "path-b" does not match the path (path-a)');
  });

  test('a notification host with quotes and backslashes is escaped, not a 500', async () => {
    const res = await api.request('POST', '/webhooks/registry', {
      events: [{ action: 'push', target: { repository: 'a/b', tag: '1' }, request: { host: "x\\' OR 1=1" } }],
    });
    expect(res.status).toBe(202);
    const byQuery = await api.request('POST', '/webhooks/registry?feed=reg.example', {
      events: [{ action: 'push', target: { repository: 'a/b', tag: '1' } }],
    });
    expect(byQuery.status).toBe(202);
  });

  test('one notification listing 1,000 repositories is refused at once', async () => {
    const started = Date.now();
    const res = await api.request('POST', '/webhooks/registry?feed=reg.example', {
      events: Array.from({ length: 1000 }, (_, i) => ({
        action: 'push',
        target: { repository: `r/${i}`, tag: '1' },
      })),
    });
    expect(res.status).toBe(400);
    expect(res.body.detail).toBe('events: 1000 distinct repositories; at most 100 per notification');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  test('100 repositories in one notification take a handful of visibility queries', async () => {
    const res = await api.request('POST', '/webhooks/registry?feed=reg.example', {
      events: Array.from({ length: 100 }, (_, i) => ({
        action: 'push',
        target: { repository: `r/${i}`, tag: '1' },
      })),
    });
    expect(res.status).toBe(202);
    expect(res.body.packages).toHaveLength(100);
  });

  test("the webhook's 413 states its real limit", async () => {
    const res = await api.request(
      'POST',
      '/webhooks/registry',
      JSON.stringify({ events: [], pad: 'x'.repeat(1_100_000) }),
    );
    expect(res.status).toBe(413);
    expect(res.body.detail).toBe("the body is larger than this endpoint's limit of 1048576 bytes");
  });

  test('a deeply nested body is a 400 naming the body, on every JSON route, not a 500', async () => {
    // Unchecked, validation overflows the stack: a 500 "Maximum call stack size exceeded".
    for (const depth of [100_000, 1_000]) {
      for (const [method, path] of [
        ['PUT', '/projects/deep'],
        ['POST', '/rules/preview'],
        ['POST', '/tokens'],
        ['PATCH', '/triggers/deep/deep'],
      ]) {
        const res = await api.request(method, path, `{"a":${'['.repeat(depth)}${']'.repeat(depth)}}`);
        expect([method, path, res.status, res.type, res.body.errors]).toEqual([
          method,
          path,
          400,
          'application/problem+json; charset=utf-8',
          [{ field: '(body)', message: 'the body nests arrays and objects deeper than 64 levels' }],
        ]);
      }
    }
    // Brackets inside strings are text, and a project's own nesting is far below the limit.
    const ok = await api.request('POST', '/rules/preview', { tags: ['['.repeat(100)] });
    expect(ok.status).toBe(200);
    expect((await api.request('GET', '/healthz')).status).toBe(200);
  });

  test('NUL in a path parameter, a body string or key, or the query is a 400 naming the field, not a 500', async () => {
    // PostgreSQL refuses NUL in text ("invalid byte sequence for encoding "UTF8": 0x00"): unchecked, a 500.
    await api.request('PUT', '/projects/nul', { packages: [pkg()] });
    for (const [method, path, body, field] of [
      ['GET', '/projects/a%00b', undefined, 'project'],
      ['DELETE', '/projects/%00', undefined, 'project'],
      ['GET', '/triggers/nul/x%00', undefined, 'name'],
      ['DELETE', '/tokens/x%00', undefined, 'name'],
      ['GET', '/projects/nul/releases/1.0%00', undefined, 'number'],
      ['GET', '/audit?actor=x%00', undefined, 'query.actor'],
      ['GET', '/projects/nul/releases?version=%00', undefined, 'query.version'],
      ['POST', '/tokens', { name: 'nul\u0000', role: 'viewer' }, 'name'],
      ['PUT', '/projects/nul', { packages: [{ ...pkg(), package: 'a/\u0000' }] }, 'packages.0.package'],
      ['PUT', '/projects/nul', { packages: [pkg()], ['x\u0000']: 1 }, 'x\u0000'],
      ['POST', '/projects/nul/releases', { versions: { app: '1\u0000' } }, 'versions.app'],
    ] as const) {
      const res = await api.request(method, path, body);
      expect([method, path, res.status, res.type, res.body.errors?.[0]?.field]).toEqual([
        method,
        path,
        400,
        'application/problem+json; charset=utf-8',
        field,
      ]);
    }
    // A stranger still gets a 401 first.
    expect((await api.request('GET', '/projects/a%00b', undefined, { token: null })).status).toBe(401);
  });

  test('a slow client is cut off by the header timeout', async () => {
    const server: Server = await listen(
      createApp({ client: env.client, taskQueue: env.taskQueue, ...env.stores }),
      0,
      '127.0.0.1',
      {
        headersMs: 300,
        requestMs: 600,
      },
    );
    try {
      const port = (server.address() as net.AddressInfo).port;
      const socket = net.connect(port, '127.0.0.1');
      socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'); // never finishes its headers
      let answer = '';
      socket.on('data', (d) => (answer += d.toString()));
      const started = Date.now();
      await new Promise((resolve) => socket.on('close', resolve));
      expect(Date.now() - started).toBeLessThan(3000);
      expect(answer).toMatch(/^HTTP\/1\.1 408/);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe('apply -f refuses an oversized file before reading it', () => {
  const run = async (argv: string[], input?: Buffer) => {
    let stderr = '';
    let stdout = '';
    const stdin = new PassThrough();
    const sink = (append: (s: string) => void) =>
      new Writable({
        write(chunk, _enc, done) {
          append(chunk.toString());
          done();
        },
      });
    const code = runCli(argv, {
      stdin,
      stdout: sink((s) => (stdout += s)),
      stderr: sink((s) => (stderr += s)),
      env: { FEED_TRIGGERS_API_URL: api.url, FEED_TRIGGERS_TOKEN: api.token },
    });
    // Fed in pieces, as a pipe would; the rest is never asked for once the cap is passed.
    if (input) for (let i = 0; i < input.length; i += 1 << 20) stdin.write(input.subarray(i, i + (1 << 20)));
    stdin.end();
    return { code: await code, stderr, stdout };
  };

  test('an 18 MB file exits 2 with one line, at once, and creates nothing', async () => {
    // Parsed before the size cap, such a file takes 29 s and 1.9 GB of memory.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-apply-'));
    const file = path.join(dir, 'huge.yaml');
    const project = `  - name: huge-apply\n    packages: [{ name: app, feed: docker.io, package: a/b }]\n`;
    const size = 18 * 1024 * 1024;
    writeFileSync(file, `projects:\n${project}${'#'.repeat(size - project.length - 11)}\n`);
    const started = Date.now();
    const r = await run(['apply', '-f', file]);
    // A refusal from the size alone is far below the 29 s that parsing takes.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect([r.code, r.stderr, r.stdout]).toEqual([
      2,
      `feed-triggers: ${file}: 18874368 bytes; apply reads at most 4194304 bytes (4 MiB): split it into several files\n`,
      '',
    ]);
    expect((await api.request('GET', '/projects/huge-apply')).status).toBe(404);
  });

  test('standard input is refused as soon as it passes the cap; a small file still applies', async () => {
    const r = await run(['apply', '-f', '-'], Buffer.alloc(18 * 1024 * 1024, '#'));
    expect([r.code, r.stderr]).toEqual([
      2,
      'feed-triggers: (stdin): larger than 4194304 bytes (4 MiB), the most apply reads: split it into several files\n',
    ]);
    const small = await run(
      ['apply', '-f', '-'],
      Buffer.from(
        'projects:\n  - name: small-apply\n    packages: [{ name: app, feed: docker.io, package: a/b }]\n',
      ),
    );
    expect([small.code, small.stdout]).toEqual([0, 'project/small-apply created\n']);
    // docker.io cannot be reached from the test machine: the save-time feed check may warn, and nothing else.
    expect(small.stderr).toMatch(/^(warning: project\/small-apply packages\.0\.feed: [^\n]*\n)?$/);
  });
});

describe('one caller does not stall the others', () => {
  test("/healthz answers while a viewer's hostile preview runs; the preview answers as it would inline", async () => {
    const viewer = await api.tokenFor('viewer');
    // 128 copies of each whole tag per tag, ordered as text: seconds of work, were it on the event loop.
    const rule = { filter: '^(.*)$', extract: '$1'.repeat(128), order: 'alphabetical' as const };
    const tags = Array.from({ length: 10_000 }, (_, i) => `${i}-${'a'.repeat(120)}`);
    let previewDone = false;
    const preview = api
      .request('POST', '/rules/preview', { rule, tags }, { token: viewer })
      .finally(() => (previewDone = true));
    await eventually(async () => sharedCpuPool('api').stats().busy > 0 || undefined, 'the preview running');
    const health = await fetch(`${api.url}/healthz`);
    expect([health.status, previewDone]).toEqual([200, false]);
    const res = await preview;
    expect(res.status).toBe(200);
    expect(res.body).toEqual(toPreview(evaluateRule(compileRule(rule), tags)));
  });
});
