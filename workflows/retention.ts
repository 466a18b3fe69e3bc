import { continueAsNew, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { RetentionActivities } from './contracts/activities';
import type { RetentionWorkflowInput } from './contracts/workflows';

const { applyRetention } = proxyActivities<RetentionActivities>({
  // A round answers within its budget; heartbeats after every batch find a lost worker within a minute.
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', maximumInterval: '1 minute' },
});

/** Rounds of at most this long: the ledger serves reads between its statements all along. */
const ROUND_MS = 60_000;
const HISTORY_LIMIT = 1000;

/**
 * `retention/<task queue>`, started hourly by a Temporal schedule: removes the releases the retention
 * policies let go, round after round until none is left. Each round is one activity; the schedule skips a
 * start while a run goes on.
 */
export async function retention(input: RetentionWorkflowInput): Promise<{ removed: number }> {
  let removed = 0;
  for (;;) {
    const round = await applyRetention({ batch: input.batch ?? 1000, budgetMs: ROUND_MS });
    removed += round.removed;
    if (!round.more) return { removed };
    if (workflowInfo().historyLength > HISTORY_LIMIT) await continueAsNew<typeof retention>(input);
  }
}
