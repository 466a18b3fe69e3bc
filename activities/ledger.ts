import { metrics } from '../src/observability/metrics';
import { ApplicationFailure } from '@temporalio/activity';
import { Client } from '@temporalio/client';
import { Ledger, LedgerError, publicRelease } from '../src/db/ledger';
import type { NextDelivery } from '../src/domain/delivery';
import type { CreateReleaseRequest, CreateReleaseResult, DeliveryStatus } from '../src/domain/project';
import type {
  LedgerActivities,
  LoadChannelInput,
  LoadChannelResult,
} from '../workflows/contracts/activities';
import { startRelease, wakeDestinationQueue } from '../workflows/contracts/client';
import type { DeliveryBackoff } from '../src/domain/delivery';

export interface LedgerDependencies {
  readonly ledger: Ledger;
  readonly client: Client;
  /** Where release workflows and destination queues run (this worker's task queue). */
  readonly taskQueue: string;
  /** Waits between delivery attempts while a destination is down. */
  readonly deliveryBackoff?: DeliveryBackoff;
  /** Events after which a destination queue continues as new (tests lower it). */
  readonly queueHistoryLimit?: number;
  /** Whether this worker runs package watchers: a channel's load then tells the trigger it may subscribe. */
  readonly watchers?: boolean;
  /**
   * How young the channel's last release must be for a trigger's release to keep the packages it takes along
   * at their versions there, where it read older ones (Ledger.createRelease): at least the oldest read a
   * request can hold. Absent: nothing is kept.
   */
  readonly keepTakenAlongMs?: number;
}

/**
 * 2 s, 4 s inside the first activity (three quick tries), then 8 s and 10 s from then on: a destination back
 * from an outage gets its delivery within about 10 s, at the cost of one request every 10 s while it is down.
 */
export const DEFAULT_DELIVERY_BACKOFF: DeliveryBackoff = {
  initialMs: 2000,
  maxMs: 10_000,
  quickTries: 3,
};

/** A ledger refusal as a non-retryable failure with its code; anything else (the database is down) is retried. */
async function refusing<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof LedgerError) throw ApplicationFailure.nonRetryable(err.message, err.code);
    throw err;
  }
}

/** Activities on the ledger: the channel a trigger evaluates, release creation, and delivery queues. */
export function createLedgerActivities(deps: LedgerDependencies): LedgerActivities {
  const { ledger, client, taskQueue } = deps;
  const backoff = deps.deliveryBackoff ?? DEFAULT_DELIVERY_BACKOFF;

  return {
    /** The channel's packages, rules and previous release, unless the trigger's copy is current. */
    async loadChannel(input: LoadChannelInput): Promise<LoadChannelResult> {
      const view = await refusing(() =>
        ledger.channelView(input.project, input.channel, input.knownRevision),
      );
      const offer = deps.watchers ? { watchers: true as const } : {};
      if (view === null) return { unchanged: true, ...offer };
      return {
        unchanged: false,
        view: {
          revision: view.revision,
          packages: view.packages,
          rules: view.rules,
          lastRelease: view.lastRelease,
        },
        ...offer,
      };
    },

    /**
     * Records a release in one transaction (a retry with the same key finds it), then starts its workflow.
     * "Already released" and "not later" are answers, not failures: the trigger records them.
     */
    async createRelease(input: {
      project: string;
      request: CreateReleaseRequest;
    }): Promise<CreateReleaseResult> {
      const { followsLifecycle, ...result } = await refusing(() =>
        ledger.createRelease(input.project, input.request, new Date(), deps.keepTakenAlongMs ?? 0),
      );
      if (result.outcome === 'created') metrics.releasesCreated.inc({ source: input.request.source.kind });
      if (result.release && (result.outcome === 'created' || result.outcome === 'duplicate'))
        // Unless it runs: a retried activity repairs a crash before the start. A release with no
        // destination and no lifecycle has nothing to hand off or promote: its run says so and ends.
        await startRelease(client, taskQueue, input.project, result.release, {
          idle: !followsLifecycle && Object.keys(result.release.deliveries).length === 0,
        });
      return { ...result, release: result.release && publicRelease(result.release) };
    },

    /** Wakes the queue of each destination still waiting for the release; answers every delivery's status. */
    async handOff(input: { project: string; releaseId: number }): Promise<Record<string, DeliveryStatus>> {
      const stored = await ledger.releaseById(input.releaseId);
      if (!stored) return {};
      const statuses = Object.fromEntries(
        Object.entries(stored.deliveries).map(([name, d]) => [name, d.status]),
      ) as Record<string, DeliveryStatus>;
      for (const [destination, status] of Object.entries(statuses)) {
        if (status !== 'pending') continue;
        await wakeDestinationQueue(client, taskQueue, {
          project: input.project,
          destination,
          backoff,
          ...(deps.queueHistoryLimit ? { historyLimit: deps.queueHistoryLimit } : {}),
        });
      }
      return statuses;
    },

    /** The next delivery a destination's queue sends (see Ledger.nextDelivery). */
    async nextDelivery(input: { project: string; destination: string }): Promise<NextDelivery> {
      return ledger.nextDelivery(input.project, input.destination);
    },
  };
}
