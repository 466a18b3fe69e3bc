/**
 * A release's deployments and approvals as the workflows, the activities and the API exchange them, and the
 * plan a channel's releases follow. Types and pure functions only: the release workflow imports this module.
 */
import type { Environment, ProjectSpec } from './project';
import { lifecycleOf, tenantedMode } from './project';
import type { ApprovalState, DeploymentStatus, LifecyclePlan, ReleaseProgress } from './lifecycle';
import type { ReleasedPackage } from './trigger';

/** What one deployment target did: a commit, an Octopus deployment, a webhook's answer. */
export interface TargetOutcome {
  readonly type: string;
  readonly detail: string;
  /**
   * Whether the target holds the release (`succeeded`), refused it (`failed`) or was down (`retrying`).
   * Absent in outcomes recorded before targets were recorded one by one: those succeeded.
   */
  readonly status?: 'succeeded' | 'failed' | 'retrying';
}

/** A deployment an admin sent through a freeze: which freeze held it, why it went anyway, who said so. */
export interface FreezeOverride {
  readonly freeze: string;
  readonly reason: string;
  readonly by: string;
}

/** A deployment as the API shows it. */
export interface Deployment {
  readonly id: number;
  readonly release: string;
  readonly environment: string;
  /** The tenant deployed to; absent for an untenanted deployment. */
  readonly tenant?: string;
  readonly status: DeploymentStatus;
  readonly forced: boolean;
  readonly requestedBy: string;
  readonly queuedAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  /** Requests that left for the targets (a crash before sending counts none). */
  readonly attempts: number;
  /** Why it failed, or (`retrying`) the last attempt's error. */
  readonly error: string | null;
  /** When a `retrying` deployment is tried next. */
  readonly nextAttemptAt: string | null;
  readonly targets: Record<string, TargetOutcome>;
  /** Sent through a freeze by an admin; null for every other deployment. */
  readonly freezeOverride: FreezeOverride | null;
  /** When a scheduled deployment joins the queue; null when it was queued at once. */
  readonly deployAt: string | null;
  /** Cancelled if it has not started by then; null: no expiry. */
  readonly deployAtExpiry: string | null;
}

/** When a deployment is asked for at a later time, and until when it may start. */
export interface DeploymentSchedule {
  readonly deployAt?: string;
  readonly deployAtExpiry?: string;
}

export interface Approval extends ApprovalState {
  readonly phase: string;
  /** The tenant it is for; absent: for every tenant (and the untenanted deployments). */
  readonly tenant?: string;
  readonly decidedAt: string;
}

/** What the release workflow and the API need to decide on a release's lifecycle. */
export interface ReleaseLifecycle {
  readonly project: string;
  readonly releaseId: number;
  readonly number: string;
  readonly channel: string;
  /** Null when the release's channel has no lifecycle: it is only recorded and delivered. */
  readonly plan: LifecyclePlan | null;
  readonly progress: ReleaseProgress;
}

/** A deployment ended without being sent (superseded or cancelled), for the release workflow to hear of. */
export interface EndedDeployment {
  readonly number: string;
  readonly environment: string;
  readonly tenant?: string;
  readonly status: DeploymentStatus;
}

export type NextDeployment =
  | { readonly kind: 'gone' }
  | { readonly kind: 'idle'; readonly ended: EndedDeployment[] }
  /** Only scheduled deployments (or expiries) wait: the queue sleeps `waitMs`, until the first is due. */
  | {
      readonly kind: 'waiting';
      readonly ended: EndedDeployment[];
      readonly until: string;
      readonly waitMs: number;
    }
  | {
      readonly kind: 'deploy';
      readonly id: number;
      readonly number: string;
      readonly ended: EndedDeployment[];
      /** A freeze covers the environment and the deployment has no override: the queue waits `holdMs`. */
      readonly frozen?: { readonly freeze: string; readonly until: string; readonly holdMs: number };
    };

export type DeploymentStart =
  | { readonly kind: 'ended'; readonly status: DeploymentStatus; readonly number: string }
  | {
      readonly kind: 'deploy';
      readonly project: string;
      readonly deployment: Deployment;
      readonly environment: Environment;
      readonly release: {
        readonly number: string;
        readonly channel: string;
        readonly createdAt: string;
        readonly packages: readonly ReleasedPackage[];
        /** Rendered from the channel's template when the release was recorded; null without one. */
        readonly notes: string | null;
      };
    };

/** The plan a channel's releases follow under the project's current configuration. */
export function planFor(spec: ProjectSpec, channel: string): LifecyclePlan | null {
  const lifecycle = lifecycleOf(spec, channel);
  if (!lifecycle) return null;
  const plan: LifecyclePlan = {
    name: lifecycle.name,
    phases: lifecycle.phases.map((p) => ({
      name: p.name,
      environments: p.environments,
      automatic: p.automatic,
      minimum: p.minimumEnvironments ?? p.environments.length,
      approval: p.approval,
    })),
  };
  const mode = tenantedMode(spec);
  if (mode === 'untenanted') return plan;
  return {
    ...plan,
    tenants: Object.fromEntries((spec.tenants ?? []).map((c) => [c.tenant, c.environments])),
    untenanted: mode === 'tenantedOrUntenanted',
  };
}
