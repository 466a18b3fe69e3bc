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
