/**
 * What workflows and activities exchange: each activity group's interface and its inputs and results. The
 * activities implement these interfaces (activities/*.ts); workflows proxy them, so neither imports the
 * other. Types only: nothing here runs.
 */
import type {
  Approval,
  Deployment,
  DeploymentSchedule,
  FreezeOverride,
  NextDeployment,
  ReleaseLifecycle,
} from '../../src/domain/deployment';
import type { DeliveryBackoff, DeliveryStatus, NextDelivery } from '../../src/domain/delivery';
import type { CreateReleaseRequest, CreateReleaseResult } from '../../src/domain/project';
import type { VersionRuleInput } from '../../src/domain/rule';
import type { TriggerChannelView } from '../../src/domain/trigger';
import type { Precedence } from '../../src/domain/version';
import type { Lane } from '../../src/domain/lane';

// Polling feeds (activities/poll.ts).

export interface PollPackageInput {
  readonly feed: string;
  readonly package: string;
  readonly rule: VersionRuleInput;
  /** The tag in the channel's previous release: only candidates at or above it come back. */
  readonly watermark: string | null;
  /** How many candidates to return at most (history hygiene). */
  readonly limit: number;
  /** Accept a shared tag listing at most this old (0 after pollNow or resume). */
  readonly maxAgeMs: number | null;
  /** The slot a scheduled poll was due at (epoch ms), for the poll-lag metric; absent for polls on demand. */
  readonly dueAtMs?: number;
  /** Tags a registry notification named: the result says what the rules made of each. */
  readonly explain?: readonly string[];
  /**
   * A package the release takes along (one of the project's that the trigger does not watch): the poll
   * accepts the package's last read by its package watcher if that is at most `maxAgeMs` old, the watcher
   * read it without error, and a trigger of the same project and channel is subscribed to it (so a move of
   * the package wakes a trigger that releases it there). A taken-along version is then at most `maxAgeMs`
   * (and the worker's take-along limit) stale. Absent: the poll's own `maxAgeMs` alone decides.
   */
  readonly takeAlong?: {
    readonly maxAgeMs: number;
    readonly project: string;
    readonly channel: string;
  };
}

export interface PollPackageResult {
  readonly tagCount: number;
  readonly acceptedCount: number;
  /** Accepted tags at or above the watermark, best first, at most `limit`. */
  readonly candidates: string[];
  /** Digest of the best candidate's manifest. */
  readonly digest: string | null;
  readonly rateLimitRemaining: number | null;
  /** How this feed's versions compare: Octopus's Docker precedence for OCI feeds, SemVer for Helm. */
  readonly precedence: Precedence;
  /** For each tag in `explain`: `accepted`, or why it is not a candidate. */
  readonly explained?: Readonly<Record<string, string>>;
  /** Versions above the best candidate that signature or platform rules refused, with why (a few at most). */
  readonly skipped?: Readonly<Record<string, string>>;
  /**
   * The fingerprint of the listing the poll evaluated (listingFingerprint): a trigger subscribing to package
   * watchers hands it over, so the watcher can tell whether it last saw the same (absent in polls recorded
   * before it was reported).
   */
  readonly fingerprint?: string;
}

export interface PackagePreview {
  readonly selected: string | null;
  /** Best first, at most PREVIEW_LIMIT. */
  readonly accepted: string[];
  readonly acceptedCount: number;
  readonly rejected: { tag: string; reason: string }[];
  readonly rejectedCount: number;
  /**
   * Where the rule asks for signatures, provenance or platforms: the tags those refused (also in `rejected`),
   * best first, and how many accepted tags were beyond the few a poll verifies (accepted by their tags only).
   */
  readonly skipped?: { tag: string; reason: string }[];
  readonly unverifiedCount?: number;
}

/** Activities that poll feeds (activities/poll.ts). */
export interface PollActivities {
  /** The digest of one tag, and whether the feed has it (manual releases pin versions). */
  tagDigest(input: {
    feed: string;
    package: string;
    tag: string;
  }): Promise<{ exists: boolean; digest: string | null; precedence: Precedence }>;
  /** The rule preview for one package against its live feed, capped for history. */
  previewPackage(input: { feed: string; package: string; rule: VersionRuleInput }): Promise<PackagePreview>;
  /** Lists a package's tags and returns the few candidates that matter, never the full list. */
  pollPackage(input: PollPackageInput): Promise<PollPackageResult>;
}

// A trigger's channel (activities/channel.ts, activities/ledger.ts).

export interface LoadChannelInput {
  readonly project: string;
  readonly channel: string;
  /** The revision the trigger already has: an unchanged project answers without the view. */
  readonly knownRevision: number | null;
}

export type LoadChannelResult = (
  { readonly unchanged: true } | { readonly unchanged: false; readonly view: TriggerChannelView }
) & {
  /**
   * Present, and true, only from workers that run package watchers (FEED_TRIGGERS_WATCHER_SHARDS): the
   * trigger then subscribes to them. Absent elsewhere, so a trigger there does exactly what it did before.
   */
  readonly watchers?: true;
};

export interface PollChannelInput {
  readonly load: LoadChannelInput;
  /** The watched package's poll, as the trigger's current view of the channel asks it. */
  readonly poll: PollPackageInput;
  /** The watched package's name in the project: when the channel changed, its new rule and watermark. */
  readonly name?: string;
}

export interface PollChannelResult {
  readonly load: LoadChannelResult;
  /**
   * The poll: with the request given when the channel is unchanged; with the new view's rule and watermark
   * when it changed (the request is in `polled`); null when the package moved or is gone.
   */
  readonly poll: PollPackageResult | null;
  /** The request the poll was made with, when it is not the one given. */
  readonly polled?: PollPackageInput;
}

/** An idle trigger's iteration in one activity: the channel's revision check and its one poll. */
export interface ChannelActivities {
  pollChannel(input: PollChannelInput): Promise<PollChannelResult>;
}

/** Activities on the ledger: the channel a trigger evaluates, release creation, and delivery queues. */
export interface LedgerActivities {
  /** The channel's packages, rules and previous release, unless the trigger's copy is current. */
  loadChannel(input: LoadChannelInput): Promise<LoadChannelResult>;
  /** Records a release (a retry with the same key finds it), then starts its workflow. */
  createRelease(input: { project: string; request: CreateReleaseRequest }): Promise<CreateReleaseResult>;
  /** Wakes the queue of each destination still waiting for the release; answers every delivery's status. */
  handOff(input: { project: string; releaseId: number }): Promise<Record<string, DeliveryStatus>>;
  /** The next delivery a destination's queue sends. */
  nextDelivery(input: { project: string; destination: string }): Promise<NextDelivery>;
}

// Package watchers (activities/watch.ts).

export interface WatchPackagesInput {
  /** The trigger's workflow ID. */
  readonly trigger: string;
  /** The packages it watches; none unsubscribes it. */
  readonly packages: readonly { readonly feed: string; readonly package: string }[];
  readonly intervalSeconds: number;
  /** The channel the trigger releases into (absent in subscriptions recorded before it was sent). */
  readonly channel?: string;
  /** Whether the trigger is paused (absent in subscriptions recorded before it was sent: not paused). */
  readonly paused?: boolean;
  /**
   * The fingerprint of each package's listing as the trigger's last poll saw it, by `feed/package` key:
   * where a watcher's last read saw the same, the trigger is caught up and polls on its own only on the
   * safety interval.
   */
  readonly fingerprints?: Readonly<Record<string, string>>;
}

export interface WatchPackagesResult {
  /** Whether the trigger is subscribed (false: this worker runs no watchers, or it watches nothing). */
  readonly watching: boolean;
  /**
   * Whether every watcher compares against the listing the trigger saw (or one it has been woken for): no
   * change can fall between the trigger's poll and its subscription, so no poll of its own need follow it.
   */
  readonly caughtUp?: boolean;
}

export interface CheckPackagesResult {
  /** Packages the shard watches; 0 ends the watcher. */
  readonly packages: number;
  /** Packages read in this check, and those whose fingerprint changed (their triggers were woken). */
  readonly read: number;
  readonly changed: number;
  /** When the next package of the shard is due. */
  readonly nextCheckInMs: number;
}

/** Activities of package watchers: a trigger subscribing, and one watcher's check of its packages. */
export interface WatcherActivities {
  /** Records the trigger's packages with their watchers and makes sure each watcher runs. */
  watchPackages(input: WatchPackagesInput): Promise<WatchPackagesResult>;
  /**
   * Reads the shard's due packages once each (through the shared listing), wakes the triggers of every
   * package whose fingerprint changed, then records the new fingerprints.
   */
  checkPackages(input: { shard: number }): Promise<CheckPackagesResult>;
}

// Announcing a trigger's shown state to the console (activities/announce.ts).

/** A trigger's name, as its announcement on the ledger's change channel carries it. */
export interface AnnounceTriggerInput {
  readonly project: string;
  readonly trigger: string;
}

/** Tells every API process (through the ledger's LISTEN/NOTIFY channel) that a trigger's shown state changed. */
export interface AnnounceActivities {
  announceTrigger(input: AnnounceTriggerInput): Promise<void>;
}

// Deliveries (activities/deliver.ts).

export interface DeliverInput {
  readonly project: string;
  readonly destination: string;
  /** The release's id in the ledger. */
  readonly releaseId: number;
  readonly backoff: DeliveryBackoff;
}

export interface DeliverResult {
  /** `pending`: the destination is down or refused for now, and the queue tries again later. */
  readonly status: DeliveryStatus;
  readonly attempt: number | null;
  readonly error: string | null;
}

/** Delivers releases to destinations (activities/deliver.ts). */
export interface DeliveryActivities {
  deliver(input: DeliverInput): Promise<DeliverResult>;
}

// Lifecycles (activities/lifecycle.ts).

export interface DeployResult {
  readonly status: Deployment['status'];
  readonly number: string;
  readonly error: string | null;
  /** `retrying`: how long the queue waits before the next attempt. */
  readonly retryInMs?: number;
}

export interface DeployInput {
  readonly deploymentId: number;
  /**
   * Failed attempts in a row so far. Present from queues that retry until superseded (the `deploy-retrying`
   * patch): a target that is down is answered as `retrying`, never thrown. Absent from older queues: the
   * activity throws and its last server-side attempt records the failure.
   */
  readonly failures?: number;
}

/** Activities of lifecycles: where a release stands, queueing deployments, and deploying to targets. */
export interface LifecycleActivities {
  /** Where the release stands in its lifecycle (null when the release is gone). */
  releaseLifecycle(input: { releaseId: number }): Promise<ReleaseLifecycle | null>;
  /** Queues deployments of the release (each at most once while one is active) and wakes their queues. */
  queueDeployments(input: {
    project: string;
    releaseId: number;
    environments: string[];
    /** Tenanted deployments, each to an environment for a tenant. */
    lanes?: Lane[];
    requestedBy: string;
    forced: boolean;
    /** An admin sends these deployments through the freeze that holds them. */
    freezeOverride?: FreezeOverride;
    /** Deploy at a later time (`scheduled` until then), or not after a time. */
    schedule?: DeploymentSchedule;
  }): Promise<Deployment[]>;
  /** Records an approval or rejection of a phase. */
  decidePhase(input: {
    releaseId: number;
    phase: string;
    decision: 'approved' | 'rejected';
    by: string;
    comment: string;
    /** For one tenant; absent: for every tenant (and the untenanted deployments). */
    tenant?: string;
  }): Promise<Approval>;
  /** The deployment an environment's queue (a tenant's, with `tenant`) runs next. */
  nextDeployment(input: { project: string; environment: string; tenant?: string }): Promise<NextDeployment>;
  /** Deploys to every target of the environment and records each target's outcome. */
  deploy(input: DeployInput): Promise<DeployResult>;
}

// Retention (activities/retention.ts).

export interface RetentionInput {
  /** Releases removed per statement. */
  readonly batch: number;
  /** How long one call may run before it answers (the workflow calls again while `more`). */
  readonly budgetMs: number;
}

export interface RetentionRound {
  readonly removed: number;
  /** The budget ran out with releases left to remove. */
  readonly more: boolean;
}

/** Retention of releases (activities/retention.ts). */
export interface RetentionActivities {
  applyRetention(input: RetentionInput): Promise<RetentionRound>;
}
