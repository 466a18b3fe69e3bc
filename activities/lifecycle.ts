import { Context } from '@temporalio/activity';
import { Client } from '@temporalio/client';
import { Ledger } from '../src/db/ledger';
import type { Deployment, DeploymentStart, NextDeployment, ReleaseLifecycle } from '../src/db/deployments';
import type { TargetOutcome } from '../src/db/schema';
import type { Target } from '../src/domain/project';
import { DEPLOY_ATTEMPTS, environmentWorkflowId } from '../src/domain/lifecycle';
import { PROJECT_ATTRIBUTE } from '../src/domain/search-attributes';
import { HttpClient } from '../src/feeds/http';
import { OutboundPolicy, PERMISSIVE_OUTBOUND } from '../src/feeds/outbound';
import { GitPermanentError, writeBack } from '../src/gitops';
import { bindingsOf, NamedSecret, secretRefusal } from '../src/secrets';
import type { environmentQueue } from '../workflows/environment';
import { wakeSignal } from '../workflows/messages/release';
import { withLiveness } from './liveness';
import { permanent, webhookRequest } from './deliver';

export interface LifecycleDependencies {
  readonly ledger: Ledger;
  readonly client: Client;
  readonly taskQueue: string;
  readonly http: HttpClient;
  readonly secrets: ReadonlyMap<string, NamedSecret>;
  readonly outbound?: OutboundPolicy;
}

export interface DeployResult {
  readonly status: Deployment['status'];
  readonly number: string;
  readonly error: string | null;
}

/** A target refused for good (a 4xx, a bad file): the deployment fails. Anything else is retried. */
class TargetRefused extends Error {}

/** Activities of lifecycles: where a release stands, queueing deployments, and deploying to targets. */
export function createLifecycleActivities(deps: LifecycleDependencies) {
  const { ledger, client, taskQueue, http } = deps;
  const store = ledger.deployments;
  const bindings = bindingsOf(deps.secrets);
  const secret = (name: string, target: string, url: string): string => {
    const refusal = secretRefusal(name, url, bindings);
    // Retryable: the deployment waits, visibly, until the worker's configuration allows it.
    if (refusal !== null) throw new Error(`target ${target}: ${refusal}`);
    return deps.secrets.get(name)!.value;
  };

  async function post(url: string, headers: Record<string, string>, body: string, target: string) {
    return withLiveness(
      (signal) =>
        http.request(url, {
          method: 'POST',
          headers,
          body,
          maxBytes: 1024 * 1024,
          timeoutMs: 30_000,
          signal,
        }),
      { destination: target },
    );
  }

  async function get(url: string, headers: Record<string, string>, target: string) {
    return withLiveness(
      (signal) =>
        http.request(url, { method: 'GET', headers, maxBytes: 4 * 1024 * 1024, timeoutMs: 30_000, signal }),
      { destination: target },
    );
  }

  type Start = Extract<DeploymentStart, { kind: 'deploy' }>;

  function payload(start: Start) {
    return {
      project: start.project,
      release: start.release.number,
      channel: start.release.channel,
      environment: start.deployment.environment,
      deployment: start.deployment.id,
      forced: start.deployment.forced,
      requestedBy: start.deployment.requestedBy,
      createdAt: start.release.createdAt,
      packages: start.release.packages.map((p) => ({
        name: p.name,
        feed: p.feed,
        package: p.package,
        tag: p.tag,
        digest: p.digest,
      })),
    };
  }

  async function toTarget(start: Start, target: Target): Promise<TargetOutcome> {
    const key = `feed-triggers:${start.project}:deployment:${start.deployment.id}`;
    if (target.type === 'webhook') {
      const { body, headers } = webhookRequest(
        payload(start),
        {
          id: key,
          source: `feed-triggers/projects/${start.project}`,
          type: 'io.feed-triggers.deployment.requested',
          subject: `${start.release.number}/${start.deployment.environment}`,
          time: start.deployment.queuedAt,
        },
        {
          cloudEvents: target.cloudEvents,
          signingKey: target.signingSecret
            ? secret(target.signingSecret.secret, target.name, target.url)
            : null,
        },
      );
      const res = await post(target.url, headers, body, target.name);
      const message = `webhook ${target.name} answered ${res.status}`;
      if (res.status >= 200 && res.status < 300) return { type: 'webhook', detail: message };
      if (permanent(res.status)) throw new TargetRefused(message);
      throw new Error(message);
    }
    if (target.type === 'octopus') return toOctopus(start, target, key);
    const files = target.files.map((f) => {
      const pkg = start.release.packages.find((p) => p.name === f.package);
      if (!pkg) throw new TargetRefused(`target ${target.name}: the release has no package "${f.package}"`);
      return {
        path: f.path,
        format: f.format,
        image: f.image ?? pkg.package,
        field: f.field,
        use: f.use,
        tag: pkg.tag,
        digest: pkg.digest,
      };
    });
    const message = target.message
      .replaceAll('{project}', start.project)
      .replaceAll('{release}', start.release.number)
      .replaceAll('{environment}', start.deployment.environment)
      .replaceAll('{packages}', start.release.packages.map((p) => `${p.name} ${p.tag}`).join('\n'));
    try {
      const result = await writeBack({
        url: target.url,
        branch: target.branch,
        files,
        author: target.author,
        message,
        token: target.credentials ? secret(target.credentials.secret, target.name, target.url) : undefined,
        ssh:
          target.sshKey && target.knownHosts
            ? { key: secret(target.sshKey.secret, target.name, target.url), knownHosts: target.knownHosts }
            : undefined,
        policy: deps.outbound ?? PERMISSIVE_OUTBOUND,
      });
      return {
        type: 'git',
        detail: result.commit
          ? `pushed ${result.commit} to ${target.branch}`
          : `${target.branch} already holds the version`,
      };
    } catch (err) {
      if (err instanceof GitPermanentError) throw new TargetRefused(`target ${target.name}: ${err.message}`);
      throw err;
    }
  }

  /** Octopus: the release is created there once (found again on a retry), then deployed to the environment once. */
  async function toOctopus(start: Start, target: Extract<Target, { type: 'octopus' }>, key: string) {
    const base = `${target.serverUrl.replace(/\/+$/, '')}/api/${target.spaceId}`;
    const headers = {
      'content-type': 'application/json',
      'x-octopus-apikey': secret(target.apiKey.secret, target.name, `${base}/releases`),
    };
    const answer = async (res: { status: number; body: Buffer }, what: string) => {
      if (res.status >= 200 && res.status < 300)
        return JSON.parse(res.body.toString('utf8')) as Record<string, unknown>;
      const message = `Octopus ${target.name} answered ${res.status} to ${what}: ${res.body.toString('utf8').slice(0, 300)}`;
      if (permanent(res.status)) throw new TargetRefused(message);
      throw new Error(message);
    };
    const version = start.release.number;
    const existing = await get(
      `${base}/projects/${target.projectId}/releases/${encodeURIComponent(version)}`,
      headers,
      target.name,
    );
    let releaseId: string;
    if (existing.status === 200) {
      releaseId = String((await answer(existing, 'the release lookup')).Id);
    } else {
      const created = await post(
        `${base}/releases`,
        headers,
        JSON.stringify({
          ProjectId: target.projectId,
          ...(target.channelId ? { ChannelId: target.channelId } : {}),
          Version: version,
          SelectedPackages: start.release.packages.map((p) => ({
            ActionName: target.steps[p.name]?.actionName ?? p.name,
            PackageReferenceName: target.steps[p.name]?.packageReferenceName ?? '',
            Version: p.tag,
          })),
        }),
        target.name,
      );
      releaseId = String((await answer(created, 'the release')).Id);
    }
    // One Octopus deployment per feed-triggers deployment: a retry finds the one it made by its comment.
    const listed = await answer(
      await get(`${base}/releases/${releaseId}/deployments`, headers, target.name),
      'the deployments lookup',
    );
    const items = Array.isArray(listed.Items) ? (listed.Items as Array<Record<string, unknown>>) : [];
    const mine = items.find((d) => d.EnvironmentId === target.environmentId && d.Comments === key);
    if (mine) return { type: 'octopus', detail: `deployment ${String(mine.Id)} of release ${releaseId}` };
    const deployed = await answer(
      await post(
        `${base}/deployments`,
        headers,
        JSON.stringify({ ReleaseId: releaseId, EnvironmentId: target.environmentId, Comments: key }),
        target.name,
      ),
      'the deployment',
    );
    return { type: 'octopus', detail: `deployment ${String(deployed.Id)} of release ${releaseId}` };
  }

  /** Wakes an environment's queue, starting it when it is not running. */
  async function wake(project: string, environment: string): Promise<void> {
    await client.workflow.signalWithStart<typeof environmentQueue>('environmentQueue', {
      workflowId: environmentWorkflowId(project, environment),
      taskQueue,
      args: [{ project, environment }],
      signal: wakeSignal,
      typedSearchAttributes: [{ key: PROJECT_ATTRIBUTE, value: project }],
      staticSummary: `deployments of ${project} to ${environment}, one at a time`,
    });
  }

  return {
    /** Where the release stands in its lifecycle (null when the release is gone). */
    async releaseLifecycle(input: { releaseId: number }): Promise<ReleaseLifecycle | null> {
      return store.lifecycle(input.releaseId);
    },

    /** Queues deployments of the release (each at most once while one is active) and wakes their queues. */
    async queueDeployments(input: {
      project: string;
      releaseId: number;
      environments: string[];
      requestedBy: string;
      forced: boolean;
    }): Promise<Deployment[]> {
      const queued: Deployment[] = [];
      for (const environment of input.environments) {
        const { deployment } = await store.queue(
          input.releaseId,
          environment,
          input.requestedBy,
          input.forced,
        );
        queued.push(deployment);
        await wake(input.project, environment);
      }
      return queued;
    },

    /** Records an approval or rejection of a phase. */
    async decidePhase(input: {
      releaseId: number;
      phase: string;
      decision: 'approved' | 'rejected';
      by: string;
      comment: string;
    }) {
      return store.decide(input.releaseId, input.phase, input.decision, input.by, input.comment);
    },

    /** The deployment an environment's queue runs next (see DeploymentStore.next). */
    async nextDeployment(input: { project: string; environment: string }): Promise<NextDeployment> {
      return store.next(input.project, input.environment);
    },

    /**
     * Deploys to every target of the environment, in order; the deployment succeeds when all did. A target
     * that refuses for good fails it; one that is down is retried (the activity throws). Each attempt is
     * counted before anything is sent, and each target is idempotent: a retry after a crash makes no second
     * commit, webhook call with a new key, or Octopus deployment.
     */
    async deploy(input: { deploymentId: number }): Promise<DeployResult> {
      const start = await store.begin(input.deploymentId);
      if (start.kind === 'ended') {
        return { status: start.status, number: start.number, error: null };
      }
      const outcomes: Record<string, TargetOutcome> = {};
      const context = Context.current();
      const beat = setInterval(() => context.heartbeat(), 2000);
      try {
        for (const target of start.environment.targets) {
          context.heartbeat();
          try {
            outcomes[target.name] = await toTarget(start, target);
          } catch (err) {
            if (!(err instanceof TargetRefused)) {
              // The last attempt records the failure; earlier ones are retried by the server.
              if (context.info.attempt < DEPLOY_ATTEMPTS) throw err;
            }
            const ended = await store.finish(input.deploymentId, 'failed', (err as Error).message, outcomes);
            return { status: ended.status, number: ended.number, error: (err as Error).message };
          }
        }
      } finally {
        clearInterval(beat);
      }
      const ended = await store.finish(input.deploymentId, 'succeeded', null, outcomes);
      return { status: ended.status, number: ended.number, error: null };
    },
  };
}

export type LifecycleActivities = ReturnType<typeof createLifecycleActivities>;
