import type { VersionRule } from './rule';
import type { Precedence } from './version';

export type { PackageRef, TriggerSpec, TriggerSpecInput } from './trigger-schema';
import type { PackageRef, TriggerSpec } from './trigger-schema';

import { DEFAULT_INTERVAL_SECONDS, MAX_INTERVAL_SECONDS, MIN_INTERVAL_SECONDS } from './interval';

/** The slug rule of SlugSchema, for the plain checks workflows run. */
const SLUG = /^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$/;
const isSlug = (v: unknown) => typeof v === 'string' && v.length <= 63 && SLUG.test(v);

/**
 * A trigger's spec after a change of channel, watch list or interval, with TriggerSpecSchema's defaults and
 * rules in plain code (workflows validate updates with it; the API checks the schema first), or why not.
 */
export function changedTriggerSpec(
  spec: TriggerSpec,
  change: Partial<Pick<TriggerSpec, 'channel' | 'watch' | 'intervalSeconds' | 'description'>>,
): { spec: TriggerSpec } | { refusal: string } {
  // As the schema reads `{ ...spec, ...change }`: a key left out keeps its value, an undefined one its default.
  const channel = ('channel' in change ? change.channel : spec.channel) ?? 'default';
  const watch = 'watch' in change ? change.watch : spec.watch;
  const description = 'description' in change ? change.description : spec.description;
  const intervalSeconds =
    ('intervalSeconds' in change ? change.intervalSeconds : spec.intervalSeconds) ?? DEFAULT_INTERVAL_SECONDS;
  if (!isSlug(channel)) return { refusal: 'channel: use lower-case letters, digits, ".", "_" and "-"' };
  if (watch !== undefined) {
    if (!Array.isArray(watch) || watch.length < 1 || watch.length > 50)
      return { refusal: 'watch: list 1 to 50 package references' };
    const seen = new Set<string>();
    for (const [i, name] of watch.entries()) {
      if (!isSlug(name)) return { refusal: `watch.${i}: not a package reference name` };
      if (seen.has(name)) return { refusal: `watch.${i}: "${name}" is listed twice` };
      seen.add(name);
    }
  }
  if (
    typeof intervalSeconds !== 'number' ||
    !Number.isInteger(intervalSeconds) ||
    intervalSeconds < MIN_INTERVAL_SECONDS ||
    intervalSeconds > MAX_INTERVAL_SECONDS
  )
    return {
      refusal: `intervalSeconds: a whole number from ${MIN_INTERVAL_SECONDS} to ${MAX_INTERVAL_SECONDS}`,
    };
  return {
    spec: {
      project: spec.project,
      name: spec.name,
      channel,
      // Only when there is one: a spec without it stays as it was (recorded histories replay unchanged).
      ...(typeof description === 'string' ? { description: description.slice(0, 1000) } : {}),
      ...(watch !== undefined ? { watch: [...watch] } : {}),
      intervalSeconds,
    },
  };
}

/** One package of a release. */
export interface ReleasedPackage {
  readonly name: string;
  readonly feed: string;
  readonly package: string;
  readonly tag: string;
  readonly digest: string | null;
  /** How the feed's versions compare (Docker for OCI feeds, SemVer for Helm); Docker when absent. */
  readonly precedence?: Precedence;
}

export interface FeedErrorInfo {
  readonly code: string;
  readonly message: string;
  readonly at: string;
}

export interface PackageStatus {
  readonly feed: string;
  readonly package: string;
  /** Latest rule-passing tag found at the last successful poll, with its digest. */
  latest: { tag: string; digest: string | null } | null;
  /** Accepted tags at or above the last released one, best first (capped). */
  discovered: string[];
  tagCount: number;
  acceptedCount: number;
  polledAt: string | null;
  rateLimitRemaining: number | null;
  error: FeedErrorInfo | null;
  /** How this feed's versions compare, as the last poll reported it; Docker until then. */
  precedence?: Precedence;
}

export type PollOutcome = 'released' | 'no-change' | 'error' | 'paused';

export interface HistoryEntry {
  readonly at: string;
  readonly outcome: PollOutcome;
  readonly reason: string;
  /** Latest rule-passing version per package at this evaluation. */
  readonly versions: Readonly<Record<string, string | null>>;
  /** The release created, if any. */
  readonly release: string | null;
  /** What asked for this evaluation when not the schedule: `webhook <receiver>`, with the tags it named. */
  readonly source?: string;
}

/** What asked for a poll: a registry notification names its receiver and the tags it pushed. */
export interface PollNowRequest {
  /** `webhook <receiver>`. */
  readonly source: string;
  /** Pushed tags by watched-package key (`feed/package`), at most 20. */
  readonly tags?: readonly { readonly key: string; readonly tag: string }[];
  /**
   * From a package watcher: when (epoch ms) it began the read that found the change, so the trigger's poll
   * takes that listing (or a newer one) instead of reading the registry again.
   */
  readonly listedAt?: number;
}

export type TriggerStatus = 'active' | 'paused' | 'error';

/** A poll's verdict on a notified tag the listing does not hold (yet). */
export const NOT_IN_FEED = 'not in the feed';

/**
 * A tag a registry notification named that no poll has seen yet: the trigger polls again soon until a poll
 * sees it (released, or judged by the rules) or `until` (epoch ms) passes. Registry 2.8 notifies before
 * the tag can be read, so the poll the notification asks for may find nothing.
 */
export interface WantedTag {
  readonly key: string;
  readonly tag: string;
  readonly until: number;
  /** Evaluations since the notification that did not see it: spaces the next poll. */
  polls: number;
}

/** What a trigger knows of its channel: the project's packages and rules, and the channel's last release. */
export interface TriggerChannelView {
  readonly revision: number;
  readonly packages: readonly PackageRef[];
  readonly rules: readonly VersionRule[];
  readonly lastRelease: { readonly number: string; readonly packages: readonly ReleasedPackage[] } | null;
}

export interface TriggerState {
  spec: TriggerSpec;
  paused: boolean;
  /** The channel as last loaded from the project; null before the first load. */
  view: TriggerChannelView | null;
  /** Per package of the project. */
  packages: Record<string, PackageStatus>;
  /** Newest last, capped at MAX_HISTORY. */
  history: HistoryEntry[];
  lastPoll: { at: string; outcome: PollOutcome; reason: string } | null;
  lastError: (FeedErrorInfo & { package: string | null }) | null;
  /** The last release this trigger created. */
  lastRelease: { number: string; at: string } | null;
  iterations: number;
  runs: number;
  /** Notified tags not yet seen (absent in states from before they were kept). */
  wanted?: WantedTag[];
  /** The packages' watchers this trigger subscribed to, and when (absent unless it did). */
  watching?: TriggerWatching | null;
}

/** A trigger's subscription to package watchers: it then polls only when woken and on a long safety interval. */
export interface TriggerWatching {
  /** `feed/package` of each watched package, sorted. */
  readonly keys: string[];
  readonly intervalSeconds: number;
  /** When it subscribed: polls after it are covered by the watchers (one before may have missed a change). */
  readonly since: string;
  /**
   * Whether, when it subscribed, every watcher compared against the listing the trigger's last poll saw:
   * then that poll is covered too, and no poll of its own follows the subscription.
   */
  readonly caughtUp?: boolean;
}

export const MAX_HISTORY = 100;

/** Fresh state for a new trigger. */
export function initialTriggerState(spec: TriggerSpec): TriggerState {
  return {
    spec,
    paused: false,
    view: null,
    packages: {},
    history: [],
    lastPoll: null,
    lastError: null,
    lastRelease: null,
    iterations: 0,
    runs: 1,
  };
}

export function emptyPackageStatus(p: PackageRef): PackageStatus {
  return {
    feed: p.feed,
    package: p.package,
    latest: null,
    discovered: [],
    tagCount: 0,
    acceptedCount: 0,
    polledAt: null,
    rateLimitRemaining: null,
    error: null,
  };
}

/**
 * The trigger's status for the UI: paused wins, then an error in the last evaluation, or a poll failing now
 * (recorded before its retries end, so an outage shows at once).
 */
export function triggerStatus(state: TriggerState): TriggerStatus {
  if (state.paused) return 'paused';
  if (state.lastPoll?.outcome === 'error') return 'error';
  const failing = state.lastError !== null && (!state.lastPoll || state.lastError.at > state.lastPoll.at);
  return failing ? 'error' : 'active';
}

/**
 * What a person sees of a trigger (its status, the last poll's outcome, each package's latest version and
 * error, its last release), as one string: the trigger announces itself to the console when this changes,
 * so an idle poll, which changes only the poll times, announces nothing.
 */
export function shownState(state: TriggerState): string {
  const packages = Object.keys(state.packages)
    .sort()
    .map((name) => {
      const p = state.packages[name];
      return [
        name,
        p.latest?.tag ?? null,
        p.latest?.digest ?? null,
        p.error?.code ?? null,
        p.error?.message ?? null,
      ];
    });
  return JSON.stringify([
    triggerStatus(state),
    state.lastPoll?.outcome ?? null,
    state.lastPoll?.reason ?? null,
    state.lastRelease?.number ?? null,
    packages,
  ]);
}

/**
 * A trigger's business key, `trigger/<project>/<name>`: the source and idempotency key of the releases it
 * asks for, and its workflow ID (workflows/contracts/ids.ts).
 */
export function triggerKey(project: string, name: string): string {
  return `trigger/${project}/${name}`;
}

/** `feed/package`: a watched package's key, which spreads polls over the interval and is the value of the
 * packages search attribute a registry webhook finds its triggers by. */
export function watchedPackageKey(feed: string, pkg: string): string {
  return `${feed}/${pkg}`;
}
