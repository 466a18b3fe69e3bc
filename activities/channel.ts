import type {
  ChannelActivities,
  LoadChannelInput,
  LoadChannelResult,
  PollChannelInput,
  PollChannelResult,
  PollPackageInput,
  PollPackageResult,
} from '../workflows/contracts/activities';
import { ruleFor, watermarkIn } from '../src/domain/decision';

/**
 * One activity for an idle trigger's iteration: the channel's revision check and the poll of its one
 * watched package, instead of two activities and two workflow tasks. Failures are the parts' own: a
 * missing project or channel (non-retryable, as from loadChannel) or the feed's (as from pollPackage).
 */
export function createChannelActivities(parts: {
  readonly loadChannel: (input: LoadChannelInput) => Promise<LoadChannelResult>;
  readonly pollPackage: (input: PollPackageInput) => Promise<PollPackageResult>;
}): ChannelActivities {
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
