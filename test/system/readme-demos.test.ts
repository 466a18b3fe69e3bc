import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { startApi, TestApi } from '../support/api';
import { startTestWorker, TestWorkerEnv } from '../support/temporal';

/**
 * The documented demos, followed one after the other as a reader would: the README's "Try it", the
 * receivers walk-through (docs/receivers.md) and the lifecycle example (docs/lifecycles.md), each command
 * block run by bash as written, against a started service (worker
 * and API in this process), Debian's registry, the demo Git server and the real `kustomize`. Only ports and
 * folders are moved (the machine's 5000, 8080 and 8090 may be taken), `npm run`/`npx` run the same compiled
 * scripts, and the test waits where a reader would wait (until a release or a deployment is there).
 */
const ROOT = path.resolve(__dirname, '../..');

/** The text of a `## ` section of a document (a path from the repository's root). */
function section(file: string, title: string): string {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  const start = text.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`${file} has no section "${title}"`);
  const end = text.indexOf('\n## ', start + 1);
  return text.slice(start, end < 0 ? undefined : end);
}

const TRY_IT = section('README.md', 'Try it');
const RECEIVERS = section('docs/receivers.md', 'Try it: a signed notification');
const LIFECYCLE = section('docs/lifecycles.md', 'Try it: dev, test and prod in one Git repository');

/** The fenced blocks of one language in a text, in order. */
function blocks(text: string, lang: string): string[] {
  return [...text.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]);
}

/** A free loopback port. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The real kustomize: on PATH, or where `go install` puts it (.ci/run installs it there). */
function kustomizeDir(): string {
  for (const dir of (process.env.PATH ?? '').split(':'))
    if (dir && existsSync(path.join(dir, 'kustomize'))) return dir;
  const gobin = path.join(execFileSync('go', ['env', 'GOPATH'], { encoding: 'utf8' }).trim(), 'bin');
  if (existsSync(path.join(gobin, 'kustomize'))) return gobin;
  throw new Error('kustomize is not installed: go install sigs.k8s.io/kustomize/kustomize/v5@v5.7.1');
}

/** Waits a reader does: before the line that starts with `line` (its `nth` occurrence), until `until` holds. */
interface Wait {
  readonly line: string;
  readonly nth?: number;
  /** bash: a `__wait URL 'JS predicate over the JSON answer'` or any command that succeeds when ready. */
  readonly until: string;
}

const has = (number: string) => `b => (b.releases || []).some((r) => r.number === "${number}")`;
const deployed = (environment: string) =>
  `b => (b.deployments || []).some((d) => d.environment === "${environment}" && d.status === "succeeded")`;
const A = 'http://127.0.0.1:8080';

const WAITS: readonly Wait[] = [
  {
    line: 'npm run push-image -- 127.0.0.1:5000/demo/web 1.0.0',
    until: '__wait_up http://127.0.0.1:5000/v2/',
  },
  { line: `api ${A}/projects/demo/releases `, until: `__wait ${A}/projects/demo/releases '${has('0.0.1')}'` },
  { line: `api ${A}/triggers/demo/web `, until: `__wait ${A}/projects/demo/releases '${has('0.0.2')}'` },
  {
    line: `api ${A}/projects/demo/releases/0.0.3`,
    until: `__wait ${A}/projects/demo/releases '${has('0.0.3')}'`,
  },
  {
    line: 'npm run push-image -- 127.0.0.1:5000/promote/web 1.0.0',
    until: '__wait_up http://127.0.0.1:8090/deploy.git/info/refs?service=git-upload-pack',
  },
  {
    line: `api ${A}/projects/promote/environments`,
    until: `__wait ${A}/projects/promote/releases/0.0.1/deployments '${deployed('test')}'`,
  },
  {
    line: 'git clone',
    until: `__wait ${A}/projects/promote/releases/0.0.1/deployments '${deployed('prod')}'`,
  },
  {
    line: `api -X POST ${A}/projects/promote/releases/0.0.2/deployments`,
    until: `__wait ${A}/projects/promote/releases/0.0.2/deployments '${deployed('test')}'`,
  },
  {
    line: `api -X POST ${A}/projects/promote/releases/0.0.1/deployments`,
    nth: 2,
    until: `__wait ${A}/projects/promote/releases/0.0.2/deployments '${deployed('prod')}'`,
  },
  {
    line: 'git -C deploy pull',
    until: `__wait ${A}/projects/promote/environments 'b => b.environments.find((e) => e.name === "prod").inFlight.length === 0'`,
  },
];

/** Lines a reader runs elsewhere: the service is started by the test, with the secret and the file. */
const STARTED_BY_THE_TEST = [
  'export CI_HOOK_SECRET=$(openssl rand -hex 32)',
  'FEED_TRIGGERS_CONFIG=feed-triggers.yaml npm start &',
];

const PRELUDE = String.raw`set -euo pipefail
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
npm() {
  if [ "$1 $2" = "run push-image" ]; then shift 3; node "$ROOT/dist/scripts/push-image.js" "$@"
  elif [ "$1 $2" = "run git-server" ]; then exec node "$ROOT/dist/scripts/git-server.js" --port "$GIT_PORT" --registry "$REGISTRY"
  else echo "npm $* is not part of the demo" >&2; return 1; fi
}
npx() { [ "$1" = feed-triggers ] || return 1; shift; node "$ROOT/bin/feed-triggers.js" "$@"; }
__wait() {
  for _ in $(seq 1 300); do
    if curl -s -H "authorization: Bearer $FEED_TRIGGERS_TOKEN" "$1" |
      node -e "const b = JSON.parse(require('fs').readFileSync(0, 'utf8') || 'null'); process.exit((($2))(b || {}) ? 0 : 1)" 2>/dev/null; then
      return 0
    fi
    sleep 0.2
  done
  echo "timed out waiting at $1 for $2" >&2; return 1
}
__wait_up() {
  for _ in $(seq 1 150); do curl -s -o /dev/null "$1" && return 0; sleep 0.2; done
  echo "$1 did not come up" >&2; return 1
}
`;

/** A documented block as the script runs it: the waits put in, the lines run elsewhere left out, ports moved. */
function script(block: string, seen: Map<string, number>, moves: Record<string, string>): string {
  const lines: string[] = [];
  let continued = false;
  for (const line of block.split('\n')) {
    const startsCommand = !continued;
    continued = /\\$/.test(line) || /\|$/.test(line);
    if (startsCommand && STARTED_BY_THE_TEST.includes(line.trim())) continue;
    if (startsCommand)
      for (const wait of WAITS)
        if (line.startsWith(wait.line)) {
          const n = (seen.get(wait.line) ?? 0) + 1;
          seen.set(wait.line, n);
          if (n === (wait.nth ?? 1)) lines.push(wait.until);
        }
    lines.push(line);
  }
  let text = lines.join('\n');
  for (const [from, to] of Object.entries(moves)) text = text.split(from).join(to);
  return text;
}

let env: TestWorkerEnv;
let api: TestApi;
let registryPort: number;
let gitPort: number;
const dir = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-readme-'));
const hookSecret = randomBytes(32).toString('hex');

beforeAll(async () => {
  registryPort = await freePort();
  gitPort = await freePort();
  // The receivers walk-through's configuration file, as docs/receivers.md gives it, read as the service reads it.
  const [config] = blocks(RECEIVERS, 'yaml').filter((b) => b.includes('FEED_TRIGGERS_CONFIG'));
  writeFileSync(path.join(dir, 'feed-triggers.yaml'), config);
  const loaded = loadConfig({
    FEED_TRIGGERS_CONFIG: path.join(dir, 'feed-triggers.yaml'),
    CI_HOOK_SECRET: hookSecret,
  });
  env = await startTestWorker();
  api = await startApi(env, { receiverSecrets: loaded.receiverSecrets });
});

afterAll(async () => {
  await api?.close();
  await env?.stop();
});

test('the README and docs demos run one after the other as written', async () => {
  const registry = `127.0.0.1:${registryPort}`;
  const moves = {
    'http://127.0.0.1:8080': api.url,
    '127.0.0.1:8090': `127.0.0.1:${gitPort}`,
    '127.0.0.1:5000': registry,
    '/tmp/registry': path.join(dir, 'registry'),
    'ft_...': api.token,
  };
  // The lifecycle example's file, saved where the reader runs the commands.
  const [promoteYaml] = blocks(LIFECYCLE, 'yaml').filter((b) => b.includes('name: promote'));
  writeFileSync(
    path.join(dir, 'promote.yaml'),
    promoteYaml.split('127.0.0.1:5000').join(registry).split('127.0.0.1:8090').join(`127.0.0.1:${gitPort}`),
  );

  const tryIt = blocks(TRY_IT, 'sh');
  const receivers = blocks(RECEIVERS, 'sh').filter((b) => b.includes('generic-hmac'));
  const promote = blocks(LIFECYCLE, 'sh');
  expect([tryIt.length, receivers.length, promote.length]).toEqual([1, 1, 2]);
  for (const line of STARTED_BY_THE_TEST) expect(receivers[0]).toContain(line);
  const seen = new Map<string, number>();
  const parts = [...tryIt, ...receivers, ...promote].map((b) => script(b, seen, moves));
  // Every wait found its line: a document that changes its commands changes this test too.
  for (const wait of WAITS)
    expect([wait.line, (seen.get(wait.line) ?? 0) >= (wait.nth ?? 1)]).toEqual([wait.line, true]);
  const file = path.join(dir, 'demo.sh');
  writeFileSync(file, [PRELUDE, ...parts].join('\n'));

  const run = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      'bash',
      [file],
      {
        cwd: dir,
        timeout: 240_000,
        maxBuffer: 16 * 1024 * 1024,
        env: {
          ...process.env,
          PATH: `${kustomizeDir()}:${process.env.PATH}`,
          ROOT,
          GIT_PORT: String(gitPort),
          REGISTRY: registry,
          CI_HOOK_SECRET: hookSecret,
          FEED_TRIGGERS_API_URL: api.url,
        },
      },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
  expect([
    run.code,
    // The registry the demo starts logs to the same stream; its info lines ("Purge uploads finished. Num
    // deleted=0, num errors=1") are its own housekeeping, not a step of the demo failing.
    run.stderr
      .split('\n')
      .filter((l) => /error|timed out|did not come up/i.test(l) && !/level=(info|debug)\b/.test(l)),
    // On a failure, what the script said last names the step.
    run.code === 0 ? '' : run.stderr.split('\n').slice(-15).join('\n'),
  ]).toEqual([0, [], '']);

  // Try it and the receivers walk-through: three releases of demo, the last from the signed notification.
  const releases = (await api.request('GET', '/projects/demo/releases')).body.releases as Array<{
    number: string;
    packages: Array<{ tag: string }>;
  }>;
  expect(releases.map((r) => [r.number, r.packages[0].tag])).toEqual([
    ['0.0.3', '1.2.0'],
    ['0.0.2', '1.1.0'],
    ['0.0.1', '1.0.0'],
  ]);
  expect(run.stdout).toContain('"triggers":["trigger/demo/web"]');

  // The lifecycle example: prod built by kustomize from the base's container, the rollback refused without
  // force and then done (unless the cancel caught it while queued), the approval refused for a phase that
  // asks for none.
  const images = [...run.stdout.matchAll(/- (image: \S+)/g)].map((m) => m[1]);
  const cancelled = run.stdout.includes('"status":"cancelled"');
  expect(images).toEqual([
    `image: ${registry}/promote/web:1.0.0`,
    `image: ${registry}/promote/web:${cancelled ? '1.1.0' : '1.0.0'}`,
  ]);
  expect(run.stdout).toContain(
    'release 0.0.2 is deployed in \\"prod\\"; deploying the older release 0.0.1 there is a rollback',
  );
  expect(run.stdout).toContain('phase \\"prod\\" does not ask for an approval');
  expect(run.stdout).toMatch(
    /Promote promote 0\.0\.1 to prod\n.*Deploy promote 0\.0\.1 to test\n.*Deploy promote 0\.0\.1 to dev\n.*seed\n/,
  );
}, 300_000);
