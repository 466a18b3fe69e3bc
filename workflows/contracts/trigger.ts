import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { HistoryEntry, PollNowRequest, TriggerSpec, TriggerState } from '../../src/domain/trigger';

/**
 * The trigger workflow's messages, apart from its implementation, so the API, activities and tests can
 * signal, query and update a trigger without importing the workflow.
 */
export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
export type { PollNowRequest };
export const pollNowSignal = defineSignal<[PollNowRequest?]>('pollNow');
/** Asks the trigger to continue as new at the next safe point (operators, and tests of carried state). */
export const continueAsNewSignal = defineSignal('continueAsNew');
export const stateQuery = defineQuery<TriggerState>('state');
export const historyQuery = defineQuery<HistoryEntry[]>('history');
/** An update, so a bad change (an unknown field, a short interval) is refused to the caller and nothing changes. */
export const configureTriggerUpdate = defineUpdate<
  { changed: boolean },
  [Pick<TriggerSpec, 'channel' | 'watch' | 'intervalSeconds'>]
>('configureTrigger');

/**
 * The trigger workflow's task timeout, set where a trigger starts and where it continues as new. A task still
 * in the worker when it passes is lost: the server times it out and schedules it again, the worker's
 * completion is refused ("Task not found") and the run is evicted, so the next task replays its history. At
 * 1.5 s a worker with 200 tasks in hand could not turn each around in time: 1,000 triggers evicted 2,810 runs
 * in 2 minutes, every one for that (bench:scale), and the replays kept it loaded (73 % CPU, 2.2 listings per
 * package per interval); at 10 s (Temporal's default) none, and 7 % CPU. The price: a poll runs first as a
 * local activity inside a task, and the server holds a query (every trigger read) until that task completes
 * or the worker heartbeats it, at 80 % of this timeout, so a read can wait up to 8 s behind a poll that takes
 * that long (a 100k-chart Helm index, bench:hostile --reads-only; 1.2 s at 1.5 s). A trigger's task itself
 * takes milliseconds.
 */
export const TRIGGER_WORKFLOW_TASK_TIMEOUT = '10 seconds';
