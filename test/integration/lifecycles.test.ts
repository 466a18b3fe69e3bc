import { Context } from '@temporalio/activity';
import { createLedgerActivities } from '../../activities/ledger';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLifecycleActivities } from '../../activities/lifecycle';
import { Ledger } from '../../src/db/ledger';
import { ProjectSpecInput } from '../../src/domain/project';
import { HttpClient } from '../../src/net/http';
import { bindingsOf } from '../../src/config/secrets';
import { startApi, TestApi } from '../support/api';
import { startGitServer, GitServer } from '../support/git-server';
import { SshGitServer, startSshGitServer } from '../support/ssh-git-server';
import { startServer, TestServer } from '../support/http-server';
import { putProject, startTrigger, waitForReleases } from '../support/projects';
import { pushImage, TestRegistry } from '../support/registry';
import { eventually, startTestWorker, TestWorkerEnv } from '../support/temporal';

let registry: TestRegistry;
let env: TestWorkerEnv;
let api: TestApi;
let git: GitServer;
let hook: TestServer;
/** Answers of the webhook target, by environment: the next status to send (202 by default). */
const hookAnswers = new Map<string, number[]>();
/** Environments whose webhook target is down (answers 503) until removed. */
const hookDown = new Set<string>();
/** Projects whose webhook target answers slowly (ms), so their deployments queue up behind each other. */
const hookDelay = new Map<string, number>();
const GIT_TOKEN = 'git-token-0123456789';
/** Requests of project `cancel` wait on this (a deployment kept `deploying`). */
let held: Promise<void> = Promise.resolve();
const NOTIFY_TOKEN = 'registry-notify-token-lifecycles';
const OCTOPUS_KEY = 'API-LIFECYCLEKEY0001';
let octopus: TestServer;
let ssh: SshGitServer;
/** The Octopus stand-in's releases (by version) and deployments. */
const octoReleases = new Map<string, { Id: string; Version: string; ProjectId: string }>();
const octoDeployments: Array<{ Id: string; ReleaseId: string; EnvironmentId: string; Comments: string }> = [];

const KUSTOMIZATION = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
# the app's images, kept by feed-triggers
resources:
  - deployment.yaml
images:
  - name: shop/web
    newTag: 0.9.0
`;

/**
 * Octopus Deploy's REST API as the target uses it: a release by version, creating a release, a release's
 * deployments, creating a deployment; every call with X-Octopus-ApiKey.
 */
async function startOctopus(): Promise<TestServer> {
  return startServer((req, res) => {
    const json = (status: number, body: unknown): void =>
      void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.headers['x-octopus-apikey'] !== OCTOPUS_KEY)
      return json(401, { ErrorMessage: 'Invalid API key' });
    const url = new URL(req.url, 'http://octopus');
    let m = /^\/api\/Spaces-1\/projects\/(Projects-\d+)\/releases\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && m) {
      const found = octoReleases.get(decodeURIComponent(m[2]));
      return found
        ? json(200, found)
        : json(404, { ErrorMessage: 'The resource you requested was not found.' });
    }
    if (req.method === 'POST' && url.pathname === '/api/Spaces-1/releases') {
      const body = JSON.parse(req.body) as { Version: string; ProjectId: string };
      if (octoReleases.has(body.Version))
        return json(400, { ErrorMessage: `A release with the version ${body.Version} already exists.` });
      const created = {
        Id: `Releases-${octoReleases.size + 1}`,
        Version: body.Version,
        ProjectId: body.ProjectId,
      };
      octoReleases.set(body.Version, created);
      return json(201, created);
    }
    m = /^\/api\/Spaces-1\/releases\/(Releases-\d+)\/deployments$/.exec(url.pathname);
    if (req.method === 'GET' && m) {
      const items = octoDeployments.filter((d) => d.ReleaseId === m![1]);
      return json(200, { ItemType: 'Deployment', TotalResults: items.length, Items: items });
    }
    if (req.method === 'POST' && url.pathname === '/api/Spaces-1/deployments') {
      const body = JSON.parse(req.body) as { ReleaseId: string; EnvironmentId: string; Comments: string };
      const created = { Id: `Deployments-${octoDeployments.length + 1}`, ...body };
      octoDeployments.push(created);
      return json(201, created);
    }
    json(404, { ErrorMessage: 'The resource you requested was not found.' });
  });
}

beforeAll(async () => {
  git = await startGitServer({ token: GIT_TOKEN });
  ssh = await startSshGitServer();
  octopus = await startOctopus();
  hook = await startServer(async (req, res) => {
    const { environment, project: name } = JSON.parse(req.body) as { environment: string; project: string };
    if (name === 'cancel') await held;
    const delay = hookDelay.get(name);
    if (delay) await new Promise((r) => setTimeout(r, delay));
    if (hookDown.has(environment)) return void res.writeHead(503).end();
    const status = hookAnswers.get(environment)?.shift() ?? 202;
    res.writeHead(status).end();
  });
  const secrets = new Map([
    ['git-token', { value: GIT_TOKEN, sendTo: [`${git.url}/`] }],
    ['octopus', { value: OCTOPUS_KEY, sendTo: [`${octopus.url}/api/`] }],
    ['deploy-key', { value: ssh.clientKey, sendTo: [`${ssh.base}/`] }],
  ]);
  // Short waits between attempts at a deployment whose target is down, so many attempts fit in a test.
  env = await startTestWorker({ secrets, deployBackoff: { initialMs: 200, maxMs: 1000 } });
  api = await startApi(env, { secretBindings: bindingsOf(secrets), webhookToken: NOTIFY_TOKEN });
  // The real registry notifies the API of every push, as a production registry would.
  registry = await TestRegistry.start({
    notify: { url: `${api.url}/webhooks/registry`, token: NOTIFY_TOKEN },
  });
});

afterAll(async () => {
  await api?.close();
  await env?.stop();
  await hook?.close();
  await octopus?.close();
  await ssh?.close();
  await git?.close();
  await registry?.stop();
});

/** dev (Git) → test (webhook) automatically; prod (webhook) by a person, after an approval. */
function project(name: string, repo: string, extra: Partial<ProjectSpecInput> = {}): ProjectSpecInput {
  return {
    name,
    packages: [{ name: 'web', feed: registry.host, package: `${name}/web` }],
    environments: [
      {
        name: 'dev',
        targets: [
          {
            name: 'gitops',
            type: 'git',
            url: repo,
            branch: 'main',
            credentials: { secret: 'git-token' },
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
      { name: 'test', targets: [{ name: 'hook', type: 'webhook', url: `${hook.url}/deploy` }] },
      { name: 'prod', targets: [{ name: 'hook', type: 'webhook', url: `${hook.url}/deploy` }] },
    ],
    lifecycles: [
      {
        name: 'standard',
        phases: [
          { name: 'dev', environments: ['dev'], automatic: true },
          { name: 'test', environments: ['test'], automatic: true },
          { name: 'prod', environments: ['prod'], approval: true },
        ],
      },
    ],
    lifecycle: 'standard',
    ...extra,
  };
}

interface DeploymentView {
  lifecycle: { name: string; phases: Array<{ name: string; state: string; succeeded: number }> } | null;
  deployments: Array<{
    id: number;
    environment: string;
    status: string;
    error: string | null;
    release: string;
    attempts: number;
    nextAttemptAt: string | null;
    targets: Record<string, { type: string; detail: string; status?: string }>;
  }>;
  approvals: Array<{ phase: string; decision: string; by: string; comment: string }>;
}

async function deploymentsOf(name: string, number: string): Promise<DeploymentView> {
  const res = await api.request('GET', `/projects/${name}/releases/${number}/deployments`);
  expect(res.status).toBe(200);
  return res.body as DeploymentView;
}

/** Waits until the release's latest deployment to each named environment has the wanted status. */
async function waitFor(name: string, number: string, wanted: Record<string, string>, timeoutMs = 30_000) {
  return eventually(
    async () => {
      const view = await deploymentsOf(name, number);
      const ok = Object.entries(wanted).every(
        ([environment, status]) =>
          view.deployments.find((d) => d.environment === environment)?.status === status,
      );
      return ok ? view : undefined;
    },
    `${name} ${number}: ${JSON.stringify(wanted)}`,
    timeoutMs,
  );
}

describe('lifecycles', () => {
  test('a pushed image goes to dev (a Git commit) and test without anyone acting; prod waits for an approval and a person', async () => {
    const repo = git.createRepo('lifecycle-demo', {
      'overlays/dev/kustomization.yaml': KUSTOMIZATION,
      'overlays/dev/deployment.yaml': 'kind: Deployment\n',
    });
    await pushImage(registry.url, 'lifecycle-demo/web', '1.0.0');
    await putProject(env, project('lifecycle-demo', repo));
    await startTrigger(env, {
      project: 'lifecycle-demo',
      name: 'web',
      intervalSeconds: 600,
    });
    const [release] = await waitForReleases(env, 'lifecycle-demo', 1);

    const view = await waitFor('lifecycle-demo', release.number, { dev: 'succeeded', test: 'succeeded' });
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
    const history = await api.request('GET', '/triggers/lifecycle-demo/web/history');
    expect(history.body.history[0]).toMatchObject({
      outcome: 'released',
      release: release.number,
      links: {
        release: `/projects/lifecycle-demo/releases/${release.number}`,
        deployments: `/projects/lifecycle-demo/releases/${release.number}/deployments`,
      },
    });
    // Exactly the new tag, in the kustomization's images entry; the rest of the file (comment included) kept.
    expect(git.show('lifecycle-demo', 'overlays/dev/kustomization.yaml')).toBe(
      KUSTOMIZATION.replace('0.9.0', '1.0.0'),
    );
    expect(git.log('lifecycle-demo')).toEqual([`Deploy lifecycle-demo ${release.number} to dev`, 'seed']);
    const testCall = hook.requests.find((r) => JSON.parse(r.body).project === 'lifecycle-demo');
    expect(JSON.parse(testCall!.body)).toMatchObject({
      project: 'lifecycle-demo',
      release: release.number,
      environment: 'test',
      packages: [{ name: 'web', tag: '1.0.0' }],
    });

    // The release workflow's details in the Temporal UI: each phase's state and each environment's. The
    // ledger records test's deployment before the release workflow hears of it: wait for the workflow.
    const details = await eventually(async () => {
      const { currentDetails } = await env.client.workflow
        .getHandle(`release/lifecycle-demo/${release.number}`)
        .query<{ currentDetails: string }>('__temporal_workflow_metadata');
      return currentDetails.includes('- test (complete, 1/1)') ? currentDetails : undefined;
    }, 'the release workflow to see test complete');
    expect(details).toContain('**Lifecycle standard**');
    expect(details).toContain('- prod (awaiting-approval, 0/1): prod not deployed');
    // prod: refused before the approval, with the reason; nothing queued.
    const early = await api.request(
      'POST',
      `/projects/lifecycle-demo/releases/${release.number}/deployments`,
      {
        environment: 'prod',
      },
    );
    expect(early.status).toBe(422);
    expect(early.body.detail).toMatch(/phase "prod" needs an approval/);
    expect((await deploymentsOf('lifecycle-demo', release.number)).deployments).toHaveLength(2);

    const approver = await api.tokenFor('operator');
    const approved = await api.request(
      'POST',
      `/projects/lifecycle-demo/releases/${release.number}/approvals`,
      { phase: 'prod', decision: 'approve', comment: 'QA signed off' },
      { token: approver },
    );
    expect(approved.status).toBe(201);
    expect(approved.body).toMatchObject({ phase: 'prod', decision: 'approved', comment: 'QA signed off' });
    expect(approved.body.by).toMatch(/^test-operator-/);
    const again = await api.request('POST', `/projects/lifecycle-demo/releases/${release.number}/approvals`, {
      phase: 'prod',
      decision: 'reject',
      comment: 'too late',
    });
    expect(again.status).toBe(409);

    const deploy = await api.request(
      'POST',
      `/projects/lifecycle-demo/releases/${release.number}/deployments`,
      {
        environment: 'prod',
      },
    );
    expect(deploy.status).toBe(202);
    expect(deploy.body).toMatchObject({ environment: 'prod', release: release.number, status: 'queued' });
    const done = await waitFor('lifecycle-demo', release.number, { prod: 'succeeded' });
    expect(done.lifecycle?.phases.map((p) => p.state)).toEqual(['complete', 'complete', 'complete']);

    const board = await api.request('GET', '/projects/lifecycle-demo/environments');
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
    const redeploy = await api.request(
      'POST',
      `/projects/lifecycle-demo/releases/${release.number}/deployments`,
      {
        environment: 'dev',
      },
    );
    expect(redeploy.status).toBe(202);
    await eventually(async () => {
      const v = await deploymentsOf('lifecycle-demo', release.number);
      const dev = v.deployments.filter((d) => d.environment === 'dev');
      return dev.length === 2 && dev[0].status === 'succeeded' ? v : undefined;
    }, 'the redeploy to dev');
    expect(git.log('lifecycle-demo')).toHaveLength(2);
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
    const repo = git.createRepo('race', { 'overlays/dev/kustomization.yaml': KUSTOMIZATION });
    await pushImage(registry.url, 'race/web', '3.0.0');
    await pushImage(registry.url, 'race/web', '3.1.0');
    await putProject(
      env,
      project('race', repo, {
        lifecycles: [{ name: 'standard', phases: [{ name: 'dev', environments: ['dev'], automatic: true }] }],
      }),
    );
    // Both created at once: the dev queue may have started the older when the newer arrives.
    const older = await api.request('POST', '/projects/race/releases', { versions: { web: '3.0.0' } });
    const newer = await api.request('POST', '/projects/race/releases', { versions: { web: '3.1.0' } });
    expect([older.status, newer.status]).toEqual([201, 201]);
    await waitFor('race', newer.body.number, { dev: 'succeeded' });
    const board = await eventually(async () => {
      const res = await api.request('GET', '/projects/race/environments');
      const dev = res.body.environments[0];
      return dev.inFlight.length === 0 ? dev : undefined;
    }, 'an idle dev queue');
    expect(board.current.release).toBe(newer.body.number);
    expect(git.show('race', 'overlays/dev/kustomization.yaml')).toContain('newTag: 3.1.0');
    const olderView = await deploymentsOf('race', older.body.number);
    // Superseded while queued, or deployed first and then replaced: never deployed after the newer one.
    expect(['succeeded', 'superseded']).toContain(olderView.deployments[0].status);
    if (olderView.deployments[0].status === 'succeeded')
      expect(git.log('race')).toEqual([
        `Deploy race ${newer.body.number} to dev`,
        `Deploy race ${older.body.number} to dev`,
        'seed',
      ]);

    // The older release over the newer one: refused at once (422, as every lifecycle refusal) unless forced.
    const oldest = older.body as { number: string; packages: Array<{ tag: string }> };
    const before = await deploymentsOf('race', oldest.number);
    const plain = await api.request('POST', `/projects/race/releases/${oldest.number}/deployments`, {
      environment: 'dev',
    });
    expect(plain.status).toBe(422);
    expect(plain.body.detail).toBe(
      `release ${newer.body.number} is deployed in "dev"; deploying the older release ${oldest.number} ` +
        'there is a rollback: ask with "force": true',
    );
    expect((await deploymentsOf('race', oldest.number)).deployments).toEqual(before.deployments);
    const forced = await api.request('POST', `/projects/race/releases/${oldest.number}/deployments`, {
      environment: 'dev',
      force: true,
    });
    expect(forced.status).toBe(202);
    await waitFor('race', oldest.number, { dev: 'succeeded' });
    expect(git.show('race', 'overlays/dev/kustomization.yaml')).toContain(
      `newTag: ${oldest.packages[0].tag}`,
    );
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

  test('50 releases superseded in an environment leave no release workflow running; a person brings one back', async () => {
    await putProject(env, {
      name: 'stranded',
      packages: [{ name: 'web', feed: registry.host, package: 'stranded/web' }],
      environments: [
        { name: 'stranded-dev', targets: [{ name: 'hook', type: 'webhook', url: `${hook.url}/deploy` }] },
      ],
      lifecycles: [{ name: 'l', phases: [{ name: 'dev', environments: ['stranded-dev'], automatic: true }] }],
      lifecycle: 'l',
    });
    // A slow target: releases arrive faster than they deploy, so most are superseded while queued.
    hookDelay.set('stranded', 300);
    const ledgerActivities = createLedgerActivities({
      ledger: env.ledger,
      client: env.client,
      taskQueue: env.taskQueue,
    });
    const numbers: string[] = [];
    for (let i = 0; i < 51; i++) {
      const result = await ledgerActivities.createRelease({
        project: 'stranded',
        request: {
          channel: 'default',
          packages: [
            { name: 'web', feed: registry.host, package: 'stranded/web', tag: `1.0.${i}`, digest: null },
          ],
          watched: ['web'],
          requireLater: true,
          reason: 'test',
          source: { kind: 'manual' },
          key: `stranded-${i}`,
        },
      });
      expect(result.outcome).toBe('created');
      numbers.push(result.release!.number);
    }
    const newest = numbers.at(-1)!;
    await waitFor('stranded', newest, { 'stranded-dev': 'succeeded' }, 120_000);
    const statuses = await Promise.all(
      numbers.slice(0, -1).map(async (n) => (await deploymentsOf('stranded', n)).deployments[0]?.status),
    );
    const superseded = statuses.filter((s) => s === 'superseded').length;
    expect(superseded).toBeGreaterThanOrEqual(40);
    expect(statuses.every((s) => s === 'superseded' || s === 'succeeded')).toBe(true);
    const running = `WorkflowType = 'release' AND ExecutionStatus = 'Running' AND FeedTriggersProject = 'stranded'`;
    await eventually(
      async () => ((await env.client.workflow.count(running)).count === 0 ? true : undefined),
      'no release workflow of the project running',
      60_000,
    );

    // A person's request to a release whose workflow ended starts it again: a rollback to the oldest.
    const oldest = numbers[0];
    const forced = await api.request('POST', `/projects/stranded/releases/${oldest}/deployments`, {
      environment: 'stranded-dev',
      force: true,
    });
    expect(forced.status).toBe(202);
    await waitFor('stranded', oldest, { 'stranded-dev': 'succeeded' });
    const board = await api.request('GET', '/projects/stranded/environments');
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
    held = new Promise<void>((resolve) => (release = resolve));
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
