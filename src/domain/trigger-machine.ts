import {
  decideRelease,
  movedPackages,
  ReleaseDecision,
  releasedPackage,
  ruleFor,
  stableHash,
  watermarkIn,
  versionSetKey,
} from './decision';
import type { CreateReleaseRequest, CreateReleaseResult } from './project';
import { compileRule, evaluateRule, VersionRuleInput } from './rule';
import {
  emptyPackageStatus,
  FeedErrorInfo,
  PackageRef,
  TriggerSpec,
  changedTriggerSpec,
  HistoryEntry,
  MAX_HISTORY,
  NOT_IN_FEED,
  PollNowRequest,
  PollOutcome,
  ReleasedPackage,
  triggerKey,
  triggerStatus,
  TriggerChannelView,
  TriggerState,
  TriggerStatus,
  watchedPackageKey,
} from './trigger';
import type { MetadataOrder, Precedence } from './version';
import { FailureCode } from './failures';
import { clip, MAX_TRIGGER_HISTORY_BYTES, newestWithin } from './size';

/** Candidates per package the workflow re-evaluates at most (polls ask for fewer). */
export const MAX_CANDIDATES = 25;
/** Refused versions a poll's history entry names per package. */
const MAX_SKIPPED = 5;
/** Candidates a poll asks for: enough to re-rank, small enough to keep history lean. */
export const CANDIDATE_LIMIT = 10;

/** How long a notified tag stays wanted: past it, the schedule polls as before. */
export const WANTED_FOR_MS = 2 * 60_000;
/** Notified tags kept wanted at most (the newest win): bounds state and each poll's `explain`. */
export const MAX_WANTED = 20;
/** The first poll again after one that did not see a notified tag, doubling up to the cap. */
const WANTED_FIRST_RETRY_MS = 1000;
const WANTED_MAX_RETRY_MS = 16_000;

/** Feed failures that pass by themselves (the registry down, slow or overloaded): polled for again soon. */
const PASSING_FAILURES: ReadonlySet<string> = new Set(['NETWORK', 'TIMEOUT', 'SERVER_ERROR']);
/** How soon a poll follows one that failed that way, so the trigger is active again within seconds. */
export const FAILING_REPOLL_MS = 4_000;
/** How long a failing feed is polled for that often; past it, the schedule spaces the polls again. */
export const FAILING_REPOLL_FOR_MS = 10 * 60_000;

/** A watched trigger's own polls: ten intervals, at least an hour, at most a day (or its interval, if longer). */
export function watchedSafetyIntervalMs(intervalMs: number): number {
  return Math.max(intervalMs, Math.min(Math.max(intervalMs * 10, 3_600_000), 86_400_000));
}

/** What a trigger's configure update may change. */
export type TriggerChange = Pick<TriggerSpec, 'channel' | 'watch' | 'intervalSeconds'>;

/** What one poll of one package brought back: the activity's answer or its failure. */
export type PackagePoll =
  | {
      readonly name: string;
      readonly ok: {
        readonly tagCount: number;
        readonly acceptedCount: number;
        readonly candidates: readonly string[];
        readonly digest: string | null;
        readonly rateLimitRemaining: number | null;
        /** Absent in histories recorded before feeds reported it: Docker. */
        readonly precedence?: Precedence;
        /** What the rules made of tags a notification named. */
        readonly explained?: Readonly<Record<string, string>>;
        /** Versions signature or platform rules refused, with why: absent in histories without such rules. */
        readonly skipped?: Readonly<Record<string, string>>;
        /** The polled listing's fingerprint (for package watchers): absent in histories from before it. */
        readonly fingerprint?: string;
      };
    }
  | { readonly name: string; readonly error: { readonly code: string; readonly message: string } };

/** The trigger's state machine, free of Temporal: the workflow feeds it signals, channel views and poll results. */
/**
 * A 32-bit phase number from a key, evenly spread: FNV-1a's high bits barely move when keys differ only at
 * the end (`app1`, `app2`), so its 64 bits go through MurmurHash3's finalizer (fmix64) first.
 */
export function phaseHash(key: string): number {
  const mask = 0xffffffffffffffffn;
  let h = BigInt(`0x${stableHash(key)}`);
  h ^= h >> 33n;
  h = (h * 0xff51afd7ed558ccdn) & mask;
  h ^= h >> 33n;
  h = (h * 0xc4ceb9fe1a85ec53n) & mask;
  h ^= h >> 33n;
  return Number(h >> 32n);
}

export class TriggerMachine {
  /** Notifications since the last evaluation began, and the one the current evaluation answers. */
  private notified: { sources: string[]; tags: { key: string; tag: string }[] } | null = null;
  private answering: { sources: string[]; tags: { key: string; tag: string }[] } | null = null;
  /** What the rules made of the notified tags, in this evaluation. */
  private explained: string[] = [];
  /** Versions signature or platform rules refused in this evaluation, with why. */
  private skipped: string[] = [];

  /** A failure recorded while its poll is retried, and the error it replaced: a retry that passes restores it. */
  private retried: { name: string; replaced: TriggerState['lastError'] } | null = null;

  /** The polls of the evaluation in progress (not state: an evaluation ends before continue-as-new). */
  private evaluation: PackagePoll[] = [];
  /**
   * The fingerprint of each package's listing as this run's last poll of it saw it, by `feed/package` key
   * (not state: a subscription hands them over right after the poll; none after a failed poll).
   */
  private listed = new Map<string, string>();

  /**
   * `metadataOrder` is asked only when a poll's best candidate depends on it (versions equal but for build
   * metadata): the workflow answers through `patched()`, so a run that decided by the tag text replays so.
   */
  constructor(
    readonly state: TriggerState,
    private readonly options: { metadataOrder?: () => MetadataOrder } = {},
  ) {}

  get status(): TriggerStatus {
    return triggerStatus(this.state);
  }

  get id(): string {
    return triggerKey(this.state.spec.project, this.state.spec.name);
  }

  /** Returns true when the trigger was running and is now paused. */
  pause(): boolean {
    const changed = !this.state.paused;
    this.state.paused = true;
    return changed;
  }

  /** Returns true when the trigger was paused and now runs again. */
  resume(): boolean {
    const changed = this.state.paused;
    this.state.paused = false;
    return changed;
  }

  /** Takes a freshly loaded channel view; keeps a status for every package of the project. */
  applyView(view: TriggerChannelView): void {
    this.state.view = view;
    const packages: TriggerState['packages'] = {};
    for (const ref of view.packages) {
      const existing = this.state.packages[ref.name];
      packages[ref.name] =
        existing && existing.feed === ref.feed && existing.package === ref.package
          ? existing
          : emptyPackageStatus(ref);
    }
    this.state.packages = packages;
  }

  /**
   * How long to sleep before the next scheduled poll. Polls fall on a fixed phase of the interval derived
   * from the watched package, so every trigger on one package polls at the same moment (one shared listing)
   * and triggers on different packages spread across the interval instead of firing together.
   */
  /**
   * When the next poll is due: at the trigger's phase in its interval, from its first watched package, so
   * triggers on one package poll together. `evenPhases` mixes the hash first (see phaseHash): without it,
   * packages whose names differ only at the end crowd into a few seconds of the interval. Runs recorded
   * before that change keep the old phases when replayed.
   */
  nextPollDelayMs(nowMs: number, evenPhases = false, intervalMs?: number): number {
    const interval = intervalMs ?? this.state.spec.intervalSeconds * 1000;
    const keys = (this.state.view?.packages ?? [])
      .filter((p) => this.state.spec.watch === undefined || this.state.spec.watch.includes(p.name))
      .map((p) => watchedPackageKey(p.feed, p.package))
      .sort();
    const key = keys[0] ?? this.id;
    const phase = (evenPhases ? phaseHash(key) : Number.parseInt(stableHash(key).slice(0, 8), 16)) % interval;
    const sinceSlot = (((nowMs - phase) % interval) + interval) % interval;
    const next = interval - sinceSlot;
    // Right after a poll, a slot closer than half an interval is skipped: never two polls in a blink.
    const lastPoll = this.state.lastPoll ? Date.parse(this.state.lastPoll.at) : null;
    return lastPoll !== null && nowMs + next - lastPoll < interval / 2 ? next + interval : next;
  }

  /**
   * What the trigger subscribes to package watchers with: its watched packages and interval; or null when
   * a watcher cannot stand in for its own polls. A watcher sees a package's tags and digests change, so
   * rules that look at more than that (a digest re-pushed under the same tag, image labels, an age that
   * grows with time) keep polling on the trigger's own interval.
   */
  watcherSubscription(): {
    packages: { feed: string; package: string }[];
    keys: string[];
    intervalSeconds: number;
    /** What the trigger's last polls saw of each key (listingFingerprint), when it knows every one. */
    fingerprints?: Record<string, string>;
  } | null {
    const view = this.state.view;
    const watched = this.watched();
    if (!view || 'error' in watched) return null;
    const refs = view.packages.filter((p) => watched.names.includes(p.name));
    if (refs.length === 0) return null;
    for (const ref of refs) {
      const rule = this.ruleFor(ref.name);
      if (rule.trackDigest || (rule.minAgeMinutes ?? 0) > 0 || Object.keys(rule.labels ?? {}).length > 0)
        return null;
    }
    const keys = [...new Set(refs.map((p) => watchedPackageKey(p.feed, p.package)))].sort();
    const known = keys.every((k) => this.listed.has(k));
    return {
      packages: refs.map((p) => ({ feed: p.feed, package: p.package })),
      keys,
      intervalSeconds: this.state.spec.intervalSeconds,
      ...(known ? { fingerprints: Object.fromEntries(keys.map((k) => [k, this.listed.get(k)!])) } : {}),
    };
  }

  /** Whether the trigger subscribed with exactly what watcherSubscription asks now. */
  subscribedAsWanted(wanted: { keys: string[]; intervalSeconds: number } | null): boolean {
    const had = this.state.watching ?? null;
    if (!wanted || !had) return wanted === had;
    return (
      had.intervalSeconds === wanted.intervalSeconds &&
      JSON.stringify(had.keys) === JSON.stringify(wanted.keys)
    );
  }

  /**
   * The interval the trigger polls at on its own: a long safety interval once it is subscribed to its
   * packages' watchers and caught up with them (the watchers compared against the listings its poll saw, or
   * it polled after it subscribed: a poll before may have missed a change the watcher already saw), else
   * its own.
   */
  ownPollIntervalMs(): number {
    const interval = this.state.spec.intervalSeconds * 1000;
    const watching = this.state.watching;
    const lastPoll = this.state.lastPoll?.at;
    if (!watching || !lastPoll || (lastPoll <= watching.since && !watching.caughtUp)) return interval;
    return watchedSafetyIntervalMs(interval);
  }

  /** Why a change of channel, watch list or interval is refused, or null when it is valid. */
  refuseChange(change: TriggerChange): string | null {
    const changed = changedTriggerSpec(this.state.spec, change);
    return 'refusal' in changed ? changed.refusal : null;
  }

  /** Applies a validated change; a new channel drops the loaded view so the next poll loads it. */
  configure(change: TriggerChange): { changed: boolean; channelChanged: boolean } {
    const changed = changedTriggerSpec(this.state.spec, change);
    if ('refusal' in changed) throw new TypeError(changed.refusal);
    const next = changed.spec;
    if (JSON.stringify(next) === JSON.stringify(this.state.spec))
      return { changed: false, channelChanged: false };
    const channelChanged = next.channel !== this.state.spec.channel;
    if (channelChanged) this.state.view = null;
    this.state.spec = next;
    return { changed: true, channelChanged };
  }

  /** What to ask the project for: the channel, unless the copy at this revision is current. */
  loadRequest(): { project: string; channel: string; knownRevision: number | null } {
    return {
      project: this.state.spec.project,
      channel: this.state.spec.channel,
      knownRevision: this.state.view?.revision ?? null,
    };
  }

  /** Takes the project's answer to loadRequest. */
  applyLoad(loaded: { unchanged: true } | { unchanged: false; view: TriggerChannelView }): void {
    if (!loaded.unchanged) this.applyView(loaded.view);
  }

  /**
   * Starts an evaluation: the watched packages to poll, with the `feed/package` keys the trigger publishes
   * for registry notifications; or null, with the error recorded, when the watch list names a package the
   * project lacks.
   */
  beginEvaluation(now: string): { polls: PackageRef[]; keys: string[] } | null {
    this.evaluation = [];
    const watched = this.watched();
    if ('error' in watched) {
      this.recordError(FailureCode.UNKNOWN_PACKAGE, watched.error, now);
      return null;
    }
    const refs = (this.state.view?.packages ?? []).filter((p) => watched.names.includes(p.name));
    return { polls: refs, keys: refs.map((p) => watchedPackageKey(p.feed, p.package)) };
  }

  /**
   * The packages to poll next in this evaluation: the unwatched ones, once a watched package moved (a release
   * holds every package), else none. Registry traffic follows the watched packages.
   */
  nextPolls(): PackageRef[] {
    const view = this.state.view;
    const watched = this.watchedNames();
    if (!view || !this.watchedMoved(watched)) return [];
    const polled = new Set(this.evaluation.map((p) => p.name));
    return view.packages.filter((p) => !watched.includes(p.name) && !polled.has(p.name));
  }

  /**
   * The one package the trigger watches, when its view of the channel is known and it watches exactly one
   * (its poll can then go with the channel's revision check); else null.
   */
  singleWatched(): PackageRef | null {
    if (!this.state.view) return null;
    const watched = this.watched();
    if ('error' in watched || watched.names.length !== 1) return null;
    return this.state.view.packages.find((p) => p.name === watched.names[0]) ?? null;
  }

  /** What one poll asks of the feed for a package. */
  /**
   * A registry notification asked for a poll: coalesced with others until the next evaluation (bounded).
   * Its tags stay wanted for WANTED_FOR_MS from `nowMs` (see WantedTag).
   */
  noteNotification(request: PollNowRequest, nowMs: number): void {
    const wanted = (this.state.wanted ??= []);
    // A notification names every key its repository may go by (the registry's host and each feed on it):
    // only those this trigger polls can ever be seen, so only those are waited for.
    const polled = this.state.view
      ? new Set(
          this.state.view.packages
            .filter((p) => this.state.spec.watch === undefined || this.state.spec.watch.includes(p.name))
            .map((p) => watchedPackageKey(p.feed, p.package)),
        )
      : null;
    for (const t of request.tags ?? []) {
      const key = clip(t.key, 300);
      if (polled && !polled.has(key)) continue;
      const tag = clip(t.tag, 128);
      const known = wanted.findIndex((w) => w.key === key && w.tag === tag);
      if (known !== -1) wanted.splice(known, 1);
      wanted.push({ key, tag, until: nowMs + WANTED_FOR_MS, polls: 0 });
      if (wanted.length > MAX_WANTED) wanted.splice(0, wanted.length - MAX_WANTED);
    }
    const notified = (this.notified ??= { sources: [], tags: [] });
    if (!notified.sources.includes(request.source) && notified.sources.length < 5)
      notified.sources.push(clip(request.source, 80));
    for (const t of request.tags ?? []) {
      if (notified.tags.length >= 20) break;
      if (!notified.tags.some((n) => n.key === t.key && n.tag === t.tag))
        notified.tags.push({ key: clip(t.key, 300), tag: clip(t.tag, 128) });
    }
  }

  /** The evaluation about to run answers the notifications received so far. */
  takeNotifications(): void {
    this.answering = this.notified;
    this.notified = null;
    this.explained = [];
  }

  pollRequest(ref: PackageRef, maxAgeMs: number | null, dueAtMs: number | null = null) {
    const key = watchedPackageKey(ref.feed, ref.package);
    const explain = (this.answering?.tags ?? []).filter((t) => t.key === key).map((t) => t.tag);
    for (const w of this.state.wanted ?? [])
      if (w.key === key && !explain.includes(w.tag) && explain.length < MAX_WANTED) explain.push(w.tag);
    return {
      feed: ref.feed,
      package: ref.package,
      rule: this.ruleFor(ref.name),
      watermark: this.watermark(ref.name),
      limit: CANDIDATE_LIMIT,
      maxAgeMs,
      ...(dueAtMs !== null ? { dueAtMs } : {}),
      ...(explain.length > 0 ? { explain } : {}),
    };
  }

  /**
   * Ends the polling of an evaluation: records the outcome when there is nothing to release (paused while
   * polling, failed polls, nothing later), or returns the release request to send to the project.
   */
  conclude(now: string): CreateReleaseRequest | null {
    if (this.state.paused) {
      this.recordOutcome('paused', 'paused while polling; nothing released', now);
      return null;
    }
    const watched = this.watchedNames();
    const failures = TriggerMachine.failures(this.evaluation);
    const decision = this.decide(watched);
    if (decision.kind === 'no-change') {
      this.recordOutcome(failures ? 'error' : 'no-change', failures ?? decision.reason, now);
      return null;
    }
    return this.releaseRequest(decision, watched);
  }

  private watchedNames(): string[] {
    const watched = this.watched();
    return 'error' in watched ? [] : watched.names;
  }

  /** The watched packages, or an error text when the trigger names packages the project lacks. */
  watched(): { names: string[] } | { error: string } {
    const all = (this.state.view?.packages ?? []).map((p) => p.name);
    const names = this.state.spec.watch ?? all;
    const missing = names.filter((n) => !all.includes(n));
    return missing.length > 0
      ? { error: `project ${this.state.spec.project} has no package ${missing.join(', ')}` }
      : { names };
  }

  /** The rule a package is polled with. */
  ruleFor(packageName: string): VersionRuleInput {
    return ruleFor(this.state.view?.rules ?? [], packageName);
  }

  /** The package's tag in the channel's previous release: polls return only candidates at or above it. */
  watermark(packageName: string): string | null {
    return watermarkIn(this.state.view?.lastRelease ?? null, packageName);
  }

  /**
   * A poll failed and will be tried again: the failure shows in the package and the trigger's status at
   * once, not only after its retries end.
   */
  notePollFailure(name: string, failure: { code: string; message: string }, now: string): void {
    const status = this.state.packages[name];
    if (!status) return;
    const error: FeedErrorInfo = { code: clip(failure.code, 64), message: clip(failure.message), at: now };
    this.retried = { name, replaced: this.state.lastError };
    status.error = error;
    this.state.lastError = { ...error, package: name };
  }

  /**
   * How soon to poll again after an evaluation that failed on a feed that may come back (network, timeout,
   * 5xx), for the first FAILING_REPOLL_FOR_MS of the failures; else null (the schedule decides).
   */
  failingPollDelayMs(nowMs: number): number | null {
    const { lastPoll, lastError } = this.state;
    if (lastPoll?.outcome !== 'error' || !lastError?.package || !PASSING_FAILURES.has(lastError.code))
      return null;
    let since = Date.parse(lastPoll.at);
    for (let i = this.state.history.length - 1; i >= 0 && this.state.history[i].outcome === 'error'; i--)
      since = Date.parse(this.state.history[i].at);
    return nowMs - since < FAILING_REPOLL_FOR_MS ? FAILING_REPOLL_MS : null;
  }

  /** Folds poll results into the package statuses. */
  applyPolls(polls: readonly PackagePoll[], now: string): void {
    for (const poll of polls) {
      const status = this.state.packages[poll.name];
      if (!status) continue;
      // A poll cancelled by a pause says nothing about the feed.
      if ('error' in poll && poll.error.code === FailureCode.CANCELLED) continue;
      this.evaluation.push(poll);
      if ('error' in poll) {
        this.listed.delete(watchedPackageKey(status.feed, status.package));
        const error: FeedErrorInfo = {
          code: clip(poll.error.code, 64),
          message: clip(poll.error.message),
          at: now,
        };
        status.error = error;
        this.state.lastError = { ...error, package: poll.name };
        continue;
      }
      const key = watchedPackageKey(status.feed, status.package);
      if (poll.ok.fingerprint) this.listed.set(key, poll.ok.fingerprint);
      else this.listed.delete(key);
      // A failure that passed on retry leaves no error behind (it showed while it lasted).
      if (this.retried?.name === poll.name) {
        this.state.lastError = this.retried.replaced;
        this.retried = null;
      }
      for (const [tag, verdict] of Object.entries(poll.ok.explained ?? {}).slice(0, MAX_WANTED)) {
        if (this.answering?.tags.some((t) => t.key === key && t.tag === tag))
          this.explained.push(`${poll.name} ${tag}: ${verdict}`);
        // Seen: released, or judged by the rules; only a tag the listing lacks is still awaited.
        if (verdict !== NOT_IN_FEED && this.state.wanted)
          this.state.wanted = this.state.wanted.filter((w) => w.key !== key || w.tag !== tag);
      }
      for (const [tag, reason] of Object.entries(poll.ok.skipped ?? {}).slice(0, MAX_SKIPPED))
        this.skipped.push(`${poll.name} ${tag}: ${reason}`);
      // Re-evaluate deterministically: the activity's ranking is only a pre-filter. The candidate list is
      // capped here too, so workflow work stays bounded whatever an activity returns.
      const candidates = poll.ok.candidates.slice(0, MAX_CANDIDATES);
      status.precedence = poll.ok.precedence ?? 'docker';
      const best = this.best(poll.name, status.precedence, candidates);
      // Nothing passing means nothing to release: a stale `latest` must not ride along into a release that a
      // rule change or another package starts.
      status.latest =
        best === null ? null : { tag: best, digest: best === candidates[0] ? poll.ok.digest : null };
      status.discovered = candidates;
      status.tagCount = poll.ok.tagCount;
      status.acceptedCount = poll.ok.acceptedCount;
      status.rateLimitRemaining = poll.ok.rateLimitRemaining;
      status.polledAt = now;
      status.error = null;
    }
  }

  /** The best candidate; the metadata order is asked for only when the two orders disagree. */
  private best(name: string, precedence: Precedence, candidates: readonly string[]): string | null {
    const rule = compileRule(this.ruleFor(name), precedence);
    const { accepted } = evaluateRule(rule, candidates);
    if (accepted.length === 0) return null;
    const [numeric] = accepted;
    // Among those ranked equal to the best, the one the tag text puts first.
    let text = numeric;
    for (const v of accepted) if (!rule.isLater(numeric, v) && rule.compare(v, text, 'text') < 0) text = v;
    if (numeric === text) return numeric.tag;
    return (this.options.metadataOrder?.() ?? 'numeric') === 'numeric' ? numeric.tag : text.tag;
  }

  /** Whether any watched package has a later version than the channel's previous release. */
  watchedMoved(watched: readonly string[]): boolean {
    const view = this.state.view;
    if (!view) return false;
    const chosen: ReleasedPackage[] = [];
    for (const ref of view.packages) {
      const latest = this.state.packages[ref.name]?.latest;
      const status = this.state.packages[ref.name];
      if (latest && watched.includes(ref.name)) chosen.push(releasedPackage(ref, latest, status?.precedence));
    }
    return movedPackages(view.rules, chosen, view.lastRelease, watched).length > 0;
  }

  /** The release decision over every package of the project. */
  decide(watched: readonly string[]): ReleaseDecision {
    const view = this.state.view;
    if (!view) return { kind: 'no-change', reason: 'the channel is not loaded yet' };
    return decideRelease(view.packages, view.rules, this.state.packages, view.lastRelease, watched);
  }

  /** The project's release request for a decision; the key makes retries and restarts idempotent. */
  releaseRequest(
    decision: Extract<ReleaseDecision, { kind: 'release' }>,
    watched: readonly string[],
  ): CreateReleaseRequest {
    return {
      channel: this.state.spec.channel,
      packages: decision.packages,
      watched,
      requireLater: true,
      reason: decision.reason,
      source: { kind: 'trigger', trigger: this.id },
      key: `${this.id}/${stableHash(versionSetKey(decision.packages))}`,
      // For the release's notes: an activity input only, so no patch (the commands are the same).
      ...(this.answering && this.answering.sources.length > 0
        ? { notification: clip(this.answering.sources.join(', '), 200) }
        : {}),
    };
  }

  /** Records what the project answered to a release request. */
  recordReleaseResult(result: CreateReleaseResult, now: string): void {
    // A duplicate of this trigger's own key is its earlier attempt, answered after a retry or a crash.
    if ((result.outcome === 'created' || result.outcome === 'duplicate') && result.release) {
      this.state.lastRelease = { number: result.release.number, at: now };
      if (this.state.view) {
        // The channel moved on: later polls measure against this release.
        this.state.view = {
          ...this.state.view,
          lastRelease: { number: result.release.number, packages: result.release.packages },
        };
      }
      this.recordOutcome('released', result.release.reason, now, result.release.number);
      return;
    }
    this.recordOutcome('no-change', result.reason, now);
  }

  /**
   * After an evaluation: notified tags past their deadline are given up, the others counted as unseen
   * once more. Returns whether any is still wanted.
   */
  noteUnseen(nowMs: number): boolean {
    const wanted = (this.state.wanted ?? []).filter((w) => w.until > nowMs);
    for (const w of wanted) w.polls += 1;
    this.state.wanted = wanted;
    return wanted.length > 0;
  }

  /** How soon to poll again for a notified tag not seen yet (backing off, within its deadline), or null. */
  wantedPollDelayMs(nowMs: number): number | null {
    let soonest: number | null = null;
    for (const w of this.state.wanted ?? []) {
      if (w.until <= nowMs) continue;
      const backoff = Math.min(WANTED_FIRST_RETRY_MS * 2 ** Math.max(0, w.polls - 1), WANTED_MAX_RETRY_MS);
      const delay = Math.min(backoff, w.until - nowMs);
      soonest = soonest === null ? delay : Math.min(soonest, delay);
    }
    return soonest;
  }

  /** Records one evaluation in the trigger's history (bounded). */
  recordOutcome(outcome: PollOutcome, reason: string, now: string, release: string | null = null): void {
    this.state.iterations += 1;
    this.retried = null;
    const versions: Record<string, string | null> = {};
    for (const [name, status] of Object.entries(this.state.packages))
      versions[name] = status.latest?.tag ?? null;
    const answered = this.answering;
    this.answering = null;
    if (answered && outcome !== 'released' && this.explained.length > 0)
      reason = `${reason}; notified ${this.explained.join('; ')}`;
    this.explained = [];
    if (this.skipped.length > 0) reason = `${reason}; skipped ${this.skipped.join('; ')}`;
    this.skipped = [];
    reason = clip(reason);
    const entry: HistoryEntry = {
      at: now,
      outcome,
      reason,
      versions,
      release,
      ...(answered ? { source: answered.sources.join(', ') } : {}),
    };
    this.state.history.push(entry);
    if (this.state.history.length > MAX_HISTORY)
      this.state.history.splice(0, this.state.history.length - MAX_HISTORY);
    const keep = newestWithin(this.state.history, MAX_TRIGGER_HISTORY_BYTES);
    if (keep < this.state.history.length) this.state.history.splice(0, this.state.history.length - keep);
    this.state.lastPoll = { at: now, outcome, reason };
  }

  /** Records an error that is not a feed's (project or channel missing, bad watch list). */
  recordError(code: string, message: string, now: string): void {
    message = clip(message);
    this.state.lastError = { code: clip(code, 64), message, at: now, package: null };
    this.recordOutcome('error', message, now);
  }

  /** The error text of failed polls, or null when all succeeded. */
  static failures(polls: readonly PackagePoll[]): string | null {
    const failed = polls.filter((p): p is Extract<PackagePoll, { error: unknown }> => 'error' in p);
    return failed.length === 0 ? null : failed.map((p) => `${p.name}: ${p.error.message}`).join('; ');
  }
}
