/**
 * The client side of the workflow contracts: every start, signal-with-start, update-with-start, signal and
 * update a caller outside workflow code sends goes through here (the API, the activities). The IDs,
 * options, search attributes and ID policies below are part of what running workflows and the recorded
 * histories (test/fixtures/histories) hold: change them only with a replay fixture for the new shape.
 * Node only: workflow code never imports this module (eslint.config.mjs keeps it so).
 */
import { randomUUID } from 'node:crypto';
import {
  Client,
  ScheduleAlreadyRunning,
  ScheduleOverlapPolicy,
  WithStartWorkflowOperation,
  WorkflowHandle,
  WorkflowHandleWithFirstExecutionRunId,
  WorkflowStartOptions,
} from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import type { DeploymentStatus } from '../../src/domain/lifecycle';
import type { ProjectRelease } from '../../src/domain/project';
import type { TriggerChannelView, TriggerSpec } from '../../src/domain/trigger';
import { releaseStaticDetails, triggerSummary } from '../../src/domain/ui-text';
import {
  channelPreviewWorkflowId,
  destinationWorkflowId,
  environmentWorkflowId,
  manualReleaseWorkflowId,
  releaseWorkflowId,
  triggerWorkflowId,
  watcherWorkflowId,
} from './ids';
import { deploymentEndedSignal, wakeSignal } from './release';
import {
  CHANNEL_ATTRIBUTE,
  PACKAGES_ATTRIBUTE,
  PROJECT_ATTRIBUTE,
  TRIGGER_STATE_ATTRIBUTE,
} from './search-attributes';
import {
  configureTriggerUpdate,
  continueAsNewSignal,
  pauseSignal,
  pollNowSignal,
  PollNowRequest,
  resumeSignal,
  TRIGGER_WORKFLOW_TASK_TIMEOUT,
} from './trigger';
import {
  TRIGGER_PATHS,
  type ChannelPreviewInput,
  type ChannelPreviewWorkflow,
  type DestinationQueueInput,
  type DestinationQueueWorkflow,
  type EnvironmentQueueWorkflow,
  type ManualReleaseInput,
  type ManualReleaseWorkflow,
  type ReleaseWorkflow,
  type TriggerWorkflow,
  type WatcherWorkflow,
} from './workflows';

// Triggers.

/**
 * Starts a trigger with the channel as it is now (its first evaluation then needs no load). Throws
 * WorkflowExecutionAlreadyStartedError when the trigger runs already.
 */
export async function startTrigger(
  client: Client,
  taskQueue: string,
  input: { spec: TriggerSpec; view: TriggerChannelView; packages: string[]; firstPoll?: 'slot' },
): Promise<WorkflowHandleWithFirstExecutionRunId<TriggerWorkflow>> {
  const { spec, view, packages, firstPoll } = input;
  return client.workflow.start<TriggerWorkflow>('trigger', {
    taskQueue,
    workflowId: triggerWorkflowId(spec.project, spec.name),
    args: [{ spec, view, packages, paths: TRIGGER_PATHS, ...(firstPoll ? { firstPoll } : {}) }],
    workflowIdConflictPolicy: 'FAIL',
    // A deleted trigger's ID may be used again for a new trigger.
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    // Short enough that a read is not held long behind a poll in the trigger's task, long enough that a busy
    // worker's tasks are not timed out and replayed (TRIGGER_WORKFLOW_TASK_TIMEOUT says why).
    workflowTaskTimeout: TRIGGER_WORKFLOW_TASK_TIMEOUT,
    typedSearchAttributes: [
      { key: PROJECT_ATTRIBUTE, value: spec.project },
      { key: CHANNEL_ATTRIBUTE, value: spec.channel },
      { key: TRIGGER_STATE_ATTRIBUTE, value: 'active' },
      { key: PACKAGES_ATTRIBUTE, value: packages },
    ],
    // The UI's list says what the trigger is; its current details (set by the workflow) say how it goes.
    staticSummary: triggerSummary(spec),
    staticDetails: `Watches ${packages.join(', ')}`,
  });
}

/** The signals a person sends a trigger through the API, by the action's name in the path. */
export const TRIGGER_ACTIONS = {
  pause: pauseSignal,
  resume: resumeSignal,
  poll: pollNowSignal,
  'continue-as-new': continueAsNewSignal,
} as const;
export type TriggerAction = keyof typeof TRIGGER_ACTIONS;

/** Sends a trigger one of the actions a person may ask for. */
export async function signalTrigger(handle: WorkflowHandle, action: TriggerAction): Promise<void> {
  await handle.signal(TRIGGER_ACTIONS[action]);
}

/** Asks a trigger to poll now, for the tags a registry notification named when it named any. */
export async function pollTriggerNow(
  client: Client,
  workflowId: string,
  request: PollNowRequest | undefined,
): Promise<void> {
  const handle = client.workflow.getHandle(workflowId);
  await (request ? handle.signal(pollNowSignal, request) : handle.signal(pollNowSignal));
}

/** Changes a running trigger's channel, watched packages or interval; the workflow refuses a bad change. */
export async function configureTrigger(
  handle: WorkflowHandle,
  change: Pick<TriggerSpec, 'channel' | 'watch' | 'intervalSeconds'>,
): Promise<{ changed: boolean }> {
  return handle.executeUpdate(configureTriggerUpdate, { args: [change] });
}

// Package watchers.

/**
 * Makes sure a shard's watcher runs: starts it, or finds the running one (which then records nothing, so a
 * trigger may ask at each of its scheduled polls).
 */
export async function ensureWatcher(client: Client, taskQueue: string, shard: number): Promise<void> {
  await client.workflow.start<WatcherWorkflow>('watcher', {
    taskQueue,
    workflowId: watcherWorkflowId(taskQueue, shard),
    args: [{ shard }],
    workflowIdConflictPolicy: 'USE_EXISTING',
    // A watcher ends once no trigger watches its packages; a later subscriber starts it again.
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    staticSummary: `Package watcher, shard ${shard}`,
  });
}

// Releases.

/** `web 1.4.2, worker 2.0.1 → 0.0.7`: what a release holds, for the Temporal UI. */
export function releaseSummary(release: Pick<ProjectRelease, 'packages' | 'number'>): string {
  const held = release.packages.map((p) => `${p.name} ${p.tag}`).join(', ');
  const text = `${held} → ${release.number}`;
  return text.length <= 200 ? text : `${text.slice(0, 180)}… → ${release.number}`;
}

/** A release as the ledger stored it: enough to start its workflow. */
export type StartableRelease = Pick<ProjectRelease, 'packages' | 'number'> & { readonly id: number };

/**
 * How a release's workflow is started: by the activity that records the release, and by a person's
 * request (update-with-start) to a release whose workflow has ended. A running one is used as it is.
 */
export function releaseStartOptions(
  project: string,
  stored: StartableRelease,
  taskQueue: string,
): WorkflowStartOptions<ReleaseWorkflow> & { workflowIdConflictPolicy: 'USE_EXISTING' } {
  return {
    workflowId: releaseWorkflowId(project, stored.number),
    taskQueue,
    args: [{ project, releaseId: stored.id, number: stored.number }],
    workflowIdConflictPolicy: 'USE_EXISTING',
    // A closed run of this ID belongs to a release already handed off, or to a deleted project of the
    // same name: a new run checks the ledger and ends at once when nothing is left to do.
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    typedSearchAttributes: [{ key: PROJECT_ATTRIBUTE, value: project }],
    staticSummary: releaseSummary(stored),
    staticDetails: releaseStaticDetails(stored.packages),
  };
}

/**
 * Starts the release's workflow unless it runs. `idle`: the release has no destination and follows no
 * lifecycle, so its run records that and ends in its first task (no hand-off or lifecycle reads). Only its
 * creation says so: a person's later request (update-with-start) starts a run that reads the ledger.
 */
export async function startRelease(
  client: Client,
  taskQueue: string,
  project: string,
  stored: StartableRelease,
  options: { idle?: boolean } = {},
): Promise<void> {
  const start = releaseStartOptions(project, stored, taskQueue);
  await client.workflow.start<ReleaseWorkflow>('release', {
    ...start,
    args: [{ ...start.args[0], ...(options.idle ? { idle: true } : {}) }],
  });
}

/** Runs an update (deploy, decide) on a release's workflow, starting the workflow when it has ended. */
export async function updateRelease<Ret, Arg>(
  client: Client,
  taskQueue: string,
  project: string,
  stored: StartableRelease,
  update: UpdateDefinition<Ret, [Arg]>,
  arg: Arg,
): Promise<Ret> {
  return client.workflow.executeUpdateWithStart<ReleaseWorkflow, Ret, [Arg]>(update, {
    args: [arg],
    startWorkflowOperation: new WithStartWorkflowOperation<ReleaseWorkflow>(
      'release',
      releaseStartOptions(project, stored, taskQueue),
    ),
  });
}

/** Tells a release's workflow (by its workflow ID) that a deployment of it ended without its queue. */
export async function tellDeploymentEnded(
  client: Client,
  workflowId: string,
  ended: { environment: string; tenant?: string; status: DeploymentStatus },
): Promise<void> {
  await client.workflow.getHandle(workflowId).signal(deploymentEndedSignal, ended);
}

/** Runs a person's manual release to its end; its workflow ID is new for every request. */
export async function runManualRelease(client: Client, taskQueue: string, input: ManualReleaseInput) {
  return client.workflow.execute<ManualReleaseWorkflow>('manualRelease', {
    taskQueue,
    workflowId: manualReleaseWorkflowId(input.project, randomUUID()),
    args: [input],
    workflowExecutionTimeout: '5 minutes',
    staticSummary: `Manual release of ${input.project} in channel ${input.channel}`,
  });
}

/** Runs a preview of a channel's rules against the live feeds; its workflow ID is new for every request. */
export async function runChannelPreview(client: Client, taskQueue: string, input: ChannelPreviewInput) {
  return client.workflow.execute<ChannelPreviewWorkflow>('channelPreview', {
    taskQueue,
    workflowId: channelPreviewWorkflowId(input.project, input.channel, randomUUID()),
    args: [input],
    workflowExecutionTimeout: '2 minutes',
    staticSummary: `Preview of ${input.project}'s channel ${input.channel}`,
  });
}

// Queues.

/** Wakes a destination's queue, starting it when it is not running. */
export async function wakeDestinationQueue(
  client: Client,
  taskQueue: string,
  input: DestinationQueueInput,
): Promise<void> {
  await client.workflow.signalWithStart<DestinationQueueWorkflow>('destinationQueue', {
    workflowId: destinationWorkflowId(input.project, input.destination),
    taskQueue,
    args: [input],
    signal: wakeSignal,
    typedSearchAttributes: [{ key: PROJECT_ATTRIBUTE, value: input.project }],
    staticSummary: `deliveries of ${input.project} to ${input.destination}, in release order`,
  });
}

/** Wakes an environment's queue, starting it when it is not running. */
export async function wakeEnvironmentQueue(
  client: Client,
  taskQueue: string,
  project: string,
  environment: string,
  tenant?: string,
): Promise<void> {
  await client.workflow.signalWithStart<EnvironmentQueueWorkflow>('environmentQueue', {
    workflowId: environmentWorkflowId(project, environment, tenant),
    taskQueue,
    args: [tenant ? { project, environment, tenant } : { project, environment }],
    signal: wakeSignal,
    typedSearchAttributes: [{ key: PROJECT_ATTRIBUTE, value: project }],
    staticSummary: `deployments of ${project} to ${environment}${tenant ? ` for tenant ${tenant}` : ''}, one at a time`,
  });
}

/** Wakes an environment's queue if it runs (a waiting retry moves on now); a queue that ended is left so. */
export async function nudgeEnvironmentQueue(
  client: Client,
  project: string,
  environment: string,
  tenant?: string,
): Promise<void> {
  await client.workflow.getHandle(environmentWorkflowId(project, environment, tenant)).signal(wakeSignal);
}

/**
 * Wakes every running environment queue (of `projects` when given), so one holding a deployment for a
 * freeze reads the freezes again now that they changed. Best effort: a queue that misses it reads them again
 * when its hold's timer fires.
 */
export async function nudgeEnvironmentQueues(client: Client, projects?: readonly string[]): Promise<number> {
  const scope = projects
    ? ` AND ${PROJECT_ATTRIBUTE.name} IN (${projects.map((p) => `'${p.replaceAll("'", '')}'`).join(', ')})`
    : '';
  let woken = 0;
  for await (const wf of client.workflow.list({
    query: `WorkflowType = 'environmentQueue' AND ExecutionStatus = 'Running'${scope}`,
    pageSize: 100,
  })) {
    await client.workflow
      .getHandle(wf.workflowId)
      .signal(wakeSignal)
      .then(() => woken++)
      .catch(() => undefined);
    if (woken >= 1000) break;
  }
  return woken;
}

/** The retention schedule's ID: one per task queue, so services on one Temporal namespace keep theirs apart. */
export function retentionScheduleId(taskQueue: string): string {
  return `retention/${taskQueue}`;
}

/**
 * Makes sure the hourly schedule that runs retention exists (a Temporal schedule: durable, and one run at a
 * time); a second worker finds it there.
 */
export async function ensureRetentionSchedule(client: Client, taskQueue: string): Promise<void> {
  try {
    await client.schedule.create({
      scheduleId: retentionScheduleId(taskQueue),
      spec: { intervals: [{ every: '1 hour' }] },
      action: {
        type: 'startWorkflow',
        workflowType: 'retention',
        workflowId: retentionScheduleId(taskQueue),
        taskQueue,
        args: [{}],
      },
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
    });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
}
