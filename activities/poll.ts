import { SharedDigests, type SharedListings } from '../src/db/feed-listings';
import { activityInfo, ApplicationFailure, log } from '@temporalio/activity';
import { metrics } from '../src/observability/metrics';
import { resolveFeed } from '../src/config';
import {
  CompiledRule,
  compileRule,
  evaluateRule,
  imageConfigPasses,
  VersionRuleInput,
} from '../src/domain/rule';
import type { Precedence } from '../src/domain/version';
import type { ImageConfig } from '../src/feeds/oci';
import { FeedError } from '../src/feeds/errors';
import { HttpError } from '../src/net/errors';
import { Feed } from '../src/feeds/feed';
import { listingFingerprint, PackageListing, PackageSource, repositoryOf } from '../src/feeds/package-source';
import { SingleFlightCache } from '../src/feeds/single-flight';
import { withLiveness } from './liveness';
import { setTimeout as delay } from 'node:timers/promises';
import { NOT_IN_FEED } from '../src/domain/trigger';
import { MemoryVerdicts, VerdictMemory } from '../src/db/verdicts';
import { compileGate, ImageGate, Verdict } from '../src/supply-chain/gate';
import { checkPlatforms, checkProvenance, checkSignatures, ImageReader } from '../src/supply-chain/verify';
import { KeyError } from '../src/supply-chain/keys';
import { TrustedRootError, TrustedRootMaterial } from '../src/supply-chain/keyless';
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

/**
 * Candidates checked against signature and platform rules per poll, best first: each new digest costs a
 * few registry reads and a verification, so a flood of unsigned tags cannot make a poll read them all.
 */
const MAX_VERIFIED_PER_POLL = 10;
/** Versions a poll reports as skipped by those rules (their reasons go to the trigger's history). */
const MAX_SKIPPED = 5;
/** Signature evidence already judged (a manifest that did not verify), per worker: bounded, then cleared. */
const MAX_EVIDENCE_MEMO = 10_000;

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

/**
 * How old a tag's digest a poll accepts: as young as the listing it shares (a digest can move with the
 * listing), never older than the cache's TTL; a rule that tracks digests takes one read for its own slot
 * only, or a fresh one when asked.
 */
export function digestMaxAgeMs(
  input: Pick<PollPackageInput, 'maxAgeMs' | 'dueAtMs'>,
  trackDigest: boolean,
  nowMs: number,
): number | null {
  const listingAge = listingMaxAgeMs(input, nowMs);
  return trackDigest ? (listingAge ?? 0) : listingAge;
}

/**
 * How old a read of the other workers a poll takes: what it names, at most the TTL (the TTL when it names
 * none); a take-along (`pastTtl`) as old as it names, since it names its package watcher's last read. With a
 * TTL of 0 (sharing off) only a read since it asked, as in this worker's cache.
 */
function sharedAgeMs(maxAgeMs: number | null, ttlMs: number, pastTtl = false): number {
  if (ttlMs <= 0) return 0;
  return pastTtl ? (maxAgeMs ?? ttlMs) : Math.min(maxAgeMs ?? ttlMs, ttlMs);
}

/**
 * The age a take-along poll accepts (`takeAlong`): the package watcher's last error-free read, when that is at
 * most `takeAlong.maxAgeMs` (and `limitMs`) old, with the slot's room for two clocks; else what the poll
 * asked. A poll asked for a fresh read (0) stays fresh.
 */
export function takeAlongAgeMs(
  input: Pick<PollPackageInput, 'maxAgeMs' | 'dueAtMs' | 'takeAlong'>,
  watcherReadAtMs: number | null,
  nowMs: number,
  ttlMs: number,
  limitMs = Infinity,
): number | null {
  const asked = listingMaxAgeMs(input, nowMs);
  if (!input.takeAlong || asked === 0 || watcherReadAtMs === null) return asked;
  const age = Math.max(0, nowMs - watcherReadAtMs);
  if (age > Math.min(input.takeAlong.maxAgeMs, limitMs)) return asked;
  // Past the TTL only as far as the watcher's read: a late scheduled poll's own age (its slot long past) is
  // held to the TTL as it is without a take-along.
  return Math.max(Math.min(asked ?? ttlMs, ttlMs), age + SLOT_SHARE_MS);
}

export interface PollDependencies {
  readonly source: PackageSource;
  readonly feeds: ReadonlyMap<string, Feed>;
  readonly tagCache: SingleFlightCache<PackageListing>;
  readonly digestCache: SingleFlightCache<string | null>;
  readonly configCache: SingleFlightCache<ImageConfig>;
  /** Where verdicts of signature and platform rules are remembered (the ledger); in memory when absent. */
  readonly verdicts?: VerdictMemory;
  /** PEM public keys by name (`signatureKeys`), for rules whose keys are `{ secret: name }`. */
  readonly signatureKeys?: ReadonlyMap<string, string>;
  /** Sigstore trusted roots by name (`trustedRoots`), for rules with keyless signers. */
  readonly trustedRoots?: ReadonlyMap<string, TrustedRootMaterial>;
  /**
   * The oldest watcher read a take-along poll shares, whatever its trigger's interval: no older than the
   * channel's last releases the ledger keeps packages at (LedgerDependencies.keepTakenAlongMs), so a release
   * made after the read never has a package moved back by it.
   */
  readonly takeAlongLimitMs?: number;
  /**
   * When the package's watcher last read it without error (epoch ms), or null (no watcher reads it, its last
   * read failed, or the ledger could not say): take-along polls share that read.
   */
  readonly lastWatcherRead?: (
    feed: string,
    pkg: string,
    release: { readonly project: string; readonly channel: string },
  ) => Promise<number | null>;
  /**
   * Listings and tag digests shared with the other workers of the ledger (split roles), behind this worker's
   * own caches; `ttlMs` is how old a shared answer may be when a poll accepts any recent one.
   */
  readonly shared?: {
    readonly listings: SharedListings;
    readonly digests?: SharedDigests;
    readonly ttlMs: number;
  };
}

/**
 * When a poll was wanted, for the poll-lag metric: a scheduled poll at its slot; any other (a trigger's
 * first, one asked for by a user, a notification or a change) when its activity's attempt was scheduled,
 * local activities included, so the wait for a free slot on a busy worker shows too. Null outside an
 * activity (a direct call).
 */
function wantedAtMs(input: Pick<PollPackageInput, 'dueAtMs'>): number | null {
  if (input.dueAtMs !== undefined) return input.dueAtMs;
  try {
    return activityInfo().currentAttemptScheduledTimestampMs;
  } catch {
    return null;
  }
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
  /**
   * The package's listing: from this worker's cache or the workers' shared one if at most `maxAgeMs` old
   * (and the caches' TTL, unless `pastTtl`: a take-along naming its watcher's read).
   */
  listing(
    feed: Feed,
    pkg: string,
    maxAgeMs: number | null,
    signal?: AbortSignal,
    pastTtl?: boolean,
  ): Promise<PackageListing>;
}

/** The listing path of polls, for package watchers too, so a watcher's read answers the polls it wakes. */
export function createListingReader(deps: PollDependencies): ListingReader {
  const feedFor = (id: string): Feed => {
    const feed = resolveFeed(deps.feeds, id);
    if (!feed) throw new FeedError('UNKNOWN_FEED', `feed "${id}" is not configured on this worker`);
    return feed;
  };
  const listing = (
    feed: Feed,
    pkg: string,
    maxAgeMs: number | null,
    signal?: AbortSignal,
    pastTtl = false,
  ) => {
    const key = `${feed.id}|${pkg}`;
    const read = (flight: AbortSignal) => deps.source.list(feed, pkg, flight);
    const { shared } = deps;
    return deps.tagCache.get(
      key,
      shared
        ? (flight) =>
            shared.listings.get(key, sharedAgeMs(maxAgeMs, shared.ttlMs, pastTtl), () => read(flight), flight)
        : read,
      maxAgeMs ?? undefined,
      signal,
      pastTtl,
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
  const verdicts = deps.verdicts ?? new MemoryVerdicts();
  /** Final verdicts this worker has read or reached, in front of the ledger: an idle poll asks nothing. */
  const knownVerdicts = new Map<string, Verdict>();
  /** Failed signature checks by the evidence they read: the same signature manifests are not verified again. */
  const judgedEvidence = new Map<string, Verdict>();
  /** Feeds whose registry has no referrers API (registry 2.8): the `.sig` tag is all there is to read. */
  const noReferrers = new Set<string>();
  /** Platform verdicts by digest and required platforms (a digest's platforms never change). */
  const knownPlatforms = new Map<string, Verdict>();
  const gates = new Map<string, ImageGate | null>();
  /** The digest of the poll's best tag: this worker's cache, then the other workers' read, then the feed. */
  const digestOf = (
    feed: Feed,
    pkg: string,
    tag: string,
    list: PackageListing,
    rule: { trackDigest: boolean },
    input: PollPackageInput,
    signal: AbortSignal,
    along = false,
  ) => {
    const key = `${feed.id}|${pkg}`;
    const maxAgeMs = digestMaxAgeMs(input, rule.trackDigest, Date.now());
    // One HEAD waits out a tag the registry lists but cannot serve yet, under the lease, for every worker.
    const read = (flight: AbortSignal) => whileListed(() => deps.source.digest(feed, pkg, tag, list), flight);
    const { digests, ttlMs = 0 } = deps.shared ?? {};
    return deps.digestCache.get(
      `${key}|${tag}`,
      digests
        ? (flight) =>
            digests.get(
              SharedDigests.key(key, tag),
              sharedAgeMs(maxAgeMs, ttlMs, along),
              () => read(flight),
              flight,
            )
        : read,
      maxAgeMs ?? undefined,
      signal,
      along,
    );
  };

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

    /**
     * The rule preview for one package against its live feed, capped for history. Signature, provenance and
     * platform rules are applied as a poll applies them (remembered verdicts first, at most
     * MAX_VERIFIED_PER_POLL tags verified, best first), and a tag they refuse is rejected with why.
     */
    async previewPackage(input: {
      feed: string;
      package: string;
      rule: VersionRuleInput;
    }): Promise<PackagePreview> {
      try {
        const feed = feedFor(input.feed);
        const list = await withLiveness((signal) => listing(feed, input.package, null, signal));
        const rule = compileRule(input.rule, precedenceOf(feed));
        const evaluation = evaluateRule(rule, list.tags);
        const gate = rule.needsVerification ? gateOf(input.rule) : null;
        let accepted = evaluation.accepted.map((a) => a.tag);
        let selected = evaluation.selected;
        const refused: { tag: string; reason: string }[] = [];
        let unverifiedCount: number | undefined;
        if (gate) {
          const checked = accepted.slice(0, MAX_VERIFIED_PER_POLL);
          const passed = await withLiveness((signal) =>
            verifyPreview(feed, input, rule, list, checked, gate, refused, signal),
          );
          const refusedTags = new Set(refused.map((r) => r.tag));
          accepted = accepted.filter((tag) => !refusedTags.has(tag));
          selected = passed[0] ?? null;
          unverifiedCount = accepted.length - passed.length;
        }
        return {
          selected,
          accepted: accepted.slice(0, PREVIEW_LIMIT),
          acceptedCount: accepted.length,
          rejected: [...refused, ...evaluation.rejected.map((r) => ({ tag: r.tag, reason: r.reason }))].slice(
            0,
            PREVIEW_LIMIT,
          ),
          rejectedCount: evaluation.rejected.length + refused.length,
          ...(gate ? { skipped: refused, unverifiedCount } : {}),
        };
      } catch (err) {
        throw toActivityFailure(err);
      }
    },

    /** Lists a package's tags and returns the few candidates that matter, never the full list. */
    async pollPackage(input: PollPackageInput): Promise<PollPackageResult> {
      const started = performance.now();
      const wanted = wantedAtMs(input);
      if (wanted !== null) metrics.pollLag.observe(Math.max(0, Date.now() - wanted) / 1000);
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

  /** The rule's gate, its keys parsed (and named keys resolved) once per worker. */
  function gateOf(rule: VersionRuleInput): ImageGate | null {
    const key = JSON.stringify([rule.signatures ?? null, rule.platforms ?? null, rule.provenance ?? null]);
    let gate = gates.get(key);
    if (gate === undefined) {
      try {
        gate = compileGate(rule, {
          key: (name) => deps.signatureKeys?.get(name),
          root: (name) => deps.trustedRoots?.get(name),
        });
      } catch (err) {
        // A key or trusted root this worker lacks: no poll can pass until the operator adds it.
        if (err instanceof KeyError || err instanceof TrustedRootError)
          throw new FeedError('BAD_REQUEST', err.message);
        throw err;
      }
      if (gates.size >= 1000) gates.clear();
      gates.set(key, gate);
    }
    return gate;
  }

  /** What the gate says of one digest: remembered, else checked (platforms first, then signatures) and stored. */
  async function verdictOn(
    feed: Feed,
    pkg: string,
    digest: string,
    tags: ReadonlySet<string>,
    gate: ImageGate,
    signal: AbortSignal,
  ): Promise<Verdict> {
    const memoKey = `${digest}|${gate.fingerprint}`;
    // The ledger is a memory, not a gate: when it fails, the digest is verified again, as on first sight.
    const known =
      knownVerdicts.get(memoKey) ??
      (await verdicts.get(digest, gate.fingerprint).catch((err: unknown) => {
        log.warn('could not read image verdicts', { error: (err as Error).message });
        return null;
      }));
    if (known) {
      knownVerdicts.set(memoKey, known);
      return known;
    }
    if (feed.type !== 'oci')
      throw new FeedError(
        'BAD_REQUEST',
        `signature and platform rules need OCI images; ${feed.id} is a Helm repository`,
      );
    const repository = repositoryOf(feed, pkg);
    const oci = deps.source.oci;
    let referrersOf: Promise<Buffer | null> | undefined;
    const reader: ImageReader = {
      manifest: (ref, maxBytes) => oci.manifestBytes(feed, repository, ref, maxBytes, signal),
      blob: (blobDigest, maxBytes) => oci.blobBytes(feed, repository, blobDigest, maxBytes, signal),
      // Read once per digest: signatures, attestations and bundles all look in the same referrers list.
      referrers: (of, maxBytes) => (referrersOf ??= oci.referrers(feed, repository, of, maxBytes, signal)),
    };
    const remember = async (verdict: Verdict) => {
      metrics.imageVerifications.inc({ outcome: verdict.passed ? 'passed' : 'refused' });
      if (knownVerdicts.size >= MAX_EVIDENCE_MEMO) knownVerdicts.clear();
      knownVerdicts.set(memoKey, verdict);
      await verdicts.put(digest, gate.fingerprint, verdict).catch((err: unknown) => {
        log.warn('could not record an image verdict', { error: (err as Error).message });
      });
      return verdict;
    };
    let platforms: Verdict | null = null;
    if (gate.platforms.length > 0) {
      // Kept apart from the signature's verdict: an image of the right platforms waiting for its signature
      // is not read again on every poll.
      const platformKey = `${digest}|${gate.platforms.join(',')}`;
      platforms = knownPlatforms.get(platformKey) ?? (await checkPlatforms(reader, digest, gate.platforms));
      if (knownPlatforms.size >= MAX_EVIDENCE_MEMO) knownPlatforms.clear();
      knownPlatforms.set(platformKey, platforms);
      // A digest's platforms never change: a missing one is as final as a pass.
      if (!platforms.passed || gate.keys.length === 0) return remember(platforms);
    }
    const attached = (kind: string) => ({
      referrers: !noReferrers.has(feed.id),
      onNoReferrers: () => noReferrers.add(feed.id),
      known: (ev: string) => judgedEvidence.get(`${memoKey}|${kind}|${ev}`),
    });
    /** A refusal is not remembered for good: a signature or attestation may be pushed after the image. */
    const refused = (kind: string, verdict: Verdict, evidence: string) => {
      if (!judgedEvidence.has(`${memoKey}|${kind}|${evidence}`)) {
        metrics.imageVerifications.inc({ outcome: 'refused' });
        if (judgedEvidence.size >= MAX_EVIDENCE_MEMO) judgedEvidence.clear();
        judgedEvidence.set(`${memoKey}|${kind}|${evidence}`, verdict);
      }
      return verdict;
    };
    const signed = await checkSignatures(reader, digest, tags, gate, attached('sig'));
    if (!signed.verdict.passed) return refused('sig', signed.verdict, signed.evidence);
    let verdict = signed.verdict;
    if (gate.provenance !== null) {
      const attested = await checkProvenance(reader, digest, tags, gate, attached('att'));
      if (!attested.verdict.passed) return refused('att', attested.verdict, attested.evidence);
      verdict = {
        ...verdict,
        reason: `${verdict.reason}; ${attested.verdict.reason}`,
        attestation: attested.verdict.attestation,
      };
    }
    return remember(platforms ? { ...verdict, reason: `${verdict.reason}; ${platforms.reason}` } : verdict);
  }

  /**
   * Verifies a preview's best tags against the gate, as a poll would; returns those that pass, best first, and
   * adds those refused to `refused` with their reasons.
   */
  async function verifyPreview(
    feed: Feed,
    input: { feed: string; package: string; rule: VersionRuleInput },
    rule: { trackDigest: boolean },
    list: PackageListing,
    tags: readonly string[],
    gate: ImageGate,
    refused: { tag: string; reason: string }[],
    signal: AbortSignal,
  ): Promise<string[]> {
    const passed: string[] = [];
    const tagSet = new Set(list.tags);
    const asPoll: PollPackageInput = { ...input, watermark: null, limit: 1, maxAgeMs: null };
    for (const tag of tags) {
      const digest = await digestOf(feed, input.package, tag, list, rule, asPoll, signal);
      const verdict =
        digest === null
          ? { passed: false, reason: 'no digest to verify', key: null }
          : await verdictOn(feed, input.package, digest, tagSet, gate, signal);
      if (verdict.passed) passed.push(tag);
      else refused.push({ tag, reason: verdict.reason });
    }
    return passed;
  }

  /** A take-along poll as the age it accepts makes it (`takeAlongAgeMs`); any other poll as asked. */
  async function withTakeAlong(input: PollPackageInput, rule: CompiledRule): Promise<PollPackageInput> {
    if (!input.takeAlong || input.maxAgeMs === 0 || !deps.lastWatcherRead) return input;
    // A rule that needs the registry to decide (labels, age, signatures, platforms) is read as asked: the
    // ledger does not keep such a package from moving back (keepTakenAlong), so it shares no older read.
    if (rule.needsImageConfig || rule.needsVerification) return input;
    const readAt = await deps.lastWatcherRead(input.feed, input.package, input.takeAlong).catch(() => null);
    const nowMs = Date.now();
    const maxAgeMs = takeAlongAgeMs(input, readAt, nowMs, deps.tagCache.ttlMs, deps.takeAlongLimitMs);
    return maxAgeMs === listingMaxAgeMs(input, nowMs) ? input : { ...input, maxAgeMs };
  }

  /**
   * A take-along poll first evaluates the package watcher's last read (withTakeAlong). If that read has no
   * candidate at or above the channel's last release (a read elsewhere since, which that release holds, is
   * newer than it), the package is read afresh instead: a take-along never drops a release.
   */
  async function pollOnce(asked: PollPackageInput, signal: AbortSignal): Promise<PollPackageResult> {
    try {
      const feed = feedFor(asked.feed);
      const rule = compileRule(asked.rule, precedenceOf(feed));
      const input = await withTakeAlong(asked, rule);
      if (input === asked) return await pollWith(asked, feed, rule, signal, false);
      const shared = await pollWith(input, feed, rule, signal, true);
      if (shared.candidates.length > 0 || asked.watermark === null) return shared;
      return await pollWith({ ...asked, maxAgeMs: 0 }, feed, rule, signal, false);
    } catch (err) {
      throw toActivityFailure(err);
    }
  }

  /** One poll's evaluation; `along`: a take-along's listing and digests may be older than the caches' TTL. */
  async function pollWith(
    input: PollPackageInput,
    feed: Feed,
    rule: CompiledRule,
    signal: AbortSignal,
    along: boolean,
  ): Promise<PollPackageResult> {
    const key = `${feed.id}|${input.package}`;
    const list = await listing(feed, input.package, listingMaxAgeMs(input, Date.now()), signal, along);
    const evaluation = evaluateRule(rule, list.tags);
    const watermark = input.watermark === null ? null : rule.check(input.watermark);
    const atOrAbove = evaluation.accepted.filter(
      (c) => watermark === null || typeof watermark === 'string' || !rule.isLater(watermark, c),
    );
    const limit = Math.max(1, input.limit);
    const gate = rule.needsVerification ? gateOf(input.rule) : null;
    // This worker's cache, then the other workers' read, then the feed (see digestOf).
    const digestOfTag = (tag: string) => digestOf(feed, input.package, tag, list, rule, input, signal, along);
    const candidates: string[] = [];
    /** The digests verified, by tag: the release takes the digest that was checked, not a later read. */
    const verified = new Map<string, string>();
    const skipped: Record<string, string> = {};
    if (!rule.needsImageConfig && gate === null) {
      candidates.push(...atOrAbove.slice(0, limit).map((c) => c.tag));
    } else {
      const tagSet = new Set(list.tags);
      const walk = atOrAbove.slice(0, gate ? MAX_VERIFIED_PER_POLL : MAX_CONFIG_READS);
      for (const { tag } of walk) {
        if (rule.needsImageConfig) {
          const config = await whileListed(
            () =>
              deps.configCache.get(
                `${key}|${tag}`,
                () => deps.source.imageConfig(feed, input.package, tag),
                input.maxAgeMs ?? undefined,
              ),
            signal,
          );
          if (!imageConfigPasses(rule, config, Date.now())) continue;
        }
        if (gate) {
          const digest = await digestOfTag(tag);
          const verdict =
            digest === null
              ? { passed: false, reason: 'no digest to verify', key: null }
              : await verdictOn(feed, input.package, digest, tagSet, gate, signal);
          if (!verdict.passed) {
            // Only versions above the one chosen explain anything: why the trigger did not take them.
            if (candidates.length === 0 && Object.keys(skipped).length < MAX_SKIPPED)
              skipped[tag] = verdict.reason;
            continue;
          }
          if (digest !== null) verified.set(tag, digest);
        }
        candidates.push(tag);
        if (candidates.length >= limit) break;
      }
    }
    const best = candidates[0] ?? null;
    const digest = best === null ? null : (verified.get(best) ?? (await digestOfTag(best)));
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
          : skipped[tag] !== undefined
            ? skipped[tag]
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
      ...(Object.keys(skipped).length > 0 ? { skipped } : {}),
      fingerprint: listingFingerprint(list),
    };
  }
}
