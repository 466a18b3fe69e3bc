import { z } from 'zod';
import { DOCKER_HUB, normaliseRegistry, normaliseRepository } from './reference';
import { VersionRuleSchema } from './rule';

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

export const TriggerSpecSchema = z
  .object({
    project: SlugSchema,
    name: SlugSchema,
    packages: z.array(PackageRefSchema).min(1).max(50),
    intervalSeconds: z
      .number()
      .int()
      .min(MIN_INTERVAL_SECONDS)
      .max(7 * 24 * 3600)
      .default(DEFAULT_INTERVAL_SECONDS),
    /** The channel's version rules; a rule without `packages` applies to every package. */
    rules: z.array(VersionRuleSchema).max(50).default([]),
  })
  .strict()
  .superRefine((spec, ctx) => {
    const names = new Set<string>();
    spec.packages.forEach((p, i) => {
      if (names.has(p.name))
        ctx.addIssue({
          code: 'custom',
          path: ['packages', i, 'name'],
          message: `package name "${p.name}" is used twice`,
        });
      names.add(p.name);
    });
    const ruled = new Set<string>();
    let general = false;
    spec.rules.forEach((rule, i) => {
      if (rule.packages === undefined) {
        if (general)
          ctx.addIssue({
            code: 'custom',
            path: ['rules', i, 'packages'],
            message: 'only one rule may leave out packages',
          });
        general = true;
      }
      rule.packages?.forEach((name, j) => {
        if (!names.has(name))
          ctx.addIssue({
            code: 'custom',
            path: ['rules', i, 'packages', j],
            message: `no package named "${name}"`,
          });
        else if (ruled.has(name))
          ctx.addIssue({
            code: 'custom',
            path: ['rules', i, 'packages', j],
            message: `package "${name}" already has a rule`,
          });
        ruled.add(name);
      });
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
}

export interface Release {
  readonly number: string;
  readonly createdAt: string;
  readonly packages: readonly ReleasedPackage[];
  /** Why this release was made: which package moved, from what to what. */
  readonly reason: string;
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
}

export type PollOutcome = 'released' | 'no-change' | 'error' | 'paused';

export interface HistoryEntry {
  readonly at: string;
  readonly outcome: PollOutcome;
  readonly reason: string;
  readonly versions: Readonly<Record<string, string | null>>;
  readonly release: string | null;
}

export type TriggerStatus = 'active' | 'paused' | 'error';

export interface TriggerState {
  spec: TriggerSpec;
  paused: boolean;
  packages: Record<string, PackageStatus>;
  /** Oldest first, capped at MAX_RELEASES_KEPT. */
  releases: Release[];
  /** Newest last, capped at MAX_HISTORY. */
  history: HistoryEntry[];
  lastPoll: { at: string; outcome: PollOutcome; reason: string } | null;
  lastError: (FeedErrorInfo & { package: string }) | null;
  iterations: number;
  runs: number;
}

export const MAX_HISTORY = 100;
export const MAX_RELEASES_KEPT = 100;

/** Fresh state for a new trigger. */
export function initialTriggerState(spec: TriggerSpec): TriggerState {
  const packages: Record<string, PackageStatus> = {};
  for (const p of spec.packages) packages[p.name] = emptyPackageStatus(p);
  return {
    spec,
    paused: false,
    packages,
    releases: [],
    history: [],
    lastPoll: null,
    lastError: null,
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

/** The trigger's status for the UI: paused wins, then any package in error. */
export function triggerStatus(state: TriggerState): TriggerStatus {
  if (state.paused) return 'paused';
  return Object.values(state.packages).some((p) => p.error !== null) ? 'error' : 'active';
}
