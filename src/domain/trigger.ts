import { z } from 'zod';
import { DOCKER_HUB, normaliseRegistry, normaliseRepository } from './reference';
import { VersionRule } from './rule';
import type { Precedence } from './version';

/** Lower-case names safe in workflow IDs and URLs. */
export const SlugSchema = z
  .string()
  .min(1)
  .max(63)
  .regex(
    /^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$/,
    'use lower-case letters, digits, ".", "_" and "-", starting and ending with a letter or digit',
  );

/** A feed is a configured feed id or a registry host (`docker.io`, `ghcr.io`, `127.0.0.1:5000`). */
export const FeedIdSchema = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?(:\d{1,5})?$/, 'a feed id or a registry host[:port]');

/** A repository path in a registry (OCI distribution name grammar, lower case). */
export const RepositorySchema = z
  .string()
  .min(1)
  .max(255)
  .regex(
    /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/,
    'a repository path such as "library/nginx"',
  );

/** A named use of a package: `web` = `docker.io` + `library/nginx`. */
export const PackageRefSchema = z
  .object({
    name: SlugSchema,
    feed: FeedIdSchema,
    package: RepositorySchema,
  })
  .strict()
  // Docker's normalisation: index.docker.io is docker.io, and `nginx` there is `library/nginx`.
  .transform((ref) => {
    const feed = normaliseRegistry(ref.feed) === DOCKER_HUB ? DOCKER_HUB : ref.feed;
    return { ...ref, feed, package: normaliseRepository(feed, ref.package) };
  });
export type PackageRef = z.infer<typeof PackageRefSchema>;

export const MIN_INTERVAL_SECONDS = 10;
export const DEFAULT_INTERVAL_SECONDS = 300;

/** A trigger watches some package references of a project for one channel. */
export const TriggerSpecSchema = z
  .object({
    project: SlugSchema,
    name: SlugSchema,
    channel: SlugSchema.default('default'),
    /** The package references whose new versions start a release; all of the project's when left out. */
    watch: z.array(SlugSchema).min(1).max(50).optional(),
    intervalSeconds: z
      .number()
      .int()
      .min(MIN_INTERVAL_SECONDS)
      .max(7 * 24 * 3600)
      .default(DEFAULT_INTERVAL_SECONDS),
  })
  .strict()
  .superRefine((spec, ctx) => {
    const seen = new Set<string>();
    spec.watch?.forEach((name, i) => {
      if (seen.has(name))
        ctx.addIssue({ code: 'custom', path: ['watch', i], message: `"${name}" is listed twice` });
      seen.add(name);
    });
  });
export type TriggerSpec = z.infer<typeof TriggerSpecSchema>;
export type TriggerSpecInput = z.input<typeof TriggerSpecSchema>;

/** The workflow ID of a trigger: a business key, never a secret. */
export function triggerWorkflowId(project: string, name: string): string {
  return `trigger/${project}/${name}`;
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
}

export type TriggerStatus = 'active' | 'paused' | 'error';

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

/** The trigger's status for the UI: paused wins, then an error in the last evaluation. */
export function triggerStatus(state: TriggerState): TriggerStatus {
  if (state.paused) return 'paused';
  return state.lastPoll?.outcome === 'error' ? 'error' : 'active';
}
