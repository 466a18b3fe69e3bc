import { CpuPool, PoolBusyError, PoolTaskError, PoolTimeoutError } from '../../src/runtime/cpu-pool';
import { compileRule, evaluateRule, toPreview } from '../../src/domain/rule';
import { CredentialStore } from '../../src/feeds/credentials';
import { FeedError } from '../../src/feeds/errors';
import { HelmRepositoryClient } from '../../src/feeds/helm';
import { parseHelmIndex } from '../../src/feeds/helm-index';
import { HttpClient } from '../../src/net/http';
import { DeployFileError, editDeployFile } from '../../src/targets/git/deploy-file';
import { GitUnavailableError } from '../../src/targets/git/transport';
import { editOffTheEventLoop, INLINE_EDIT_CHARS } from '../../src/targets/git/write-back';
import { startServer, TestServer } from '../support/http-server';

const tags = Array.from({ length: 5000 }, (_, i) =>
  i % 3 === 0 ? `1.${i % 17}.${i}` : i % 3 === 1 ? `2.0.${i}-rc.${i % 7}` : `main-${i}-abcdef`,
);
const rule = {
  filter: '^(\\d+)\\.(\\d+)\\.(\\d+)',
  extract: '$1.$2.$3',
  range: '[1.0,3.0)',
  exclude: ['rc\\.3$'],
};
/** A preview of `count` tags with 128 copies of the whole tag per tag, ordered as text (no cap applies). */
const heavy = (count = 20_000) => ({
  rule: { filter: '^(.*)$', extract: '$1'.repeat(128), order: 'alphabetical' as const },
  precedence: 'docker' as const,
  tags: Array.from({ length: count }, (_, i) => `${i}-${'a'.repeat(120)}`),
});

let pool: CpuPool;
afterEach(() => pool?.close());

describe('the CPU pool', () => {
  test('a rule preview gives the same answer in a pool thread as on the event loop', async () => {
    pool = new CpuPool({ size: 1, queue: 1 });
    const inline = toPreview(evaluateRule(compileRule(rule, 'semver'), tags));
    const pooled = JSON.parse(await pool.run('rulePreview', { rule, precedence: 'semver', tags }));
    expect(pooled).toEqual(inline);
    expect(inline.accepted.length).toBeGreaterThan(100);
    expect(pool.ran).toBe(1);
  });

  test('a full pool refuses at once; the tasks it took finish', async () => {
    pool = new CpuPool({ size: 1, queue: 1 });
    // The pool counts a task as taken when it is handed over, and hears of its end only on a later turn of
    // the event loop: the third call meets the first still running, however short it is.
    const first = pool.run('rulePreview', heavy(2_000));
    const second = pool.run('rulePreview', { rule: {}, precedence: 'docker', tags: ['1.0.0'] });
    await expect(pool.run('rulePreview', heavy())).rejects.toBeInstanceOf(PoolBusyError);
    expect(pool.refused).toBe(1);
    expect(JSON.parse(await second)).toEqual({ selected: '1.0.0', accepted: ['1.0.0'], rejected: [] });
    expect(JSON.parse(await first).accepted).toHaveLength(2_000);
  });

  test('a task past its deadline is stopped, and the next one runs on a new thread', async () => {
    pool = new CpuPool({ size: 1, queue: 1, timeoutMs: 300 });
    await expect(pool.run('rulePreview', heavy())).rejects.toBeInstanceOf(PoolTimeoutError);
    const next = await pool.run('rulePreview', { rule: {}, precedence: 'docker', tags: ['2.0.0', '1.0.0'] });
    expect(JSON.parse(next).selected).toBe('2.0.0');
  });

  test("a task's error crosses with its name, code and message", async () => {
    pool = new CpuPool({ size: 1, queue: 1 });
    const body = Buffer.from('entries: [unclosed');
    const err = await pool
      .run('helmIndex', { body, feed: { id: 'bad', url: 'http://x', maxTags: 10 } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PoolTaskError);
    expect(err).toMatchObject({ errorName: 'FeedError', code: 'BAD_RESPONSE' });
    expect((err as Error).message).toMatch(/^the index of Helm repository bad is not valid YAML/);
  });
});

describe('Helm indexes in the CPU pool', () => {
  const indexOf = (charts: number) => {
    const lines = ['apiVersion: v1', 'entries:'];
    for (let c = 0; c < charts; c++)
      lines.push(`  chart-${c}:`, `  - version: 1.${c % 10}.${c}`, `    urls: [charts/chart-${c}.tgz]`);
    return `${lines.join('\n')}\n`;
  };
  let server: TestServer;
  const bodies = new Map<string, Buffer>([
    // Large enough that parsing takes many turns of a timer (about a tenth of a second here).
    ['/big/index.yaml', Buffer.from(indexOf(10_000))],
    ['/broken/index.yaml', Buffer.from(`${indexOf(5_000)}  - [unclosed\n`)],
  ]);
  beforeAll(async () => {
    server = await startServer((req, res) => {
      const body = bodies.get(req.url);
      if (!body) return void res.writeHead(404).end();
      res.writeHead(200).end(body);
    });
  });
  afterAll(() => server?.close());
  const feed = (id: string) => ({
    id,
    type: 'helm' as const,
    url: `${server.url}/${id}`,
    auth: { kind: 'anonymous' as const },
    maxTags: 200_000,
    maxIndexBytes: 64 * 1024 * 1024,
  });

  test('the event loop turns while a large index parses, and the answer is the one parsed here', async () => {
    pool = new CpuPool({ size: 1, queue: 1 });
    const http = new HttpClient();
    const helm = new HelmRepositoryClient(http, new CredentialStore(http), undefined, pool);
    let settled = false;
    const versions = helm.chartVersions(feed('big'), 'chart-9999').finally(() => (settled = true));
    // Once the parse has begun, timers still fire before it ends: it runs off the event loop.
    while (helm.parses === 0) await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 1));
    expect(settled).toBe(false);
    const inline = parseHelmIndex(bodies.get('/big/index.yaml')!, feed('big')).charts.get('chart-9999');
    expect(await versions).toEqual(inline);
    expect(pool.ran).toBe(1);
  });

  test('a malformed large index is a FeedError (BAD_RESPONSE), as it is when parsed inline', async () => {
    pool = new CpuPool({ size: 1, queue: 1 });
    const http = new HttpClient();
    const helm = new HelmRepositoryClient(http, new CredentialStore(http), undefined, pool);
    const err = await helm.chartVersions(feed('broken'), 'chart-0').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FeedError);
    expect(err).toMatchObject({ code: 'BAD_RESPONSE', retryable: false });
  });
});

describe('deploy files in the CPU pool', () => {
  /** A Helm values file of about `kib` KiB, with the image tag to set in the middle. */
  const values = (kib: number) => {
    const entries = Array.from({ length: kib * 16 }, (_, i) => `  k${i}: [${i}, "v${i}"]`);
    entries.splice(entries.length / 2, 0, 'image:\n  repository: web\n  tag: 1.0.0');
    return `settings:\n${entries.join('\n')}\n`;
  };
  const edit = {
    path: 'values.yaml',
    format: 'yaml' as const,
    field: 'image.tag',
    use: 'tag' as const,
    tag: '2.0.0',
    digest: null,
  };

  test('a large one is edited in a pool thread while the event loop turns; the text is the one edited here', async () => {
    pool = new CpuPool({ size: 1, queue: 1 });
    const text = values(200);
    expect(text.length).toBeGreaterThan(INLINE_EDIT_CHARS);
    let settled = false;
    const edited = editOffTheEventLoop(text, edit, pool).finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 1));
    expect(settled).toBe(false);
    const inline = editDeployFile(text, edit);
    expect(inline).not.toBe(text);
    expect(await edited).toBe(inline);
    expect(pool.ran).toBe(1);
    // A small one is edited here: the pool does not see it.
    expect(await editOffTheEventLoop('image:\n  tag: 1.0.0\n', edit, pool)).toBe('image:\n  tag: 2.0.0\n');
    expect(pool.ran).toBe(1);
  });

  test("the file's refusal comes back as the DeployFileError it is; a full pool is a GitUnavailableError", async () => {
    pool = new CpuPool({ size: 1, queue: 1 });
    const deep = `image:\n  tag: ${'['.repeat(INLINE_EDIT_CHARS)}\n`;
    const refused = await editOffTheEventLoop(deep, edit, pool).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(DeployFileError);
    expect((refused as Error).message).toBe('values.yaml: the YAML nests collections deeper than 64 levels');
    // One edit running and one waiting fill this pool: a third is refused at once, and the two taken finish.
    const first = editOffTheEventLoop(deep, edit, pool).catch((e: unknown) => e);
    const second = editOffTheEventLoop(deep, edit, pool).catch((e: unknown) => e);
    const third = await editOffTheEventLoop(deep, edit, pool).catch((e: unknown) => e);
    expect(third).toBeInstanceOf(GitUnavailableError);
    expect((third as Error).message).toMatch(
      /^values\.yaml could not be edited now: 1 CPU-heavy requests are running/,
    );
    for (const taken of [await first, await second]) expect(taken).toBeInstanceOf(DeployFileError);
    expect(pool.ran).toBe(3);
  });
});
