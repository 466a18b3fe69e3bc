import type { LoadChannelInput, LoadChannelResult } from './ledger';
import type { PollPackageInput, PollPackageResult } from './poll';
import { ruleFor, watermarkIn } from '../src/domain/decision';

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

/**
 * One activity for an idle trigger's iteration: the channel's revision check and the poll of its one
 * watched package, instead of two activities and two workflow tasks. Failures are the parts' own: a
 * missing project or channel (non-retryable, as from loadChannel) or the feed's (as from pollPackage).
 */
export function createChannelActivities(parts: {
  readonly loadChannel: (input: LoadChannelInput) => Promise<LoadChannelResult>;
  readonly pollPackage: (input: PollPackageInput) => Promise<PollPackageResult>;
}) {
  return {
    async pollChannel(input: PollChannelInput): Promise<PollChannelResult> {
      const load = await parts.loadChannel(input.load);
      if (load.unchanged) return { load, poll: await parts.pollPackage(input.poll) };
      // A new release or configuration moved the revision (after every release): poll with the new view,
      // so the trigger needs no second activity. It uses this poll only if it would ask the same.
      const ref = input.name ? load.view.packages.find((p) => p.name === input.name) : undefined;
      if (!ref || ref.feed !== input.poll.feed || ref.package !== input.poll.package)
        return { load, poll: null };
      const polled: PollPackageInput = {
        ...input.poll,
        rule: ruleFor(load.view.rules, ref.name),
        watermark: watermarkIn(load.view.lastRelease, ref.name),
      };
      return { load, poll: await parts.pollPackage(polled), polled };
    },
  };
}

export type ChannelActivities = ReturnType<typeof createChannelActivities>;
