import {
  condition,
  continueAsNew,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { releaseDetails } from '../src/domain/ui-text';
import type { LedgerActivities } from '../activities/ledger';
import { DeliveryStatus, TERMINAL_DELIVERY } from '../src/domain/delivery';
import { deliveryEndedSignal } from './messages/release';

export * from './messages/release';

const { handOff } = proxyActivities<LedgerActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

export interface ReleaseInput {
  readonly project: string;
  /** The release's id in the ledger (a re-created project's release of the same number has another). */
  readonly releaseId: number;
  readonly number: string;
}

/** How often a release looks again at deliveries it has not heard from (a lost wake is repaired). */
const RECHECK = '1 hour';
const HISTORY_LIMIT = 2000;

/**
 * A release in flight, `release/<project>/<number>`: it hands the release to each destination's queue
 * (deliveries to one destination happen one at a time, in release order) and ends when every delivery
 * has ended. Promotion through environments will live here too.
 */
export async function release(input: ReleaseInput): Promise<Record<string, DeliveryStatus>> {
  const known = new Map<string, DeliveryStatus>();
  let waiting: string[] = [];
  setHandler(deliveryEndedSignal, ({ destination, status }) => {
    if (TERMINAL_DELIVERY.has(status)) known.set(destination, status);
  });
  // What the Temporal UI shows: the phase and each delivery's state.
  let all: Record<string, DeliveryStatus> = {};
  const show = (phase: string) =>
    setCurrentDetails(releaseDetails(phase, { ...all, ...Object.fromEntries(known) }));
  show('Handing off to destinations');
  for (;;) {
    const statuses = await handOff({ project: input.project, releaseId: input.releaseId });
    all = statuses;
    for (const [destination, status] of Object.entries(statuses))
      if (TERMINAL_DELIVERY.has(status) && !known.has(destination)) known.set(destination, status);
    waiting = Object.keys(statuses).filter((d) => !known.has(d));
    show(waiting.length > 0 ? `Delivering to ${waiting.join(', ')}` : 'Delivered');
    if (await condition(() => waiting.every((d) => known.has(d)), RECHECK)) break;
    if (workflowInfo().historyLength > HISTORY_LIMIT) await continueAsNew<typeof release>(input);
  }
  show('Every delivery ended');
  return Object.fromEntries(known);
}
