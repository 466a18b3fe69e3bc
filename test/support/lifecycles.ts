import { bindingsOf } from '../../src/config/secrets';
import { ProjectSpecInput } from '../../src/domain/project';
import { startApi, TestApi } from './api';
import { GitServer, startGitServer } from './git-server';
import { startServer, TestServer } from './http-server';
import { OctopusDeployment, OctopusRelease, startOctopus } from './octopus';
import { TestRegistry } from './registry';
import { SshGitServer, startSshGitServer } from './ssh-git-server';
import { eventually, startTestWorker, TestWorkerEnv } from './temporal';

/**
 * What the lifecycle tests (test/integration/lifecycles*.test.ts) deploy to: a Git server (over HTTP with a
 * token, and over SSH), an Octopus stand-in, a webhook target whose answers a test steers, and a registry that
 * notifies the API of every push; a worker with short waits between deployment attempts.
 */
export const GIT_TOKEN = 'git-token-0123456789';
export const NOTIFY_TOKEN = 'registry-notify-token-lifecycles';
export const OCTOPUS_KEY = 'API-LIFECYCLEKEY0001';

export const KUSTOMIZATION = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
# the app's images, kept by feed-triggers
resources:
  - deployment.yaml
images:
  - name: shop/web
    newTag: 0.9.0
`;

export interface LifecycleFixture {
  readonly registry: TestRegistry;
  readonly env: TestWorkerEnv;
  readonly api: TestApi;
  readonly git: GitServer;
  readonly ssh: SshGitServer;
  readonly octopus: TestServer;
  readonly hook: TestServer;
  /** Answers of the webhook target, by environment: the next status to send (202 by default). */
  readonly hookAnswers: Map<string, number[]>;
  /** Environments whose webhook target is down (answers 503) until removed. */
  readonly hookDown: Set<string>;
  /** Projects whose webhook target answers slowly (ms), so their deployments queue up behind each other. */
  readonly hookDelay: Map<string, number>;
  /** Requests of project `cancel` wait on this (a deployment kept `deploying`). */
  held: Promise<void>;
  /** The Octopus stand-in's releases (by version) and deployments. */
  readonly octoReleases: Map<string, OctopusRelease>;
  readonly octoDeployments: OctopusDeployment[];
  /** dev (Git) → test (webhook) automatically; prod (webhook) by a person, after an approval. */
  project(name: string, repo: string, extra?: Partial<ProjectSpecInput>): ProjectSpecInput;
  deploymentsOf(name: string, number: string): Promise<DeploymentView>;
  /** Waits until the release's latest deployment to each named environment has the wanted status. */
  waitFor(
    name: string,
    number: string,
    wanted: Record<string, string>,
    timeoutMs?: number,
  ): Promise<DeploymentView>;
  close(): Promise<void>;
}

/** Starts the servers, the worker and the API of a lifecycle test file. */
export async function startLifecycleFixture(): Promise<LifecycleFixture> {
  const hookAnswers = new Map<string, number[]>();
  const hookDown = new Set<string>();
  const hookDelay = new Map<string, number>();
  const git = await startGitServer({ token: GIT_TOKEN });
  const ssh = await startSshGitServer();
  const octopus = await startOctopus(OCTOPUS_KEY);
  const hook = await startServer(async (req, res) => {
    const { environment, project: name } = JSON.parse(req.body) as { environment: string; project: string };
    if (name === 'cancel') await fixture.held;
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
  const env = await startTestWorker({ secrets, deployBackoff: { initialMs: 200, maxMs: 1000 } });
  const api = await startApi(env, { secretBindings: bindingsOf(secrets), webhookToken: NOTIFY_TOKEN });
  // The real registry notifies the API of every push, as a production registry would.
  const registry = await TestRegistry.start({
    notify: { url: `${api.url}/webhooks/registry`, token: NOTIFY_TOKEN },
  });
  const fixture: LifecycleFixture = {
    registry,
    env,
    api,
    git,
    ssh,
    octopus,
    hook,
    hookAnswers,
    hookDown,
    hookDelay,
    held: Promise.resolve(),
    octoReleases: octopus.releases,
    octoDeployments: octopus.deployments,
    project: (name, repo, extra) => lifecycleProject(registry, hook, name, repo, extra),
    deploymentsOf: (name, number) => deploymentsOf(api, name, number),
    waitFor: (name, number, wanted, timeoutMs) => waitFor(api, name, number, wanted, timeoutMs),
    async close() {
      await api.close();
      await env.stop();
      await hook.close();
      await octopus.close();
      await ssh.close();
      await git.close();
      await registry.stop();
    },
  };
  return fixture;
}

/** dev (Git) → test (webhook) automatically; prod (webhook) by a person, after an approval. */
function lifecycleProject(
  registry: TestRegistry,
  hook: TestServer,
  name: string,
  repo: string,
  extra: Partial<ProjectSpecInput> = {},
): ProjectSpecInput {
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

export interface DeploymentView {
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

async function deploymentsOf(api: TestApi, name: string, number: string): Promise<DeploymentView> {
  const res = await api.request('GET', `/projects/${name}/releases/${number}/deployments`);
  expect(res.status).toBe(200);
  return res.body as DeploymentView;
}

/** Waits until the release's latest deployment to each named environment has the wanted status. */
async function waitFor(
  api: TestApi,
  name: string,
  number: string,
  wanted: Record<string, string>,
  timeoutMs = 30_000,
): Promise<DeploymentView> {
  return eventually(
    async () => {
      const view = await deploymentsOf(api, name, number);
      const seen = Object.fromEntries(
        Object.keys(wanted).map((e) => [
          e,
          view.deployments.find((d) => d.environment === e)?.status ?? 'none',
        ]),
      );
      if (Object.entries(wanted).every(([e, status]) => seen[e] === status)) return view;
      // Thrown, so a timeout says what it saw last.
      throw new Error(`last seen ${JSON.stringify(seen)}`);
    },
    `${name} ${number}: ${JSON.stringify(wanted)}`,
    timeoutMs,
  );
}
