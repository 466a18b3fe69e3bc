import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import {
  ENVIRONMENT_HEADERS,
  age,
  environmentRows,
  environmentState,
  ProjectEnvironments,
} from '../../src/cli/environments';
import { deploymentSummary, table } from '../../src/cli/get';
import { printable, printableJson } from '../../src/cli/printable';
import { printableOnPage, printableShownAttributes } from '../../src/domain/printable';
import { releaseRequest } from '../../src/cli/release-actions';
import { runRules } from '../../src/cli/rules';
import { triggerRequest } from '../../src/cli/trigger-actions';
import { HelpRequested, UsageError } from '../../src/cli/usage';
import type { Deployment } from '../../src/domain/deployment';
import { runCliCapturing } from '../support/cli';
import { startServer, TestServer } from '../support/http-server';

const ESC = '\u001b';

function deployment(release: string, environment: string, status: Deployment['status']): Deployment {
  return {
    id: 1,
    release,
    environment,
    status,
    forced: false,
    requestedBy: 'ci',
    queuedAt: '2026-01-01T00:00:00.000Z',
    startedAt: null,
    finishedAt: null,
    attempts: 0,
    error: null,
    nextAttemptAt: null,
    targets: {},
    freezeOverride: null,
    deployAt: null,
    deployAtExpiry: null,
  };
}

describe('the daily commands parse their command line before sending anything', () => {
  test('deploy is one POST of the environment to the release, never forced', () => {
    expect(releaseRequest('deploy', ['shop', '1.2.0', 'prod'])).toMatchObject({
      method: 'POST',
      path: '/projects/shop/releases/1.2.0/deployments',
      body: { environment: 'prod' },
      ok: 202,
      subject: 'deployment/shop/1.2.0/prod',
    });
    expect(() => releaseRequest('deploy', ['shop', '1.2.0', 'prod', '--force'])).toThrow(UsageError);
  });

  test('deploy --at schedules, --expiry bounds it, --override-freeze sends the reason; only deploy takes them', () => {
    const args = [
      'shop',
      '7',
      'prod',
      '--at',
      '2026-12-07T02:00:00+01:00',
      '--expiry',
      '2026-12-07T04:00:00+01:00',
    ];
    expect(releaseRequest('deploy', [...args, '--override-freeze', 'hotfix for incident 42']).body).toEqual({
      environment: 'prod',
      deployAt: '2026-12-07T02:00:00+01:00',
      deployAtExpiry: '2026-12-07T04:00:00+01:00',
      overrideFreeze: { reason: 'hotfix for incident 42' },
    });
    expect(() => releaseRequest('deploy', ['shop', '7', 'prod', '--override-freeze', ' '])).toThrow(
      '--override-freeze needs a REASON',
    );
    expect(() => releaseRequest('rollback', [...args])).toThrow(UsageError);
  });

  test('rollback sends force only with --force', () => {
    expect(releaseRequest('rollback', ['shop', '1', 'dev']).body).toEqual({ environment: 'dev' });
    expect(releaseRequest('rollback', ['shop', '1', 'dev', '--force']).body).toEqual({
      environment: 'dev',
      force: true,
    });
  });

  test('approve and reject decide the phase with the comment, which they require', () => {
    expect(releaseRequest('approve', ['shop', '7', 'prod', '--comment', 'QA signed off'])).toMatchObject({
      path: '/projects/shop/releases/7/approvals',
      body: { phase: 'prod', decision: 'approve', comment: 'QA signed off' },
      ok: 201,
    });
    expect(releaseRequest('reject', ['shop', '7', 'prod', '-m', '-a bug']).body).toEqual({
      phase: 'prod',
      decision: 'reject',
      comment: '-a bug',
    });
    expect(() => releaseRequest('approve', ['shop', '7', 'prod'])).toThrow(/approve needs --comment/);
    expect(() => releaseRequest('reject', ['shop', '7', 'prod', '--comment', '  '])).toThrow(
      /reject needs --comment/,
    );
  });

  test('cancel posts to the deployment of the release to the environment', () => {
    const cancel = releaseRequest('cancel', ['shop', '7', 'prod']);
    expect(cancel).toMatchObject({ path: '/projects/shop/releases/7/deployments/prod/cancel', ok: 200 });
    expect(cancel.body).toBeUndefined();
  });

  test('the wrong number of arguments or an unknown option is a usage error', () => {
    expect(() => releaseRequest('deploy', ['shop', '7'])).toThrow(/deploy takes 3 arguments, not 2/);
    expect(() => releaseRequest('cancel', ['shop', '7', 'prod', 'x'])).toThrow(/takes 3 arguments, not 4/);
    expect(() => releaseRequest('cancel', ['shop', '7', 'prod', '--force'])).toThrow(UsageError);
    expect(() => triggerRequest('pause', ['shop'])).toThrow(/pause takes 2 arguments, not 1/);
  });

  test('--help is the command usage with what it does and its exit codes', () => {
    for (const [run, start] of [
      [
        () => releaseRequest('rollback', ['--help']),
        'usage: feed-triggers rollback PROJECT RELEASE ENVIRONMENT',
      ],
      [() => releaseRequest('approve', ['a', '-h']), 'usage: feed-triggers approve PROJECT RELEASE PHASE'],
      [() => triggerRequest('poll', ['--help']), 'usage: feed-triggers poll PROJECT TRIGGER'],
    ] as const) {
      let help = '';
      try {
        run();
      } catch (err) {
        if (err instanceof HelpRequested) help = err.usage;
      }
      expect(help.startsWith(start)).toBe(true);
      expect(help).toMatch(/exit codes: 0 done, 1 refused by the API[^]*, 2 bad usage/);
    }
  });

  test('hostile arguments stay one encoded path segment or are refused', () => {
    // Separators and encoded separators stay inside their segment: the API sees the name, not a new route.
    expect(releaseRequest('deploy', ['a/b', '%2f..%2f', 'x?y#z']).path).toBe(
      '/projects/a%2Fb/releases/%252f..%252f/deployments',
    );
    expect(releaseRequest('deploy', ['a/b', '1', 'x?y#z']).body).toEqual({ environment: 'x?y#z' });
    expect(triggerRequest('pause', ['shop', '../../projects/shop']).path).toBe(
      '/triggers/shop/..%2F..%2Fprojects%2Fshop',
    );
    // What no encoding keeps in place (URL parsers resolve . and .., even as %2e) is refused.
    for (const [args, message] of [
      [['..', '1', 'prod'], /PROJECT: "\.\." is not a name/],
      [['shop', '.', 'prod'], /RELEASE: "\." is not a name/],
      [['shop', '1', ''], /ENVIRONMENT: must not be empty/],
      [['shop\u0000', '1', 'prod'], /PROJECT: "shop\\u0000" contains control characters/],
      [['shop', '1', `prod${ESC}[2J`], /ENVIRONMENT: "prod\\u001b\[2J" contains control/],
      [['shop', 'x'.repeat(10_000), 'prod'], /RELEASE: 10000 characters; at most 1000/],
    ] as const) {
      expect(() => releaseRequest('deploy', [...args])).toThrow(UsageError);
      expect(() => releaseRequest('deploy', [...args])).toThrow(message);
    }
    expect(() => releaseRequest('approve', ['shop', '1', '..', '--comment', 'ok'])).toThrow(/PHASE/);
    expect(() => triggerRequest('resume', ['shop', '..'])).toThrow(/TRIGGER: "\.\." is not a name/);
  });

  test('--wait is whole seconds from 0 to 600', () => {
    expect(triggerRequest('poll', ['shop', 'web']).waitMs).toBe(30_000);
    expect(triggerRequest('poll', ['shop', 'web', '--wait', '0']).waitMs).toBe(0);
    for (const bad of ['-1', '1.5', 'soon', '601', '1e3', ''])
      expect(() => triggerRequest('poll', ['shop', 'web', '--wait', bad])).toThrow(/--wait: a whole number/);
  });
});

describe('server-supplied strings print as text', () => {
  test('controls, C1, line breaks and direction overrides are shown escaped, not acted on', () => {
    expect(printable(`a${ESC}]0;owned\u0007b`)).toBe('a\\u001b]0;owned\\u0007b');
    expect(printable('x\u009b31my')).toBe('x\\u009b31my');
    expect(printable('evil\u202eexe.txt')).toBe('evil\\u202eexe.txt');
    expect(printable('one\ntwo\rthree')).toBe('one\\u000atwo\\u000dthree');
    expect(printable('plain 1.2.0 ünïcødé')).toBe('plain 1.2.0 ünïcødé');
  });

  test("a page's text (the console) keeps tabs and line breaks, and shows every other control and override", () => {
    expect(printableOnPage('gnp.\u202eexe.evil')).toBe('gnp.\\u202eexe.evil');
    expect(printableOnPage('a\u2066b\u2069c\u200fd\u061ce')).toBe('a\\u2066b\\u2069c\\u200fd\\u061ce');
    expect(printableOnPage(`x${ESC}[2J\u0000\u009b`)).toBe('x\\u001b[2J\\u0000\\u009b');
    expect(printableOnPage('one\ntwo\r\tthree \u2028four')).toBe('one\ntwo\r\tthree \\u2028four');
    expect(printableOnPage('plain 1.2.0 ünïcødé العربية')).toBe('plain 1.2.0 ünïcødé العربية');
  });

  test("a page's shown attributes (tooltips, accessible names, alternatives) are escaped as its text; values, links and ids are not", () => {
    const children = ['x'];
    const props = {
      title: 'gnp.\u202eexe.evil',
      'aria-label': `Delete ${ESC}[2J`,
      alt: 'a\u2066b',
      placeholder: 'one\ntwo',
      value: 'gnp.\u202eexe.evil',
      href: '#/projects/a\u202eb',
      id: 'x\u202e',
      children,
    };
    const shown = printableShownAttributes(props);
    expect(shown).toEqual({
      ...props,
      title: 'gnp.\\u202eexe.evil',
      'aria-label': 'Delete \\u001b[2J',
      alt: 'a\\u2066b',
    });
    expect(shown.children).toBe(children);
    // Nothing to escape: the same props, not a copy (most elements of a page).
    const plain = { title: 'plain', class: 'badge' };
    expect(printableShownAttributes(plain)).toBe(plain);
  });

  test('-o json stays the same document, with nothing raw a terminal would act on', () => {
    const value = { name: `a${ESC}[2J\u009b\u202e\u2028`, n: 1 };
    const text = printableJson(value);
    for (const raw of [ESC, '\u009b', '\u202e', '\u2028']) expect(text).not.toContain(raw);
    expect(JSON.parse(text)).toEqual(value);
  });

  test('a table escapes every cell', () => {
    expect(table(['A', 'B'], [[`x${ESC}[31m`, 'y']])).toBe('A            B\nx\\u001b[31m  y');
  });
});

describe('get environments and get releases, as rows', () => {
  const now = new Date('2026-01-02T00:00:00Z');

  test('age reads as kubectl shows it', () => {
    expect(
      [
        '2026-01-01T23:59:15Z',
        '2026-01-01T23:30:00Z',
        '2026-01-01T19:00:00Z',
        '2025-12-20T00:00:00Z',
        null,
      ].map((t) => age(t, now)),
    ).toEqual(['45s', '30m', '5h', '13d', '-']);
  });

  test('each environment: the release there, the latest deployment when it is another, and the queue', () => {
    const boards: ProjectEnvironments[] = [
      {
        project: 'shop',
        environments: [
          {
            name: 'dev',
            current: { release: '2', deployment: 3, deployedAt: '2026-01-01T23:58:00Z' },
            inFlight: [],
            latest: deployment('2', 'dev', 'succeeded'),
          },
          {
            name: 'test',
            current: { release: '1', deployment: 1, deployedAt: '2026-01-01T12:00:00Z' },
            inFlight: [deployment('2', 'test', 'deploying'), deployment('3', 'test', 'queued')],
            latest: deployment('3', 'test', 'queued'),
          },
          { name: 'prod', current: null, inFlight: [], latest: null },
        ],
      },
    ];
    expect(ENVIRONMENT_HEADERS).toEqual(['PROJECT', 'ENVIRONMENT', 'RELEASE', 'STATE', 'AGE', 'IN FLIGHT']);
    expect(environmentRows(boards, now)).toEqual([
      ['shop', 'dev', '2', 'succeeded', '2m', '-'],
      ['shop', 'test', '1', 'deploying 2', '12h', '2:deploying,3:queued'],
      ['shop', 'prod', '-', 'never deployed', '-', '-'],
    ]);
  });

  test('a failure since the release there is the state; a cancel or supersede since is history', () => {
    const current = { release: '1', deployment: 1, deployedAt: null };
    const failed = { ...deployment('2', 'prod', 'failed'), id: 2 };
    const cancelled = { ...deployment('2', 'prod', 'cancelled'), id: 2 };
    expect(environmentState({ name: 'prod', current, inFlight: [], latest: failed })).toBe('failed 2');
    expect(environmentState({ name: 'prod', current, inFlight: [], latest: cancelled })).toBe('succeeded');
    expect(environmentState({ name: 'prod', current: null, inFlight: [], latest: cancelled })).toBe(
      'cancelled 2',
    );
  });

  test("a release's deployments: each environment's latest, oldest environment first", () => {
    // The API lists a release's deployments newest first.
    expect(
      deploymentSummary([
        deployment('1', 'prod', 'queued'),
        deployment('1', 'dev', 'succeeded'),
        deployment('1', 'test', 'succeeded'),
        deployment('1', 'dev', 'failed'),
      ]),
    ).toBe('test=succeeded,dev=succeeded,prod=queued');
    expect(deploymentSummary([])).toBe('-');
  });
});

describe('the daily commands against an HTTP API', () => {
  let server: TestServer;
  let answer: { status: number; body: unknown } = { status: 202, body: {} };
  beforeAll(async () => {
    server = await startServer((_req, res) => {
      res.writeHead(answer.status, { 'content-type': 'application/problem+json' });
      res.end(JSON.stringify(answer.body));
    });
  });
  afterAll(() => server.close());
  const cli = (...argv: string[]) =>
    runCliCapturing(argv, { FEED_TRIGGERS_API_URL: server.url, FEED_TRIGGERS_TOKEN: 't' });

  test("a refusal exits 1 with the API's detail verbatim, as text", async () => {
    answer = {
      status: 422,
      body: {
        title: 'Not allowed',
        status: 422,
        detail: `phase "prod" needs an approval${ESC}]0;owned\u0007\u202e`,
      },
    };
    const r = await cli('deploy', 'shop', '1', 'prod');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      'feed-triggers: POST /projects/shop/releases/1/deployments: 422 phase "prod" needs an approval' +
        '\\u001b]0;owned\\u0007\\u202e\n',
    );
  });

  test('a usage error exits 2 and sends nothing', async () => {
    const before = server.requests.length;
    for (const argv of [
      ['deploy', 'shop', '1'],
      ['rollback', '..', '1', 'dev', '--force'],
      ['approve', 'shop', '1', 'prod'],
      ['cancel', 'shop', 'x'.repeat(10_000), 'prod'],
      ['pause', 'shop/web'],
      ['poll', 'shop', 'web', '--wait', 'later'],
      ['get', 'environments', '--project', '..'],
      ['get', 'releases', '--project', 'a\u0000b'],
      ['get', 'releases', '--project', 'shop', '--limit', '0x10'],
      ['get', 'releases', '--project', 'shop', '--limit', '1e1'],
      ['token', 'create', 'ci', '--role', 'viewer', '--expires-in-days', '1e3'],
      ['token', 'create', 'ci', '--role', 'viewer', '--expires-in-days', ' 7'],
      ['apply', '-f', 'x.yaml', '--concurrency', '0x10'],
    ]) {
      const r = await cli(...argv);
      expect([argv[0], r.code, r.stderr.split('\n').length]).toEqual([argv[0], 2, 2]);
    }
    expect(server.requests.length).toBe(before);
  });

  test('a name with a slash reaches its own route, encoded', async () => {
    answer = { status: 404, body: { title: 'Not found', status: 404, detail: 'no project a/b' } };
    const r = await cli('get', 'releases', '--project', 'a/b');
    expect([r.code, r.stderr]).toEqual([
      1,
      'feed-triggers: GET /projects/a%2Fb/releases?limit=20: 404 no project a/b\n',
    ]);
    expect(server.requests.at(-1)?.url).toBe('/projects/a%2Fb/releases?limit=20');
  });
});

describe('apply, validate and token print what the API answers as text', () => {
  const hostile = `unreachable ${ESC}]8;;https://evil.example${'\u0007'}click${ESC}]8;;${'\u0007'}\u009b2J\u202e`;
  let server: TestServer;
  let file: string;
  let dir: string;
  beforeAll(async () => {
    server = await startServer((req, res) => {
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.method === 'PUT')
        return json(200, {
          created: true,
          changed: true,
          warnings: [{ field: `packages.0.feed${ESC}[1A`, message: hostile }],
        });
      if (req.method === 'GET' && req.url === '/receivers') return json(200, { receivers: [] });
      const token = {
        name: `ci${ESC}[8m`,
        role: 'viewer',
        createdBy: 'a',
        createdAt: hostile,
        expiresAt: hostile,
      };
      if (req.method === 'POST' && req.url === '/tokens')
        return json(201, { ...token, token: `ft_x${ESC}]0;t` });
      if (req.method === 'GET' && req.url === '/tokens') return json(200, { tokens: [token] });
      if (req.method === 'POST' && req.url === '/receivers') return json(201, { url: `/hooks/x${ESC}[2J` });
      json(404, { title: 'Not found', status: 404, detail: 'no route' });
    });
    dir = await mkdtemp(path.join(os.tmpdir(), 'apply-printable-'));
    file = path.join(dir, 'shop.yaml');
    await writeFile(
      file,
      [
        'projects:',
        '  - name: shop',
        '    packages:',
        '      - { name: web, feed: docker.io, package: acme/shop-web }',
        'receivers:',
        '  - { name: hub, type: dockerhub }',
        '',
      ].join('\n'),
    );
  });
  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });
  const cli = (...argv: string[]) =>
    runCliCapturing(argv, { FEED_TRIGGERS_API_URL: server.url, FEED_TRIGGERS_TOKEN: 't' });

  test.each([['apply'], ['validate']])(
    '%s: control sequences in them are shown escaped, not acted on',
    async (command) => {
      const r = await cli(command, '-f', file);
      expect(r.code).toBe(0);
      expect(r.stderr).toContain(
        'warning: project/shop packages.0.feed\\u001b[1A: unreachable \\u001b]8;;https://evil.example\\u0007click',
      );
      if (command === 'apply') expect(r.stdout).toContain('/hooks/x\\u001b[2J');
      for (const raw of [ESC, '\u0007', '\u009b', '\u202e']) expect(r.stdout + r.stderr).not.toContain(raw);
    },
  );

  test.each(['create ci --role viewer', 'create ci --role viewer -o json', 'list', 'list -o json'])(
    'token %s: what the API answers is shown escaped, not acted on',
    async (args) => {
      const r = await cli('token', ...args.split(' '));
      expect([r.code, r.stderr]).toEqual([0, '']);
      expect(r.stdout).toContain('ci\\u001b[8m');
      for (const raw of [ESC, '\u0007', '\u009b', '\u202e']) expect(r.stdout).not.toContain(raw);
    },
  );
});

test('rules shows tags piped in from a registry as text: an accepted, selected or rejected tag cannot drive the terminal', async () => {
  const stdin = new PassThrough();
  stdin.end(`1.0.0\n1.1.0-${ESC}]0;owned\u0007\n2.0.0${ESC}[2J\nx\u202eexe\n`);
  let shown = '';
  const stdout = new Writable({
    write(chunk, _enc, done) {
      shown += String(chunk);
      done();
    },
  });
  await runRules(['--no-default-excludes', '--range', '*'], stdin, stdout);
  expect(shown).toContain('1.1.0-\\u001b]0;owned\\u0007');
  expect(shown).toContain('2.0.0\\u001b[2J');
  expect(shown).toContain('x\\u202eexe');
  for (const raw of [ESC, '\u0007', '\u202e']) expect(shown).not.toContain(raw);
});

test("validate names a manifest's unknown keys as text: keys holding ESC, C1 or U+202E cannot drive the terminal", async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'validate-printable-'));
  const file = path.join(dir, 'hostile.yaml');
  await writeFile(
    file,
    [
      'projects:',
      '  - name: shop',
      '    "\\x9b2J\\u202e": 1',
      '    packages:',
      '      - { name: web, feed: docker.io, package: acme/shop-web, "\\e]8;;http://evil\\a": 2 }',
      '',
    ].join('\n'),
  );
  const r = await runCliCapturing(['validate', '-f', file], { FEED_TRIGGERS_API_URL: 'http://127.0.0.1:9' });
  await rm(dir, { recursive: true, force: true });
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('\\u009b2J\\u202e');
  expect(r.stderr).toContain('\\u001b]8;;http://evil\\u0007');
  for (const raw of [ESC, '\u0007', '\u009b', '\u202e']) expect(r.stderr).not.toContain(raw);
});
