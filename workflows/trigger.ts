import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  deprecatePatch,
  makeContinueAsNewFunc,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { triggerDetails } from '../src/domain/ui-text';
import type {
  AnnounceActivities,
  ChannelActivities,
  LedgerActivities,
  LoadChannelResult,
  PollActivities,
  WatcherActivities,
} from './contracts/activities';
import {
  CHANNEL_ATTRIBUTE,
  PACKAGES_ATTRIBUTE,
  TRIGGER_STATE_ATTRIBUTE,
} from './contracts/search-attributes';
import { TRIGGER_PATHS, type TriggerInput } from './contracts/workflows';
import { PackagePoll, TriggerMachine } from '../src/domain/trigger-machine';
import { FailureCode } from '../src/domain/failures';
import { activityFailure, FailureInfo, localActivityFailure } from './failures';
import {
  configureTriggerUpdate,
  continueAsNewSignal,
  historyQuery,
  pauseSignal,
  pollNowSignal,
  resumeSignal,
  stateQuery,
  TRIGGER_WORKFLOW_TASK_TIMEOUT,
} from './contracts/trigger';
import { initialTriggerState, PackageRef, shownState, TriggerStatus } from '../src/domain/trigger';

/** The options of a poll: pollPackage, and pollChannel (a poll with the channel's revision check before it). */
const POLL_OPTIONS = {
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
} as const;
const { pollPackage } = proxyActivities<PollActivities>(POLL_OPTIONS);
const { pollChannel } = proxyActivities<ChannelActivities>(POLL_OPTIONS);
/**
 * The same polls with retries at most 4 s apart (FAILURES_VISIBLE_PATCH): a registry that comes back is
 * polled again within seconds, not after a backoff grown to 16 s.
 */
const CAPPED_POLL_OPTIONS = {
  ...POLL_OPTIONS,
  retry: { ...POLL_OPTIONS.retry, initialInterval: '1 second', maximumInterval: '4 seconds' },
} as const;
const { pollPackage: pollPackageCapped } = proxyActivities<PollActivities>(CAPPED_POLL_OPTIONS);
const { pollChannel: pollChannelCapped } = proxyActivities<ChannelActivities>(CAPPED_POLL_OPTIONS);
/**
 * The idle poll's first try, run by the worker that holds the trigger, inside the workflow task: no activity
 * task, no second workflow task, one marker in history. A failure that may pass is tried again as the
 * durable activity above (server-side retries, heartbeats, visible as retrying), after any Retry-After.
 */
const { pollChannel: pollChannelHere } = proxyLocalActivities<ChannelActivities>({
  startToCloseTimeout: '20 seconds',
  retry: { maximumAttempts: 1 },
});
/**
 * A package's poll the same way (LATEST_PATCH): the polls of a trigger watching several packages, and of the
 * packages a release takes along once a watched one moved, run inside the workflow task, not as an activity
 * task and a workflow task each.
 */
const { pollPackage: pollPackageHere } = proxyLocalActivities<PollActivities>({
  startToCloseTimeout: '20 seconds',
  retry: { maximumAttempts: 1 },
});
/**
 * Subscribing to package watchers: a local activity (one marker in history, in the workflow task of the
 * evaluation before it), asked only when the subscription changes and at scheduled polls, which make sure the
 * watchers still run.
 */
const { watchPackages: watchPackagesHere } = proxyLocalActivities<WatcherActivities>({
  startToCloseTimeout: '20 seconds',
  retry: { maximumAttempts: 3, initialInterval: '1 second' },
});
/**
 * Telling the console that what it shows of the trigger changed: a local activity (one marker in history),
 * asked only on such a change; one lost is not tried again (the page re-reads at its next change).
 */
const { announceTrigger: announceTriggerHere } = proxyLocalActivities<AnnounceActivities>({
  startToCloseTimeout: '5 seconds',
  retry: { maximumAttempts: 1 },
});
/**
 * A release's creation the same way (NEWEST_PATCH): the ledger's transaction and the release workflow's start,
 * run by the worker that holds the trigger inside the workflow task (one marker), the durable activity below
 * only when that try fails in a way that may pass (the database or Temporal unreachable). A try run twice (a
 * task that failed after it) finds its release by the request's key and only makes sure its workflow runs.
 */
const { createRelease: createReleaseHere } = proxyLocalActivities<LedgerActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 1 },
});
const { loadChannel, createRelease } = proxyActivities<LedgerActivities>({
  // An update takes milliseconds, but many triggers racing on one project can see the server abort and the
  // client retry updates; leave room for that, and still move a call lost with its worker elsewhere soon.
  startToCloseTimeout: '30 seconds',
  // Creating a release must not be lost: retry until the project answers (the key makes retries safe).
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds' },
});

/** A long-lived trigger: load the channel, poll the watched packages, ask the project for a release, sleep. */
export async function trigger(input: TriggerInput): Promise<void> {
  // A run started by this code names its paths in its input (TRIGGER_PATHS) and takes every versioned path
  // below with no marker at all; one started under NEWEST_PATCH before that took them on that one marker
  // (asking each patch would write a marker and a search-attribute upsert apiece). A run started under an
  // earlier umbrella (LATEST_PATCH, CURRENT_PATCH) takes its paths and asks the later patches as they matter;
  // one under LATEST_PATCH creates its releases as the durable activity, as it did. Every value `paths` may
  // hold names NEWEST_PATCH's paths or later ones.
  //
  // In a rolling upgrade a worker of the code before this one may run the first task of a run that names its
  // paths: it ignores `paths`, asks NEWEST_PATCH and records its marker. A replay here takes that marker (a
  // replay with no marker answers false and records nothing), so such a history replays on this code too;
  // a run executing here afresh asks nothing and records nothing.
  const named = input.paths !== undefined;
  if (named && workflowInfo().unsafe.isReplaying) patched(NEWEST_PATCH);
  const newest = named || patched(NEWEST_PATCH);
  const latest = newest || patched(LATEST_PATCH);
  const current = latest || patched(CURRENT_PATCH);
  const machine = new TriggerMachine(input.state ?? initialTriggerState(input.spec), {
    metadataOrder: () => (latest || patched(METADATA_ORDER_PATCH) ? 'numeric' : 'text'),
  });
  if (!input.state && input.view) machine.applyLoad({ unchanged: false, view: input.view });
  let pollPending = input.pollPending ?? input.state === undefined;
  // The first poll may share a recent listing with other triggers; pollNow and resume ask for a fresh one.
  let fresh = false;
  // A package watcher's wake: its poll takes the listing the watcher read since then (epoch ms), not a new one.
  let listedSince: number | null = null;
  let rollover = false;
  let published: TriggerStatus = machine.status;
  // Polls in flight, so a pause can cancel them.
  const polls = new PollsInFlight();

  // What the Temporal UI shows of this trigger (no history event: read through the metadata query).
  let nextPollAt: string | null = null;
  const publishDetails = () => setCurrentDetails(triggerDetails(machine.state, nextPollAt));
  const publishStatus = () => {
    publishDetails();
    if (machine.status !== published) {
      published = machine.status;
      upsertSearchAttributes([{ key: TRIGGER_STATE_ATTRIBUTE, value: published }]);
    }
  };

  // What the console shows of the trigger as last announced (or as this run found it): an idle poll leaves it
  // as it is, so 20,000 idle triggers announce nothing.
  let shown = shownState(machine.state);
  let announcing: boolean | undefined;
  const announceShown = async () => {
    const now = shownState(machine.state);
    if (now === shown) return;
    shown = now;
    if (!(announcing ??= latest || patched(ANNOUNCE_PATCH))) return;
    try {
      await announceTriggerHere({ project: machine.state.spec.project, trigger: machine.state.spec.name });
    } catch (err) {
      if (isCancellation(err)) throw err;
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
  setHandler(pollNowSignal, (request) => {
    if (machine.state.paused) return;
    pollPending = true;
    const listedAt = request?.listedAt;
    if (typeof listedAt === 'number' && Number.isFinite(listedAt))
      listedSince = listedSince === null ? listedAt : Math.min(listedSince, listedAt);
    else fresh = true;
    if (request) machine.noteNotification(request, Date.now());
  });
  setHandler(continueAsNewSignal, () => {
    rollover = true;
  });
  setHandler(stateQuery, () => machine.state);
  setHandler(historyQuery, () => machine.state.history);
  setHandler(
    configureTriggerUpdate,
    (change) => {
      const { changed, channelChanged } = machine.configure(change);
      if (channelChanged)
        upsertSearchAttributes([{ key: CHANNEL_ATTRIBUTE, value: machine.state.spec.channel }]);
      if (changed) pollPending = true;
      return { changed };
    },
    {
      validator: (change) => {
        const refusal = machine.refuseChange(change);
        if (refusal) throw ApplicationFailure.nonRetryable(refusal, FailureCode.INVALID_TRIGGER);
      },
    },
  );

  // Keeps the watched-packages search attribute in step with the project and the watch list.
  let publishedPackages = JSON.stringify(
    [...(input.packages ?? workflowInfo().typedSearchAttributes.get(PACKAGES_ATTRIBUTE) ?? [])].sort(),
  );
  const publishWatched = (keys: string[]) => {
    const text = JSON.stringify([...keys].sort());
    if (text === publishedPackages) return;
    publishedPackages = text;
    upsertSearchAttributes([{ key: PACKAGES_ATTRIBUTE, value: keys }]);
  };

  // The slot a scheduled poll is due at (the poll-lag metric; listings shared from it); null when asked for.
  let dueAtMs: number | null = null;
  // Whether a notified tag not seen yet brings the next poll forward; asked once, when one first is.
  let wantedSoon: boolean | undefined;
  // Whether feed failures show at once and are polled for again soon; asked once, when it first matters.
  let failuresVisible: boolean | undefined;
  const visibleFailures = () => (failuresVisible ??= latest || patched(FAILURES_VISIBLE_PATCH));
  // Whether the evaluation about to run is the trigger's own scheduled poll (not asked for, not early).
  let onSchedule = false;
  const waitForSlot = async () => {
    const now = Date.now();
    if (!current) deprecatePatch(EVEN_PHASES_PATCH);
    // Subscribed to its packages' watchers, the trigger's own polls are a safety net on a long interval.
    const at = now + machine.nextPollDelayMs(now, true, machine.ownPollIntervalMs());
    const wanted = machine.wantedPollDelayMs(now);
    const failing = machine.failingPollDelayMs(now);
    let early: number | null = null;
    let earlyFresh = false;
    if (wanted !== null && now + wanted < at && (wantedSoon ??= latest || patched(WANTED_TAGS_PATCH))) {
      early = now + wanted;
      earlyFresh = true; // a shared listing may predate the push
    }
    let failingDue = false;
    if (failing !== null && now + failing < (early ?? at) && visibleFailures()) {
      early = now + failing;
      earlyFresh = false;
      failingDue = latest || patched(FAILING_POLL_DUE_PATCH);
    }
    nextPollAt = new Date(early ?? at).toISOString();
    publishDetails();
    const asked = await condition(() => pollPending || rollover, (early ?? at) - Date.now());
    if (!asked && earlyFresh) fresh = true;
    onSchedule = !asked && early === null;
    // A failing feed's early poll is due at its own time: with no due time it would take any cached listing,
    // one read before the failure included, and answer "no change" from it while the registry is down.
    dueAtMs = asked || (early !== null && !failingDue) ? null : (early ?? at);
  };
  if (!pollPending && machine.state.lastPoll) await waitForSlot();
  else if (!input.state && input.firstPoll === 'slot' && (latest || patched(FIRST_POLL_AT_SLOT_PATCH))) {
    // Created in bulk: the first poll waits for the trigger's slot like every later one, so thousands of new
    // triggers poll (and subscribe) spread over their interval, those on one package together, one listing.
    pollPending = false;
    await waitForSlot();
  }

  // Package watchers (WATCHERS_PATCH): offered only by workers that run them (the channel's load says so).
  let watchersOffered = false;
  let watchersPatch: boolean | undefined;
  // A subscription a worker without watchers declined in this run: not asked again until the next run.
  let declined: string | null = null;
  // Whether this evaluation loaded the channel: one that failed before says nothing of the worker's watchers.
  let loaded = false;
  const noteLoad = (load: LoadChannelResult) => {
    watchersOffered = load.watchers === true;
    loaded = true;
  };
  const subscribe = async (scheduled: boolean) => {
    if (!loaded) return;
    loaded = false;
    const wanted = watchersOffered ? machine.watcherSubscription() : null;
    const same = machine.subscribedAsWanted(wanted);
    // A scheduled poll of a subscribed trigger makes sure its watchers still run (one may have ended).
    if (same && !(wanted && scheduled)) return;
    const text = JSON.stringify(wanted);
    if (!same && declined === text) return;
    if (!(watchersPatch ??= latest || patched(WATCHERS_PATCH))) return;
    try {
      // The fingerprints (in the input, and `caughtUp` in the answer) come from recorded poll results and
      // the recorded answer: histories from before them replay as they ran (no patch needed).
      const { watching, caughtUp } = await watchPackagesHere({
        trigger: machine.id,
        packages: wanted?.packages ?? [],
        intervalSeconds: machine.state.spec.intervalSeconds,
        channel: machine.state.spec.channel,
        paused: machine.state.paused,
        ...(wanted?.fingerprints ? { fingerprints: wanted.fingerprints } : {}),
      });
      if (!wanted || !watching) {
        machine.state.watching = null;
        if (wanted) declined = text;
      } else if (!same)
        machine.state.watching = {
          keys: wanted.keys,
          intervalSeconds: wanted.intervalSeconds,
          since: new Date().toISOString(),
          ...(caughtUp ? { caughtUp: true } : {}),
        };
    } catch (err) {
      if (isCancellation(err)) throw err;
      // Not subscribed for sure: the trigger polls on its own interval and subscribes at its next evaluation.
      machine.state.watching = null;
    }
  };

  // Short runs keep an evicted trigger cheap to wake: its replay reads at most this many events.
  if (!current) deprecatePatch(SHORT_RUNS_PATCH);
  while (
    !rollover &&
    !workflowInfo().continueAsNewSuggested &&
    workflowInfo().historyLength < TRIGGER_HISTORY_LIMIT
  ) {
    await condition(() => !machine.state.paused || rollover);
    if (rollover) break;
    // A watcher's wake shares the listing it read (with a little room for the clocks of two processes).
    const maxAgeMs = fresh
      ? 0
      : listedSince !== null
        ? Math.max(0, Date.now() - listedSince) + WAKE_SHARE_MS
        : null;
    const scheduled = onSchedule;
    pollPending = fresh = onSchedule = false;
    listedSince = null;
    machine.takeNotifications();
    await evaluate(
      machine,
      {
        maxAgeMs,
        dueAtMs,
        current,
        localPolls: latest,
        localRelease: newest,
        visibleFailures,
        onStatus: publishStatus,
        onShown: announceShown,
        noteLoad,
      },
      publishWatched,
      polls,
    );
    if (current) await subscribe(scheduled);
    machine.noteUnseen(Date.now());
    publishStatus();
    await announceShown();
    await waitForSlot();
  }

  await condition(allHandlersFinished);
  machine.state.runs += 1;
  // The task timeout is set again (a new run would otherwise keep the old one), so running triggers take a
  // changed TRIGGER_WORKFLOW_TASK_TIMEOUT at their rollover.
  await makeContinueAsNewFunc<typeof trigger>({ workflowTaskTimeout: TRIGGER_WORKFLOW_TASK_TIMEOUT })({
    spec: machine.state.spec,
    state: machine.state,
    pollPending,
    packages: JSON.parse(publishedPackages) as string[],
    paths: TRIGGER_PATHS,
  });
}

/** Failures of the channel's load (as opposed to a feed's): the evaluation ends with the error recorded. */
const LOAD_FAILURES: ReadonlySet<string> = new Set([
  FailureCode.PROJECT_NOT_FOUND,
  FailureCode.CHANNEL_NOT_FOUND,
]);

/**
 * Versions the trigger's announcements to the console (a local activity `announceTrigger`) when what a page
 * shows of it changes: its status, the last poll's outcome, a package's latest version or error, its last
 * release. Asked only at the first such change of a run, so an idle run writes no marker for it.
 */
const ANNOUNCE_PATCH = 'announce-shown-changes-2026-12';

/** A run continues as new past this many events (about 90 idle iterations). */
export const TRIGGER_HISTORY_LIMIT = 1000;
/**
 * Deprecated (docs/versioning.md): runs end past TRIGGER_HISTORY_LIMIT unconditionally; the call stays
 * for runs from before CURRENT_PATCH whose history holds its marker.
 */
const SHORT_RUNS_PATCH = 'continue-as-new-past-1000-events';
/**
 * Deprecated (docs/versioning.md): poll phases come from a mixed hash, spread evenly over the interval
 * (nextPollDelayMs), unconditionally; the call stays for runs from before CURRENT_PATCH with its marker.
 */
const EVEN_PHASES_PATCH = 'even-poll-phases';

/**
 * Versions the early poll for a notified tag no poll has seen yet (registry 2.8 notifies before the tag
 * can be read). Asked only when such a tag is waiting, so an idle run writes no marker for it.
 */
const WANTED_TAGS_PATCH = 'poll-again-for-notified-tags';
/**
 * Versions what a failing poll does: its first failure shows in the state at once, its retries come at most
 * 4 s apart, and a feed that fails that way is polled again 4 s after the evaluation (for 10 minutes), so an
 * outage shows within an interval and its end within seconds. Asked when a poll first fails or, for
 * triggers watching several packages, at their first poll.
 */
const FAILURES_VISIBLE_PATCH = 'feed-failures-visible-at-once';

/**
 * Versions the due time of a failing feed's early poll: it shares only listings read since shortly before
 * it was due, not any cached one (which, read before the failure, answered "no change" during an outage).
 * Asked only when such a poll is scheduled, so an idle run writes no marker for it.
 */
const FAILING_POLL_DUE_PATCH = 'failing-poll-due-at-its-time-2026-12';

/**
 * Versions package watchers: a trigger on a worker that runs them subscribes its watched packages (a local
 * activity) and then polls on its own only on a long safety interval, woken by the watcher when a package
 * changes. Asked only when a worker offers watchers and the trigger's rules let a watcher stand in for it.
 */
const WATCHERS_PATCH = 'package-watchers-2026-12';
/**
 * Versions the first poll of a trigger created in bulk (`firstPoll: 'slot'`): at its slot in the interval,
 * not at once. Asked only by runs started with that input, so no other run writes its marker.
 */
const FIRST_POLL_AT_SLOT_PATCH = 'first-poll-at-slot-2026-12';
/** How much older than the watcher's read start a woken poll's listing may be (clocks of two processes). */
const WAKE_SHARE_MS = 2_000;

/** How much later than the trigger's interval a take-along package's last watcher read may be (a check's length). */
const TAKE_ALONG_SLACK_MS = 5_000;

/**
 * Stands for every patch below (and the two deprecated above) in runs started since: they take all the
 * new paths. Each patch's history and retirement rule: docs/versioning.md.
 */
const CURRENT_PATCH = 'trigger-paths-2026-11';
/**
 * The umbrella after it: a run started since takes CURRENT_PATCH's paths and those of every patch above
 * (announcements, failures visible at once, the failing poll's due time, notified tags, watchers, the
 * first poll at its slot, the build-metadata order) without asking them, and polls packages here first
 * (pollPackageHere). Runs started under CURRENT_PATCH ask those patches as before.
 */
const LATEST_PATCH = 'trigger-paths-2026-12';
/**
 * The umbrella after that: a run started since takes LATEST_PATCH's paths and creates its releases in the
 * workflow task (createReleaseHere, the durable activity only when that try fails): a new trigger's first
 * release, and every release after a push, used to cost an activity task and a workflow task each.
 */
const NEWEST_PATCH = 'trigger-paths-2026-12b';

/** Versions an idle iteration as one activity (pollChannel) instead of loadChannel and pollPackage. */
const ONE_ACTIVITY_PATCH = 'poll-channel-in-one-activity';
/** Versions the idle poll as a local activity first, the durable activity only when that try fails. */
const LOCAL_FIRST_PATCH = 'idle-poll-local-first';
/** Versions the pick among versions equal but for build metadata (numeric-aware, as Helm; asked only then). */
const METADATA_ORDER_PATCH = 'build-metadata-numeric-order';

/**
 * Runs `here` (a local activity); when it fails with a failure that may pass (a 5xx, a timeout, a reset),
 * waits what the feed asked (Retry-After) and runs `durable`, the same work as an activity with retries.
 * Cancellation and non-retryable failures (not found, denied, no such channel) are final at once.
 */
async function localFirst<T>(
  here: () => Promise<T>,
  durable: () => Promise<T>,
  onFailure?: (failure: FailureInfo) => void | Promise<void>,
): Promise<T> {
  try {
    return await here();
  } catch (err) {
    if (isCancellation(err)) throw err;
    const cause = err instanceof ActivityFailure ? err.cause : localActivityFailure(err);
    if (!cause) throw err;
    if (cause instanceof ApplicationFailure && cause.nonRetryable) throw err;
    await onFailure?.(activityFailure(err));
    const delay =
      cause instanceof ApplicationFailure ? cause.failure?.applicationFailureInfo?.nextRetryDelay : null;
    const delayMs = delay ? Number(delay.seconds ?? 0) * 1000 + Math.floor((delay.nanos ?? 0) / 1e6) : 0;
    if (delayMs > 0) await sleep(delayMs);
    return durable();
  }
}

/** One evaluation, as the machine directs it: load the channel, poll, decide, and ask for a release. */
async function evaluate(
  machine: TriggerMachine,
  {
    maxAgeMs,
    dueAtMs,
    current,
    localPolls,
    localRelease,
    visibleFailures,
    onStatus,
    onShown,
    noteLoad,
  }: {
    maxAgeMs: number | null;
    dueAtMs: number | null;
    current: boolean;
    /** Whether the package polls run here first (local activities), as the idle poll does (LATEST_PATCH). */
    localPolls: boolean;
    /** Whether the release is created here first (a local activity), as the polls are (NEWEST_PATCH). */
    localRelease: boolean;
    /** Whether this run takes FAILURES_VISIBLE_PATCH's path (asked when it first matters). */
    visibleFailures: () => boolean;
    /** Publishes the trigger's status (a failure recorded before the evaluation ends). */
    onStatus: () => void;
    /** Announces to the console what it shows of the trigger, if that changed. */
    onShown: () => Promise<void>;
    /** Told what the channel's load answered (whether the worker offers package watchers). */
    noteLoad?: (load: LoadChannelResult) => void;
  },
  onWatched: (keys: string[]) => void,
  inFlight: PollsInFlight,
): Promise<void> {
  const now = () => new Date().toISOString();
  // A trigger that watches one package checks the channel and polls in one activity; the poll is used
  // when the channel is unchanged (the common, idle case), else it polls again with the new view.
  const single = machine.singleWatched();
  let early: PackagePoll | null = null;
  if (single && (current || patched(LOCAL_FIRST_PATCH) || patched(ONE_ACTIVITY_PATCH))) {
    const input = {
      load: machine.loadRequest(),
      poll: machine.pollRequest(single, maxAgeMs, dueAtMs),
      name: single.name,
    };
    // Replays of runs from before the local-first patch take the activity path they recorded.
    const here = current || patched(LOCAL_FIRST_PATCH);
    try {
      const result = await inFlight.run(() =>
        here
          ? localFirst(
              () => pollChannelHere(input),
              () => (visibleFailures() ? pollChannelCapped(input) : pollChannel(input)),
              async (failure) => {
                if (!visibleFailures()) return;
                machine.notePollFailure(single.name, failure, now());
                onStatus();
                // The failure shows before the retries end: the console is told now, not after them.
                await onShown();
              },
            )
          : pollChannel(input),
      );
      machine.applyLoad(result.load);
      noteLoad?.(result.load);
      // A poll made with the changed channel's view counts only if the trigger, now holding that view,
      // would ask exactly the same (same package, rule and watermark).
      const watched = machine.singleWatched();
      const same =
        !result.polled ||
        (watched?.name === single.name &&
          JSON.stringify(machine.pollRequest(watched, maxAgeMs, dueAtMs)) === JSON.stringify(result.polled));
      if (result.poll && same) early = { name: single.name, ok: result.poll };
    } catch (err) {
      if (isCancellation(err))
        early = {
          name: single.name,
          error: { code: FailureCode.CANCELLED, message: 'poll cancelled by pause' },
        };
      else {
        const failure = activityFailure(err);
        if (LOAD_FAILURES.has(failure.code)) return machine.recordError(failure.code, failure.message, now());
        early = { name: single.name, error: failure };
      }
    }
  } else {
    try {
      const load = await loadChannel(machine.loadRequest());
      machine.applyLoad(load);
      noteLoad?.(load);
    } catch (err) {
      const failure = activityFailure(err);
      return machine.recordError(failure.code, failure.message, now());
    }
  }
  const plan = machine.beginEvaluation(now());
  if (!plan) return;
  onWatched(plan.keys);
  // The packages a release takes along share their watchers' last reads, up to about an interval old: a
  // move of theirs wakes their own triggers. A poll asked to be fresh stays fresh for every package.
  const takeAlong = {
    maxAgeMs: machine.state.spec.intervalSeconds * 1000 + TAKE_ALONG_SLACK_MS,
    project: machine.state.spec.project,
    channel: machine.state.spec.channel,
  };
  const poll = (refs: readonly PackageRef[], along = false) =>
    inFlight.run(() =>
      Promise.all(
        refs.map(async (ref): Promise<PackagePoll> => {
          try {
            const durable = visibleFailures() ? pollPackageCapped : pollPackage;
            const asked = machine.pollRequest(ref, maxAgeMs, dueAtMs);
            const request = along && maxAgeMs !== 0 ? { ...asked, takeAlong } : asked;
            const ok = await (localPolls
              ? localFirst(
                  () => pollPackageHere(request),
                  () => durable(request),
                )
              : durable(request));
            return { name: ref.name, ok };
          } catch (err) {
            if (isCancellation(err))
              return {
                name: ref.name,
                error: { code: FailureCode.CANCELLED, message: 'poll cancelled by pause' },
              };
            return { name: ref.name, error: activityFailure(err) };
          }
        }),
      ),
    );
  const reuse = early !== null && plan.polls.length === 1 && plan.polls[0].name === early.name;
  machine.applyPolls(reuse ? [early!] : await poll(plan.polls), now());
  const more = machine.nextPolls();
  if (more.length > 0) machine.applyPolls(await poll(more, true), now());
  const request = machine.conclude(now());
  if (!request) return;
  try {
    const input = { project: machine.state.spec.project, request };
    const result = await (localRelease
      ? localFirst(
          () => createReleaseHere(input),
          () => createRelease(input),
        )
      : createRelease(input));
    machine.recordReleaseResult(result, now());
  } catch (err) {
    const failure = activityFailure(err);
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
