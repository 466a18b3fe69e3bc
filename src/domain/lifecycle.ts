/**
 * Lifecycle progression, as pure functions of a release's deployments and approvals: the release workflow
 * decides with them what to deploy next and which requests to refuse, and the API shows the same answer.
 * Octopus Deploy's semantics: phases in order; a phase opens when the one before it is complete (enough of
 * its environments hold a successful deployment of the release); an automatic phase deploys to all its
 * environments as soon as it opens; a person may deploy to any environment of an open phase, or redeploy to
 * one of an earlier phase. A tenanted project's release goes through the phases once per tenant (a lane),
 * each judged on its own deployments. No schemas here: workflow code imports this module.
 */
import { Lane, laneOf } from './lane';

/**
 * Attempts at one deployment while a target is down, before it counts as failed: only for environment queues
 * started before deployments retried until superseded (the `deploy-retrying` patch).
 */
export const DEPLOY_ATTEMPTS = 5;

/**
 * `retrying`: a target was down (refused or dropped the connection, 5xx, 429, no answer); the queue tries
 * again after a capped backoff until the deployment succeeds, a newer release supersedes it, a person cancels
 * it or the environment's deadline passes.
 */
export type DeploymentStatus =
  'scheduled' | 'queued' | 'deploying' | 'retrying' | 'succeeded' | 'failed' | 'superseded' | 'cancelled';
/** `scheduled`: asked for at a later time (`deployAt`); it joins the queue (`queued`) at that time. */
export const ACTIVE_DEPLOYMENT: ReadonlySet<DeploymentStatus> = new Set([
  'scheduled',
  'queued',
  'deploying',
  'retrying',
]);
/** The statuses of a deployment in the ledger that is still wanted (the queue runs or waits for it). */
export const ACTIVE_STATUSES = ['scheduled', 'queued', 'deploying', 'retrying'] as const;
/** The statuses of a deployment the queue runs now or next (a scheduled one waits for its time). */
export const RUNNING_STATUSES = ['queued', 'deploying', 'retrying'] as const;

/** Waits between attempts at a deployment whose target is down: doubling from `initialMs` up to `maxMs`. */
export interface DeployBackoff {
  readonly initialMs: number;
  readonly maxMs: number;
  /**
   * How long one minute of an environment's `retry.deadlineMinutes` lasts: a minute when absent. Only tests
   * set it (the backoff is not configuration), so a deadline test waits seconds rather than its shortest
   * configurable deadline, a minute.
   */
  readonly deadlineMinuteMs?: number;
}

/** 1 s, 2 s, 4 s … capped at 15 s, so a target back from an outage gets the deployment within seconds. */
export const DEFAULT_DEPLOY_BACKOFF: DeployBackoff = { initialMs: 1000, maxMs: 15_000 };

/** The wait after `failures` failed attempts in a row (1 for the first). */
export function deployRetryDelayMs(backoff: DeployBackoff, failures: number): number {
  return Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(Math.max(failures - 1, 0), 30));
}

/** A lifecycle as the release workflow needs it (the project's configuration resolved for a channel). */
export interface LifecyclePlan {
  readonly name: string;
  readonly phases: readonly PlannedPhase[];
  /**
   * A tenanted project's tenants, each with the environments it is connected to: the release progresses
   * through the phases once per tenant (docs/tenants.md). Absent: an untenanted project.
   */
  readonly tenants?: Readonly<Record<string, readonly string[]>>;
  /** With `tenants`: whether untenanted deployments progress too (`tenantedOrUntenanted`). */
  readonly untenanted?: boolean;
}

export interface PlannedPhase {
  readonly name: string;
  readonly environments: readonly string[];
  readonly automatic: boolean;
  /** Successful environments the phase needs before the next opens. */
  readonly minimum: number;
  readonly approval: boolean;
}

export interface DeploymentState {
  readonly id: number;
  readonly status: DeploymentStatus;
}

export interface ApprovalState {
  readonly decision: 'approved' | 'rejected';
  readonly by: string;
  readonly comment: string;
}

/**
 * Where a release stands: its latest deployment in each environment, and the approvals given. A tenanted
 * deployment's key is `environment/tenant`, a tenant's approval's `phase/tenant` (see `laneKey`); an
 * approval keyed by the phase alone is for every tenant.
 */
export interface ReleaseProgress {
  readonly deployments: Readonly<Record<string, DeploymentState>>;
  readonly approvals: Readonly<Record<string, ApprovalState>>;
  /**
   * Environments a newer release of the project holds or is on its way to (a deployment succeeded, queued,
   * deploying or retrying there): this release would be superseded there unless a person forces it.
   */
  readonly taken?: readonly string[];
}

export type PhaseState = 'locked' | 'awaiting-approval' | 'rejected' | 'open' | 'complete';

export interface PhaseView {
  readonly name: string;
  readonly state: PhaseState;
  readonly succeeded: number;
  readonly needed: number;
}

/** Each phase's state, in order: a phase is locked until the one before it is complete. */
export function phaseStates(plan: LifecyclePlan, progress: ReleaseProgress): PhaseView[] {
  const views: PhaseView[] = [];
  let previousComplete = true;
  for (const phase of plan.phases) {
    const succeeded = phase.environments.filter(
      (env) => progress.deployments[env]?.status === 'succeeded',
    ).length;
    const approval = progress.approvals[phase.name];
    let state: PhaseState;
    if (!previousComplete) state = 'locked';
    else if (phase.approval && approval?.decision === 'rejected') state = 'rejected';
    else if (phase.approval && approval?.decision !== 'approved') state = 'awaiting-approval';
    else state = succeeded >= phase.minimum ? 'complete' : 'open';
    views.push({ name: phase.name, state, succeeded, needed: phase.minimum });
    previousComplete = state === 'complete';
  }
  return views;
}

/**
 * Environments an open automatic phase deploys to now: those without any deployment of the release yet. For
 * a tenanted plan, those of the untenanted deployments (see `automaticTenantDeployments` for the tenants').
 */
export function automaticDeployments(plan: LifecyclePlan, progress: ReleaseProgress): string[] {
  if (plan.tenants)
    return plan.untenanted ? untenantedDeployments(lanePlan(plan), laneProgress(progress)) : [];
  return untenantedDeployments(plan, progress);
}

/** Each tenant's deployments that its open automatic phases make now, tenants in name order. */
export function automaticTenantDeployments(plan: LifecyclePlan, progress: ReleaseProgress): Lane[] {
  return Object.keys(plan.tenants ?? {})
    .sort()
    .flatMap((tenant) =>
      untenantedDeployments(lanePlan(plan, tenant), laneProgress(progress, tenant)).map((environment) => ({
        environment,
        tenant,
      })),
    );
}

function untenantedDeployments(plan: LifecyclePlan, progress: ReleaseProgress): string[] {
  const states = phaseStates(plan, progress);
  return plan.phases.flatMap((phase, i) =>
    phase.automatic && (states[i].state === 'open' || states[i].state === 'complete')
      ? phase.environments.filter((env) => progress.deployments[env] === undefined)
      : [],
  );
}

/**
 * The lanes a release progresses in: the untenanted one (undefined) unless the project deploys to tenants
 * only, and one per connected tenant.
 */
export function lanesOf(plan: LifecyclePlan): (string | undefined)[] {
  if (!plan.tenants) return [undefined];
  return [...(plan.untenanted ? [undefined] : []), ...Object.keys(plan.tenants).sort()];
}

/**
 * The plan as one lane sees it: a tenant's phases hold only the environments it is connected to, need at
 * most as many of them, and a phase with none of them is passed through (complete, nothing to approve).
 * The untenanted lane (no tenant) sees the plan as it is.
 */
export function lanePlan(plan: LifecyclePlan, tenant?: string): LifecyclePlan {
  if (tenant === undefined) return { name: plan.name, phases: plan.phases };
  const connected = new Set(plan.tenants?.[tenant] ?? []);
  return {
    name: plan.name,
    phases: plan.phases.map((p) => {
      const environments = p.environments.filter((e) => connected.has(e));
      return {
        ...p,
        environments,
        minimum: Math.min(p.minimum, environments.length),
        approval: p.approval && environments.length > 0,
      };
    }),
  };
}

/** The progress as one lane sees it: its deployments by environment; a tenant's approvals, or those for all. */
export function laneProgress(progress: ReleaseProgress, tenant?: string): ReleaseProgress {
  const own = (key: string): string | null => {
    const lane = laneOf(key);
    return lane.tenant === tenant ? lane.environment : null;
  };
  const deployments: Record<string, DeploymentState> = {};
  for (const [key, d] of Object.entries(progress.deployments)) {
    const env = own(key);
    if (env !== null) deployments[env] = d;
  }
  const approvals: Record<string, ApprovalState> = {};
  for (const [key, a] of Object.entries(progress.approvals)) {
    const lane = laneOf(key);
    if (lane.tenant === undefined) approvals[lane.environment] ??= a;
    else if (lane.tenant === tenant) approvals[lane.environment] = a;
  }
  const taken = (progress.taken ?? []).flatMap((key) => {
    const env = own(key);
    return env === null ? [] : [env];
  });
  return { deployments, approvals, taken };
}

/** Every phase complete and nothing of the release queued or deploying: the workflow may end. */
export function lifecycleSettled(plan: LifecyclePlan, progress: ReleaseProgress): boolean {
  if (plan.tenants)
    return lanesOf(plan).every((tenant) =>
      laneSettled(lanePlan(plan, tenant), laneProgress(progress, tenant)),
    );
  return laneSettled(plan, progress);
}

function laneSettled(plan: LifecyclePlan, progress: ReleaseProgress): boolean {
  const states = phaseStates(plan, progress);
  const inFlight = Object.values(progress.deployments).some((d) => ACTIVE_DEPLOYMENT.has(d.status));
  return (
    !inFlight && (states.every((s) => s.state === 'complete') || states.some((s) => s.state === 'rejected'))
  );
}

/**
 * Nothing the release waits for can happen without a person: nothing of it is in flight, and a newer release
 * holds (or is on its way to) enough environments of the first phase it has not completed, so every
 * deployment it could make there would be superseded. The release workflow may end; a person's later
 * request (a forced deploy, an approval) starts it again.
 */
export function lifecycleStranded(plan: LifecyclePlan, progress: ReleaseProgress): boolean {
  if (plan.tenants) {
    // Stranded when every lane is settled or stranded, and one is stranded.
    const lanes = lanesOf(plan).map((tenant) => ({
      plan: lanePlan(plan, tenant),
      progress: laneProgress(progress, tenant),
    }));
    const stranded = lanes.filter((l) => laneStranded(l.plan, l.progress));
    return stranded.length > 0 && lanes.every((l) => stranded.includes(l) || laneSettled(l.plan, l.progress));
  }
  return laneStranded(plan, progress);
}

function laneStranded(plan: LifecyclePlan, progress: ReleaseProgress): boolean {
  if (Object.values(progress.deployments).some((d) => ACTIVE_DEPLOYMENT.has(d.status))) return false;
  const states = phaseStates(plan, progress);
  const index = states.findIndex((s) => s.state !== 'complete');
  if (index < 0) return false;
  const taken = new Set(progress.taken ?? []);
  const phase = plan.phases[index];
  return phase.environments.filter((env) => taken.has(env)).length >= phase.minimum;
}

/** A refusal: 409 when the request conflicts with what is happening, 422 when the lifecycle forbids it. */
export interface Refusal {
  readonly status: 409 | 422;
  readonly message: string;
  /** True when no later progress can change the answer (the configuration, or a decision, forbids it). */
  readonly final?: boolean;
}

function blockedBy(plan: LifecyclePlan, states: PhaseView[], index: number): string {
  const before = states.slice(0, index).findIndex((s) => s.state !== 'complete');
  const blocking = states[before];
  const phase = plan.phases[before];
  if (blocking.state === 'awaiting-approval') return `phase "${phase.name}" is waiting for an approval`;
  if (blocking.state === 'rejected') return `phase "${phase.name}" was rejected`;
  return (
    `phase "${phase.name}" needs ${blocking.needed} successful deployment(s) of this release ` +
    `(${phase.environments.join(', ')}), and has ${blocking.succeeded}`
  );
}

/**
 * Why a person may not deploy the release to `environment` (for `tenant`, when given) now, or null when they
 * may. A tenant's request is judged by its own way through the phases.
 */
export function deployRefusal(
  plan: LifecyclePlan,
  progress: ReleaseProgress,
  environment: string,
  tenant?: string,
): Refusal | null {
  if (plan.tenants || tenant !== undefined) {
    if (tenant === undefined && !plan.untenanted)
      return {
        status: 422,
        message: 'this project deploys to tenants only: name tenants or tenant tags',
        final: true,
      };
    if (tenant !== undefined && !plan.tenants?.[tenant]?.includes(environment))
      return {
        status: 422,
        message: `tenant ${tenant} is not connected to environment "${environment}" of this project`,
        final: true,
      };
    const refusal = laneDeployRefusal(lanePlan(plan, tenant), laneProgress(progress, tenant), environment);
    return refusal && tenant !== undefined
      ? { ...refusal, message: `tenant ${tenant}: ${refusal.message}` }
      : refusal;
  }
  return laneDeployRefusal(plan, progress, environment);
}

function laneDeployRefusal(
  plan: LifecyclePlan,
  progress: ReleaseProgress,
  environment: string,
): Refusal | null {
  const index = plan.phases.findIndex((p) => p.environments.includes(environment));
  if (index < 0)
    return {
      status: 422,
      message: `environment "${environment}" is not in lifecycle "${plan.name}"`,
      final: true,
    };
  const states = phaseStates(plan, progress);
  const state = states[index];
  const phase = plan.phases[index];
  if (state.state === 'locked')
    return {
      status: 422,
      message: `phase "${phase.name}" is not open yet: ${blockedBy(plan, states, index)}`,
    };
  if (state.state === 'awaiting-approval')
    return { status: 422, message: `phase "${phase.name}" needs an approval before anything deploys in it` };
  if (state.state === 'rejected') {
    const a = progress.approvals[phase.name];
    return {
      status: 422,
      message: `phase "${phase.name}" was rejected by ${a.by}: ${a.comment}`,
      final: true,
    };
  }
  const current = progress.deployments[environment];
  if (current && ACTIVE_DEPLOYMENT.has(current.status))
    return {
      status: 409,
      message: `deployment ${current.id} of this release to "${environment}" is already ${current.status}`,
    };
  return null;
}

/**
 * Why `phase` may not be approved or rejected now (for `tenant`, or for every tenant when none is given), or
 * null. A decision for every tenant stands for each tenant without one of its own.
 */
export function approvalRefusal(
  plan: LifecyclePlan,
  progress: ReleaseProgress,
  phaseName: string,
  tenant?: string,
): Refusal | null {
  const index = plan.phases.findIndex((p) => p.name === phaseName);
  if (index < 0)
    return { status: 422, message: `lifecycle "${plan.name}" has no phase "${phaseName}"`, final: true };
  if (tenant !== undefined) {
    if (!plan.tenants?.[tenant])
      return { status: 422, message: `tenant ${tenant} is not connected to this project`, final: true };
    const refusal = laneApprovalRefusal(lanePlan(plan, tenant), laneProgress(progress, tenant), phaseName);
    return refusal && { ...refusal, message: `tenant ${tenant}: ${refusal.message}` };
  }
  if (plan.tenants) {
    // For every tenant: asked of the phase as configured; tenants' own decisions stay theirs.
    if (!plan.phases[index].approval)
      return { status: 422, message: `phase "${phaseName}" does not ask for an approval`, final: true };
    const given = progress.approvals[phaseName];
    return given
      ? {
          status: 409,
          message: `phase "${phaseName}" was already ${given.decision} by ${given.by}`,
          final: true,
        }
      : null;
  }
  return laneApprovalRefusal(plan, progress, phaseName);
}

function laneApprovalRefusal(
  plan: LifecyclePlan,
  progress: ReleaseProgress,
  phaseName: string,
): Refusal | null {
  const index = plan.phases.findIndex((p) => p.name === phaseName);
  const phase = plan.phases[index];
  if (!phase.approval)
    return { status: 422, message: `phase "${phaseName}" does not ask for an approval`, final: true };
  const given = progress.approvals[phaseName];
  if (given)
    return {
      status: 409,
      message: `phase "${phaseName}" was already ${given.decision} by ${given.by}`,
      final: true,
    };
  const states = phaseStates(plan, progress);
  if (states[index].state === 'locked')
    return {
      status: 422,
      message: `phase "${phaseName}" is not open yet: ${blockedBy(plan, states, index)}`,
    };
  return null;
}
