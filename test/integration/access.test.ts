import http from 'node:http';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { RouteRule } from '../../src/api/route';
import { ROUTE_RULES } from '../../src/api/routes';
import { createApp } from '../../src/api/app';
import { runCliCapturing } from '../support/cli';
import { AccessRole, AccessStore, hashToken } from '../../src/db/access';
import { servedRoutes, startApi, TestApi } from '../support/api';
import { openTestDatabase } from '../support/database';
import { eventually, startTestWorker, TestWorkerEnv } from '../support/temporal';

let env: TestWorkerEnv;
let api: TestApi;
const dir = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-access-'));
const project = { packages: [{ name: 'web', feed: 'docker.io', package: 'library/nginx' }] };

beforeAll(async () => {
  env = await startTestWorker();
  api = await startApi(env);
});
afterAll(async () => {
  await api?.close();
  await env?.stop();
});

describe('who may call what', () => {
  test('every route Express serves has an access rule, and every rule a route', () => {
    const app = createApp({ client: env.client, taskQueue: env.taskQueue, ...env.stores });
    (app.locals.temporalHealth as { stop(): void }).stop();
    const served = servedRoutes(app).sort();
    const ruled = ROUTE_RULES.map((r) => `${r.method} ${r.path}`).sort();
    expect(served).toEqual(ruled);
  });

  test('no token or a bad one is a 401 problem with a Bearer challenge; health checks need none', async () => {
    for (const token of [null, 'ft_nope', `ft_${'A'.repeat(43)}`, 'Basic abc']) {
      const r = await api.request('GET', '/projects', undefined, { token });
      expect([r.status, r.type, r.headers.get('www-authenticate')]).toEqual([
        401,
        'application/problem+json; charset=utf-8',
        'Bearer realm="feed-triggers"',
      ]);
    }
    // A stranger learns nothing about which paths exist, and a body is never read.
    expect((await api.request('GET', '/no/such/path', undefined, { token: null })).status).toBe(401);
    expect((await api.request('PUT', '/projects/x', '{not json', { token: null })).status).toBe(401);
    expect((await api.request('GET', '/healthz', undefined, { token: null })).body).toEqual({ status: 'ok' });
    expect((await api.request('GET', '/readyz', undefined, { token: null })).status).toBe(200);
  });

  test('viewers read, operators also act on triggers and releases, admins configure: 403 names the role', async () => {
    const viewer = await api.tokenFor('viewer');
    const operator = await api.tokenFor('operator');
    expect((await api.request('PUT', '/projects/roles', project)).status).toBe(201);

    expect((await api.request('GET', '/projects/roles', undefined, { token: viewer })).status).toBe(200);
    expect((await api.request('POST', '/rules/preview', { tags: ['1.0'] }, { token: viewer })).status).toBe(
      200,
    );
    const denied = await api.request('POST', '/triggers/roles/web/pause', undefined, { token: viewer });
    expect([denied.status, denied.type]).toEqual([403, 'application/problem+json; charset=utf-8']);
    expect(denied.body.detail).toMatch(
      /^token test-viewer-\d+-\d+ has the viewer role; POST \/triggers\/:project\/:name\/pause needs operator$/,
    );

    // An operator gets past the check: the trigger does not exist, which is the route's own answer.
    const paused = await api.request('POST', '/triggers/roles/web/pause', undefined, { token: operator });
    expect(paused.status).toBe(404);
    const put = await api.request('PUT', '/projects/roles', project, { token: operator });
    expect([put.status, put.body.detail]).toEqual([
      403,
      expect.stringMatching(/has the operator role; PUT \/projects\/:project needs admin$/),
    ]);
    expect((await api.request('GET', '/tokens', undefined, { token: operator })).status).toBe(403);
    expect((await api.request('GET', '/audit', undefined, { token: operator })).status).toBe(403);
  });

  test('no spelling of a path reaches a route with a role below its rule: case, slashes, percent-encoding', async () => {
    // Express routes case-insensitively: rules matched case-sensitively, with an unknown GET needing only a
    // viewer, would let a viewer read GET /TOKENS, /AUDIT and /RECEIVERS.
    const tokens: Record<string, string | null> = {
      anonymous: null,
      viewer: await api.tokenFor('viewer'),
      operator: await api.tokenFor('operator'),
      // Its own admin: its refusals are counted in rows of its own in the audit log.
      admin: await api.tokenFor('admin'),
    };
    const rank = (who: string) => ['anonymous', 'viewer', 'operator', 'admin'].indexOf(who);
    const needs = (rule: RouteRule) =>
      rule.access === 'public' || rule.access === 'sender' ? 'anonymous' : (rule.access as AccessRole);
    const encode = (c: string) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`;
    // A parameter value no route knows (a served answer is the route's own 404 or 400), and a real asset.
    const value = (param: string) =>
      param === ':asset' ? 'init.js' : param.startsWith(':') ? 'walk' : param;
    const exactOf = (rule: RouteRule) => rule.path.split('/').map(value).join('/');
    const variants = (rule: RouteRule): string[] => {
      const segments = rule.path.split('/').map(value);
      const exact = exactOf(rule);
      const literal = segments.findIndex((s, i) => i > 0 && !rule.path.split('/')[i].startsWith(':'));
      const withLiteral = (f: (s: string) => string) =>
        segments.map((s, i) => (i === literal ? f(s) : s)).join('/');
      const lastSlash = exact.lastIndexOf('/');
      return [
        exact,
        exact.toUpperCase(),
        withLiteral((s) => s[0].toUpperCase() + s.slice(1)),
        withLiteral((s) => encode(s[0]) + s.slice(1)),
        withLiteral((s) => encode(s[0].toUpperCase()) + s.slice(1).toUpperCase()),
        withLiteral((s) => s.replace(/[a-z]/, (c) => `%${c.charCodeAt(0).toString(16)}`)),
        `${exact}/`,
        `${exact}//`,
        `/${exact}`,
        exact.replace(/^(\/[^/]+)\//, '$1//'),
        lastSlash > 0 ? `${exact.slice(0, lastSlash)}%2F${exact.slice(lastSlash + 1)}` : `${exact}%2F`,
        `/.${exact}`,
      ];
    };
    const cases = ROUTE_RULES.flatMap((rule) =>
      Object.keys(tokens).flatMap((who) => variants(rule).map((path) => ({ rule, who, path }))),
    );
    const broken: string[] = [];
    let next = 0;
    const run = async () => {
      while (next < cases.length) {
        const { rule, who, path } = cases[next++];
        const res = await rawRequest(rule.method, path, tokens[who]);
        const refused =
          res.status === 401 ||
          res.status === 403 ||
          (res.status === 404 && res.detail === `no route for ${rule.method} ${path}`);
        if (!refused && rank(who) < rank(needs(rule)))
          broken.push(`${who} ${rule.method} ${path}: ${res.status} (${rule.path} needs ${rule.access})`);
        const spelledAsRule = path === exactOf(rule);
        if (spelledAsRule && rank(who) >= rank(needs(rule)) && refused && rule.access !== 'sender')
          broken.push(`${who} ${rule.method} ${path}: ${res.status}, refused though allowed`);
        if (!spelledAsRule && rule.access !== 'public' && rule.access !== 'sender' && who === 'anonymous')
          if (res.status !== 401) broken.push(`${who} ${rule.method} ${path}: ${res.status}, not 401`);
      }
    };
    await Promise.all(Array.from({ length: 8 }, run));
    expect(broken).toEqual([]);
    expect(cases.length).toBeGreaterThan(ROUTE_RULES.length * 4 * 10);

    // The issue's own reproduction: each is no route at all for a viewer, and a 401 for a stranger.
    for (const path of ['/TOKENS', '/AUDIT', '/RECEIVERS', '/%54OKENS', '/tokens/', '//tokens']) {
      const viewed = await rawRequest('GET', path, tokens.viewer);
      expect([path, viewed.status, viewed.detail]).toEqual([path, 404, `no route for GET ${path}`]);
      expect([path, (await rawRequest('GET', path, null)).status]).toEqual([path, 401]);
    }
  });

  test('a path no route serves is a 404 for any valid token, whatever the method, and a 401 for a stranger', async () => {
    const viewer = await api.tokenFor('viewer');
    for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) {
      const res = await api.request(method, '/no/such/path', undefined, { token: viewer });
      expect([method, res.status, res.type, res.body.detail]).toEqual([
        method,
        404,
        'application/problem+json; charset=utf-8',
        `no route for ${method} /no/such/path`,
      ]);
      expect((await api.request(method, '/no/such/path', undefined, { token: null })).status).toBe(401);
    }
  });

  test('/whoami names the token, its role and what it may call', async () => {
    const viewer = await api.tokenFor('viewer');
    const me = await api.request('GET', '/whoami', undefined, { token: viewer });
    expect(me.body).toMatchObject({ name: expect.stringMatching(/^test-viewer-/), role: 'viewer' });
    expect(me.body.allowed).toContain('GET /projects');
    expect(me.body.allowed).not.toContain('POST /triggers/:project/:name/pause');
    expect(me.body.allowed).not.toContain('GET /healthz');
  });
});

describe('tokens', () => {
  test('created once through the API, stored hashed, listed without a value, revoked at once', async () => {
    const created = await api.request('POST', '/tokens', { name: 'ci-deployer', role: 'operator' });
    expect(created.status).toBe(201);
    expect(created.headers.get('cache-control')).toBe('no-store');
    expect(created.body).toMatchObject({
      name: 'ci-deployer',
      role: 'operator',
      createdBy: expect.any(String),
    });
    const token: string = created.body.token;
    expect(token).toMatch(/^ft_[A-Za-z0-9_-]{43}$/);

    const rows = await env.database.db
      .selectFrom('api_tokens')
      .selectAll()
      .where('name', '=', 'ci-deployer')
      .execute();
    expect(rows).toHaveLength(1);
    expect(rows[0].token_hash).toBe(hashToken(token));
    expect(JSON.stringify(rows)).not.toContain(token);
    expect(rows[0].last_used_at).toBeNull();

    expect((await api.request('GET', '/whoami', undefined, { token })).body.role).toBe('operator');
    const listed = (await api.request('GET', '/tokens')).body.tokens;
    const mine = listed.find((t: { name: string }) => t.name === 'ci-deployer');
    expect(mine).toMatchObject({ role: 'operator', lastUsedAt: expect.any(String) });
    expect(JSON.stringify(listed)).not.toMatch(/ft_|token_hash/);

    const again = await api.request('POST', '/tokens', { name: 'ci-deployer', role: 'viewer' });
    expect([again.status, again.body.detail]).toEqual([
      409,
      'a token named ci-deployer already exists; revoke it first',
    ]);
    for (const bad of [
      { name: 'Bad Name', role: 'viewer' },
      { name: 'x', role: 'root' },
      { name: 'x', role: 'viewer', expiresInDays: 0 },
    ])
      expect((await api.request('POST', '/tokens', bad)).status).toBe(400);

    expect((await api.request('DELETE', '/tokens/ci-deployer')).body).toEqual({
      name: 'ci-deployer',
      revoked: true,
    });
    expect((await api.request('GET', '/whoami', undefined, { token })).status).toBe(401);
    expect((await api.request('DELETE', '/tokens/ci-deployer')).status).toBe(404);
  });

  test('an expired token is refused', async () => {
    const store = new AccessStore(env.database.db, () => new Date(Date.now() - 2 * 86_400_000));
    const { token } = await store.createToken('short-lived', 'viewer', 'test', new Date(Date.now() - 1000));
    expect((await api.request('GET', '/whoami', undefined, { token })).status).toBe(401);
  });
});

describe('the audit log', () => {
  test('records who changed what, when and how it went, refusals included; only admins read it', async () => {
    const viewer = await api.tokenFor('viewer');
    const before = new Date();
    expect((await api.request('PUT', '/projects/audited', project)).status).toBe(201);
    expect((await api.request('PUT', '/projects/audited', { packages: [] })).status).toBe(400);
    expect((await api.request('DELETE', '/projects/audited', undefined, { token: viewer })).status).toBe(403);
    // A call without a valid token is not recorded: strangers cannot fill the log.
    expect((await api.request('DELETE', '/projects/audited', undefined, { token: null })).status).toBe(401);
    // Reads are not audited.
    await api.request('GET', '/projects/audited');

    const records = await eventually(async () => {
      const r = (await api.request('GET', '/audit?limit=3')).body.records;
      return r.length === 3 && r[0].route === '/projects/:project' && r[0].method === 'DELETE'
        ? r
        : undefined;
    }, 'three audit records');
    expect(
      records.map((r: Record<string, unknown>) => [r.actor, r.role, r.method, r.path, r.status, r.outcome]),
    ).toEqual([
      [expect.stringMatching(/^test-viewer-/), 'viewer', 'DELETE', '/projects/audited', 403, 'denied'],
      [expect.stringMatching(/^test-admin-/), 'admin', 'PUT', '/projects/audited', 400, 'refused'],
      [expect.stringMatching(/^test-admin-/), 'admin', 'PUT', '/projects/audited', 201, 'succeeded'],
    ]);
    expect(new Date(records[2].at).getTime()).toBeGreaterThanOrEqual(before.getTime() - 1000);
    const mine = (await api.request('GET', `/audit?actor=${records[0].actor}`)).body.records;
    expect(mine.map((r: { status: number }) => r.status)).toEqual([403]);
    const page = await api.request('GET', `/audit?limit=1&before=${records[1].id}`);
    expect(page.body.records[0].id).toBe(records[2].id);
    expect((await api.request('GET', '/audit?limit=0')).status).toBe(400);
    expect((await api.request('GET', '/audit?before=1;drop')).status).toBe(400);
    expect((await api.request('GET', '/audit', undefined, { token: viewer })).status).toBe(403);
  });
});

/** A request with the path sent byte for byte (fetch would normalize it). */
function rawRequest(
  method: string,
  path: string,
  token: string | null,
): Promise<{ status: number; detail: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${api.url}/`,
      { method, path, headers: token ? { authorization: `Bearer ${token}` } : {} },
      (res) => {
        // An event stream (GET /events) never ends: its status is the answer.
        if (res.headers['content-type']?.startsWith('text/event-stream')) {
          resolve({ status: res.statusCode!, detail: undefined });
          return void res.destroy();
        }
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => {
          let detail: string | undefined;
          try {
            detail = (JSON.parse(text) as { detail?: string }).detail;
          } catch {
            detail = undefined;
          }
          resolve({ status: res.statusCode!, detail });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('refusals in the audit log', () => {
  test('500 refused calls of one token make a row a route and minute with their count, not 500 rows', async () => {
    // One row per refused call would let one viewer grow the log without bound.
    const viewer = await api.tokenFor('viewer');
    const actor = (await api.request('GET', '/whoami', undefined, { token: viewer })).body.name;
    const calls = [
      ...Array.from({ length: 300 }, (_, i) => ['DELETE', `/projects/p${i}`]),
      ...Array.from({ length: 150 }, (_, i) => ['POST', `/triggers/x/t${i}/pause`]),
      ...Array.from({ length: 50 }, (_, i) => ['POST', `/no/such/path/${i}`]),
    ];
    let next = 0;
    const statuses: number[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < calls.length) {
          const [method, path] = calls[next++];
          statuses.push((await api.request(method, path, undefined, { token: viewer })).status);
        }
      }),
    );
    expect(statuses.filter((s) => s === 403)).toHaveLength(450);
    expect(statuses.filter((s) => s === 404)).toHaveLength(50);
    const records = await eventually(async () => {
      const r: { route: string; count: number; status: number; outcome: string; path: string }[] = (
        await api.request('GET', `/audit?actor=${actor}`)
      ).body.records;
      return r.reduce((n, x) => n + x.count, 0) === 500 ? r : undefined;
    }, 'every refusal counted');
    // Three routes; a minute boundary during the run may split one of them in two.
    expect(records.length).toBeGreaterThanOrEqual(3);
    expect(records.length).toBeLessThanOrEqual(6);
    const byRoute = (route: string) =>
      records.filter((r) => r.route === route).reduce((n, r) => n + r.count, 0);
    expect([
      byRoute('/projects/:project'),
      byRoute('/triggers/:project/:name/pause'),
      byRoute('(no route)'),
    ]).toEqual([300, 150, 50]);
    expect(records.find((r) => r.route === '(no route)')).toMatchObject({ status: 404, outcome: 'refused' });
    expect(records.find((r) => r.route === '/projects/:project')).toMatchObject({
      status: 403,
      outcome: 'denied',
      path: expect.stringMatching(/^\/projects\/p\d+$/),
    });
    // Calls that succeed are still one row each.
    await api.request('PUT', '/projects/counted', project);
    await api.request('PUT', '/projects/counted', project);
    const mine = (await api.request('GET', `/audit?limit=2`)).body.records;
    expect(mine.map((r: { path: string; count: number }) => [r.path, r.count])).toEqual([
      ['/projects/counted', 1],
      ['/projects/counted', 1],
    ]);
  });
});

const cli = (argv: string[], extraEnv: NodeJS.ProcessEnv) =>
  runCliCapturing(argv, { PATH: process.env.PATH, ...extraEnv });

describe('feed-triggers token', () => {
  test('on the database itself (no token yet): create prints the token once, list and revoke', async () => {
    // The run's PostgreSQL, not an embedded ledger: the CLI opens the ledger the same way for both, and each
    // opening of an embedded one boots PostgreSQL in WebAssembly in this process (about 3 s of CPU, 4 times).
    const database = await openTestDatabase();
    const onLedger = { DATABASE_URL: database.url };
    try {
      const created = await cli(['token', 'create', 'first-admin', '--role', 'admin'], onLedger);
      expect([created.code, created.stderr]).toEqual([0, '']);
      const token = created.stdout.trim().split('\n').at(-1)!;
      expect(token).toMatch(/^ft_[A-Za-z0-9_-]{43}$/);
      expect(created.stdout).toMatch(/^Created token first-admin \(admin\)\./);

      const listed = await cli(['token', 'list'], onLedger);
      expect(listed.stdout).toMatch(
        /^NAME +ROLE +CREATED +BY +EXPIRES +LAST USED\nfirst-admin +admin +\S+ +cli:\S* +- +never\n$/,
      );
      expect(listed.stdout).not.toContain(token);

      expect(await new AccessStore(database.db).authenticate(token)).toEqual({
        name: 'first-admin',
        role: 'admin',
      });
      const { rows } = await sql<{
        n: string;
      }>`SELECT count(*) AS n FROM api_tokens WHERE token_hash = ${token}`.execute(database.db);
      expect(Number(rows[0].n)).toBe(0);
      expect((await cli(['token', 'revoke', 'first-admin'], onLedger)).stdout).toBe(
        'Revoked token first-admin.\n',
      );
      const gone = await cli(['token', 'revoke', 'first-admin'], onLedger);
      expect([gone.code, gone.stderr]).toEqual([1, 'feed-triggers: no live token named first-admin\n']);
    } finally {
      await database.close();
    }
  });

  test('through the API with an admin token in FEED_TRIGGERS_TOKEN (audited under its name)', async () => {
    const viaApi = { FEED_TRIGGERS_API_URL: api.url, FEED_TRIGGERS_TOKEN: api.token };
    const created = await cli(
      ['token', 'create', 'dashboard', '--role', 'viewer', '--expires-in-days', '30', '-o', 'json'],
      viaApi,
    );
    expect(created.code).toBe(0);
    const body = JSON.parse(created.stdout);
    expect(body).toMatchObject({ name: 'dashboard', role: 'viewer', expiresAt: expect.any(String) });
    expect((await api.request('GET', '/whoami', undefined, { token: body.token })).body.name).toBe(
      'dashboard',
    );
    const denied = await cli(['token', 'list'], { ...viaApi, FEED_TRIGGERS_TOKEN: body.token });
    expect([denied.code, denied.stderr]).toEqual([
      1,
      expect.stringMatching(/^feed-triggers: GET \/tokens: 403 token dashboard has the viewer role/),
    ]);
    const bad = await cli(['token', 'list'], { ...viaApi, FEED_TRIGGERS_TOKEN: 'ft_wrong' });
    expect(bad.stderr).toMatch(/401 .*set FEED_TRIGGERS_TOKEN to a token/);
  });

  test('bad command lines exit 2 with one line', async () => {
    for (const args of [
      ['token'],
      ['token', 'create', 'x'],
      ['token', 'create', 'x', '--role', 'root'],
      ['token', 'create', 'Bad Name', '--role', 'viewer'],
      ['token', 'create', 'x', '--role', 'viewer', '--expires-in-days', '0'],
      ['token', 'revoke'],
      ['token', 'list', 'extra'],
      ['token', 'list', '--role', 'admin'],
    ]) {
      const r = await cli(args, { FEED_TRIGGERS_DATA_DIR: path.join(dir, 'unused') });
      expect([args, r.code, r.stderr.trim().split('\n').length]).toEqual([args, 2, 1]);
    }
  });
});
