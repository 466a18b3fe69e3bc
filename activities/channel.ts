import type { LoadChannelInput, LoadChannelResult } from './ledger';
import type { PollPackageInput, PollPackageResult } from './poll';

export interface PollChannelInput {
  readonly load: LoadChannelInput;
  /** The watched package's poll, as the trigger's current view of the channel asks it. */
  readonly poll: PollPackageInput;
}

export interface PollChannelResult {
  readonly load: LoadChannelResult;
  /** Null when the channel changed: the trigger polls again with the new view's rules and watermark. */
  readonly poll: PollPackageResult | null;
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
      if (!load.unchanged) return { load, poll: null };
      return { load, poll: await parts.pollPackage(input.poll) };
    },
  };
}

export type ChannelActivities = ReturnType<typeof createChannelActivities>;
