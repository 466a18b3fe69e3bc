import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCliCapturing } from '../support/cli';
import { startApi, TestApi } from '../support/api';
import { startServer, TestServer } from '../support/http-server';
import { pushImage, TestRegistry } from '../support/registry';
import { eventually, startTestWorker, TestWorkerEnv } from '../support/temporal';

// Names unique on the Temporal server this suite shares with every other test file.
const PROJECT = 'cli-daily';

let registry: TestRegistry;
let env: TestWorkerEnv;
let api: TestApi;
let hook: TestServer;
/** prod's webhook target waits on this while it is set: a deployment kept `deploying`. */
let held: Promise<void> | null = null;
const dir = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-cli-daily-'));

beforeAll(async () => {
  hook = await startServer(async (req, res) => {
    const { environment } = JSON.parse(req.body) as { environment: string };
    if (environment === 'prod' && held) await held;
    res.writeHead(202).end();
  });
  registry = await TestRegistry.start();
  env = await startTestWorker();
  api = await startApi(env);
  await pushImage(registry.url, `${PROJECT}/web`, '1.0.0');
});
afterAll(async () => {
  await api?.close();
  await env?.stop();
  await hook?.close();
  await registry?.stop();
});

const cli = (...argv: string[]) =>
  runCliCapturing(argv, { FEED_TRIGGERS_API_URL: api.url, FEED_TRIGGERS_TOKEN: api.token });

/** dev deploys every release at once; prod only after an approval, by a person. */
function manifest(): string {
  const file = path.join(dir, 'daily.yaml');
  writeFileSync(
    file,
    `projects:
  - name: ${PROJECT}
    packages:
      - { name: web, feed: "${registry.host}", package: ${PROJECT}/web }
    environments:
      - { name: dev, targets: [{ name: hook, type: webhook, url: "${hook.url}/deploy" }] }
      - { name: prod, targets: [{ name: hook, type: webhook, url: "${hook.url}/deploy" }] }
    lifecycles:
      - name: standard
        phases:
          - { name: dev, environments: [dev], automatic: true }
          - { name: prod, environments: [prod], approval: true }
    lifecycle: standard
    triggers:
      - { name: web, watch: [web], intervalSeconds: 3600 }
`,
  );
  return file;
}

/** The project's release numbers, oldest first. */
async function releases(count: number): Promise<string[]> {
  return eventually(async () => {
    const res = await api.request('GET', `/projects/${PROJECT}/releases`);
    const numbers = (res.body.releases as Array<{ number: string }>).map((r) => r.number).reverse();
    return numbers.length >= count ? numbers : undefined;
  }, `${count} release(s) of ${PROJECT}`);
}

/** Waits until the release's latest deployment to `environment` has `status`. */
async function deployed(release: string, environment: string, status: string): Promise<void> {
  await eventually(async () => {
    const res = await api.request('GET', `/projects/${PROJECT}/releases/${release}/deployments`);
    const latest = (res.body.deployments as Array<{ environment: string; status: string }>).find(
      (d) => d.environment === environment,
    );
    return latest?.status === status ? true : undefined;
  }, `release ${release} ${status} in ${environment}`);
}

const lines = (text: string) => text.trimEnd().split('\n');

describe('the daily loop from the CLI, against the real service', () => {
  test('deploy → approve → get environments → rollback refused, then forced → cancel; pause, resume and poll', async () => {
    const applied = await cli('apply', '-f', manifest());
    expect([applied.code, applied.stderr]).toEqual([0, '']);
    const [first] = await releases(1);
    await deployed(first, 'dev', 'succeeded');

    // prod needs an approval first: the API's reason on stderr, exit 1, nothing deployed.
    const early = await cli('deploy', PROJECT, first, 'prod');
    expect([early.code, early.stdout]).toEqual([1, '']);
    expect(early.stderr).toMatch(
      new RegExp(
        `^feed-triggers: POST /projects/${PROJECT}/releases/${first}/deployments: 422 .*phase "prod" needs an approval`,
      ),
    );

    const approved = await cli('approve', PROJECT, first, 'prod', '--comment', 'QA signed off');
    expect([approved.code, approved.stderr]).toEqual([0, '']);
    expect(approved.stdout).toMatch(
      new RegExp(`^approval/${PROJECT}/${first}/prod approved by test-admin-\\d+-\\d+\\n$`),
    );
    const again = await cli('reject', PROJECT, first, 'prod', '-m', 'too late');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/: 409 /);

    const deploy = await cli('deploy', PROJECT, first, 'prod');
    expect([deploy.code, deploy.stdout, deploy.stderr]).toEqual([
      0,
      `deployment/${PROJECT}/${first}/prod queued\n`,
      '',
    ]);
    await deployed(first, 'prod', 'succeeded');

    const board = await cli('get', 'environments', '--project', PROJECT);
    expect(board.code).toBe(0);
    expect(lines(board.stdout)).toEqual([
      expect.stringMatching(/^PROJECT\s+ENVIRONMENT\s+RELEASE\s+STATE\s+AGE\s+IN FLIGHT$/),
      expect.stringMatching(new RegExp(`^${PROJECT}\\s+dev\\s+${first}\\s+succeeded\\s+\\d+s\\s+-$`)),
      expect.stringMatching(new RegExp(`^${PROJECT}\\s+prod\\s+${first}\\s+succeeded\\s+\\d+s\\s+-$`)),
    ]);
    // Without --project: every project, this one among them.
    const all = await cli('get', 'environments');
    expect(all.stdout).toMatch(new RegExp(`^${PROJECT}\\s+prod\\s+${first}\\s+succeeded`, 'm'));

    // A new tag, and a poll now: the trigger releases it and dev gets it.
    await pushImage(registry.url, `${PROJECT}/web`, '1.1.0');
    const poll = await cli('poll', PROJECT, 'web');
    expect([poll.code, poll.stderr]).toEqual([0, '']);
    expect(poll.stdout).toMatch(new RegExp(`^trigger/${PROJECT}/web polled: released`));
    const [, second] = await releases(2);
    await deployed(second, 'dev', 'succeeded');

    const listed = await cli('get', 'releases', '--project', PROJECT);
    expect(lines(listed.stdout)[0]).toMatch(
      /^NUMBER\s+CHANNEL\s+CREATED\s+PACKAGES\s+DEPLOYMENTS\s+PHASES\s+DELIVERIES$/,
    );
    expect(listed.stdout).toMatch(
      new RegExp(
        `^${second}\\s.*web:1\\.1\\.0\\s+dev=succeeded\\s+dev:complete,prod:awaiting-approval\\s`,
        'm',
      ),
    );
    expect(listed.stdout).toMatch(
      new RegExp(
        `^${first}\\s.*web:1\\.0\\.0\\s+dev=succeeded,prod=succeeded\\s+dev:complete,prod:complete\\s`,
        'm',
      ),
    );
    const json = JSON.parse((await cli('get', 'releases', '--project', PROJECT, '-o', 'json')).stdout);
    expect(
      json.map((r: { number: string; deployments: unknown[] }) => [r.number, r.deployments.length]),
    ).toEqual([
      [second, 1],
      [first, 2],
    ]);

    // The older release over the newer one in dev: refused with the API's reason, then done with --force.
    const refused = await cli('rollback', PROJECT, first, 'dev');
    expect([refused.code, refused.stdout]).toEqual([1, '']);
    expect(lines(refused.stderr)).toEqual([
      `feed-triggers: POST /projects/${PROJECT}/releases/${first}/deployments: 422 release ${second} is deployed in "dev"; ` +
        `deploying the older release ${first} there is a rollback: ask with "force": true`,
      `to roll back anyway: feed-triggers rollback ${PROJECT} ${first} dev --force`,
    ]);
    const forced = await cli('rollback', PROJECT, first, 'dev', '--force');
    expect([forced.code, forced.stdout, forced.stderr]).toEqual([
      0,
      `deployment/${PROJECT}/${first}/dev queued (forced)\n`,
      '',
    ]);
    await deployed(first, 'dev', 'succeeded');
    expect((await cli('get', 'environments', '--project', PROJECT)).stdout).toMatch(
      new RegExp(`^${PROJECT}\\s+dev\\s+${first}\\s+succeeded\\s`, 'm'),
    );

    // prod's target held: the newer release deploying there, the older queued behind it is cancelled.
    let release: () => void = () => undefined;
    held = new Promise<void>((resolve) => (release = resolve));
    try {
      expect((await cli('approve', PROJECT, second, 'prod', '--comment', 'ok')).code).toBe(0);
      expect((await cli('deploy', PROJECT, second, 'prod')).code).toBe(0);
      await deployed(second, 'prod', 'deploying');
      const queued = await cli('rollback', PROJECT, first, 'prod', '--force');
      expect(queued.stdout).toBe(`deployment/${PROJECT}/${first}/prod queued (forced)\n`);
      const inFlight = await cli('get', 'environments', '--project', PROJECT);
      expect(inFlight.stdout).toMatch(
        new RegExp(
          `^${PROJECT}\\s+prod\\s+${first}\\s+deploying ${second}\\s+\\d+s\\s+${second}:deploying,${first}:queued$`,
          'm',
        ),
      );
      const busy = await cli('cancel', PROJECT, second, 'prod');
      expect(busy.code).toBe(1);
      expect(busy.stderr).toMatch(
        /: 409 deployment \d+ is already deploying; it can no longer be cancelled\n$/,
      );
      const cancelled = await cli('cancel', PROJECT, first, 'prod');
      expect([cancelled.code, cancelled.stdout, cancelled.stderr]).toEqual([
        0,
        `deployment/${PROJECT}/${first}/prod cancelled\n`,
        '',
      ]);
      const none = await cli('cancel', PROJECT, first, 'prod');
      expect([none.code, none.stderr]).toEqual([
        1,
        `feed-triggers: POST /projects/${PROJECT}/releases/${first}/deployments/prod/cancel: 404 no deployment of this release to "prod" is queued\n`,
      ]);
    } finally {
      release();
      held = null;
    }
    await deployed(second, 'prod', 'succeeded');

    // pause, resume and poll change the trigger's state, as get triggers shows.
    const paused = await cli('pause', PROJECT, 'web');
    expect([paused.code, paused.stdout, paused.stderr]).toEqual([0, `trigger/${PROJECT}/web paused\n`, '']);
    expect((await cli('get', 'triggers', '--project', PROJECT)).stdout).toMatch(
      new RegExp(`^${PROJECT}\\s+web\\s+default\\s+paused\\s`, 'm'),
    );
    const ignored = await cli('poll', PROJECT, 'web');
    expect([ignored.code, ignored.stdout]).toEqual([1, '']);
    expect(ignored.stderr).toMatch(
      /is paused and would not poll; resume it first: feed-triggers resume cli-daily web\n$/,
    );
    const resumed = await cli('resume', PROJECT, 'web');
    expect([resumed.code, resumed.stdout]).toEqual([0, `trigger/${PROJECT}/web resumed (active)\n`]);
    expect((await cli('get', 'triggers', '--project', PROJECT)).stdout).toMatch(
      new RegExp(`^${PROJECT}\\s+web\\s+default\\s+active\\s`, 'm'),
    );
    const nothing = await cli('poll', PROJECT, 'web');
    expect(nothing.stdout).toMatch(new RegExp(`^trigger/${PROJECT}/web polled: no-change`));

    // A rejected phase: the API refuses prod for that release with the comment as its reason.
    await pushImage(registry.url, `${PROJECT}/web`, '1.2.0');
    expect((await cli('poll', PROJECT, 'web')).stdout).toMatch(/polled: released/);
    const [, , third] = await releases(3);
    await deployed(third, 'dev', 'succeeded');
    const rejected = await cli('reject', PROJECT, third, 'prod', '--comment', 'a known bug in checkout');
    expect(rejected.stdout).toMatch(new RegExp(`^approval/${PROJECT}/${third}/prod rejected by test-admin-`));
    const blocked = await cli('deploy', PROJECT, third, 'prod');
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toMatch(/: 422 .*rejected by .*a known bug in checkout/);
  }, 120_000);

  test("unknown names are the API's 404 (exit 1); hostile ones never reach another route", async () => {
    const missing = await cli('deploy', 'cli-daily-none', '1', 'dev');
    expect([missing.code, missing.stderr]).toEqual([
      1,
      'feed-triggers: POST /projects/cli-daily-none/releases/1/deployments: 404 no project cli-daily-none\n',
    ]);
    const noRelease = await cli('cancel', PROJECT, '999999', 'prod');
    expect(noRelease.stderr).toMatch(/: 404 project cli-daily has no release 999999\n$/);
    const noTrigger = await cli('pause', PROJECT, 'nobody');
    expect(noTrigger.code).toBe(1);
    expect(noTrigger.stderr).toMatch(/^feed-triggers: POST \/triggers\/cli-daily\/nobody\/pause: 404 /);

    // Encoded into one segment, the API judges the name itself: an invalid project, not another route.
    for (const name of ['cli-daily/../../triggers', '%2e%2e%2ftriggers', 'cli-daily?x=1', 'x'.repeat(900)]) {
      const r = await cli('deploy', name, '1', 'dev');
      expect([name.slice(0, 30), r.code, r.stdout]).toEqual([name.slice(0, 30), 1, '']);
      expect(r.stderr).toMatch(/: 400 /);
    }
    for (const argv of [
      ['deploy', '..', '1', 'dev'],
      ['rollback', PROJECT, '.', 'dev', '--force'],
      ['approve', PROJECT, '1', 'prod\u0000', '--comment', 'x'],
      ['resume', PROJECT, 'x'.repeat(10_000)],
      ['get', 'environments', '--project', '..'],
    ]) {
      const r = await cli(...argv);
      expect([argv[0], r.code, lines(r.stderr).length]).toEqual([argv[0], 2, 1]);
    }
  });
});
