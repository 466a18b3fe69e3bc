import { Context } from '@temporalio/activity';
import { Client } from '@temporalio/client';
import { Ledger } from '../src/db/ledger';
import type {
  Deployment,
  DeploymentSchedule,
  DeploymentStart,
  FreezeOverride,
  NextDeployment,
  ReleaseLifecycle,
  TargetOutcome,
} from '../src/domain/deployment';
import type { Target } from '../src/domain/project';
import {
  DEFAULT_DEPLOY_BACKOFF,
  DEPLOY_ATTEMPTS,
  DeployBackoff,
  deployRetryDelayMs,
} from '../src/domain/lifecycle';
import { HttpClient } from '../src/net/http';
import { OutboundPolicy, PERMISSIVE_OUTBOUND } from '../src/net/outbound';
import { GitPermanentError, writeBack } from '../src/targets/git/write-back';
import { bindingsOf, NamedSecret, secretRefusal } from '../src/config/secrets';
import type { DeployInput, DeployResult, LifecycleActivities } from '../workflows/contracts/activities';
import { tellDeploymentEnded, wakeEnvironmentQueue } from '../workflows/contracts/client';
import { releaseWorkflowId } from '../workflows/contracts/ids';
import { PROJECT_ATTRIBUTE } from '../workflows/contracts/search-attributes';
import { withLiveness } from './liveness';
import { Lane, laneKey } from '../src/domain/lane';
import {
  mappedOctopusTenant,
  octopusReleaseBody,
  octopusReleaseId,
  octopusSpaceUrl,
  octopusTenantIdIn,
} from '../src/targets/octopus';
import { permanent, webhookRequest } from '../src/targets/webhook';

export interface LifecycleDependencies {
  readonly ledger: Ledger;
  readonly client: Client;
  readonly taskQueue: string;
  readonly http: HttpClient;
  readonly secrets: ReadonlyMap<string, NamedSecret>;
  readonly outbound?: OutboundPolicy;
  /** Waits between attempts while a target is down (tests shorten them). */
  readonly deployBackoff?: DeployBackoff;
}

/**
 * Targets in the order they are deployed to: the configured order, with Git targets last. A GitOps
 * controller rolls out what the repository holds, so the repository changes only once every other target
 * took the release (docs/deployments.md).
 */
export function deployOrder<T extends { type: string }>(targets: readonly T[]): T[] {
  return [...targets.filter((t) => t.type !== 'git'), ...targets.filter((t) => t.type === 'git')];
}

/** A target refused for good (a 4xx, a bad file): the deployment fails. Anything else is retried. */
class TargetRefused extends Error {}

/** Activities of lifecycles: where a release stands, queueing deployments, and deploying to targets. */
export function createLifecycleActivities(deps: LifecycleDependencies): LifecycleActivities {
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
      ...(start.deployment.tenant ? { tenant: start.deployment.tenant } : {}),
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
      ...(start.release.notes !== null ? { notes: start.release.notes } : {}),
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
          subject: laneKey(
            `${start.release.number}/${start.deployment.environment}`,
            start.deployment.tenant,
          ),
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
    const tenant = start.deployment.tenant;
    const files = target.files.map((f) => {
      const pkg = start.release.packages.find((p) => p.name === f.package);
      if (!pkg) throw new TargetRefused(`target ${target.name}: the release has no package "${f.package}"`);
      if (f.path.includes('{tenant}') && !tenant)
        throw new TargetRefused(
          `target ${target.name}: ${f.path} names {tenant}, and this deployment has no tenant`,
        );
      return {
        // Names are checked slugs; writeBack's repositoryPath checks the filled path again before any use.
        path: f.path
          .replaceAll('{environment}', start.deployment.environment)
          .replaceAll('{tenant}', tenant ?? ''),
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
      .replaceAll('{tenant}', tenant ?? '')
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
    const base = octopusSpaceUrl(target);
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
    /**
     * Octopus's id of our tenant: the one the target maps it to, or the Octopus tenant of that name. Octopus
     * may match `name` loosely, so only an exact (case-insensitive) name counts; none is a refusal no retry
     * fixes, named so a person can add the tenant in Octopus or map it.
     */
    const octopusTenant = async (name: string): Promise<string> => {
      const mapped = mappedOctopusTenant(target.tenants, name);
      if (mapped) return mapped;
      const found = await answer(
        await get(`${base}/tenants?name=${encodeURIComponent(name)}&take=1000`, headers, target.name),
        'the tenant lookup',
      );
      const id = octopusTenantIdIn(found, name);
      if (id === null)
        throw new TargetRefused(
          `target ${target.name}: Octopus has no tenant named "${name}" in ${target.spaceId}: create it there, or map it in the target's tenants (${name}: Tenants-N)`,
        );
      return id;
    };
    // The tenant first: one Octopus does not know is refused before a release is created there.
    const tenant = start.deployment.tenant;
    const tenantId = tenant ? await octopusTenant(tenant) : null;
    const version = start.release.number;
    const lookUp = () =>
      get(
        `${base}/projects/${target.projectId}/releases/${encodeURIComponent(version)}`,
        headers,
        target.name,
      );
    const releaseIdIn = (found: unknown): string => {
      const id = octopusReleaseId(found);
      if (id === null)
        throw new TargetRefused(
          `target ${target.name}: Octopus answered a release without an id of the form Releases-N`,
        );
      return id;
    };
    const existing = await lookUp();
    let releaseId: string;
    if (existing.status === 200) {
      releaseId = releaseIdIn(await answer(existing, 'the release lookup'));
    } else {
      const created = await post(
        `${base}/releases`,
        headers,
        octopusReleaseBody(target, version, start.release.packages, start.release.notes),
        target.name,
      );
      // Deployments of one release to several tenants (or environments) of one Octopus project run at once:
      // another may have created the release since the lookup, and Octopus refuses a second (400). Theirs is
      // the one to deploy.
      const again = created.status >= 300 ? await lookUp() : null;
      releaseId =
        again?.status === 200
          ? releaseIdIn(await answer(again, 'the release lookup'))
          : releaseIdIn(await answer(created, 'the release'));
    }
    // One Octopus deployment per feed-triggers deployment: a retry finds the one it made by its comment.
    const listed = await answer(
      await get(`${base}/releases/${releaseId}/deployments`, headers, target.name),
      'the deployments lookup',
    );
    const items = Array.isArray(listed.Items) ? (listed.Items as Array<Record<string, unknown>>) : [];
    const mine = items.find((d) => d.EnvironmentId === target.environmentId && d.Comments === key);
    const forTenant = tenantId ? ` for tenant ${tenantId}` : '';
    if (mine)
      return { type: 'octopus', detail: `deployment ${String(mine.Id)} of release ${releaseId}${forTenant}` };
    const deployed = await answer(
      await post(
        `${base}/deployments`,
        headers,
        JSON.stringify({
          ReleaseId: releaseId,
          EnvironmentId: target.environmentId,
          ...(tenantId ? { TenantId: tenantId } : {}),
          Comments: key,
        }),
        target.name,
      ),
      'the deployment',
    );
    return {
      type: 'octopus',
      detail: `deployment ${String(deployed.Id)} of release ${releaseId}${forTenant}`,
    };
  }

  /** Wakes an environment's queue (a tenant's there, with `tenant`), starting it when it is not running. */
  async function wake(project: string, environment: string, tenant?: string): Promise<void> {
    await wakeEnvironmentQueue(client, taskQueue, project, environment, tenant);
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
      lanes?: Lane[];
      requestedBy: string;
      forced: boolean;
      freezeOverride?: FreezeOverride;
      schedule?: DeploymentSchedule;
    }): Promise<Deployment[]> {
      const queued: Deployment[] = [];
      const lanes: Lane[] = [
        ...input.environments.map((environment) => ({ environment })),
        ...(input.lanes ?? []),
      ];
      for (const { environment, tenant } of lanes) {
        const { deployment } = await store.queue(
          input.releaseId,
          environment,
          input.requestedBy,
          input.forced,
          new Date(),
          input.freezeOverride ?? null,
          input.schedule ?? {},
          tenant ?? '',
        );
        queued.push(deployment);
        await wake(input.project, environment, tenant);
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
      tenant?: string;
    }) {
      return store.decide(
        input.releaseId,
        input.phase,
        input.decision,
        input.by,
        input.comment,
        new Date(),
        input.tenant ?? '',
      );
    },

    /** The deployment an environment's queue runs next (see DeploymentStore.next). */
    async nextDeployment(input: {
      project: string;
      environment: string;
      tenant?: string;
    }): Promise<NextDeployment> {
      return store.next(input.project, input.environment, new Date(), input.tenant ?? '');
    },

    /**
     * Deploys to every target of the environment (Git targets last) and records each target's outcome as it
     * comes, so a retry continues with the targets still missing. The deployment succeeds when all did. A
     * target that refuses for good (a 4xx, a bad file, a refused push) fails it at once, with the reason.
     * One that is down leaves it `retrying` with the error and the next attempt's time, answered to the
     * queue, which waits and calls again (until the environment's deadline, if it has one). An attempt is
     * counted when a request leaves, so a crash consumes none; each target is idempotent: a retry after a
     * crash makes no second commit, webhook call with a new key, or Octopus deployment.
     */
    async deploy(input: DeployInput): Promise<DeployResult> {
      const retrying = input.failures !== undefined;
      const start = await store.begin(input.deploymentId, new Date(), !retrying);
      if (start.kind === 'ended') {
        return { status: start.status, number: start.number, error: null };
      }
      const done = start.deployment.targets;
      const outcomes: Record<string, TargetOutcome> = {};
      const context = Context.current();
      const beat = setInterval(() => context.heartbeat(), 2000);
      let counted = !retrying;
      const end = async (status: 'succeeded' | 'failed', error: string | null) => {
        const ended = await store.finish(input.deploymentId, status, error, outcomes);
        if (retrying && ended.status === 'succeeded')
          await nudgeOthers(start.project, ended.number, ended.environment);
        return { status: ended.status, number: ended.number, error };
      };
      try {
        for (const target of deployOrder(start.environment.targets)) {
          context.heartbeat();
          const before = done[target.name];
          if (retrying && before && (before.status ?? 'succeeded') === 'succeeded') continue;
          if (!counted) {
            await store.attempt(input.deploymentId);
            counted = true;
          }
          try {
            const outcome = { ...(await toTarget(start, target)), status: 'succeeded' as const };
            outcomes[target.name] = outcome;
            if (retrying) await store.recordTarget(input.deploymentId, target.name, outcome);
          } catch (err) {
            const message = (err as Error).message;
            if (!retrying) {
              // The last attempt records the failure; earlier ones are retried by the server.
              if (!(err instanceof TargetRefused) && context.info.attempt < DEPLOY_ATTEMPTS) throw err;
              return await end('failed', message);
            }
            if (err instanceof TargetRefused) {
              outcomes[target.name] = { type: target.type, detail: message, status: 'failed' };
              return await end('failed', message);
            }
            return await retryLater(start, target, message, input.failures ?? 0);
          }
        }
      } finally {
        clearInterval(beat);
      }
      return end('succeeded', null);
    },
  };

  /**
   * A release now holds `environment`: the other running release workflows of the project read their
   * lifecycle again, so one that a newer release has passed ends now rather than at its next recheck.
   * Best effort: a lost nudge is repaired by that recheck.
   */
  async function nudgeOthers(project: string, number: string, environment: string): Promise<void> {
    try {
      const query =
        `WorkflowType = 'release' AND ExecutionStatus = 'Running' AND ` +
        `${PROJECT_ATTRIBUTE.name} = '${project.replaceAll("'", '')}'`;
      let seen = 0;
      for await (const wf of client.workflow.list({ query, pageSize: 100 })) {
        if (wf.workflowId === releaseWorkflowId(project, number)) continue;
        if (++seen > 500) break;
        await tellDeploymentEnded(client, wf.workflowId, { environment, status: 'superseded' }).catch(
          () => undefined,
        );
      }
    } catch {
      // Visibility unavailable: the releases find out at their next recheck.
    }
  }

  /** A target was down: `retrying` until the next attempt, or `failed` once the environment's deadline passed. */
  async function retryLater(
    start: Start,
    target: Target,
    message: string,
    failures: number,
  ): Promise<DeployResult> {
    const outcome: TargetOutcome = { type: target.type, detail: message, status: 'retrying' };
    const deadline = start.environment.retry?.deadlineMinutes;
    const backoff = deps.deployBackoff ?? DEFAULT_DEPLOY_BACKOFF;
    const minuteMs = backoff.deadlineMinuteMs ?? 60_000;
    const began = Date.parse(start.deployment.startedAt ?? start.deployment.queuedAt);
    if (deadline !== undefined && Date.now() - began >= deadline * minuteMs) {
      const error = `gave up after ${deadline} minute(s) of retrying (the environment's deadline): ${message}`;
      const ended = await store.finish(start.deployment.id, 'failed', error, {
        [target.name]: { ...outcome, status: 'failed' },
      });
      return { status: ended.status, number: ended.number, error };
    }
    await store.recordTarget(start.deployment.id, target.name, outcome);
    const retryInMs = deployRetryDelayMs(backoff, failures + 1);
    const ended = await store.retry(start.deployment.id, message, new Date(Date.now() + retryInMs));
    return { status: ended.status, number: ended.number, error: message, retryInMs };
  }
}
