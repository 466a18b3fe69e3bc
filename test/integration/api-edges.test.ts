import { mkdtempSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import net, { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createApp } from '../../src/api/app';
import { ROUTE_RULES, ROUTES, routeFor } from '../../src/api/routes';
import { servedRoutes, startApi, TestApi } from '../support/api';
import { startTestWorker, TestWorkerEnv, eventually } from '../support/temporal';
import express from 'express';
import { HttpClient } from '../../src/net/http';
import { listen } from '../../src/api/listen';
import { startServer } from '../support/http-server';
import { FeedError } from '../../src/feeds/errors';
import { runCliCapturing } from '../support/cli';
import { pushImage, TestRegistry } from '../support/registry';
import { startTrigger } from '../support/projects';

/**
 * The API's edges: its OpenAPI description, the HTTP limits of the server and the client, and what a newcomer's
 * mistakes (an unreachable feed, a network error, invalid files) are told. One file, each former file a
 * describe block with its own worker and servers: they share the cost of loading the modules, which was most
 * of what each small file spent.
 */

describe('openapi', () => {
  let env: TestWorkerEnv;
  let api: TestApi;

  beforeAll(async () => {
    env = await startTestWorker();
    api = await startApi(env);
  });
  afterAll(async () => {
    await api?.close();
    await env?.stop();
  });

  describe('the OpenAPI description', () => {
    test('is OpenAPI 3.1, public, and has every route with the role it needs', async () => {
      const res = await api.request('GET', '/openapi.json', undefined, { token: null });
      expect([res.status, res.type]).toEqual([200, 'application/json; charset=utf-8']);
      const doc = res.body;
      expect(doc.openapi).toBe('3.1.0');
      const documented = Object.entries(
        doc.paths as Record<string, Record<string, { 'x-feed-triggers-role': string }>>,
      )
        .flatMap(([p, ops]) =>
          Object.entries(ops).map(
            ([m, op]) => `${m.toUpperCase()} ${p.replace(/\{(\w+)\}/g, ':$1')} ${op['x-feed-triggers-role']}`,
          ),
        )
        .sort();
      expect(documented).toEqual(ROUTE_RULES.map((r) => `${r.method} ${r.path} ${r.access}`).sort());
      // Routes that need a token say so, with their 401 and 403.
      const pause = doc.paths['/triggers/{project}/{name}/pause'].post;
      expect(pause.security).toEqual([{ bearer: [] }]);
      expect(Object.keys(pause.responses).sort()).toEqual(['202', '401', '403', '404', '503']);
      expect(doc.paths['/healthz'].get.security).toEqual([]);
      // Request bodies are the schemas the routes validate with.
      const put = doc.paths['/projects/{project}'].put.requestBody.content['application/json'].schema;
      expect(put.required).toEqual(expect.arrayContaining(['packages']));
      expect(put.properties.packages.maxItems).toBe(50);
    });

    test('documents exactly the routes Express serves, and each answer of JSON with a schema', async () => {
      const app = createApp({ client: env.client, taskQueue: env.taskQueue, ...env.stores });
      (app.locals.temporalHealth as { stop(): void }).stop();
      const served = servedRoutes(app);
      const doc = (await api.request('GET', '/openapi.json', undefined, { token: null })).body as {
        paths: Record<string, Record<string, { responses: Record<string, { content?: object }> }>>;
      };
      const documented = Object.entries(doc.paths).flatMap(([p, ops]) =>
        Object.keys(ops).map((m) => `${m.toUpperCase()} ${p.replace(/\{(\w+)\}/g, ':$1')}`),
      );
      expect(documented.sort()).toEqual(served.sort());
      expect(new Set(served).size).toBe(served.length);
      // A client generated from the document gets a type for every JSON answer: each 2xx of a route that
      // answers JSON names its schema (the ones without are files, HTML, Prometheus text or an event stream).
      const untyped = ROUTES.flatMap((route) =>
        Object.entries(route.responses)
          .filter(([status, r]) => Number(status) < 300 && !r.schema)
          .map(([status]) => `${route.method} ${route.path} ${status}`),
      );
      expect(untyped.sort()).toEqual([
        'GET /console/ 200',
        'GET /console/assets/:file 200',
        'GET /docs 200',
        'GET /docs/:asset 200',
        'GET /events 200',
        'GET /metrics 200',
      ]);
    });

    test('every documented example validates against its schema', () => {
      let checked = 0;
      for (const doc of ROUTES) {
        const route = `${doc.method} ${doc.path}`;
        if (doc.body && doc.bodyExample !== undefined) {
          const parsed = doc.body.safeParse(doc.bodyExample);
          expect([route, 'body', parsed.success ? 'ok' : parsed.error.message]).toEqual([
            route,
            'body',
            'ok',
          ]);
          checked++;
        }
        for (const [status, response] of Object.entries(doc.responses)) {
          if (!response.schema) continue;
          expect([route, status, response.example !== undefined]).toEqual([route, status, true]);
          const parsed = response.schema.safeParse(response.example);
          expect([route, status, parsed.success ? 'ok' : parsed.error.message]).toEqual([
            route,
            status,
            'ok',
          ]);
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(60);
    });

    test('real answers match the documented status codes and schemas', async () => {
      const viewer = await api.tokenFor('viewer');
      const project = { packages: [{ name: 'web', feed: 'docker.io', package: 'library/nginx' }] };
      const calls: Array<[string, string, unknown?, string?]> = [
        ['GET', '/healthz'],
        ['GET', '/readyz'],
        ['GET', '/whoami'],
        ['PUT', '/projects/documented', project],
        ['PUT', '/projects/documented', { ...project, channels: [{ name: 'beta', rules: [] }] }],
        ['PUT', '/projects/documented', { packages: [] }],
        ['GET', '/projects'],
        ['GET', '/projects/documented'],
        ['GET', '/projects/nothing-here'],
        ['GET', '/projects/documented/revisions'],
        ['GET', '/projects/documented/releases?limit=5'],
        ['GET', '/projects/documented/releases?limit=500'],
        ['GET', '/projects/documented/releases/9.9.9'],
        ['POST', '/rules/preview', { rule: { range: '[1.0,2.0)' }, tags: ['1.0.0', '2.0.0'] }],
        ['POST', '/rules/preview', { tags: 'nope' }],
        ['GET', '/triggers'],
        ['GET', '/projects/documented/triggers'],
        ['GET', '/triggers/documented/none'],
        ['POST', '/triggers/documented/none/poll'],
        ['POST', '/tokens', { name: 'documented', role: 'viewer' }],
        ['POST', '/tokens', { name: 'documented', role: 'viewer' }],
        ['GET', '/tokens'],
        ['DELETE', '/tokens/documented'],
        ['DELETE', '/tokens/documented'],
        ['GET', '/audit?limit=5'],
        ['DELETE', '/projects/documented'],
        ['GET', '/projects', undefined, viewer],
      ];
      for (const [method, path, body, token] of calls) {
        const res = await api.request(method, path, body, token ? { token } : {});
        const doc = routeFor(method, path.split('?')[0])!;
        const response = doc.responses[res.status];
        expect([method, path, res.status, response !== undefined]).toEqual([method, path, res.status, true]);
        if (response.schema) {
          const parsed = response.schema.safeParse(res.body);
          expect([method, path, res.status, parsed.success ? 'ok' : parsed.error.message]).toEqual([
            method,
            path,
            res.status,
            'ok',
          ]);
        }
      }
    });

    test('/docs serves a page of it, its own assets and nothing else of the package', async () => {
      const page = await fetch(`${api.url}/docs`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
      const html = await page.text();
      expect(html).toContain('<script src="/docs/swagger-ui-bundle.js"></script>');
      const init = await (await fetch(`${api.url}/docs/init.js`)).text();
      expect(init).toContain("url: '/openapi.json'");
      const bundle = await fetch(`${api.url}/docs/swagger-ui-bundle.js`);
      expect([bundle.status, bundle.headers.get('content-type')]).toEqual([
        200,
        'text/javascript; charset=utf-8',
      ]);
      expect((await bundle.arrayBuffer()).byteLength).toBeGreaterThan(100_000);
      for (const path of [
        '/docs/package.json',
        '/docs/..%2F..%2Fpackage.json',
        '/docs/index.html',
        '/docs/constructor',
        '/docs/__proto__',
      ])
        expect([path, (await fetch(`${api.url}${path}`)).status]).toEqual([path, 404]);
    });
  });
});

describe('http-limits', () => {
  test('requests to one registry host are capped at the configured concurrency', async () => {
    let active = 0;
    let peak = 0;
    const server = await startServer(async (_req, res) => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 30));
      active--;
      res.writeHead(200).end('{}');
    });
    try {
      const http = new HttpClient({ perHostConcurrency: 3 });
      const answers = await Promise.all(Array.from({ length: 12 }, () => http.request(`${server.url}/v2/`)));
      expect(answers.map((a) => a.status)).toEqual(Array(12).fill(200));
      expect(peak).toBe(3);
    } finally {
      await server.close();
    }
  });

  test("a caller's deadline that passes mid-request is a TIMEOUT naming the request; a cancellation stays the caller's", async () => {
    // Headers at once, then a body that never ends: the caller's deadline (an activity's start-to-close)
    // passes while the body is read, and once more while no answer has come at all.
    const server = await startServer((req, res) => {
      if (req.url === '/v2/slow-body') res.writeHead(200, { 'content-type': 'application/json' }).write('{');
    });
    try {
      const http = new HttpClient({ timeoutMs: 60_000 });
      for (const path of ['/v2/slow-body', '/v2/no-answer']) {
        const failure = await http.request(`${server.url}${path}`, { signal: AbortSignal.timeout(300) }).then(
          () => null,
          (err: unknown) => err,
        );
        expect(failure).toMatchObject({
          name: 'HttpError',
          code: 'TIMEOUT',
          message: `${server.url}${path} did not answer before the caller's deadline`,
        });
      }
      const cancel = new AbortController();
      const cancelled = http
        .request(`${server.url}/v2/no-answer`, { signal: cancel.signal })
        .catch((e: unknown) => e);
      const reason = new Error('the trigger was paused');
      setTimeout(() => cancel.abort(reason), 100);
      expect(await cancelled).toBe(reason);
    } finally {
      await server.close();
    }
  });

  describe('the API server closes connections that hold a socket without asking anything', () => {
    const port = (server: Server) => (server.address() as net.AddressInfo).port;
    const closed = (socket: net.Socket) =>
      new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));

    test('200 connections that never send a byte are closed within the idle timeout', async () => {
      // Node's header timeout starts at a request's first byte: without ours, 400 of 400 stay open after 15 s.
      const server = await listen(express(), 0, '127.0.0.1', { idleMs: 1000 });
      try {
        const sockets = await Promise.all(
          Array.from(
            { length: 200 },
            () =>
              new Promise<net.Socket>((resolve, reject) => {
                const s = net.connect(port(server), '127.0.0.1', () => resolve(s));
                s.on('error', reject);
              }),
          ),
        );
        const started = Date.now();
        const ends = await Promise.all(sockets.map(closed));
        expect(Math.max(...ends) - started).toBeLessThan(4000);
      } finally {
        await new Promise((r) => server.close(r));
      }
    });

    test('a keep-alive connection left silent after its answer is closed, and a slow answer is not cut', async () => {
      const app = express();
      app.get('/slow', (_req, res) => void setTimeout(() => res.send('done'), 2500));
      const server = await listen(app, 0, '127.0.0.1', { idleMs: 800, keepAliveMs: 800 });
      try {
        const socket = net.connect(port(server), '127.0.0.1');
        let answer = '';
        socket.on('data', (d: Buffer) => (answer += d.toString()));
        const gone = closed(socket);
        socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
        const started = Date.now();
        const end = await gone;
        // The answer came after three idle periods of silence; then the idle socket was closed.
        expect(answer).toMatch(/^HTTP\/1\.1 200[\s\S]*done$/);
        expect(end - started).toBeGreaterThanOrEqual(2500);
        expect(end - started).toBeLessThan(6000);
      } finally {
        await new Promise((r) => server.close(r));
      }
    });
  });
});

describe('newcomer', () => {
  let registry: TestRegistry;
  let env: TestWorkerEnv;
  let api: TestApi;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-newcomer-'));
  /** A name that never resolves (RFC 2606 reserves `.invalid`): the `dockerhub.io` a newcomer typed. */
  const NO_SUCH_HOST = 'no-such-registry.invalid';

  beforeAll(async () => {
    registry = await TestRegistry.start();
    env = await startTestWorker();
    api = await startApi(env);
    await pushImage(registry.url, 'nc/web', '1.0.0');
  });
  afterAll(async () => {
    await api?.close();
    await env?.stop();
    await registry?.stop();
  });

  const cli = (...argv: string[]) =>
    runCliCapturing(argv, { FEED_TRIGGERS_API_URL: api.url, FEED_TRIGGERS_TOKEN: api.token });

  /** A loopback port nothing listens on. */
  async function closedPort(): Promise<number> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));
    return port;
  }

  function file(name: string, text: string): string {
    const at = path.join(dir, name);
    writeFileSync(at, text);
    return at;
  }

  describe('a feed that cannot be reached is found when the project is saved', () => {
    test('a host that does not resolve, a closed port and an unknown feed id are warnings naming the cause', async () => {
      const closed = await closedPort();
      const res = await api.request('PUT', '/projects/nc-warn', {
        packages: [
          { name: 'typo', feed: NO_SUCH_HOST, package: 'library/nginx' },
          { name: 'down', feed: `127.0.0.1:${closed}`, package: 'team/web' },
          { name: 'unknown', feed: 'hub', package: 'team/web' },
          { name: 'fine', feed: registry.host, package: 'nc/web' },
        ],
      });
      expect(res.status).toBe(201);
      expect(res.body.warnings).toEqual([
        {
          field: 'packages.0.feed',
          message: `feed ${NO_SUCH_HOST} cannot be reached: https://${NO_SUCH_HOST} could not be reached: ENOTFOUND ${NO_SUCH_HOST} (the name does not resolve)`,
        },
        {
          field: 'packages.1.feed',
          message: `feed 127.0.0.1:${closed} cannot be reached: http://127.0.0.1:${closed} could not be reached or gave no answer within 3000 ms`,
        },
        {
          field: 'packages.2.feed',
          message:
            'feed "hub" is not configured (the configuration file\'s feeds) and is not a registry host such as docker.io',
        },
      ]);
    });

    test('strict refuses them with a 400 listing each, and a dry run saves nothing', async () => {
      const spec = { packages: [{ name: 'typo', feed: NO_SUCH_HOST, package: 'library/nginx' }] };
      const strict = await api.request('PUT', '/projects/nc-strict?strict=true', spec);
      expect(strict.status).toBe(400);
      expect(strict.body.errors).toEqual([
        { field: 'packages.0.feed', message: expect.stringContaining(`ENOTFOUND ${NO_SUCH_HOST}`) },
      ]);
      expect((await api.request('GET', '/projects/nc-strict')).status).toBe(404);

      const dry = await api.request('PUT', '/projects/nc-strict?dryRun=true', spec);
      expect(dry.status).toBe(200);
      expect(dry.body).toMatchObject({ name: 'nc-strict', dryRun: true, valid: true });
      expect(dry.body.warnings).toHaveLength(1);
      expect((await api.request('GET', '/projects/nc-strict')).status).toBe(404);
      const good = await api.request('PUT', '/projects/nc-strict?strict=true&dryRun=true', {
        packages: [{ name: 'web', feed: registry.host, package: 'nc/web' }],
      });
      expect([good.status, good.body.warnings]).toEqual([200, []]);
      expect((await api.request('GET', '/projects/nc-strict')).status).toBe(404);
    });

    test('apply prints the warning and exits 0; apply --strict and validate --strict refuse the file', async () => {
      const manifest = file(
        'typo.yaml',
        `projects:
  - name: nc-apply
    packages:
      - { name: web, feed: ${NO_SUCH_HOST}, package: library/nginx }
`,
      );
      const strict = await cli('apply', '-f', manifest, '--strict');
      expect(strict.code).toBe(1);
      expect(strict.stderr).toMatch(
        new RegExp(
          `PUT /projects/nc-apply\\?strict=true: 400 packages\\.0\\.feed: .*ENOTFOUND ${NO_SUCH_HOST}`,
        ),
      );
      expect((await api.request('GET', '/projects/nc-apply')).status).toBe(404);

      const validated = await cli('validate', '-f', manifest);
      expect([validated.code, validated.stdout]).toEqual([0, 'project/nc-apply valid\n']);
      expect(validated.stderr).toMatch(
        new RegExp(`^warning: project/nc-apply packages\\.0\\.feed: .*ENOTFOUND ${NO_SUCH_HOST}`),
      );
      const validatedStrict = await cli('validate', '-f', manifest, '--strict');
      expect(validatedStrict.code).toBe(1);
      expect(validatedStrict.stderr).toMatch(/1 of 1 project\(s\) invalid/);
      expect((await api.request('GET', '/projects/nc-apply')).status).toBe(404);

      const applied = await cli('apply', '-f', manifest);
      expect([applied.code, applied.stdout]).toEqual([0, 'project/nc-apply created\n']);
      expect(applied.stderr).toMatch(
        new RegExp(
          `^warning: project/nc-apply packages\\.0\\.feed: feed ${NO_SUCH_HOST} cannot be reached: .*ENOTFOUND`,
        ),
      );
    });
  });

  describe('network errors name the host and the cause', () => {
    test('the client error, and the trigger state while the poll is retried', async () => {
      const err = (await new HttpClient({ timeoutMs: 2000 })
        .request(`https://${NO_SUCH_HOST}/v2/`)
        .catch((e: unknown) => e)) as FeedError;
      expect([err.code, err.retryable, err.message]).toEqual([
        'NETWORK',
        true,
        `https://${NO_SUCH_HOST} could not be reached: ENOTFOUND ${NO_SUCH_HOST} (the name does not resolve)`,
      ]);

      await api.request('PUT', '/projects/nc-state', {
        packages: [{ name: 'web', feed: NO_SUCH_HOST, package: 'library/nginx' }],
      });
      await startTrigger(env, { project: 'nc-state', name: 'web', intervalSeconds: 600 });
      const state = await eventually(async () => {
        const res = await api.request('GET', '/triggers/nc-state/web');
        return JSON.stringify(res.body).includes(`ENOTFOUND ${NO_SUCH_HOST}`) ? res.body : undefined;
      }, 'the trigger state to name the host and the cause');
      expect(JSON.stringify(state)).toContain(`https://${NO_SUCH_HOST} could not be reached: ENOTFOUND`);
    }, 60_000);
  });

  describe('validation reports every error in one run', () => {
    test('the API lists every field, whichever check found it', async () => {
      const res = await api.request('PUT', '/projects/nc-many', {
        name: 'other',
        packages: [
          { name: 'web', feed: registry.host, package: 'nc/web' },
          { name: 'web', feed: registry.host, package: 'NOT VALID' },
        ],
        channels: [{ name: 'default', rules: [{ packages: ['nope'], range: '[1.0' }] }],
        lifecycle: 'missing',
      });
      expect(res.status).toBe(400);
      expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual([
        'packages.1.package',
        'channels.0.rules.0.range',
        'packages.1.name',
        'channels.0.rules.0.packages.0',
        'lifecycle',
      ]);
      expect(res.body.detail).toMatch(/\(and 4 more\)$/);
      // Checks past the schema (the path's name, where the worker may send) are listed together too.
      const past = await api.request('PUT', '/projects/nc-many', {
        name: 'other',
        packages: [{ name: 'web', feed: registry.host, package: 'nc/web' }],
        destinations: [{ name: 'meta', type: 'webhook', url: 'http://169.254.169.254/latest' }],
      });
      expect(past.body.errors.map((e: { field: string }) => e.field)).toEqual(['name', 'destinations.0.url']);
    });

    test('apply -f and validate list every error of the file, each with its path', async () => {
      const bad = file(
        'many.yaml',
        `projects:
  - name: nc-file
    packages:
      - { name: web, feed: docker.io, package: "Not Valid" }
    channels:
      - { name: default, rules: [{ packages: [nope], range: "[1.0" }] }
    triggers:
      - { name: web, channel: nightly, watch: [ghost], intervalSeconds: 1 }
      - { name: Bad }
`,
      );
      for (const command of ['apply', 'validate']) {
        const r = await cli(command, '-f', bad);
        expect([command, r.code]).toEqual([command, 2]);
        expect(r.stderr.trim().split('\n')).toEqual([
          `feed-triggers: ${bad}: projects.0.packages.0.package: a repository path such as "library/nginx"`,
          `${bad}: projects.0.channels.0.rules.0.range: interval "[1.0" must end with ] or )`,
          `${bad}: projects.0.channels.0.rules.0.packages.0: no package named "nope"`,
          `${bad}: projects.0.triggers.0.intervalSeconds: Too small: expected number to be >=10`,
          `${bad}: projects.0.triggers.1.name: use lower-case letters, digits, ".", "_" and "-", starting and ending with a letter or digit`,
        ]);
      }
      // With the schema right, what the file's triggers name is checked against its projects, all at once.
      const names = file(
        'names.yaml',
        `projects:
  - name: nc-names
    packages: [{ name: web, feed: "${registry.host}", package: nc/web }]
    triggers:
      - { name: web, channel: nightly, watch: [ghost, web] }
`,
      );
      const r = await cli('validate', '-f', names);
      expect(r.stderr.trim().split('\n')).toEqual([
        `feed-triggers: ${names}: projects.0.triggers.0.channel: no channel named "nightly"`,
        `${names}: projects.0.triggers.0.watch.0: no package named "ghost"`,
      ]);
    });

    test('the API refusing several fields prints each on its own line', async () => {
      const bad = file(
        'unreachable.yaml',
        `projects:
  - name: nc-two
    packages: [{ name: web, feed: "${registry.host}", package: nc/web }]
    destinations:
      - { name: a, type: webhook, url: "http://169.254.169.254/a" }
      - { name: b, type: webhook, url: "http://169.254.169.254/b" }
`,
      );
      const r = await cli('apply', '-f', bad);
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toEqual([
        'feed-triggers: PUT /projects/nc-two: 400 Invalid project: 2 errors',
        expect.stringMatching(/^ {2}destinations\.0\.url: 169\.254\.169\.254 is refused: link-local/),
        expect.stringMatching(/^ {2}destinations\.1\.url: 169\.254\.169\.254 is refused: link-local/),
      ]);
    });
  });
});
