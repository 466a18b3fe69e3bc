import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { runCliCapturing } from '../support/cli';
import { startApi, TestApi } from '../support/api';
import { pushImage, TestRegistry } from '../support/registry';
import { eventually, startTestWorker, TestWorkerEnv } from '../support/temporal';

let registry: TestRegistry;
let env: TestWorkerEnv;
let api: TestApi;
const dir = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-cli-'));

beforeAll(async () => {
  registry = await TestRegistry.start();
  env = await startTestWorker();
  api = await startApi(env);
  await pushImage(registry.url, 'decl/web', '1.0.0');
  await pushImage(registry.url, 'decl/worker', '1.0.0');
});
afterAll(async () => {
  await api?.close();
  await env?.stop();
  await registry?.stop();
});

const cli = (...argv: string[]) =>
  runCliCapturing(argv, { FEED_TRIGGERS_API_URL: api.url, FEED_TRIGGERS_TOKEN: api.token });

function manifest(name: string, interval: number, triggers: string[]): string {
  const file = path.join(dir, name);
  writeFileSync(
    file,
    `projects:
  - name: decl
    packages:
      - { name: web, feed: "${registry.host}", package: decl/web }
      - { name: worker, feed: "${registry.host}", package: decl/worker }
    channels:
      - name: default
        rules:
          - { packages: [web], range: "^1.0.0", tag: "^$" }
    destinations: []
    triggers:
${triggers.map((t) => `      - { name: ${t}, watch: [${t}], intervalSeconds: ${interval} }`).join('\n')}
`,
  );
  return file;
}

describe('npx feed-triggers apply and get', () => {
  test('apply creates, a second apply changes nothing, a changed file configures and --prune deletes', async () => {
    const first = await cli('apply', '-f', manifest('a.yaml', 300, ['web', 'worker']));
    expect([first.code, first.stderr]).toEqual([0, '']);
    expect(first.stdout.trim().split('\n')).toEqual([
      'project/decl created',
      'trigger/decl/web created',
      'trigger/decl/worker created',
    ]);

    const second = await cli('apply', '-f', manifest('a.yaml', 300, ['web', 'worker']));
    expect(second.stdout.trim().split('\n')).toEqual([
      'project/decl unchanged',
      'trigger/decl/web unchanged',
      'trigger/decl/worker unchanged',
    ]);

    // The trigger list comes from visibility: wait until both are listed before pruning.
    await eventually(
      async () =>
        (await api.request('GET', '/projects/decl/triggers')).body.triggers.length === 2 ? true : undefined,
      'both triggers listed',
    );
    const third = await cli('apply', '-f', manifest('b.yaml', 120, ['web']), '--prune');
    expect(third.stdout.trim().split('\n')).toEqual([
      'project/decl unchanged',
      'trigger/decl/web configured',
      'trigger/decl/worker deleted',
    ]);
    expect((await api.request('GET', '/triggers/decl/web')).body.spec.intervalSeconds).toBe(120);
    expect((await api.request('GET', '/triggers/decl/worker')).status).toBe(404);

    const fourth = await cli('apply', '-f', manifest('b.yaml', 120, ['web']), '--prune');
    expect(fourth.stdout.trim().split('\n')).toEqual([
      'project/decl unchanged',
      'trigger/decl/web unchanged',
    ]);
  });

  test('get prints tables of projects, triggers and releases', async () => {
    await eventually(
      async () =>
        (await api.request('GET', '/projects/decl/releases')).body.releases.length >= 1 ? true : undefined,
      'a release',
    );
    const projects = await cli('get', 'projects', '--project', 'decl');
    expect(projects.code).toBe(0);
    expect(projects.stdout).toMatch(/^NAME\s+PACKAGES\s+CHANNELS\s+DESTINATIONS\s+RELEASES\n/);
    expect(projects.stdout).toMatch(
      new RegExp(`decl\\s+web=${registry.host.replace('.', '\\.')}/decl/web,worker=`),
    );
    const triggers = await cli('get', 'triggers', '--project', 'decl');
    expect(triggers.stdout).toMatch(/PROJECT\s+NAME\s+CHANNEL\s+STATUS\s+INTERVAL/);
    expect(triggers.stdout).toMatch(/decl\s+web\s+default\s+active\s+120s/);
    const releases = await cli('get', 'releases', '--project', 'decl', '-o', 'json');
    expect(JSON.parse(releases.stdout)[0].packages.map((p: { tag: string }) => p.tag)).toEqual([
      '1.0.0',
      '1.0.0',
    ]);
  });

  test('bad files and options exit 2 with one line naming the problem', async () => {
    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(bad, 'projects:\n  - name: decl\n    packages: []\n');
    const r = await cli('apply', '-f', bad);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.yaml: projects\.0\.packages: /);
    const regex = path.join(dir, 'regex.yaml');
    writeFileSync(
      regex,
      `projects:\n  - name: decl\n    packages: [{ name: a, feed: docker.io, package: x/y }]\n    channels: [{ name: default, rules: [{ filter: "(a*)\\\\1b" }] }]\n`,
    );
    expect((await cli('apply', '-f', regex)).stderr).toMatch(/backreferences/);
    expect((await cli('apply')).code).toBe(2);
    for (const bad of ['0', '-3', 'lots', '1e9', '257', `${'9'.repeat(400)}`]) {
      const r = await cli('apply', '-f', manifest('c.yaml', 300, ['web']), '--concurrency', bad);
      expect([bad, r.code, r.stderr]).toEqual([
        bad,
        2,
        expect.stringMatching(/--concurrency: a whole number from 1 to 256/),
      ]);
    }
    expect((await cli('get', 'nonsense')).code).toBe(2);
    expect((await cli('get', 'releases')).stderr).toMatch(/needs --project/);
    expect((await cli('frobnicate')).stderr).toMatch(/unknown command "frobnicate"/);
  });
});

describe('the built CLI, as npx runs it', () => {
  const bin = path.resolve(__dirname, '../../bin/feed-triggers.js');
  const run = async (args: string[], input: string) => {
    const child = promisify(execFile)(process.execPath, [bin, ...args], { cwd: dir });
    child.child.stdin?.end(input);
    try {
      const { stdout, stderr } = await child;
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };

  test('runs on the Node package.json pins when the node on PATH is older than the floor', async () => {
    // The PATH a user's shell has: npm's node_modules/.bin (where the pinned Node is) left out.
    const PATH = (process.env.PATH ?? '')
      .split(path.delimiter)
      .filter((d) => !d.includes('node_modules'))
      .join(path.delimiter);
    const system = await promisify(execFile)('node', ['-p', 'process.versions.node'], {
      env: { ...process.env, PATH },
    });
    const [major, minor] = system.stdout.trim().split('.').map(Number);
    const manifest = readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8');
    const pinned = (JSON.parse(manifest) as { dependencies: Record<string, string> }).dependencies.node;
    const expected = major > 22 || (major === 22 && minor >= 12) ? system.stdout.trim() : pinned;
    // Started through its shebang, as users start it.
    const { stdout } = await promisify(execFile)(bin, ['--version'], {
      cwd: dir,
      env: { ...process.env, PATH },
    });
    expect(stdout).toBe(`feed-triggers on Node v${expected}\n`);
  });

  test('a pinned Node that cannot start is one line naming why, exit 1, not a crash', async () => {
    const copy = mkdtempSync(path.join(os.tmpdir(), 'cli-pinned-'));
    mkdirSync(path.join(copy, 'bin'));
    mkdirSync(path.join(copy, 'node_modules/node/bin'), { recursive: true });
    copyFileSync(bin, path.join(copy, 'bin/feed-triggers.js'));
    writeFileSync(path.join(copy, 'node_modules/node/bin/node'), '#!/bin/sh\n', { mode: 0o644 });
    // This Node, told it is older than the floor, takes the branch that starts the pinned one.
    const older = `Object.defineProperty(process.versions, 'node', { value: '20.0.0' }); require(${JSON.stringify(path.join(copy, 'bin/feed-triggers.js'))})`;
    const r = await promisify(execFile)(process.execPath, ['-e', older, '--', '_', '--version']).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    expect([r.code, r.stdout, r.stderr]).toEqual([
      1,
      '',
      `feed-triggers: cannot start the Node that package.json pins (EACCES); run \`npm ci\` in ${copy} to install it again, or install Node 24.\n`,
    ]);
  });

  test("<command> --help prints that command's usage and exits 0", async () => {
    const daily = ['deploy', 'rollback', 'approve', 'reject', 'cancel', 'pause', 'resume', 'poll'];
    for (const [i, command] of ['rules', 'apply', 'get', ...daily].entries()) {
      // The built file for the first; the rest in this process (the same code, without a Node start each).
      const r = i === 0 ? await run([command, '--help'], '') : await runCliCapturing([command, '--help'], {});
      expect([command, r.code, r.stderr]).toEqual([command, 0, '']);
      expect(r.stdout).toMatch(new RegExp(`^usage: feed-triggers ${command} `));
      if (daily.includes(command)) expect(r.stdout).toMatch(/\nexit codes: 0 done, 1 refused by the API/);
    }
  });

  test("the CLI's modules compile once: later runs take V8's code from dist/compile-cache", async () => {
    const dist = path.resolve(__dirname, '../../dist');
    const traced = async (env: NodeJS.ProcessEnv) => {
      // Node's own trace of its compile cache (on stderr): which folder, and each module's cache accepted.
      const { stderr } = await promisify(execFile)(process.execPath, [bin, 'rules', '--help'], {
        cwd: dir,
        env: { ...process.env, NODE_COMPILE_CACHE: '', ...env, NODE_DEBUG_NATIVE: 'COMPILE_CACHE' },
      });
      return stderr;
    };
    await traced({});
    const second = await traced({});
    const accepted = new RegExp(
      `V8 code cache for CommonJS ${path.join(dist, 'src/cli/main.js').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} was accepted`,
    );
    expect(second).toMatch(accepted);
    // The cache folder is the build's own, never a shared temporary one other users could plant code in.
    const folders = new Set(
      [...second.matchAll(/reading cache from (\S+?)\/[0-9a-f]+ for/g)].map((m) => m[1]),
    );
    expect([...folders].map((f) => path.dirname(f))).toEqual([path.join(dist, 'compile-cache')]);
    // NODE_DISABLE_COMPILE_CACHE turns it off: nothing read from a cache.
    expect(await traced({ NODE_DISABLE_COMPILE_CACHE: '1' })).not.toMatch(/was accepted/);
  });

  test('an option value may start with a dash: --exclude -debug$ as --exclude=-debug$', async () => {
    const tags = '1.0.0\n1.1.0-debug\n1.1.0\n';
    for (const args of [['--exclude', '-debug$'], ['--exclude=-debug$']]) {
      const r = await run(['rules', ...args, '--json'], tags);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({
        selected: '1.1.0',
        rejected: [{ tag: '1.1.0-debug', reason: 'excluded' }],
      });
    }
  });

  test('--precedence semver ranks Helm chart versions as Octopus does', async () => {
    const r = await run(['rules', '--precedence', 'semver', '--json'], '1.0.0-alpha-2\n1.0.0-alpha-10\n');
    expect(JSON.parse(r.stdout).selected).toBe('1.0.0-alpha-2');
    const d = await run(['rules', '--json'], '1.0.0-alpha-2\n1.0.0-alpha-10\n');
    expect(JSON.parse(d.stdout).selected).toBe('1.0.0-alpha-10');
  });

  test('rules --json prints the contract: selected, accepted best first, rejected with reasons', async () => {
    const r = await run(
      ['rules', '--range', '[1.0,2.0)', '--tag', '^$', '--json'],
      '1.0.0\nv1.2.0\n\n1.3.0-rc.1\n2.0.0\nx.sig\n',
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      selected: 'v1.2.0',
      accepted: ['v1.2.0', '1.0.0'],
      rejected: [
        { tag: '1.3.0-rc.1', reason: 'pre-release tag does not match' },
        { tag: '2.0.0', reason: 'out of range' },
        { tag: 'x.sig', reason: 'excluded' },
      ],
    });
  });

  test('bad options exit 2 with a one-line error', async () => {
    for (const args of [
      ['rules', '--order', 'random'],
      ['rules', '--tag', '(?=a)'],
      ['rules', '--precedence', 'maven'],
      ['rules', '--nope'],
    ]) {
      const r = await run(args, '');
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});

describe('npm start, refusing to run', () => {
  const main = path.resolve(__dirname, '../../dist/src/main.js');
  const start = async (env: Record<string, string>, args: string[] = []) => {
    try {
      await promisify(execFile)(process.execPath, [main, ...args], {
        env: { ...process.env, TEMPORAL_ADDRESS: '', ...env },
        timeout: 30_000,
      });
      return { code: 0, stderr: '' };
    } catch (err) {
      const e = err as { code: number; stderr: string };
      return { code: e.code, stderr: e.stderr };
    }
  };

  test('split roles need a shared Temporal server and ledger; an unknown role is refused', async () => {
    for (const role of ['worker', 'api']) {
      const r = await start({ DATABASE_URL: '' }, [role]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim()).toBe(
        `feed-triggers: the ${role} role shares its Temporal server and ledger with the other roles: set TEMPORAL_ADDRESS and DATABASE_URL (or run "serve")`,
      );
    }
    const bogus = await start({}, ['conductor']);
    expect([bogus.code, bogus.stderr.trim()]).toEqual([
      2,
      'feed-triggers: unknown role "conductor": use one of serve, worker, api',
    ]);
    const byEnv = await start({ FEED_TRIGGERS_ROLE: 'api', TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(byEnv.stderr).toMatch(/the api role shares its Temporal server and ledger/);
  });

  test('a Temporal CLI path that is not a program gives one clear message and exit 2', async () => {
    const r = await start({ TEMPORAL_CLI_PATH: '/nonexistent/temporal' });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      'feed-triggers: TEMPORAL_CLI_PATH=/nonexistent/temporal is not an executable file',
    );
  });

  test('a bad configuration file names the field and exits 2', async () => {
    const file = path.join(dir, 'bad-config.yaml');
    writeFileSync(file, 'feeds:\n  - { id: x, url: "ftp://nope" }\n');
    const r = await start({ FEED_TRIGGERS_CONFIG: file });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad-config\.yaml: feeds\.0\.url: /);
  });
});
