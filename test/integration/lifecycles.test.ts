import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { createLifecycleActivities } from '../../activities/lifecycle';
import { Ledger } from '../../src/db/ledger';
import { ProjectSpecInput } from '../../src/domain/project';
import { HttpClient } from '../../src/net/http';
import { TestApi } from '../support/api';
import { GitServer } from '../support/git-server';
import { SshGitServer } from '../support/ssh-git-server';
import { TestServer } from '../support/http-server';
import { GIT_TOKEN, KUSTOMIZATION, LifecycleFixture, startLifecycleFixture } from '../support/lifecycles';
import { putProject, startTrigger, waitForReleases } from '../support/projects';
import { pushImage, TestRegistry } from '../support/registry';
import { eventually, startTestWorker, TestWorkerEnv } from '../support/temporal';

/**
 * Releases through lifecycles (docs/lifecycles.md): automatic phases, approvals, races, a worker lost
 * mid-deployment, pushes the registry notifies, Git over SSH (the servers: test/support/lifecycles.ts).
 * Deployments that fail, wait, are cancelled or superseded are in lifecycle-deployments.test.ts, so the two
 * files' waits overlap.
 */
let f: LifecycleFixture;
let registry: TestRegistry;
let env: TestWorkerEnv;
let api: TestApi;
let git: GitServer;
let hook: TestServer;
let octopus: TestServer;
let ssh: SshGitServer;
let hookAnswers: LifecycleFixture['hookAnswers'];
let octoReleases: LifecycleFixture['octoReleases'];
let octoDeployments: LifecycleFixture['octoDeployments'];

beforeAll(async () => {
  f = await startLifecycleFixture();
  ({ registry, env, api, git, hook, octopus, ssh, hookAnswers, octoReleases, octoDeployments } = f);
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
  test('a pushed image goes to dev (a Git commit) and test without anyone acting; prod waits for an approval and a person', async () => {
    // A project and repository of its own per try: a retry does not meet the first try's commits.
    const demo = `lifecycle-demo-${randomUUID().slice(0, 8)}`;
    const repo = git.createRepo(demo, {
      'overlays/dev/kustomization.yaml': KUSTOMIZATION,
      'overlays/dev/deployment.yaml': 'kind: Deployment\n',
    });
    await pushImage(registry.url, `${demo}/web`, '1.0.0');
    await putProject(env, project(demo, repo));
    await startTrigger(env, {
      project: demo,
      name: 'web',
      intervalSeconds: 600,
    });
    const [release] = await waitForReleases(env, demo, 1);

    const view = await waitFor(demo, release.number, { dev: 'succeeded', test: 'succeeded' });
    expect(view.deployments.map((d) => [d.environment, d.status])).toEqual([
      ['test', 'succeeded'],
      ['dev', 'succeeded'],
    ]);
    expect(view.lifecycle?.phases).toEqual([
      { name: 'dev', state: 'complete', succeeded: 1, needed: 1 },
      { name: 'test', state: 'complete', succeeded: 1, needed: 1 },
      { name: 'prod', state: 'awaiting-approval', succeeded: 0, needed: 1 },
    ]);
    // The trigger's history links to the release and its way through the lifecycle.
    const history = await api.request('GET', `/triggers/${demo}/web/history`);
    // Its one release (a poll after it, on a loaded box, finds no change and comes first).
    const released = history.body.history.filter((e: { outcome: string }) => e.outcome === 'released');
    expect(released).toHaveLength(1);
    expect(released[0]).toMatchObject({
      outcome: 'released',
      release: release.number,
      links: {
        release: `/projects/${demo}/releases/${release.number}`,
        deployments: `/projects/${demo}/releases/${release.number}/deployments`,
      },
    });
    // Exactly the new tag, in the kustomization's images entry; the rest of the file (comment included) kept.
    expect(git.show(demo, 'overlays/dev/kustomization.yaml')).toBe(KUSTOMIZATION.replace('0.9.0', '1.0.0'));
    expect(git.log(demo)).toEqual([`Deploy ${demo} ${release.number} to dev`, 'seed']);
    const testCall = hook.requests.find((r) => JSON.parse(r.body).project === demo);
    expect(JSON.parse(testCall!.body)).toMatchObject({
      project: demo,
      release: release.number,
      environment: 'test',
      packages: [{ name: 'web', tag: '1.0.0' }],
    });

    // The release workflow's details in the Temporal UI: each phase's state and each environment's. The
    // ledger records test's deployment before the release workflow hears of it: wait for the workflow.
    const details = await eventually(async () => {
      const { currentDetails } = await env.client.workflow
        .getHandle(`release/${demo}/${release.number}`)
        .query<{ currentDetails: string }>('__temporal_workflow_metadata');
      return currentDetails.includes('- test (complete, 1/1)') ? currentDetails : undefined;
    }, 'the release workflow to see test complete');
    expect(details).toContain('**Lifecycle standard**');
    expect(details).toContain('- prod (awaiting-approval, 0/1): prod not deployed');
    // prod: refused before the approval, with the reason; nothing queued.
    const early = await api.request('POST', `/projects/${demo}/releases/${release.number}/deployments`, {
      environment: 'prod',
    });
    expect(early.status).toBe(422);
    expect(early.body.detail).toMatch(/phase "prod" needs an approval/);
    expect((await deploymentsOf(demo, release.number)).deployments).toHaveLength(2);

    const approver = await api.tokenFor('operator');
    const approved = await api.request(
      'POST',
      `/projects/${demo}/releases/${release.number}/approvals`,
      { phase: 'prod', decision: 'approve', comment: 'QA signed off' },
      { token: approver },
    );
    expect(approved.status).toBe(201);
    expect(approved.body).toMatchObject({ phase: 'prod', decision: 'approved', comment: 'QA signed off' });
    expect(approved.body.by).toMatch(/^test-operator-/);
    const again = await api.request('POST', `/projects/${demo}/releases/${release.number}/approvals`, {
      phase: 'prod',
      decision: 'reject',
      comment: 'too late',
    });
    expect(again.status).toBe(409);

    const deploy = await api.request('POST', `/projects/${demo}/releases/${release.number}/deployments`, {
      environment: 'prod',
    });
    expect(deploy.status).toBe(202);
    expect(deploy.body).toMatchObject({ environment: 'prod', release: release.number, status: 'queued' });
    const done = await waitFor(demo, release.number, { prod: 'succeeded' });
    expect(done.lifecycle?.phases.map((p) => p.state)).toEqual(['complete', 'complete', 'complete']);

    const board = await api.request('GET', `/projects/${demo}/environments`);
    expect(board.status).toBe(200);
    expect(
      board.body.environments.map((e: { name: string; current: { release: string } | null }) => [
        e.name,
        e.current?.release,
      ]),
    ).toEqual([
      ['dev', release.number],
      ['test', release.number],
      ['prod', release.number],
    ]);

    // A redeploy to dev succeeds without an empty commit.
    const redeploy = await api.request('POST', `/projects/${demo}/releases/${release.number}/deployments`, {
      environment: 'dev',
    });
    expect(redeploy.status).toBe(202);
    await eventually(async () => {
      const v = await deploymentsOf(demo, release.number);
      const dev = v.deployments.filter((d) => d.environment === 'dev');
      return dev.length === 2 && dev[0].status === 'succeeded' ? v : undefined;
    }, 'the redeploy to dev');
    expect(git.log(demo)).toHaveLength(2);
  }, 90_000);

  test('a rejected approval stops the phase; a failed deployment blocks progression until a redeploy fixes it', async () => {
    const repo = git.createRepo('blocked', { 'overlays/dev/kustomization.yaml': KUSTOMIZATION });
    await pushImage(registry.url, 'blocked/web', '2.0.0');
    await putProject(env, project('blocked', repo));
    // test's webhook refuses for good once (a 400): the deployment fails and prod stays locked.
    hookAnswers.set('test', [400]);
    const created = await api.request('POST', '/projects/blocked/releases', {});
    expect(created.status).toBe(201);
    const number = created.body.number as string;
    const failed = await waitFor('blocked', number, { dev: 'succeeded', test: 'failed' });
    expect(failed.deployments.find((d) => d.environment === 'test')?.error).toMatch(/answered 400/);
    expect(failed.lifecycle?.phases.map((p) => p.state)).toEqual(['complete', 'open', 'locked']);
    const locked = await api.request('POST', `/projects/blocked/releases/${number}/approvals`, {
      phase: 'prod',
      decision: 'approve',
      comment: 'ok',
    });
    expect(locked.status).toBe(422);
    expect(locked.body.detail).toMatch(/phase "test" needs 1 successful deployment/);

    const retry = await api.request('POST', `/projects/blocked/releases/${number}/deployments`, {
      environment: 'test',
    });
    expect(retry.status).toBe(202);
    await waitFor('blocked', number, { test: 'succeeded' });

    const rejected = await api.request('POST', `/projects/blocked/releases/${number}/approvals`, {
      phase: 'prod',
      decision: 'reject',
      comment: 'a known bug in checkout',
    });
    expect(rejected.status).toBe(201);
    const refused = await api.request('POST', `/projects/blocked/releases/${number}/deployments`, {
      environment: 'prod',
    });
    expect(refused.status).toBe(422);
    expect(refused.body.detail).toMatch(/rejected by .*a known bug in checkout/);
    const view = await deploymentsOf('blocked', number);
    expect(view.deployments.some((d) => d.environment === 'prod')).toBe(false);
    expect(view.lifecycle?.phases.map((p) => p.state)).toEqual(['complete', 'complete', 'rejected']);
  }, 90_000);

  test('two releases racing through dev end with the newer deployed; the older needs force to roll back', async () => {
    // A name of its own per attempt: a retry (after a failure on a starved box) starts on a fresh repository
    // and project instead of failing to seed the first attempt's.
    const race = `race-${randomUUID().slice(0, 8)}`;
    const repo = git.createRepo(race, { 'overlays/dev/kustomization.yaml': KUSTOMIZATION });
    await pushImage(registry.url, `${race}/web`, '3.0.0');
    await pushImage(registry.url, `${race}/web`, '3.1.0');
    await putProject(
      env,
      project(race, repo, {
        lifecycles: [{ name: 'standard', phases: [{ name: 'dev', environments: ['dev'], automatic: true }] }],
      }),
    );
    // Both created at once: the dev queue may have started the older when the newer arrives.
    const older = await api.request('POST', `/projects/${race}/releases`, { versions: { web: '3.0.0' } });
    const newer = await api.request('POST', `/projects/${race}/releases`, { versions: { web: '3.1.0' } });
    expect([older.status, newer.status]).toEqual([201, 201]);
    await waitFor(race, newer.body.number, { dev: 'succeeded' }, 60_000);
    const board = await eventually(async () => {
      const res = await api.request('GET', `/projects/${race}/environments`);
      const dev = res.body.environments[0];
      return dev.inFlight.length === 0 ? dev : undefined;
    }, 'an idle dev queue');
    expect(board.current.release).toBe(newer.body.number);
    expect(git.show(race, 'overlays/dev/kustomization.yaml')).toContain('newTag: 3.1.0');
    const olderView = await deploymentsOf(race, older.body.number);
    // Superseded while queued, or deployed first and then replaced: never deployed after the newer one.
    expect(['succeeded', 'superseded']).toContain(olderView.deployments[0].status);
    if (olderView.deployments[0].status === 'succeeded')
      expect(git.log(race)).toEqual([
        `Deploy ${race} ${newer.body.number} to dev`,
        `Deploy ${race} ${older.body.number} to dev`,
        'seed',
      ]);

    // The older release over the newer one: refused at once (422, as every lifecycle refusal) unless forced.
    const oldest = older.body as { number: string; packages: Array<{ tag: string }> };
    const before = await deploymentsOf(race, oldest.number);
    const plain = await api.request('POST', `/projects/${race}/releases/${oldest.number}/deployments`, {
      environment: 'dev',
    });
    expect(plain.status).toBe(422);
    expect(plain.body.detail).toBe(
      `release ${newer.body.number} is deployed in "dev"; deploying the older release ${oldest.number} ` +
        'there is a rollback: ask with "force": true',
    );
    expect((await deploymentsOf(race, oldest.number)).deployments).toEqual(before.deployments);
    const forced = await api.request('POST', `/projects/${race}/releases/${oldest.number}/deployments`, {
      environment: 'dev',
      force: true,
    });
    expect(forced.status).toBe(202);
    await waitFor(race, oldest.number, { dev: 'succeeded' });
    expect(git.show(race, 'overlays/dev/kustomization.yaml')).toContain(`newTag: ${oldest.packages[0].tag}`);
  }, 90_000);

  test('a refused deploy changes nothing: a release whose workflow has ended starts no automatic phase', async () => {
    await pushImage(registry.url, 'quiet/web', '1.0.0');
    const spec: ProjectSpecInput = {
      name: 'quiet',
      packages: [{ name: 'web', feed: registry.host, package: 'quiet/web' }],
    };
    await putProject(env, spec);
    // Released before the project had a lifecycle: its workflow hands off to no destination and ends.
    const created = await api.request('POST', '/projects/quiet/releases', {});
    expect(created.status).toBe(201);
    const number = created.body.number as string;
    const handle = env.client.workflow.getHandle(`release/quiet/${number}`);
    await eventually(
      async () => ((await handle.describe()).status.name === 'COMPLETED' ? true : undefined),
      'the release workflow to end',
    );
    await putProject(env, {
      ...spec,
      environments: [
        { name: 'dev', targets: [{ name: 'hook', type: 'webhook', url: `${hook.url}/deploy` }] },
        { name: 'prod', targets: [{ name: 'hook', type: 'webhook', url: `${hook.url}/deploy` }] },
      ],
      lifecycles: [
        {
          name: 'standard',
          phases: [
            { name: 'dev', environments: ['dev'], automatic: true },
            { name: 'prod', environments: ['prod'], approval: true },
          ],
        },
      ],
      lifecycle: 'standard',
    });
    const refusedDeploy = await api.request('POST', `/projects/quiet/releases/${number}/deployments`, {
      environment: 'prod',
    });
    expect(refusedDeploy.status).toBe(422);
    expect(refusedDeploy.body.detail).toMatch(/phase "prod" is not open yet: phase "dev" needs 1/);
    const refusedApproval = await api.request('POST', `/projects/quiet/releases/${number}/approvals`, {
      phase: 'dev',
      decision: 'approve',
      comment: 'no approval asked',
    });
    expect(refusedApproval.status).toBe(422);
    // Nothing started: no deployment (dev's automatic phase included), and the workflow stays ended.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await deploymentsOf('quiet', number)).deployments).toEqual([]);
    expect((await handle.describe()).status.name).toBe('COMPLETED');
    expect(hook.requests.filter((r) => JSON.parse(r.body).project === 'quiet')).toEqual([]);
  }, 60_000);

  test('a worker stopped in the middle of a deployment (commit pushed, not yet recorded) finishes exactly one deployment', async () => {
    const repo = git.createRepo('crashy', { 'overlays/dev/kustomization.yaml': KUSTOMIZATION });
    await pushImage(registry.url, 'crashy/web', '5.0.0');
    await putProject(
      env,
      project('crashy', repo, {
        lifecycles: [{ name: 'standard', phases: [{ name: 'dev', environments: ['dev'], automatic: true }] }],
      }),
    );
    const taskQueue = `crashy-${Date.now()}`;
    const secrets = new Map([['git-token', { value: GIT_TOKEN, sendTo: [`${git.url}/`] }]]);
    // Its deploy pushes the commit, then "crashes" before the ledger hears of it.
    const stuckStore = Object.create(env.ledger.deployments) as typeof env.ledger.deployments;
    stuckStore.finish = async () => {
      await Context.current().cancelled;
      throw new Error('unreachable');
    };
    const crashing = await startTestWorker({
      taskQueue,
      database: env.database,
      secrets,
      extraActivities: {
        deploy: createLifecycleActivities({
          ledger: { deployments: stuckStore } as unknown as Ledger,
          client: env.client,
          taskQueue,
          http: new HttpClient({}),
          secrets,
        }).deploy as never,
      },
    });
    await startTrigger(crashing, { project: 'crashy', name: 'web', intervalSeconds: 600 });
    const [release] = await waitForReleases(env, 'crashy', 1);
    await eventually(async () => (git.log('crashy').length === 2 ? true : undefined), 'the pushed commit');
    await crashing.stop();
    const healthy = await startTestWorker({ taskQueue, database: env.database, secrets });
    try {
      const view = await waitFor('crashy', release.number, { dev: 'succeeded' }, 60_000);
      expect(view.deployments).toHaveLength(1);
      // The commit was recorded as the Git target's outcome when it was pushed: the retry sends nothing more,
      // and attempts count only requests that left.
      expect(view.deployments[0]).toMatchObject({ environment: 'dev', status: 'succeeded', attempts: 1 });
      expect(git.log('crashy')).toEqual([`Deploy crashy ${release.number} to dev`, 'seed']);
      expect(git.show('crashy', 'overlays/dev/kustomization.yaml')).toContain('newTag: 5.0.0');
    } finally {
      await healthy.stop();
    }
  }, 120_000);

  test('a push the registry notifies reaches dev in seconds: an Octopus release and one deployment to its environment', async () => {
    await pushImage(registry.url, 'octo/web', '1.0.0');
    await putProject(env, {
      name: 'octo',
      packages: [{ name: 'web', feed: registry.host, package: 'octo/web' }],
      environments: [
        {
          name: 'dev',
          targets: [
            {
              name: 'octopus',
              type: 'octopus',
              serverUrl: octopus.url,
              spaceId: 'Spaces-1',
              projectId: 'Projects-3',
              environmentId: 'Environments-1',
              apiKey: { secret: 'octopus' },
              steps: { web: { actionName: 'Deploy web', packageReferenceName: '' } },
            },
          ],
        },
      ],
      lifecycles: [{ name: 'fast', phases: [{ name: 'dev', environments: ['dev'], automatic: true }] }],
      lifecycle: 'fast',
    });
    await startTrigger(env, { project: 'octo', name: 'web', intervalSeconds: 3600 });
    const [first] = await waitForReleases(env, 'octo', 1);
    await waitFor('octo', first.number, { dev: 'succeeded' });
    // Visibility must list the trigger under its package before a notification can find it.
    await new Promise((r) => setTimeout(r, 1500));
    await pushImage(registry.url, 'octo/web', '1.1.0');
    // The trigger's interval is an hour: only the notification can have made this release and deployment.
    const [second] = await waitForReleases(env, 'octo', 2, 15_000);
    expect(second.packages[0].tag).toBe('1.1.0');
    const view = await waitFor('octo', second.number, { dev: 'succeeded' }, 15_000);
    const octo = octoReleases.get(second.number)!;
    expect(octo).toMatchObject({ Version: second.number, ProjectId: 'Projects-3' });
    expect(octoDeployments.filter((d) => d.ReleaseId === octo.Id)).toEqual([
      {
        Id: expect.stringMatching(/^Deployments-/),
        ReleaseId: octo.Id,
        EnvironmentId: 'Environments-1',
        Comments: `feed-triggers:octo:deployment:${view.deployments[0].id}`,
      },
    ]);
    expect(view.deployments[0].targets).toEqual({
      octopus: {
        type: 'octopus',
        detail: expect.stringMatching(new RegExp(`^deployment Deployments-\\d+ of release ${octo.Id}$`)),
        status: 'succeeded',
      },
    });
  }, 60_000);

  test('Git write-back over SSH: the key from a secret, the server key pinned', async () => {
    const seedUrl = ssh.createRepo('deploy', { 'overlays/dev/kustomization.yaml': KUSTOMIZATION });
    await pushImage(registry.url, 'over-ssh/web', '7.0.0');
    await putProject(env, {
      ...project('over-ssh', seedUrl, {
        lifecycles: [{ name: 'standard', phases: [{ name: 'dev', environments: ['dev'], automatic: true }] }],
      }),
      environments: [
        {
          name: 'dev',
          targets: [
            {
              name: 'gitops',
              type: 'git',
              url: seedUrl,
              sshKey: { secret: 'deploy-key' },
              knownHosts: ssh.knownHosts,
              files: [
                {
                  path: 'overlays/dev/kustomization.yaml',
                  format: 'kustomize',
                  package: 'web',
                  image: 'shop/web',
                },
              ],
            },
          ],
        },
      ],
    });
    const created = await api.request('POST', '/projects/over-ssh/releases', {});
    expect(created.status).toBe(201);
    const view = await waitFor('over-ssh', created.body.number, { dev: 'succeeded' });
    expect(view.deployments[0].targets.gitops.detail).toMatch(/^pushed [0-9a-f]{40} to main$/);
    expect(ssh.git('deploy', 'show', 'main:overlays/dev/kustomization.yaml')).toBe(
      KUSTOMIZATION.replace('0.9.0', '7.0.0'),
    );
  }, 60_000);
});
