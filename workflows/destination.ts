import {
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { DeliveryActivities, LedgerActivities } from './contracts/activities';
import { releaseWorkflowId } from './contracts/ids';
import { deliveryEndedSignal, wakeSignal } from './contracts/release';
import type { DestinationQueueInput } from './contracts/workflows';
import { DeliveryStatus } from '../src/domain/delivery';

const { nextDelivery } = proxyActivities<LedgerActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});
const { deliver } = proxyActivities<DeliveryActivities>({
  startToCloseTimeout: '1 minute',
  // Heartbeats every 2 s: a delivery lost with its worker is retried within seconds, not after a minute.
  heartbeatTimeout: '10 seconds',
  // The activity answers a destination's refusal or outage as a result; it throws only when the ledger
  // cannot be reached, which is retried until it can.
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

/** The longest wait between attempts while a destination is down: it gets its delivery soon after it is back. */
export const MAX_WAIT_MS = 10_000;
const BACKOFF_CAP_PATCH = 'destination-backoff-cap-2026-12';

/** A run continues as new past this many events, so a delivery retried for days keeps a short history. */
export const DESTINATION_HISTORY_LIMIT = 500;

/**
 * One destination's queue, `destination/<project>/<destination>`: sends its deliveries one at a time,
 * oldest release first, so a destination never receives an older release of a channel after a newer one
 * (`latest` destinations skip a waiting release a newer one supersedes). The ledger holds the queue; the
 * workflow holds only the retry timer. It ends when nothing waits; the next release starts it again.
 */
export async function destinationQueue(input: DestinationQueueInput): Promise<void> {
  let woken = false;
  setHandler(wakeSignal, () => {
    woken = true;
  });
  let failures = input.failures ?? 0;
  const tell = async (number: string, status: DeliveryStatus) => {
    try {
      await getExternalWorkflowHandle(releaseWorkflowId(input.project, number)).signal(deliveryEndedSignal, {
        destination: input.destination,
        status,
      });
    } catch {
      // The release workflow has ended (or was cancelled with its project): the ledger has the status.
    }
  };
  for (;;) {
    woken = false;
    const next = await nextDelivery({ project: input.project, destination: input.destination });
    if (next.kind === 'gone') return;
    for (const e of next.ended) await tell(e.number, e.status);
    if (next.kind === 'idle') {
      if (woken) continue;
      return;
    }
    const outcome = await deliver({
      project: input.project,
      destination: input.destination,
      releaseId: next.releaseId,
      backoff: input.backoff,
    });
    if (outcome.status === 'pending') {
      failures += 1;
      // The activity already waited through the first steps of the backoff; the timer continues from there.
      const step = Math.min(failures - 1 + input.backoff.quickTries, 30);
      // Queues started with a longer cap (once 10 minutes) wait at most MAX_WAIT_MS too.
      const cap = patched(BACKOFF_CAP_PATCH)
        ? Math.min(input.backoff.maxMs, MAX_WAIT_MS)
        : input.backoff.maxMs;
      const wait = Math.min(cap, input.backoff.initialMs * 2 ** step);
      // A new release wakes the queue early: a `latest` destination then skips what it supersedes.
      await condition(() => woken, wait);
    } else {
      failures = 0;
      await tell(next.number, outcome.status);
    }
    const limit = input.historyLimit ?? DESTINATION_HISTORY_LIMIT;
    if (workflowInfo().historyLength > limit || workflowInfo().continueAsNewSuggested)
      await continueAsNew<typeof destinationQueue>({ ...input, failures });
  }
}
