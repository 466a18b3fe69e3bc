/**
 * Lifecycle progression, as pure functions of a release's deployments and approvals: the release workflow
 * decides with them what to deploy next and which requests to refuse, and the API shows the same answer.
 * Octopus Deploy's semantics: phases in order; a phase opens when the one before it is complete (enough of
 * its environments hold a successful deployment of the release); an automatic phase deploys to all its
 * environments as soon as it opens; a person may deploy to any environment of an open phase, or redeploy to
 * one of an earlier phase. No schemas here: workflow code imports this module.
 */

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

/** Where a release stands: its latest deployment in each environment, and the approvals given. */
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

/** Environments an open automatic phase deploys to now: those without any deployment of the release yet. */
export function automaticDeployments(plan: LifecyclePlan, progress: ReleaseProgress): string[] {
  const states = phaseStates(plan, progress);
  return plan.phases.flatMap((phase, i) =>
    phase.automatic && (states[i].state === 'open' || states[i].state === 'complete')
      ? phase.environments.filter((env) => progress.deployments[env] === undefined)
      : [],
  );
}

/** Every phase complete and nothing of the release queued or deploying: the workflow may end. */
export function lifecycleSettled(plan: LifecyclePlan, progress: ReleaseProgress): boolean {
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

/** Why a person may not deploy the release to `environment` now, or null when they may. */
export function deployRefusal(
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

/** Why `phase` may not be approved or rejected now, or null. */
export function approvalRefusal(
  plan: LifecyclePlan,
  progress: ReleaseProgress,
  phaseName: string,
): Refusal | null {
  const index = plan.phases.findIndex((p) => p.name === phaseName);
  if (index < 0)
    return { status: 422, message: `lifecycle "${plan.name}" has no phase "${phaseName}"`, final: true };
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
