import {
  ActivityFailure,
  ApplicationFailure,
  getExternalWorkflowHandle,
  proxyActivities,
  sleep,
} from '@temporalio/workflow';
import type { DeliveryActivities } from '../activities/deliver';
import { deliveryStatusSignal } from './messages/project';
import { FailureCode } from '../src/domain/failures';
import { Destination, ProjectRelease, projectWorkflowId } from '../src/domain/project';

const { deliver } = proxyActivities<DeliveryActivities>({
  startToCloseTimeout: '1 minute',
  // Heartbeats every 2 s: a delivery lost with its worker is retried within seconds, not after a minute.
  heartbeatTimeout: '10 seconds',
  // A few quick tries inside one attempt; the loop below spaces out the rest and reports each failure.
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumAttempts: 3,
    nonRetryableErrorTypes: [FailureCode.DESTINATION_REJECTED],
  },
});

export interface DeliveryInput {
  readonly project: string;
  readonly release: ProjectRelease;
  readonly destination: Destination;
}

export function deliveryWorkflowId(project: string, release: string, destination: string): string {
  return `delivery/${project}/${release}/${destination}`;
}

/** Longest wait between delivery attempts while a destination is down. */
const MAX_BACKOFF_MS = 10 * 60 * 1000;

/**
 * Delivers one release to one destination until it is accepted (never lost while the destination is
 * down), reporting each outcome to the project so the release shows its delivery status.
 */
export async function deliverRelease(input: DeliveryInput): Promise<void> {
  const projectHandle = getExternalWorkflowHandle(projectWorkflowId(input.project));
  const report = async (
    status: 'pending' | 'delivered' | 'failed',
    attempts: number,
    error: string | null,
  ) => {
    try {
      await projectHandle.signal(deliveryStatusSignal, {
        release: input.release.number,
        destination: input.destination.name,
        status,
        attempts,
        error,
        at: new Date().toISOString(),
      });
    } catch {
      // The project was deleted: nothing left to report to.
    }
  };
  for (let attempt = 1; ; attempt++) {
    try {
      await deliver({ project: input.project, release: input.release, destination: input.destination });
      await report('delivered', attempt, null);
      return;
    } catch (err) {
      const cause = err instanceof ActivityFailure ? err.cause : err;
      const message = cause instanceof Error ? cause.message : String(cause);
      if (cause instanceof ApplicationFailure && cause.type === FailureCode.DESTINATION_REJECTED) {
        await report('failed', attempt, message);
        return;
      }
      await report('pending', attempt, message);
      await sleep(Math.min(MAX_BACKOFF_MS, 2000 * 2 ** Math.min(attempt, 10)));
    }
  }
}
