import fc from 'fast-check';
import { ROUTE_RULES } from '../../src/api/routes';
import { startApi, TestApi } from '../support/api';
import { startTestWorker, TestWorkerEnv } from '../support/temporal';

/**
 * Properties over the API's schemas against a running service (real worker, real Temporal): random bodies
 * and mutations of valid ones never get a 5xx, never take over 5 s, and a refused request changes nothing.
 */
let env: TestWorkerEnv;
let api: TestApi;

beforeAll(async () => {
  env = await startTestWorker();
  api = await startApi(env);
  const put = await api.request('PUT', '/projects/fuzz', validProject());
  expect(put.status).toBe(201);
  const trig = await api.request('POST', '/projects/fuzz/triggers', {
    name: 'fuzz',
    intervalSeconds: 3600,
    watch: ['web'],
  });
  expect(trig.status).toBe(201);
});

afterAll(async () => {
  await api?.close();
  await env?.stop();
});

function validProject() {
  return {
    packages: [
      { name: 'web', feed: '127.0.0.1:1', package: 'fuzz/web' },
      { name: 'chart', feed: 'docker.io', package: 'fuzz/chart' },
    ],
    channels: [
      {
        name: 'default',
        rules: [
          { packages: ['web'], range: '[1.0,2.0)', tag: '^$', exclude: ['-debug$'] },
          { packages: ['chart'], filter: '^main-(?<ts>\\d+)$', extract: '$ts', order: 'numerical' },
        ],
      },
    ],
    versioning: { template: '#{Octopus.Version.LastMajor}.#{Octopus.Version.NextPatch}' },
    destinations: [{ name: 'hook', type: 'webhook', url: 'https://ci.example.com/hook', cloudEvents: true }],
  };
}

/** Hostile leaves: wrong types, huge and odd strings, regexes that backtrack on V8, prototype keys. */
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(
    '([a-z]|[a-z0-9])*!',
    '(a*)\\1b',
    '(?=x)',
    'a'.repeat(5000),
    '\u0000\u202e',
    '__proto__',
    'http://169.254.169.254/',
    'http://user:pass@example.com/',
    "x\\' OR 1=1",
    -1,
    1e308,
    Number.MAX_SAFE_INTEGER,
  ),
  fc.constant({ __proto__: { polluted: true } }),
);

type Json = Record<string, unknown> | unknown[];

/** Replaces, removes or adds one value somewhere inside a JSON document. */
function mutate(doc: Json, path: number[], action: 'set' | 'delete' | 'add', value: unknown): Json {
  const copy = structuredClone(doc) as Json;
  let node: unknown = copy;
  for (let depth = 0; depth < path.length; depth++) {
    const keys = node && typeof node === 'object' ? Object.keys(node as object) : [];
    if (keys.length === 0) break;
    const key = keys[path[depth] % keys.length];
    const child = (node as Record<string, unknown>)[key];
    const last = depth === path.length - 1 || !child || typeof child !== 'object';
    if (last) {
      if (action === 'delete') delete (node as Record<string, unknown>)[key];
      else if (action === 'add') (node as Record<string, unknown>)[`x${path[depth]}`] = value;
      else (node as Record<string, unknown>)[key] = value;
      break;
    }
    node = child;
  }
  return copy;
}

const mutation = fc.record({
  path: fc.array(fc.nat({ max: 20 }), { minLength: 1, maxLength: 6 }),
  action: fc.constantFrom('set' as const, 'delete' as const, 'add' as const),
  value: hostileValue,
});

async function timed(method: string, path: string, body?: unknown) {
  const started = Date.now();
  const res = await api.request(method, path, body).catch((err: unknown) => ({
    status: 599,
    type: '',
    body: { detail: String(err) },
  }));
  const ms = Date.now() - started;
  if (res.status >= 500 || ms > 5000)
    throw new Error(`${method} ${path} answered ${res.status} in ${ms} ms: ${JSON.stringify(res.body)}`);
  return res;
}

const routes: Array<[string, string]> = [
  ['PUT', '/projects/fuzz-random'],
  ['POST', '/projects/fuzz/triggers'],
  ['POST', '/triggers'],
  ['PATCH', '/triggers/fuzz/fuzz'],
  ['POST', '/rules/preview'],
  ['POST', '/webhooks/registry'],
  ['POST', `/hooks/${'A'.repeat(43)}`], // an unknown receiver: 401 before its body is read
  ['POST', '/projects/fuzz/releases'],
];

describe('the API under fuzzing', () => {
  test('random bodies on every route: no 5xx, no hang', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), hostileValue, async ([method, path], body) => {
        const res = await timed(method, path, body);
        expect(res.status).toBeLessThan(500);
      }),
      { numRuns: 80 },
    );
  });

  test('mutated valid projects: no 5xx, and a refused one leaves the project as it was', async () => {
    const before = await timed('GET', '/projects/fuzz');
    await fc.assert(
      fc.asyncProperty(mutation, async ({ path, action, value }) => {
        const body = mutate(validProject(), path, action, value);
        const res = await timed('PUT', '/projects/fuzz', body);
        if (res.status >= 400) {
          expect(res.type).toMatch(/application\/problem\+json/);
          const after = await timed('GET', '/projects/fuzz');
          expect(after.body.spec).toEqual(before.body.spec);
        } else {
          // An accepted mutation is a valid project: put the original back for the next run.
          expect((await timed('PUT', '/projects/fuzz', validProject())).status).toBe(200);
        }
      }),
      { numRuns: 80 },
    );
  });

  test('mutated rule previews and trigger changes: no 5xx, and a refused change leaves the trigger as it was', async () => {
    const before = await timed('GET', '/triggers/fuzz/fuzz');
    await fc.assert(
      fc.asyncProperty(mutation, mutation, async (m1, m2) => {
        const rule = validProject().channels[0].rules[1];
        const preview = mutate({ rule, tags: ['main-1', 'main-20', '1.0.0'] }, m1.path, m1.action, m1.value);
        await timed('POST', '/rules/preview', preview);
        const change = mutate({ intervalSeconds: 3600, watch: ['web'] }, m2.path, m2.action, m2.value);
        const res = await timed('PATCH', '/triggers/fuzz/fuzz', change);
        if (res.status >= 400) {
          const after = await timed('GET', '/triggers/fuzz/fuzz');
          expect(after.body.spec).toEqual(before.body.spec);
        } else {
          await timed('PATCH', '/triggers/fuzz/fuzz', {
            intervalSeconds: 3600,
            watch: ['web'],
            channel: 'default',
          });
        }
      }),
      { numRuns: 60 },
    );
  });

  test('bodies nested at any depth: a 400 past the limit, never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        fc.integer({ min: 1, max: 200_000 }),
        fc.constantFrom('[', '{"a":'),
        async ([method, path], depth, open) => {
          const close = open === '[' ? ']' : '}';
          const res = await timed(method, path, `${open.repeat(depth)}${close.repeat(depth)}`);
          // An unknown receiver is refused before its body is read; the older webhook path reads no JSON.
          if (path.startsWith('/hooks/')) expect(res.status).toBe(401);
          else if (depth > 64 && !path.startsWith('/webhooks/')) expect(res.status).toBe(400);
        },
      ),
      { numRuns: 40 },
    );
  });

  test('a viewer never reaches an admin route, however its path is spelled', async () => {
    const viewer = await api.tokenFor('viewer');
    const admin = ROUTE_RULES.filter((r) => r.access === 'admin');
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...admin),
        fc.array(fc.constantFrom('keep', 'upper', 'encode', 'double'), { minLength: 60, maxLength: 60 }),
        fc.constantFrom('', '/', '//', '%2F'),
        async (rule, changes, tail) => {
          const exact = rule.path.replace(/:[a-z]+/g, 'fuzz');
          const spelled =
            [...exact]
              .map((c, i) =>
                changes[i] === 'upper'
                  ? c.toUpperCase()
                  : changes[i] === 'encode' && /[a-z]/.test(c)
                    ? `%${c.charCodeAt(0).toString(16)}`
                    : changes[i] === 'double' && c === '/'
                      ? '//'
                      : c,
              )
              .join('') + tail;
          const res = await fetch(`${api.url}${spelled}`, {
            method: rule.method,
            headers: { authorization: `Bearer ${viewer}` },
          });
          const allowed = spelled === exact ? [403] : [403, 404];
          if (!allowed.includes(res.status))
            throw new Error(`viewer ${rule.method} ${spelled} (${rule.path}) answered ${res.status}`);
        },
      ),
      { numRuns: 150 },
    );
  });

  test('hostile path parameters are 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ minLength: 1, maxLength: 300 }),
          fc.constantFrom('..', '%00', '\u0000', 'a\u0000b', 'a'.repeat(1000), "x'y", '%E0%A4%A'),
        ),
        async (segment) => {
          const p = encodeURIComponent(segment);
          for (const path of [`/projects/${p}`, `/triggers/${p}/${p}`, `/projects/${p}/releases/${p}`]) {
            const res = await timed('GET', path);
            expect(res.status).toBeGreaterThanOrEqual(400);
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
