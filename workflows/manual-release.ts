import { ApplicationFailure, proxyActivities, workflowInfo } from '@temporalio/workflow';
import { FailureCode } from '../src/domain/failures';
import { activityFailure } from './failures';
import type { LedgerActivities, PackagePreview, PollActivities } from './contracts/activities';
import type { ChannelPreviewInput, ManualReleaseInput } from './contracts/workflows';
import { releasedPackage, ruleFor } from '../src/domain/decision';
import type { CreateReleaseResult } from '../src/domain/project';
import { compileRule } from '../src/domain/rule';
import type { ReleasedPackage } from '../src/domain/trigger';

const { pollPackage, tagDigest, previewPackage } = proxyActivities<PollActivities>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumAttempts: 3 },
});
const { loadChannel, createRelease } = proxyActivities<LedgerActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumAttempts: 5 },
});

function refused(message: string, type: string = FailureCode.RELEASE_REFUSED): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, type);
}

/** A release asked for by a person: latest versions, or pinned ones checked against the channel's rules. */
export async function manualRelease(input: ManualReleaseInput): Promise<CreateReleaseResult> {
  const loaded = await unwrap(
    loadChannel({ project: input.project, channel: input.channel, knownRevision: null }),
  );
  if (loaded.unchanged) throw refused('the channel could not be loaded');
  const view = loaded.view;
  for (const name of Object.keys(input.versions)) {
    if (!view.packages.some((p) => p.name === name))
      throw refused(`project ${input.project} has no package "${name}"`, FailureCode.UNKNOWN_PACKAGE);
  }
  const packages: ReleasedPackage[] = [];
  for (const ref of view.packages) {
    const rule = ruleFor(view.rules, ref.name);
    const pinned = input.versions[ref.name];
    if (pinned !== undefined) {
      const found = await unwrap(tagDigest({ feed: ref.feed, package: ref.package, tag: pinned }));
      if (!found.exists)
        throw refused(
          `${ref.name} has no tag ${pinned} in ${ref.feed}/${ref.package}`,
          FailureCode.UNKNOWN_VERSION,
        );
      // The feed tells how its versions compare; the pinned tag must pass the rules by that precedence.
      const verdict = compileRule(rule, found.precedence ?? 'docker').check(pinned);
      if (typeof verdict === 'string')
        throw refused(`${ref.name} ${pinned} does not pass the channel's rules: ${verdict}`);
      packages.push(releasedPackage(ref, { tag: pinned, digest: found.digest }, found.precedence));
      continue;
    }
    const polled = await unwrap(
      pollPackage({ feed: ref.feed, package: ref.package, rule, watermark: null, limit: 1, maxAgeMs: 0 }),
    );
    const best = polled.candidates[0];
    if (best === undefined) throw refused(`no version of ${ref.name} passes the channel's rules`);
    packages.push(releasedPackage(ref, { tag: best, digest: polled.digest }, polled.precedence));
  }
  const pinned = Object.entries(input.versions).map(([n, t]) => `${n} ${t}`);
  return createRelease({
    project: input.project,
    request: {
      channel: input.channel,
      packages,
      watched: view.packages.map((p) => p.name),
      requireLater: false,
      reason:
        pinned.length > 0
          ? `manual release with ${pinned.join(', ')}`
          : 'manual release of the latest versions',
      source: { kind: 'manual' },
      key: `manual/${workflowInfo().workflowId}`,
    },
  });
}

/** Octopus's "Design rule" for every package of a channel against the live feeds. */
export async function channelPreview(
  input: ChannelPreviewInput,
): Promise<Record<string, PackagePreview | { error: string }>> {
  const loaded = await unwrap(
    loadChannel({ project: input.project, channel: input.channel, knownRevision: null }),
  );
  if (loaded.unchanged) throw refused('the channel could not be loaded');
  const view = loaded.view;
  const entries = await Promise.all(
    view.packages.map(async (ref) => {
      try {
        return [
          ref.name,
          await previewPackage({ feed: ref.feed, package: ref.package, rule: ruleFor(view.rules, ref.name) }),
        ] as const;
      } catch (err) {
        return [ref.name, { error: activityFailure(err).message }] as const;
      }
    }),
  );
  return Object.fromEntries(entries);
}

/** Turns an activity's feed failure into a refusal the API can show. */
async function unwrap<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    const failure = activityFailure(err);
    throw refused(failure.message, failure.code);
  }
}
