import { createApp } from '../../src/api/app';
import { ROUTE_RULES, ROUTES, routeFor } from '../../src/api/routes';
import { startApi, TestApi } from '../support/api';
import { startTestWorker, TestWorkerEnv } from '../support/temporal';

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
    const app = createApp({ client: env.client, taskQueue: env.taskQueue, ledger: env.ledger });
    (app.locals.temporalHealth as { stop(): void }).stop();
    const served: string[] = [];
    const walk = (stack: unknown[]) => {
      for (const layer of stack as {
        route?: { path: string; methods: Record<string, boolean>; stack: { name: string }[] };
        handle?: { stack?: unknown[] };
      }[]) {
        if (layer.route && layer.route.stack.every((l) => l.name !== 'ruleMatched'))
          for (const method of Object.keys(layer.route.methods))
            if (method !== '_all') served.push(`${method.toUpperCase()} ${layer.route.path}`);
        if (layer.handle?.stack) walk(layer.handle.stack);
      }
    };
    walk((app as unknown as { router: { stack: unknown[] } }).router.stack);
    const doc = (await api.request('GET', '/openapi.json', undefined, { token: null })).body as {
      paths: Record<string, Record<string, { responses: Record<string, { content?: object }> }>>;
    };
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p.replace(/\{(\w+)\}/g, ':$1')}`),
    );
    expect(documented.sort()).toEqual(served.sort());
    expect(new Set(served).size).toBe(served.length);
    // A client generated from the document gets a type for every JSON answer: each 2xx of a route that
    // answers JSON names its schema (the ones without are files, HTML, an event stream or Prometheus text).
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
        expect([route, 'body', parsed.success ? 'ok' : parsed.error.message]).toEqual([route, 'body', 'ok']);
        checked++;
      }
      for (const [status, response] of Object.entries(doc.responses)) {
        if (!response.schema) continue;
        expect([route, status, response.example !== undefined]).toEqual([route, status, true]);
        const parsed = response.schema.safeParse(response.example);
        expect([route, status, parsed.success ? 'ok' : parsed.error.message]).toEqual([route, status, 'ok']);
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
