import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  continueAsNew,
  defineQuery,
  defineSignal,
  defineUpdate,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { PollActivities } from '../activities/poll';
import type { ProjectActivities } from '../activities/project';
import {
  CHANNEL_ATTRIBUTE,
  PACKAGES_ATTRIBUTE,
  TRIGGER_STATE_ATTRIBUTE,
  watchedPackageKey,
} from '../src/domain/search-attributes';
import { PackagePoll, TriggerMachine } from '../src/domain/trigger-machine';
import {
  HistoryEntry,
  initialTriggerState,
  TriggerSpec,
  TriggerSpecSchema,
  TriggerState,
  TriggerStatus,
} from '../src/domain/trigger';

const { pollPackage } = proxyActivities<PollActivities>({
  startToCloseTimeout: '2 minutes',
  // The activity heartbeats every 2 s: an attempt lost with its worker is retried within seconds, and a
  // pause cancels a listing in progress instead of letting it run on.
  heartbeatTimeout: '10 seconds',
  // 5xx, timeouts and resets retry with backoff; not found, unauthorized and denied fail at once
  // (the activity marks them non-retryable); a 429 waits for the registry's Retry-After.
  retry: {
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: 5,
  },
});
const { loadChannel, createRelease } = proxyActivities<ProjectActivities>({
  // An update takes milliseconds, but many triggers racing on one project can see the server abort and the
  // client retry updates; leave room for that, and still move a call lost with its worker elsewhere soon.
  startToCloseTimeout: '30 seconds',
  // Creating a release must not be lost: retry until the project answers (the key makes retries safe).
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds' },
});

export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
export const pollNowSignal = defineSignal('pollNow');
/** Asks the trigger to continue as new at the next safe point (operators, and tests of carried state). */
export const continueAsNewSignal = defineSignal('continueAsNew');
export const stateQuery = defineQuery<TriggerState>('state');
export const historyQuery = defineQuery<HistoryEntry[]>('history');
/** An update, so a bad change (an unknown field, a short interval) is refused to the caller and nothing changes. */
export const configureTriggerUpdate = defineUpdate<
  { changed: boolean },
  [Pick<TriggerSpec, 'channel' | 'watch' | 'intervalSeconds'>]
>('configureTrigger');

export interface TriggerInput {
  readonly spec: TriggerSpec;
  /** Carried over by continue-as-new. */
  readonly state?: TriggerState;
  readonly pollPending?: boolean;
}

/** Candidates per package per poll: enough to re-rank, small enough to keep history lean. */
const CANDIDATE_LIMIT = 10;

/** A long-lived trigger: load the channel, poll the watched packages, ask the project for a release, sleep. */
export async function trigger(input: TriggerInput): Promise<void> {
  const machine = new TriggerMachine(input.state ?? initialTriggerState(input.spec));
  let pollPending = input.pollPending ?? input.state === undefined;
  // The first poll may share a recent listing with other triggers; pollNow and resume ask for a fresh one.
  let fresh = false;
  let rollover = false;
  let published: TriggerStatus = machine.status;
  // Polls in flight, so a pause can cancel them.
  const polls = new PollsInFlight();

  const publishStatus = () => {
    if (machine.status !== published) {
      published = machine.status;
      upsertSearchAttributes([{ key: TRIGGER_STATE_ATTRIBUTE, value: published }]);
    }
  };

  setHandler(pauseSignal, () => {
    machine.pause();
    polls.cancel();
    publishStatus();
  });
  setHandler(resumeSignal, () => {
    // A resumed trigger polls at once and catches up on what it missed.
    if (machine.resume()) pollPending = fresh = true;
    publishStatus();
  });
  setHandler(pollNowSignal, () => {
    if (!machine.state.paused) pollPending = fresh = true;
  });
  setHandler(continueAsNewSignal, () => {
    rollover = true;
  });
  setHandler(stateQuery, () => machine.state);
  setHandler(historyQuery, () => machine.state.history);
  setHandler(
    configureTriggerUpdate,
    (change) => {
      const next = TriggerSpecSchema.parse({ ...machine.state.spec, ...change });
      const changed = JSON.stringify(next) !== JSON.stringify(machine.state.spec);
      if (changed) {
        if (next.channel !== machine.state.spec.channel) {
          machine.state.view = null;
          upsertSearchAttributes([{ key: CHANNEL_ATTRIBUTE, value: next.channel }]);
        }
        machine.state.spec = next;
        pollPending = true;
      }
      return { changed };
    },
    {
      validator: (change) => {
        const parsed = TriggerSpecSchema.safeParse({ ...machine.state.spec, ...change });
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          throw ApplicationFailure.nonRetryable(
            `${issue.path.join('.')}: ${issue.message}`,
            'INVALID_TRIGGER',
          );
        }
      },
    },
  );

  // Keeps the watched-packages search attribute in step with the project and the watch list.
  let publishedPackages = JSON.stringify(
    [...(workflowInfo().typedSearchAttributes.get(PACKAGES_ATTRIBUTE) ?? [])].sort(),
  );
  const publishWatched = (keys: string[]) => {
    const text = JSON.stringify([...keys].sort());
    if (text === publishedPackages) return;
    publishedPackages = text;
    upsertSearchAttributes([{ key: PACKAGES_ATTRIBUTE, value: keys }]);
  };

  const intervalMs = () => machine.state.spec.intervalSeconds * 1000;
  if (!pollPending && machine.state.lastPoll) {
    const due = Date.parse(machine.state.lastPoll.at) + intervalMs() - Date.now();
    if (due > 0) await condition(() => pollPending || rollover, due);
  }

  while (!rollover && !workflowInfo().continueAsNewSuggested) {
    await condition(() => !machine.state.paused || rollover);
    if (rollover) break;
    const maxAgeMs = fresh ? 0 : null;
    pollPending = fresh = false;
    await evaluate(machine, maxAgeMs, publishWatched, polls);
    publishStatus();
    await condition(() => pollPending || rollover, intervalMs());
  }

  await condition(allHandlersFinished);
  machine.state.runs += 1;
  await continueAsNew<typeof trigger>({ spec: machine.state.spec, state: machine.state, pollPending });
}

/** One evaluation: load the channel, poll, decide, and ask the project for a release when something moved. */
async function evaluate(
  machine: TriggerMachine,
  maxAgeMs: number | null,
  onWatched: (keys: string[]) => void,
  inFlight: PollsInFlight,
): Promise<void> {
  const { spec } = machine.state;
  const now = () => new Date().toISOString();
  try {
    const loaded = await loadChannel({
      project: spec.project,
      channel: spec.channel,
      knownRevision: machine.state.view?.revision ?? null,
    });
    if (!loaded.unchanged) machine.applyView(loaded.view);
  } catch (err) {
    const failure = describeFailure(err);
    machine.recordError(failure.code, failure.message, now());
    return;
  }
  const watched = machine.watched();
  if ('error' in watched) {
    machine.recordError('UNKNOWN_PACKAGE', watched.error, now());
    return;
  }
  const view = machine.state.view!;
  onWatched(
    view.packages
      .filter((p) => watched.names.includes(p.name))
      .map((p) => watchedPackageKey(p.feed, p.package)),
  );
  const poll = (names: readonly string[]) =>
    inFlight.run(() =>
      Promise.all(
        view.packages
          .filter((p) => names.includes(p.name))
          .map(async (p): Promise<PackagePoll> => {
            try {
              const ok = await pollPackage({
                feed: p.feed,
                package: p.package,
                rule: machine.ruleFor(p.name),
                watermark: machine.watermark(p.name),
                limit: CANDIDATE_LIMIT,
                maxAgeMs,
              });
              return { name: p.name, ok };
            } catch (err) {
              if (isCancellation(err))
                return { name: p.name, error: { code: 'CANCELLED', message: 'poll cancelled by pause' } };
              return { name: p.name, error: describeFailure(err) };
            }
          }),
      ),
    );

  // Registry traffic follows the watched packages; the others are polled only when a release is due.
  const polls = await poll(watched.names);
  machine.applyPolls(polls, now());
  if (machine.watchedMoved(watched.names)) {
    const others = view.packages.map((p) => p.name).filter((n) => !watched.names.includes(n));
    if (others.length > 0) {
      const more = await poll(others);
      machine.applyPolls(more, now());
      polls.push(...more);
    }
  }
  if (machine.state.paused) {
    // Paused while polling: a paused trigger does not release.
    machine.recordOutcome('paused', 'paused while polling; nothing released', now());
    return;
  }
  const failures = TriggerMachine.failures(polls);
  const decision = machine.decide(watched.names);
  if (decision.kind === 'no-change') {
    machine.recordOutcome(failures ? 'error' : 'no-change', failures ?? decision.reason, now());
    return;
  }
  try {
    const result = await createRelease({
      project: spec.project,
      request: machine.releaseRequest(decision, watched.names),
    });
    machine.recordReleaseResult(result, now());
  } catch (err) {
    const failure = describeFailure(err);
    machine.recordError(failure.code, failure.message, now());
  }
}

/** The scope polls run in, cancelled when the trigger is paused. */
class PollsInFlight {
  private scope: CancellationScope | null = null;

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const scope = new CancellationScope();
    this.scope = scope;
    try {
      return await scope.run(fn);
    } finally {
      if (this.scope === scope) this.scope = null;
    }
  }

  cancel(): void {
    this.scope?.cancel();
  }
}

function describeFailure(err: unknown): { code: string; message: string } {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) return { code: cause.type ?? 'ERROR', message: cause.message };
  if (cause instanceof Error) return { code: cause.name, message: cause.message };
  return { code: 'ERROR', message: String(cause) };
}
