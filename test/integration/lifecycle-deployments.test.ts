import { createLedgerActivities } from '../../activities/ledger';
import { ProjectSpecInput } from '../../src/domain/project';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestApi } from '../support/api';
import { GitServer } from '../support/git-server';
import { TestServer } from '../support/http-server';
import { KUSTOMIZATION, LifecycleFixture, startLifecycleFixture } from '../support/lifecycles';
import { putProject } from '../support/projects';
import { pushImage, TestRegistry } from '../support/registry';
import { eventually, TestWorkerEnv } from '../support/temporal';

/**
 * Lifecycle deployments that fail, retry, wait, are cancelled or superseded, and configurations refused at
 * save (the servers: test/support/lifecycles.ts; the way through a lifecycle: lifecycles.test.ts).
 */
let f: LifecycleFixture;
let registry: TestRegistry;
let env: TestWorkerEnv;
let api: TestApi;
let git: GitServer;
let hook: TestServer;
let hookAnswers: LifecycleFixture['hookAnswers'];
let hookDown: LifecycleFixture['hookDown'];
let hookDelay: LifecycleFixture['hookDelay'];
let strandedAttempts = 0;

beforeAll(async () => {
  f = await startLifecycleFixture();
  ({ registry, env, api, git, hook, hookAnswers, hookDown, hookDelay } = f);
});

afterAll(async () => {
  await f?.close();
});

const project = (name: string, repo: string, extra?: Partial<ProjectSpecInput>) =>
  f.project(name, repo, extra);
const deploymentsOf = (name: string, number: string) => f.deploymentsOf(name, number);
const waitFor = (name: string, number: string, wanted: Record<string, string>, timeoutMs?: number) =>
  f.waitFor(name, number, wanted, timeoutMs);

describe('lifecycles', () => {
  test('a webhook target down for longer than five attempts leaves the deployment retrying (error, next attempt) until it succeeds with no one acting; a 403 fails at once', async () => {
    await pushImage(registry.url, 'heal/web', '1.0.0');
    const target = (name: string) => ({ name, type: 'webhook' as const, url: `${hook.url}/deploy` });
    await putProject(env, {
      name: 'heal',
      packages: [{ name: 'web', feed: registry.host, package: 'heal/web' }],
      environments: [
        { name: 'heal-staging', targets: [target('hook')] },
        { name: 'heal-denied', targets: [target('hook')] },
      ],
      lifecycles: [
        {
          name: 'l',
          phases: [{ name: 'one', environments: ['heal-staging', 'heal-denied'], automatic: true }],
        },
      ],
      lifecycle: 'l',
    });
    // Eight 503s: more than five, so a deployment must retry past any fixed attempt count.
    hookAnswers.set('heal-staging', Array<number>(8).fill(503));
    hookAnswers.set('heal-denied', [403]);
    const created = await api.request('POST', '/projects/heal/releases', {});
    expect(created.status).toBe(201);
    const number = created.body.number as string;
    const sent = (environment: string) =>
      hook.requests.filter((r) => {
        const body = JSON.parse(r.body) as { project: string; environment: string };
        return body.project === 'heal' && body.environment === environment;
      }).length;

    const retrying = await waitFor('heal', number, { 'heal-staging': 'retrying' });
    const staging = retrying.deployments.find((d) => d.environment === 'heal-staging')!;
    expect(staging.error).toMatch(/webhook hook answered 503/);
    expect(staging.nextAttemptAt).not.toBeNull();
    expect(staging.targets.hook).toMatchObject({ status: 'retrying' });
    // The Temporal UI shows the same: the environment queue's current details.
    const details = await eventually(async () => {
      const { currentDetails } = await env.client.workflow
        .getHandle('environment/heal/heal-staging')
        .query<{ currentDetails: string }>('__temporal_workflow_metadata');
      return currentDetails.includes('retrying') ? currentDetails : undefined;
    }, 'the environment queue to show the retry');
    expect(details).toMatch(/Last error: webhook hook answered 503/);

    const done = await waitFor(
      'heal',
      number,
      { 'heal-staging': 'succeeded', 'heal-denied': 'failed' },
      60_000,
    );
    const ok = done.deployments.find((d) => d.environment === 'heal-staging')!;
    // Nine requests left (eight refused, one accepted), and each is one attempt.
    expect(sent('heal-staging')).toBe(9);
    expect(ok).toMatchObject({ attempts: 9, error: null, nextAttemptAt: null });
    expect(ok.targets.hook).toMatchObject({ status: 'succeeded', detail: 'webhook hook answered 202' });
    const denied = done.deployments.find((d) => d.environment === 'heal-denied')!;
    expect(denied).toMatchObject({ attempts: 1, error: 'webhook hook answered 403' });
    expect(sent('heal-denied')).toBe(1);
  }, 90_000);

  test('a push the repository refuses fails the deployment at once, with the server’s reason', async () => {
    const repo = git.createRepo('refused', { 'overlays/dev/kustomization.yaml': KUSTOMIZATION });
    git.refusePushes('refused', 'main is protected: changes need a review');
    await pushImage(registry.url, 'refused/web', '1.0.0');
    await putProject(
      env,
      project('refused', repo, {
        lifecycles: [{ name: 'standard', phases: [{ name: 'dev', environments: ['dev'], automatic: true }] }],
      }),
    );
    const created = await api.request('POST', '/projects/refused/releases', {});
    expect(created.status).toBe(201);
    const view = await waitFor('refused', created.body.number, { dev: 'failed' });
    expect(view.deployments[0]).toMatchObject({ attempts: 1, nextAttemptAt: null });
    expect(view.deployments[0].error).toMatch(/main is protected: changes need a review/);
    expect(view.deployments[0].targets.gitops).toMatchObject({ type: 'git', status: 'failed' });
    expect(git.log('refused')).toEqual(['seed']);
  }, 60_000);

  test('an environment with a Git and a webhook target: while the webhook is down the repository, the deployments and the board all say the previous release; then all say the new one', async () => {
    const repo = git.createRepo('together', { 'overlays/dev/kustomization.yaml': KUSTOMIZATION });
    await pushImage(registry.url, 'together/web', '1.0.0');
    await pushImage(registry.url, 'together/web', '1.1.0');
    const spec = project('together', repo, {
      lifecycles: [{ name: 'standard', phases: [{ name: 'dev', environments: ['dev'], automatic: true }] }],
    });
    // Git configured first: it still goes last, after every target a GitOps controller does not watch.
    const dev = spec.environments![0];
    spec.environments = [
      {
        ...dev,
        name: 'together-dev',
        targets: [...dev.targets!, { name: 'hook', type: 'webhook', url: `${hook.url}/deploy` }],
      },
    ];
    spec.lifecycles = [
      { name: 'standard', phases: [{ name: 'dev', environments: ['together-dev'], automatic: true }] },
    ];
    await putProject(env, spec);
    const first = await api.request('POST', '/projects/together/releases', { versions: { web: '1.0.0' } });
    expect(first.status).toBe(201);
    await waitFor('together', first.body.number, { 'together-dev': 'succeeded' });
    expect(git.show('together', 'overlays/dev/kustomization.yaml')).toContain('newTag: 1.0.0');

    // The webhook target stops after the Git push of the first release.
    hookDown.add('together-dev');
    const second = await api.request('POST', '/projects/together/releases', { versions: { web: '1.1.0' } });
    expect(second.status).toBe(201);
    const number = second.body.number as string;
    await waitFor('together', number, { 'together-dev': 'retrying' });
    // A few attempts later, everything still agrees on the first release.
    await eventually(async () => {
      const v = await deploymentsOf('together', number);
      return v.deployments[0].attempts >= 3 ? v : undefined;
    }, 'three attempts at the second release');
    const during = (await deploymentsOf('together', number)).deployments[0];
    expect(during.status).toBe('retrying');
    expect(during.targets.gitops).toBeUndefined();
    expect(during.targets.hook).toMatchObject({ status: 'retrying' });
    expect(git.show('together', 'overlays/dev/kustomization.yaml')).toContain('newTag: 1.0.0');
    expect(git.log('together')).toHaveLength(2);
    const board = await api.request('GET', '/projects/together/environments');
    const devBoard = board.body.environments[0];
    expect(devBoard.current.release).toBe(first.body.number);
    expect(devBoard.inFlight.map((d: { release: string; status: string }) => [d.release, d.status])).toEqual([
      [number, 'retrying'],
    ]);

    hookDown.delete('together-dev');
    const done = await waitFor('together', number, { 'together-dev': 'succeeded' }, 60_000);
    expect(done.deployments[0].targets.gitops).toMatchObject({ type: 'git', status: 'succeeded' });
    expect(done.deployments[0].targets.hook).toMatchObject({ type: 'webhook', status: 'succeeded' });
    expect(git.show('together', 'overlays/dev/kustomization.yaml')).toContain('newTag: 1.1.0');
    expect(git.log('together')).toEqual([
      `Deploy together ${number} to together-dev`,
      `Deploy together ${first.body.number} to together-dev`,
      'seed',
    ]);
    const after = await api.request('GET', '/projects/together/environments');
    expect(after.body.environments[0].current.release).toBe(number);
  }, 90_000);

  test('15 releases superseded in an environment leave no release workflow running; a person brings one back', async () => {
    // A project of its own per attempt: a retry starts from no release (the first attempt's keys are used).
    const name = `stranded-${++strandedAttempts}`;
    const dev = `${name}-dev`;
    await putProject(env, {
      name,
      packages: [{ name: 'web', feed: registry.host, package: 'stranded/web' }],
      environments: [{ name: dev, targets: [{ name: 'hook', type: 'webhook', url: `${hook.url}/deploy` }] }],
      lifecycles: [{ name: 'l', phases: [{ name: 'dev', environments: [dev], automatic: true }] }],
      lifecycle: 'l',
    });
    // A slow target: releases arrive faster than they deploy, so most are superseded while queued.
    hookDelay.set(name, 300);
    const ledgerActivities = createLedgerActivities({
      ledger: env.ledger,
      client: env.client,
      taskQueue: env.taskQueue,
    });
    const numbers: string[] = [];
    for (let i = 0; i < 16; i++) {
      const result = await ledgerActivities.createRelease({
        project: name,
        request: {
          channel: 'default',
          packages: [
            { name: 'web', feed: registry.host, package: 'stranded/web', tag: `1.0.${i}`, digest: null },
          ],
          watched: ['web'],
          requireLater: true,
          reason: 'test',
          source: { kind: 'manual' },
          key: `${name}-${i}`,
        },
      });
      expect(result.outcome).toBe('created');
      numbers.push(result.release!.number);
    }
    const newest = numbers.at(-1)!;
    await waitFor(name, newest, { [dev]: 'succeeded' }, 120_000);
    // Each older release ends superseded or deployed (on a loaded box a release's hand-off to the queue can
    // land after the newest deployed: it is superseded then).
    const statuses = await eventually(
      async () => {
        const now = await Promise.all(
          numbers.slice(0, -1).map(async (n) => (await deploymentsOf(name, n)).deployments[0]?.status),
        );
        return now.every((s) => s === 'superseded' || s === 'succeeded') ? now : undefined;
      },
      'every older release superseded or deployed',
      60_000,
    );
    const superseded = statuses.filter((s) => s === 'superseded').length;
    expect(superseded).toBeGreaterThanOrEqual(5);
    const running = `WorkflowType = 'release' AND ExecutionStatus = 'Running' AND FeedTriggersProject = '${name}'`;
    await eventually(
      async () => ((await env.client.workflow.count(running)).count === 0 ? true : undefined),
      'no release workflow of the project running',
      60_000,
    );

    // A person's request to a release whose workflow ended starts it again: a rollback to the oldest.
    const oldest = numbers[0];
    const forced = await api.request('POST', `/projects/${name}/releases/${oldest}/deployments`, {
      environment: dev,
      force: true,
    });
    expect(forced.status).toBe(202);
    await waitFor(name, oldest, { [dev]: 'succeeded' });
    const board = await api.request('GET', `/projects/${name}/environments`);
    expect(board.body.environments[0].current.release).toBe(oldest);
    await eventually(
      async () => ((await env.client.workflow.count(running)).count === 0 ? true : undefined),
      'the restarted release workflow to end again',
      60_000,
    );
  }, 240_000);

  test('a retrying deployment can be cancelled between attempts: nothing more is sent', async () => {
    await pushImage(registry.url, 'giveup/web', '1.0.0');
    await putProject(env, {
      name: 'giveup',
      packages: [{ name: 'web', feed: registry.host, package: 'giveup/web' }],
      environments: [
        { name: 'giveup-dev', targets: [{ name: 'hook', type: 'webhook', url: `${hook.url}/deploy` }] },
      ],
      lifecycles: [{ name: 'l', phases: [{ name: 'dev', environments: ['giveup-dev'], automatic: true }] }],
      lifecycle: 'l',
    });
    hookDown.add('giveup-dev');
    const created = await api.request('POST', '/projects/giveup/releases', {});
    const number = created.body.number as string;
    await waitFor('giveup', number, { 'giveup-dev': 'retrying' });
    // Between attempts (an attempt in progress answers 409: it can no longer be cancelled).
    const cancelled = await eventually(async () => {
      const res = await api.request(
        'POST',
        `/projects/giveup/releases/${number}/deployments/giveup-dev/cancel`,
      );
      if (res.status === 409) return undefined;
      return res;
    }, 'a cancel between attempts');
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', error: 'cancelled by a person' });
    const sent = () => hook.requests.filter((r) => JSON.parse(r.body).project === 'giveup').length;
    await eventually(
      async () =>
        (await env.client.workflow.getHandle('environment/giveup/giveup-dev').describe()).status.name ===
        'COMPLETED'
          ? true
          : undefined,
      'the queue to end',
    );
    const after = sent();
    await new Promise((r) => setTimeout(r, 2000));
    expect(sent()).toBe(after);
    hookDown.delete('giveup-dev');
  }, 60_000);

  test('a release waiting for a person at prod ends once a newer release is deployed there', async () => {
    const target = { name: 'hook', type: 'webhook' as const, url: `${hook.url}/deploy` };
    await putProject(env, {
      name: 'passed',
      packages: [{ name: 'web', feed: registry.host, package: 'passed/web' }],
      environments: [
        { name: 'passed-dev', targets: [target] },
        { name: 'passed-prod', targets: [target] },
      ],
      lifecycles: [
        {
          name: 'l',
          phases: [
            { name: 'dev', environments: ['passed-dev'], automatic: true },
            { name: 'prod', environments: ['passed-prod'] },
          ],
        },
      ],
      lifecycle: 'l',
    });
    const activities = createLedgerActivities({
      ledger: env.ledger,
      client: env.client,
      taskQueue: env.taskQueue,
    });
    const make = async (tag: string) => {
      const result = await activities.createRelease({
        project: 'passed',
        request: {
          channel: 'default',
          packages: [{ name: 'web', feed: registry.host, package: 'passed/web', tag, digest: null }],
          watched: ['web'],
          requireLater: true,
          reason: 'test',
          source: { kind: 'manual' },
          key: `passed-${tag}`,
        },
      });
      return result.release!.number;
    };
    const older = await make('1.0.0');
    await waitFor('passed', older, { 'passed-dev': 'succeeded' });
    const newer = await make('1.1.0');
    await waitFor('passed', newer, { 'passed-dev': 'succeeded' });
    const status = async (n: string) =>
      (await env.client.workflow.getHandle(`release/passed/${n}`).describe()).status.name;
    // prod is open to the older release still: a person may deploy it there.
    expect(await status(older)).toBe('RUNNING');
    const deployed = await api.request('POST', `/projects/passed/releases/${newer}/deployments`, {
      environment: 'passed-prod',
    });
    expect(deployed.status).toBe(202);
    await waitFor('passed', newer, { 'passed-prod': 'succeeded' });
    await eventually(
      async () => ((await status(older)) === 'COMPLETED' ? true : undefined),
      'the older release workflow to end',
    );
  }, 60_000);

  test('a queued deployment can be cancelled; one deploying cannot', async () => {
    let release: () => void = () => undefined;
    f.held = new Promise<void>((resolve) => (release = resolve));
    const repo = git.createRepo('cancel', { 'overlays/dev/kustomization.yaml': KUSTOMIZATION });
    await pushImage(registry.url, 'cancel/web', '1.0.0');
    await pushImage(registry.url, 'cancel/web', '1.1.0');
    await putProject(
      env,
      project('cancel', repo, {
        lifecycles: [{ name: 'standard', phases: [{ name: 'prod', environments: ['prod'] }] }],
      }),
    );
    const a = await api.request('POST', '/projects/cancel/releases', { versions: { web: '1.0.0' } });
    const b = await api.request('POST', '/projects/cancel/releases', { versions: { web: '1.1.0' } });
    const deployA = await api.request('POST', `/projects/cancel/releases/${a.body.number}/deployments`, {
      environment: 'prod',
    });
    expect(deployA.status).toBe(202);
    await waitFor('cancel', a.body.number, { prod: 'deploying' });
    const deployB = await api.request('POST', `/projects/cancel/releases/${b.body.number}/deployments`, {
      environment: 'prod',
    });
    expect(deployB.body.status).toBe('queued');
    const busy = await api.request(
      'POST',
      `/projects/cancel/releases/${a.body.number}/deployments/prod/cancel`,
    );
    expect(busy.status).toBe(409);
    expect(busy.body.detail).toMatch(/already deploying; it can no longer be cancelled/);
    const cancelled = await api.request(
      'POST',
      `/projects/cancel/releases/${b.body.number}/deployments/prod/cancel`,
    );
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({
      release: b.body.number,
      status: 'cancelled',
      error: 'cancelled by a person',
    });
    const none = await api.request(
      'POST',
      `/projects/cancel/releases/${b.body.number}/deployments/prod/cancel`,
    );
    expect(none.status).toBe(404);
    release();
    await waitFor('cancel', a.body.number, { prod: 'succeeded' });
    const board = await api.request('GET', '/projects/cancel/environments');
    const prod = board.body.environments.find((e: { name: string }) => e.name === 'prod');
    expect(prod.current.release).toBe(a.body.number);
    expect(hook.requests.filter((r) => JSON.parse(r.body).project === 'cancel')).toHaveLength(1);
  }, 60_000);

  test('a target file that links outside the repository fails the deployment for good, naming the link; the outside file is untouched', async () => {
    const outside = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-outside-'));
    try {
      const file = path.join(outside, 'kustomization.yaml');
      writeFileSync(file, KUSTOMIZATION);
      const repo = git.createRepo('linked', { 'overlays/dev/kustomization.yaml': { symlink: file } });
      await pushImage(registry.url, 'linked/web', '3.0.0');
      await putProject(
        env,
        project('linked', repo, {
          lifecycles: [
            { name: 'standard', phases: [{ name: 'dev', environments: ['dev'], automatic: true }] },
          ],
        }),
      );
      const created = await api.request('POST', '/projects/linked/releases', {});
      expect(created.status).toBe(201);
      const view = await waitFor('linked', created.body.number, { dev: 'failed' }, 60_000);
      expect(view.deployments[0]).toMatchObject({
        attempts: 1,
        error: expect.stringMatching(/overlays\/dev\/kustomization\.yaml is a symbolic link/),
      });
      expect(readFileSync(file, 'utf8')).toBe(KUSTOMIZATION);
      expect(git.log('linked')).toEqual(['seed']);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  }, 90_000);

  test('hostile Git targets are refused at save, naming the field', async () => {
    const target = (over: Record<string, unknown>) => ({
      name: 'g',
      type: 'git',
      url: 'https://git.example.com/team/deploy.git',
      files: [{ path: 'k/kustomization.yaml', format: 'kustomize', package: 'web' }],
      ...over,
    });
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ files: [{ path: '../../etc/passwd', format: 'yaml', field: 'a', package: 'web' }] }, 'files.0.path'],
      [{ files: [{ path: '.git/config', format: 'yaml', field: 'a', package: 'web' }] }, 'files.0.path'],
      [{ files: [{ path: '/etc/passwd', format: 'yaml', field: 'a', package: 'web' }] }, 'files.0.path'],
      [{ files: [{ path: './.git/HEAD', format: 'yaml', field: 'a', package: 'web' }] }, 'files.0.path'],
      [{ files: [{ path: 'a/.GIT/config', format: 'yaml', field: 'a', package: 'web' }] }, 'files.0.path'],
      [{ files: [{ path: 'v.yaml', format: 'yaml', field: 'a..b', package: 'web' }] }, 'files.0.field'],
      [{ branch: '--upload-pack=touch /tmp/pwned' }, 'branch'],
      [{ branch: 'main/../../x' }, 'branch'],
      [{ url: 'https://user:secret@git.example.com/r.git' }, 'url'],
      [{ url: 'ssh://git@-oProxyCommand=touch_x/r.git', sshKey: { secret: 'k' }, knownHosts: 'h' }, 'url'],
      [{ url: 'file:///etc/passwd' }, 'url'],
      [{ message: 'm'.repeat(1001) }, 'message'],
      [{ author: { name: 'x\nInjected: header', email: 'a@b.c' } }, 'author.name'],
    ];
    for (const [over, field] of cases) {
      const res = await api.request('PUT', '/projects/hostile-git', {
        name: 'hostile-git',
        packages: [{ name: 'web', feed: registry.host, package: 'x/web' }],
        environments: [{ name: 'dev', targets: [target(over)] }],
      });
      expect(res.status).toBe(400);
      expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(
        `environments.0.targets.0.${field}`,
      );
    }
    // Nothing of it was saved.
    expect((await api.request('GET', '/projects/hostile-git')).status).toBe(404);
  });

  test('lifecycle configuration errors name the field', async () => {
    const res = await api.request('PUT', '/projects/bad-lifecycle', {
      name: 'bad-lifecycle',
      packages: [{ name: 'web', feed: registry.host, package: 'x/web' }],
      environments: [
        { name: 'dev' },
        {
          name: 'ssh',
          targets: [
            {
              name: 'g',
              type: 'git',
              url: 'ssh://git@git.example.com/team/deploy.git',
              sshKey: { secret: 'deploy-key' },
              files: [{ path: 'k/kustomization.yaml', format: 'kustomize', package: 'web' }],
            },
          ],
        },
      ],
      lifecycles: [
        {
          name: 'l',
          phases: [
            { name: 'a', environments: ['dev', 'qa'], minimumEnvironments: 3 },
            { name: 'b', environments: ['dev'] },
          ],
        },
      ],
      lifecycle: 'nope',
    });
    expect(res.status).toBe(400);
    const fields = res.body.errors.map((e: { field: string; message: string }) => `${e.field}: ${e.message}`);
    expect(fields).toEqual(
      expect.arrayContaining([
        'lifecycles.0.phases.0.environments.1: no environment named "qa"',
        'lifecycles.0.phases.0.minimumEnvironments: the phase has 2 environment(s); it cannot need 3',
        'lifecycles.0.phases.1.environments.0: environment "dev" is already in a phase of this lifecycle',
        'lifecycle: no lifecycle named "nope"',
        'environments.1.targets.0.knownHosts: an ssh:// repository needs sshKey and knownHosts (the server key is pinned, never trusted on first use)',
      ]),
    );
  });
});
