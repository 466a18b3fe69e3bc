/**
 * The workflow contracts room: everything a caller of a workflow needs, and nothing of how it works.
 *
 *   workflows.ts          each workflow's name, input and result (this file)
 *   ids.ts                workflow IDs
 *   search-attributes.ts  the search attributes the workflows set and the API filters by
 *   trigger.ts, release.ts  the signals, queries and updates of the trigger and the release workflows
 *   activities.ts         what workflows and activities exchange
 *   client.ts             the one module that starts, signals and updates workflows (client side only)
 *
 * Why a room of its own under workflows/: the API, the activities and the tests used to import workflow
 * implementations for their types and messages, and the implementations imported the activities' types
 * back: a circle. Here the arrows point one way: workflows, activities and the API import the contracts,
 * the contracts import only the pure domain (and @temporalio/workflow for message definitions), never an
 * implementation. Everything but client.ts is safe inside the workflow sandbox; client.ts is for Node.
 */
import type { DeliveryBackoff, DeliveryStatus } from '../../src/domain/delivery';
import type { CreateReleaseResult } from '../../src/domain/project';
import type { TriggerChannelView, TriggerSpec, TriggerState } from '../../src/domain/trigger';
import type { PackagePreview } from './activities';

/**
 * The code paths a trigger run started or continued by this code takes, named by the patch that brought
 * them (NEWEST_PATCH in workflows/trigger.ts). Every start and continue-as-new names them in the run's input
 * (TriggerInput.paths), and the run takes them without asking `patched()`: that call records a marker and a
 * TemporalChangeVersion search-attribute upsert in every new run, two history events and a visibility write
 * per trigger created and per rollover. A later umbrella gets a value of its own; docs/versioning.md.
 */
export const TRIGGER_PATHS = 'trigger-paths-2026-12b';

export interface TriggerInput {
  readonly spec: TriggerSpec;
  /** Carried over by continue-as-new. */
  readonly state?: TriggerState;
  readonly pollPending?: boolean;
  /** The channel when the trigger was created (a new trigger's first evaluation then needs no load). */
  readonly view?: TriggerChannelView;
  /**
   * `slot`: a new trigger's first poll (and its subscription to package watchers) waits for its slot in the
   * interval, as every later poll does, instead of running at once. Set for triggers created in bulk, so
   * thousands created together poll spread over their interval, triggers on one package together.
   */
  readonly firstPoll?: 'slot';
  /**
   * The watched packages' keys the run starts with in its search attribute (set by the start and by
   * continue-as-new). The run compares its watch list with this, never with the attribute as the server
   * serves it: a server that does not know the attribute yet (the first minute after it is added) would
   * serve another value, and the run would replay differently. Absent from runs started before it: those
   * read the attribute.
   */
  readonly packages?: readonly string[];
  /**
   * The paths the run takes (TRIGGER_PATHS when this code started it). Absent from runs started before: those
   * ask their patches.
   */
  readonly paths?: string;
}

export interface WatcherInput {
  /** The shard of packages this watcher reads (a stable hash of each package's key). */
  readonly shard: number;
}

export interface ReleaseInput {
  readonly project: string;
  /** The release's id in the ledger (a re-created project's release of the same number has another). */
  readonly releaseId: number;
  readonly number: string;
  /**
   * Set by the release's creation when it has no destination and its channel follows no lifecycle: the run
   * shows that and ends in its first workflow task (7 events with its patch marker, where handing off to no
   * one and reading an absent lifecycle took 16: 2 activities and 3 tasks). Histories without it replay as before.
   */
  readonly idle?: boolean;
}

export interface DestinationQueueInput {
  readonly project: string;
  readonly destination: string;
  readonly backoff: DeliveryBackoff;
  /** Failed rounds in a row so far (carried across continue-as-new, so the backoff does not restart). */
  readonly failures?: number;
  /** Events after which a run continues as new (tests lower it). */
  readonly historyLimit?: number;
}

export interface EnvironmentQueueInput {
  readonly project: string;
  readonly environment: string;
  /** A tenant's queue in the environment; absent: the untenanted deployments'. */
  readonly tenant?: string;
  /** Events after which a run continues as new (tests lower it). */
  readonly historyLimit?: number;
  /** The deployment being retried and its failed attempts in a row (carried across continue-as-new). */
  readonly retrying?: { readonly deploymentId: number; readonly failures: number };
}

export interface ManualReleaseInput {
  readonly project: string;
  readonly channel: string;
  /** Pinned tags by package name; the others take their latest rule-passing version. */
  readonly versions: Readonly<Record<string, string>>;
}

export interface RetentionWorkflowInput {
  /** Releases removed per statement (tests and benchmarks lower it). */
  readonly batch?: number;
}

export interface ChannelPreviewInput {
  readonly project: string;
  readonly channel: string;
}

/**
 * Each workflow by the name it is registered and started under, with its signature. The implementations
 * (workflows/index.ts) are checked against this type, and clients start workflows by these names.
 */
export interface WorkflowContracts {
  /** A long-lived trigger: load the channel, poll the watched packages, ask the project for a release, sleep. */
  trigger(input: TriggerInput): Promise<void>;
  /** Reads one shard of watched packages each interval and wakes the triggers of those that changed. */
  watcher(input: WatcherInput): Promise<void>;
  /** A release in flight: hands it to each destination's queue and promotes it through its lifecycle. */
  release(input: ReleaseInput): Promise<Record<string, DeliveryStatus>>;
  /** One destination's queue: deliveries one at a time, in release order. */
  destinationQueue(input: DestinationQueueInput): Promise<void>;
  /** One environment's queue: deployments one at a time, in request order. */
  environmentQueue(input: EnvironmentQueueInput): Promise<void>;
  /** A release asked for by a person. */
  manualRelease(input: ManualReleaseInput): Promise<CreateReleaseResult>;
  /** Applies the projects' retention policies (run by a Temporal schedule, hourly). */
  retention(input: RetentionWorkflowInput): Promise<{ removed: number }>;
  /** Octopus's "Design rule" for every package of a channel against the live feeds. */
  channelPreview(input: ChannelPreviewInput): Promise<Record<string, PackagePreview | { error: string }>>;
}

export type TriggerWorkflow = WorkflowContracts['trigger'];
export type WatcherWorkflow = WorkflowContracts['watcher'];
export type ReleaseWorkflow = WorkflowContracts['release'];
export type DestinationQueueWorkflow = WorkflowContracts['destinationQueue'];
export type EnvironmentQueueWorkflow = WorkflowContracts['environmentQueue'];
export type ManualReleaseWorkflow = WorkflowContracts['manualRelease'];
export type ChannelPreviewWorkflow = WorkflowContracts['channelPreview'];
export type RetentionWorkflow = WorkflowContracts['retention'];
