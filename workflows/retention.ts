import { continueAsNew, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { RetentionActivities } from './contracts/activities';
import type { RetentionWorkflowInput } from './contracts/workflows';

const { applyRetention } = proxyActivities<RetentionActivities>({
  // A round answers within its budget; heartbeats after every batch find a lost worker within a minute.
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', maximumInterval: '1 minute' },
});

/**
 * Rounds of at most this long: the ledger serves reads between its statements all along. Batches of 200:
 * bench:retention measured reads' p95 at 132 ms during the removal on the embedded database (181 ms at
 * 1,000), and at 9.7 ms on PostgreSQL (7.9 ms before), removing 100,000 releases in 6 to 15 s.
 */
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
    const round = await applyRetention({ batch: input.batch ?? 200, budgetMs: ROUND_MS });
    removed += round.removed;
    if (!round.more) return { removed };
    if (workflowInfo().historyLength > HISTORY_LIMIT) await continueAsNew<typeof retention>(input);
  }
}
