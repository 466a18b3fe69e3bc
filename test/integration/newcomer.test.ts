import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { HttpClient } from '../../src/net/http';
import { FeedError } from '../../src/feeds/errors';
import { runCliCapturing } from '../support/cli';
import { startApi, TestApi } from '../support/api';
import { pushImage, TestRegistry } from '../support/registry';
import { startTrigger } from '../support/projects';
import { eventually, startTestWorker, TestWorkerEnv } from '../support/temporal';

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
