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
 * The trigger workflow's task timeout, set where a trigger starts and where it continues as new. A poll runs
 * first as a local activity inside a workflow task, and the server holds a query (every trigger read) until
 * that task completes or the worker heartbeats it, at 80 % of this timeout: at the default 10 s a read waited
 * ~8 s behind a poll of a 100k-chart Helm index (bench:hostile --reads-only), at 2 s up to 2.05 s. At 1.5 s
 * the task is heartbeaten every 1.2 s; a trigger's task itself takes milliseconds.
 */
export const TRIGGER_WORKFLOW_TASK_TIMEOUT = '1.5 seconds';
