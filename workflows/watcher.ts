import { continueAsNew, proxyActivities, sleep, workflowInfo } from '@temporalio/workflow';
import type { WatcherActivities } from './contracts/activities';
import type { WatcherInput } from './contracts/workflows';

/**
 * The check of a shard: reads that a kill interrupts are tried again (heartbeats every few seconds), and a
 * retry reads from the fingerprints recorded before it, so it wakes every trigger the lost attempt may not have.
 */
const { checkPackages } = proxyActivities<WatcherActivities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
});

/** A run continues as new past this many events (about 45 checks). */
export const WATCHER_HISTORY_LIMIT = 500;

/**
 * A package watcher: checks its shard of watched packages when they are due and sleeps until the next is.
 * Wiring only: which packages, which triggers and what they last showed live in the ledger
 * (src/db/package-watches.ts), so the history holds one activity and one timer per check, whatever the
 * number of triggers. Ends when no trigger watches a package of its shard.
 */
export async function watcher(input: WatcherInput): Promise<void> {
  while (workflowInfo().historyLength < WATCHER_HISTORY_LIMIT && !workflowInfo().continueAsNewSuggested) {
    const checked = await checkPackages({ shard: input.shard });
    if (checked.packages === 0) return;
    await sleep(checked.nextCheckInMs);
  }
  await continueAsNew<typeof watcher>(input);
}
