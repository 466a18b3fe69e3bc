import type { SharedListings } from '../src/db/feed-listings';
import { ApplicationFailure, log } from '@temporalio/activity';
import { metrics } from '../src/observability/metrics';
import { resolveFeed } from '../src/config';
import { compileRule, evaluateRule, imageConfigPasses, VersionRuleInput } from '../src/domain/rule';
import type { Precedence } from '../src/domain/version';
import type { ImageConfig } from '../src/feeds/oci';
import { FeedError } from '../src/feeds/errors';
import { HttpError } from '../src/net/errors';
import { Feed } from '../src/feeds/feed';
import { PackageListing, PackageSource } from '../src/feeds/package-source';
import { SingleFlightCache } from '../src/feeds/single-flight';
import { withLiveness } from './liveness';
import { setTimeout as delay } from 'node:timers/promises';
import { NOT_IN_FEED } from '../src/domain/trigger';
import type {
  PackagePreview,
  PollActivities,
  PollPackageInput,
  PollPackageResult,
} from '../workflows/contracts/activities';

/** Octopus compares Docker tags by its Docker precedence and chart versions (Helm feeds) as SemVer. */
export function precedenceOf(feed: Feed): Precedence {
  return feed.type === 'helm' || feed.helm ? 'semver' : 'docker';
}

/** Image configs read for label and age rules: the best few candidates only, so such a rule stays cheap. */
const MAX_CONFIG_READS = 25;

/** The first `limit` tags, best first, whose image configs pass; reads at most MAX_CONFIG_READS configs. */
async function withPassingConfigs(
  tags: readonly string[],
  limit: number,
  configOf: (tag: string) => Promise<ImageConfig>,
  passes: (config: ImageConfig) => boolean,
): Promise<string[]> {
  const kept: string[] = [];
  for (const tag of tags.slice(0, MAX_CONFIG_READS)) {
    if (passes(await configOf(tag))) kept.push(tag);
    if (kept.length >= limit) break;
  }
  return kept;
}

/**
 * Registry 2.8 notifies of a manifest before it tags it, and lists a new tag a moment before the tag's
 * manifest can be read: a listed tag whose manifest answers 404 is read again after these short waits,
 * then fails retryably, so the poll's retry policy backs off further (tens of seconds in all) instead of
 * failing the package at once. Exported for tests.
 */
export const LISTED_TAG_WAITS_MS = [100, 200, 400, 800, 1600];

/** Reads something of a tag the listing holds, waiting out a manifest the registry cannot serve yet. */
async function whileListed<T>(read: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await read();
    } catch (err) {
      if (!(err instanceof FeedError) || err.code !== 'NOT_FOUND') throw err;
      if (i >= LISTED_TAG_WAITS_MS.length)
        throw new FeedError(
          'NOT_FOUND',
          `${err.message}; the tag is listed, so its manifest may not be readable yet`,
          null,
          err.status,
          true,
        );
      await delay(LISTED_TAG_WAITS_MS[i], undefined, signal ? { signal } : undefined);
    }
  }
}

/**
 * A scheduled poll shares a listing read for its slot (triggers on one package poll at the same phase), not
 * one read a slot before: an old listing would answer "no change" while the registry is down.
 */
export const SLOT_SHARE_MS = 5_000;

/** How old a listing a poll accepts: as asked, else one read since shortly before its slot, else any recent. */
export function listingMaxAgeMs(
  input: Pick<PollPackageInput, 'maxAgeMs' | 'dueAtMs'>,
  nowMs: number,
): number | null {
  if (input.maxAgeMs !== null || input.dueAtMs === undefined) return input.maxAgeMs;
  return Math.max(0, nowMs - input.dueAtMs) + SLOT_SHARE_MS;
}

export interface PollDependencies {
  readonly source: PackageSource;
  readonly feeds: ReadonlyMap<string, Feed>;
  readonly tagCache: SingleFlightCache<PackageListing>;
  readonly digestCache: SingleFlightCache<string | null>;
  readonly configCache: SingleFlightCache<ImageConfig>;
  /**
   * Listings shared with the other workers of the ledger (split roles), behind this worker's own cache;
   * `ttlMs` is how old a shared listing may be when a poll accepts any recent one.
   */
  readonly shared?: { readonly listings: SharedListings; readonly ttlMs: number };
}

/** Turns a feed error into an activity failure: retryable or not, with the registry's Retry-After. */
export function toActivityFailure(err: unknown): unknown {
  // HttpError, not only FeedError: an outbound failure that reached here unwrapped keeps its code.
  if (!(err instanceof HttpError)) return err;
  return ApplicationFailure.create({
    type: err.code,
    message: err.message,
    nonRetryable: !err.retryable,
    nextRetryDelay: err.retryAfterMs ?? undefined,
  });
}

/** Previews stay small enough for workflow history, whatever the repository holds. */
const PREVIEW_LIMIT = 100;

/** How polls and package watchers read a listing: one feed lookup and one cached, shared read path. */
export interface ListingReader {
  feedFor(id: string): Feed;
  /** The package's listing: from this worker's cache or the workers' shared one if at most `maxAgeMs` old. */
  listing(feed: Feed, pkg: string, maxAgeMs: number | null, signal?: AbortSignal): Promise<PackageListing>;
}

/** The listing path of polls, for package watchers too, so a watcher's read answers the polls it wakes. */
export function createListingReader(deps: PollDependencies): ListingReader {
  const feedFor = (id: string): Feed => {
    const feed = resolveFeed(deps.feeds, id);
    if (!feed) throw new FeedError('UNKNOWN_FEED', `feed "${id}" is not configured on this worker`);
    return feed;
  };
  const listing = (feed: Feed, pkg: string, maxAgeMs: number | null, signal?: AbortSignal) => {
    const key = `${feed.id}|${pkg}`;
    const read = (flight: AbortSignal) => deps.source.list(feed, pkg, flight);
    const { shared } = deps;
    return deps.tagCache.get(
      key,
      shared
        ? (flight) =>
            shared.listings.get(
              key,
              Math.min(maxAgeMs ?? shared.ttlMs, shared.ttlMs),
              () => read(flight),
              flight,
            )
        : read,
      maxAgeMs ?? undefined,
      signal,
    );
  };
  return { feedFor, listing };
}

/** Activities that poll feeds; thin wrappers over src/feeds with a per-worker single-flight cache. */
export function createPollActivities(
  deps: PollDependencies,
  reader = createListingReader(deps),
): PollActivities {
  const { feedFor, listing } = reader;
  return {
    /** The digest of one tag, and whether the feed has it (manual releases pin versions). */
    async tagDigest(input: {
      feed: string;
      package: string;
      tag: string;
    }): Promise<{ exists: boolean; digest: string | null; precedence: Precedence }> {
      try {
        const feed = feedFor(input.feed);
        const list = await withLiveness((signal) => listing(feed, input.package, 0, signal));
        const precedence = precedenceOf(feed);
        if (!list.tags.includes(input.tag)) return { exists: false, digest: null, precedence };
        return {
          exists: true,
          digest: await withLiveness((signal) =>
            whileListed(() => deps.source.digest(feed, input.package, input.tag, list), signal),
          ),
          precedence,
        };
      } catch (err) {
        throw toActivityFailure(err);
      }
    },

    /** The rule preview for one package against its live feed, capped for history. */
    async previewPackage(input: {
      feed: string;
      package: string;
      rule: VersionRuleInput;
    }): Promise<PackagePreview> {
      try {
        const feed = feedFor(input.feed);
        const list = await withLiveness((signal) => listing(feed, input.package, null, signal));
        const evaluation = evaluateRule(compileRule(input.rule, precedenceOf(feed)), list.tags);
        return {
          selected: evaluation.selected,
          accepted: evaluation.accepted.slice(0, PREVIEW_LIMIT).map((a) => a.tag),
          acceptedCount: evaluation.accepted.length,
          rejected: evaluation.rejected
            .slice(0, PREVIEW_LIMIT)
            .map((r) => ({ tag: r.tag, reason: r.reason })),
          rejectedCount: evaluation.rejected.length,
        };
      } catch (err) {
        throw toActivityFailure(err);
      }
    },

    /** Lists a package's tags and returns the few candidates that matter, never the full list. */
    async pollPackage(input: PollPackageInput): Promise<PollPackageResult> {
      const started = performance.now();
      if (input.dueAtMs !== undefined)
        metrics.pollLag.observe(Math.max(0, Date.now() - input.dueAtMs) / 1000);
      const feed = resolveFeed(deps.feeds, input.feed)?.id ?? 'unknown';
      try {
        const result = await withLiveness((signal) => pollOnce(input, signal), {
          feed: input.feed,
          package: input.package,
        });
        metrics.polls.inc({ feed, outcome: 'ok' });
        return result;
      } catch (err) {
        const failure = err as { type?: string; name?: string };
        metrics.polls.inc({ feed, outcome: failure.type ?? failure.name ?? 'error' });
        throw err;
      } finally {
        metrics.pollDuration.observe({ feed }, (performance.now() - started) / 1000);
      }
    },
  };

  async function pollOnce(input: PollPackageInput, signal: AbortSignal): Promise<PollPackageResult> {
    try {
      const feed = feedFor(input.feed);
      const key = `${feed.id}|${input.package}`;
      const list = await listing(feed, input.package, listingMaxAgeMs(input, Date.now()), signal);
      const rule = compileRule(input.rule, precedenceOf(feed));
      const evaluation = evaluateRule(rule, list.tags);
      const watermark = input.watermark === null ? null : rule.check(input.watermark);
      const atOrAbove = evaluation.accepted.filter(
        (c) => watermark === null || typeof watermark === 'string' || !rule.isLater(watermark, c),
      );
      const limit = Math.max(1, input.limit);
      const candidates = !rule.needsImageConfig
        ? atOrAbove.slice(0, limit).map((c) => c.tag)
        : await withPassingConfigs(
            atOrAbove.map((c) => c.tag),
            limit,
            (tag) =>
              whileListed(
                () =>
                  deps.configCache.get(
                    `${key}|${tag}`,
                    () => deps.source.imageConfig(feed, input.package, tag),
                    input.maxAgeMs ?? undefined,
                  ),
                signal,
              ),
            (config) => imageConfigPasses(rule, config, Date.now()),
          );
      const best = candidates[0] ?? null;
      const digest =
        best === null
          ? null
          : await whileListed(
              () =>
                deps.digestCache.get(
                  `${key}|${best}`,
                  () => deps.source.digest(feed, input.package, best, list),
                  rule.trackDigest ? 0 : (input.maxAgeMs ?? undefined),
                ),
              signal,
            );
      log.debug('polled package', {
        feed: feed.id,
        package: input.package,
        tags: list.tags.length,
        best,
      });
      const explained: Record<string, string> = {};
      for (const tag of (input.explain ?? []).slice(0, 20)) {
        const verdict = list.tags.includes(tag) ? rule.check(tag) : NOT_IN_FEED;
        explained[tag] =
          typeof verdict === 'string'
            ? verdict
            : atOrAbove.some((c) => c.tag === tag)
              ? 'accepted'
              : `not later than the channel's previous release (${input.watermark})`;
      }
      return {
        tagCount: list.tags.length,
        acceptedCount: evaluation.accepted.length,
        candidates,
        digest,
        precedence: precedenceOf(feed),
        rateLimitRemaining: list.rateLimitRemaining,
        ...(input.explain ? { explained } : {}),
      };
    } catch (err) {
      throw toActivityFailure(err);
    }
  }
}
