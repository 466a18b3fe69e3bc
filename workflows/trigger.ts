import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { PollActivities } from '../activities/poll';
import { PackagePoll, TriggerMachine } from '../src/domain/trigger-machine';
import { initialTriggerState, TriggerSpec, TriggerState, TriggerStatus } from '../src/domain/trigger';
import { TRIGGER_STATE_ATTRIBUTE } from '../src/domain/search-attributes';

const { pollPackage } = proxyActivities<PollActivities>({
  startToCloseTimeout: '2 minutes',
  // 5xx, timeouts and resets retry with backoff; not found, unauthorized and denied fail at once
  // (the activity marks them non-retryable); a 429 waits for the registry's Retry-After.
  retry: {
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: 5,
  },
});

export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
export const pollNowSignal = defineSignal('pollNow');
/** Asks the trigger to continue as new at the next safe point (operators, and tests of carried state). */
export const continueAsNewSignal = defineSignal('continueAsNew');
export const stateQuery = defineQuery<TriggerState>('state');

export interface TriggerInput {
  readonly spec: TriggerSpec;
  /** Carried over by continue-as-new. */
  readonly state?: TriggerState;
  readonly pollPending?: boolean;
}

/** Candidates per package per poll: enough to re-rank, small enough to keep history lean. */
const CANDIDATE_LIMIT = 10;

/** A long-lived trigger: poll the watched packages, release what is later, sleep, repeat. */
export async function trigger(input: TriggerInput): Promise<void> {
  const machine = new TriggerMachine(input.state ?? initialTriggerState(input.spec));
  let pollPending = input.pollPending ?? input.state === undefined;
  // The first poll may share a recent listing with other triggers; pollNow and resume ask for a fresh one.
  let fresh = false;
  let rollover = false;
  let published: TriggerStatus = machine.status;

  const publishStatus = () => {
    if (machine.status !== published) {
      published = machine.status;
      upsertSearchAttributes([{ key: TRIGGER_STATE_ATTRIBUTE, value: published }]);
    }
  };

  setHandler(pauseSignal, () => {
    machine.pause();
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
    await pollOnce(machine, maxAgeMs);
    publishStatus();
    await condition(() => pollPending || rollover, intervalMs());
  }

  await condition(allHandlersFinished);
  machine.state.runs += 1;
  await continueAsNew<typeof trigger>({ spec: machine.state.spec, state: machine.state, pollPending });
}

async function pollOnce(machine: TriggerMachine, maxAgeMs: number | null): Promise<void> {
  const { spec } = machine.state;
  const polls: PackagePoll[] = await Promise.all(
    spec.packages.map(async (p): Promise<PackagePoll> => {
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
        return { name: p.name, error: describeFailure(err) };
      }
    }),
  );
  const now = new Date().toISOString();
  if (machine.state.paused) {
    // Paused while polling: a paused trigger does not release.
    machine.recordOutcome('paused', 'paused while polling; nothing released', now);
    return;
  }
  const decision = machine.applyPolls(polls, now);
  if (decision.kind === 'release') {
    machine.recordRelease(decision, now);
  } else {
    const { outcome, reason } = machine.noChangeOutcome(polls, decision.reason);
    machine.recordOutcome(outcome, reason, now);
  }
}

function describeFailure(err: unknown): { code: string; message: string } {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) return { code: cause.type ?? 'ERROR', message: cause.message };
  if (cause instanceof Error) return { code: cause.name, message: cause.message };
  return { code: 'ERROR', message: String(cause) };
}
