import {
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { LifecycleActivities } from '../activities/lifecycle';
import { releaseWorkflowId } from '../src/domain/delivery';
import { DEPLOY_ATTEMPTS, DeploymentStatus } from '../src/domain/lifecycle';
import { deploymentEndedSignal, wakeSignal } from './messages/release';

const { nextDeployment } = proxyActivities<LifecycleActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});
const { deploy } = proxyActivities<LifecycleActivities>({
  // A Git push or an Octopus call may take a while; heartbeats every 2 s find a lost worker within seconds.
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '10 seconds',
  // The last attempt records the deployment as failed (a redeploy tries again).
  retry: { initialInterval: '2 seconds', maximumInterval: '1 minute', maximumAttempts: DEPLOY_ATTEMPTS },
});

export interface EnvironmentQueueInput {
  readonly project: string;
  readonly environment: string;
  /** Events after which a run continues as new (tests lower it). */
  readonly historyLimit?: number;
}

const HISTORY_LIMIT = 500;

/**
 * One environment's queue, `environment/<project>/<environment>`: deploys one release at a time, in
 * request order. The ledger holds the queue and decides what is superseded (an older release queued
 * behind a newer one, or an older release over a newer one already deployed, unless forced); the workflow
 * runs the deployments and tells each release how its deployment ended. It ends when nothing waits; the
 * next deployment starts it again.
 */
export async function environmentQueue(input: EnvironmentQueueInput): Promise<void> {
  let woken = false;
  setHandler(wakeSignal, () => {
    woken = true;
  });
  const tell = async (number: string, status: DeploymentStatus) => {
    try {
      await getExternalWorkflowHandle(releaseWorkflowId(input.project, number)).signal(
        deploymentEndedSignal,
        {
          environment: input.environment,
          status,
        },
      );
    } catch {
      // The release workflow has ended: the ledger has the status, and a restarted release reads it there.
    }
  };
  for (;;) {
    woken = false;
    const next = await nextDeployment({ project: input.project, environment: input.environment });
    if (next.kind === 'gone') return;
    for (const e of next.ended) await tell(e.number, e.status);
    if (next.kind === 'idle') {
      if (woken) continue;
      return;
    }
    try {
      const result = await deploy({ deploymentId: next.id });
      await tell(result.number, result.status);
    } catch {
      // Only an unreachable ledger gets here: the deployment stays `deploying` and is resumed first.
      await condition(() => woken, '30 seconds');
    }
    const limit = input.historyLimit ?? HISTORY_LIMIT;
    if (workflowInfo().historyLength > limit || workflowInfo().continueAsNewSuggested)
      await continueAsNew<typeof environmentQueue>(input);
  }
}
