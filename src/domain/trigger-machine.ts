import { bestCandidate, decideRelease, ReleaseDecision, ruleFor, versionSetKey } from './decision';
import { nextReleaseNumber } from './release-number';
import { compileRule, VersionRuleInput } from './rule';
import {
  FeedErrorInfo,
  HistoryEntry,
  MAX_HISTORY,
  MAX_RELEASES_KEPT,
  PollOutcome,
  Release,
  TriggerState,
  triggerStatus,
  TriggerStatus,
} from './trigger';

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
      };
    }
  | { readonly name: string; readonly error: { readonly code: string; readonly message: string } };

/** The trigger's state machine, free of Temporal: the workflow feeds it signals and poll results. */
export class TriggerMachine {
  constructor(readonly state: TriggerState) {}

  get status(): TriggerStatus {
    return triggerStatus(this.state);
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

  get previousRelease(): Release | null {
    return this.state.releases[this.state.releases.length - 1] ?? null;
  }

  /** The rule a package is polled with. */
  ruleFor(packageName: string): VersionRuleInput {
    return ruleFor(this.state.spec.rules, packageName);
  }

  /** The package's tag in the previous release: polls return only candidates at or above it. */
  watermark(packageName: string): string | null {
    return this.previousRelease?.packages.find((p) => p.name === packageName)?.tag ?? null;
  }

  /** Folds poll results into the package statuses and decides whether to release. */
  applyPolls(polls: readonly PackagePoll[], now: string): ReleaseDecision {
    this.state.iterations += 1;
    for (const poll of polls) {
      const status = this.state.packages[poll.name];
      if (!status) continue;
      if ('error' in poll) {
        const error: FeedErrorInfo = { ...poll.error, at: now };
        status.error = error;
        this.state.lastError = { ...error, package: poll.name };
        continue;
      }
      // Re-evaluate deterministically: the activity's ranking is only a pre-filter.
      const rule = compileRule(this.ruleFor(poll.name));
      const best = bestCandidate(rule, poll.ok.candidates);
      status.latest =
        best === null
          ? status.latest
          : { tag: best, digest: best === poll.ok.candidates[0] ? poll.ok.digest : null };
      status.discovered = [...poll.ok.candidates];
      status.tagCount = poll.ok.tagCount;
      status.acceptedCount = poll.ok.acceptedCount;
      status.rateLimitRemaining = poll.ok.rateLimitRemaining;
      status.polledAt = now;
      status.error = null;
    }
    const released = new Set(this.state.releases.map((r) => versionSetKey(r.packages)));
    return decideRelease(this.state.spec, this.state.packages, this.previousRelease, released);
  }

  /** Records a release decided by applyPolls and returns it. */
  recordRelease(decision: Extract<ReleaseDecision, { kind: 'release' }>, now: string): Release {
    const release: Release = {
      number: nextReleaseNumber(this.previousRelease?.number ?? null),
      createdAt: now,
      packages: decision.packages,
      reason: decision.reason,
    };
    this.state.releases.push(release);
    if (this.state.releases.length > MAX_RELEASES_KEPT)
      this.state.releases.splice(0, this.state.releases.length - MAX_RELEASES_KEPT);
    this.recordOutcome('released', decision.reason, now, release.number);
    return release;
  }

  /** Records one evaluation in the trigger's history (bounded). */
  recordOutcome(outcome: PollOutcome, reason: string, now: string, release: string | null = null): void {
    const versions: Record<string, string | null> = {};
    for (const [name, status] of Object.entries(this.state.packages))
      versions[name] = status.latest?.tag ?? null;
    const entry: HistoryEntry = { at: now, outcome, reason, versions, release };
    this.state.history.push(entry);
    if (this.state.history.length > MAX_HISTORY)
      this.state.history.splice(0, this.state.history.length - MAX_HISTORY);
    this.state.lastPoll = { at: now, outcome, reason };
  }

  /** The outcome of a poll whose decision was "no change", taking feed errors into account. */
  noChangeOutcome(polls: readonly PackagePoll[], reason: string): { outcome: PollOutcome; reason: string } {
    const failed = polls.filter((p): p is Extract<PackagePoll, { error: unknown }> => 'error' in p);
    if (failed.length === 0) return { outcome: 'no-change', reason };
    return { outcome: 'error', reason: failed.map((p) => `${p.name}: ${p.error.message}`).join('; ') };
  }
}
