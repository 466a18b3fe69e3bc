import {
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { LifecycleActivities } from './contracts/activities';
import { releaseWorkflowId } from './contracts/ids';
import { deploymentEndedSignal, wakeSignal } from './contracts/release';
import type { EnvironmentQueueInput } from './contracts/workflows';
import { DEPLOY_ATTEMPTS, DeploymentStatus } from '../src/domain/lifecycle';

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
const { deploy: deployOrRetry } = proxyActivities<LifecycleActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '10 seconds',
  // A target that is down is an answer (`retrying`), not a failure: only a lost worker or an unreachable
  // ledger fails the activity, and neither uses up anything, so the server retries without a limit.
  retry: { initialInterval: '1 second', maximumInterval: '15 seconds' },
});

const HISTORY_LIMIT = 500;
/** Deployments retry until superseded, cancelled or the environment's deadline, instead of five attempts. */
const DEPLOY_RETRY_PATCH = 'deploy-retrying-2026-12';
/** A deployment a freeze holds waits on a timer until the freeze ends (asked only while one holds). */
const FREEZE_PATCH = 'freeze-holds-deployments-2026-12';
/** A queue with only scheduled deployments sleeps on a timer until the first is due, instead of ending. */
const SCHEDULE_PATCH = 'scheduled-deployments-2026-12';
/** A held queue reads the freezes again at least this often: a lost wake (a freeze deleted) is repaired. */
const FREEZE_RECHECK_MS = 6 * 60 * 60 * 1000;

/**
 * One environment's queue, `environment/<project>/<environment>` (a tenant's there:
 * `environment/<project>/<environment>/<tenant>`): deploys one release at a time, in request order. The ledger holds the queue and decides what is superseded (an older release queued or
 * retrying behind a newer one, or an older release over a newer one already deployed, unless forced); the
 * workflow runs the deployments, waits between attempts while a target is down (a wake, such as a newer
 * release queued or a cancellation, cuts the wait short) and tells each release how its deployment ended.
 * While a freeze covers the environment it holds the next deployment on a timer until the freeze ends.
 * It ends when nothing waits; the next deployment starts it again.
 */
export async function environmentQueue(input: EnvironmentQueueInput): Promise<void> {
  let woken = false;
  setHandler(wakeSignal, () => {
    woken = true;
  });
  let retrying = input.retrying ?? null;
  const tell = async (number: string, status: DeploymentStatus) => {
    try {
      await getExternalWorkflowHandle(releaseWorkflowId(input.project, number)).signal(
        deploymentEndedSignal,
        input.tenant
          ? { environment: input.environment, tenant: input.tenant, status }
          : { environment: input.environment, status },
      );
    } catch {
      // The release workflow has ended: the ledger has the status, and a restarted release reads it there.
    }
  };
  for (;;) {
    woken = false;
    // A tenant's queue asks for its own deployments; the untenanted queue's request is what it always was.
    const next = await nextDeployment(
      input.tenant
        ? { project: input.project, environment: input.environment, tenant: input.tenant }
        : { project: input.project, environment: input.environment },
    );
    if (next.kind === 'gone') return;
    for (const e of next.ended) await tell(e.number, e.status);
    if (next.kind === 'waiting' && patched(SCHEDULE_PATCH)) {
      // Only scheduled deployments wait: a timer until the first is due (a wake cuts it short).
      setCurrentDetails(`Waiting for a deployment scheduled at ${next.until}`);
      await condition(() => woken, next.waitMs + 100);
      if (workflowInfo().historyLength > (input.historyLimit ?? HISTORY_LIMIT))
        await continueAsNew<typeof environmentQueue>({ ...input, retrying: retrying ?? undefined });
      continue;
    }
    if (next.kind === 'idle' || next.kind === 'waiting') {
      setCurrentDetails('');
      if (woken) continue;
      return;
    }
    if (next.frozen && patched(FREEZE_PATCH)) {
      // A timer, never a poll: the freeze's end wakes the queue, or a wake does (a freeze changed, a
      // deployment queued or cancelled), and it reads the queue and the freezes again.
      setCurrentDetails(`Holding ${next.number}: freeze "${next.frozen.freeze}" until ${next.frozen.until}`);
      await condition(() => woken, Math.min(next.frozen.holdMs + 100, FREEZE_RECHECK_MS));
    } else if (patched(DEPLOY_RETRY_PATCH)) {
      const failures = retrying?.deploymentId === next.id ? retrying.failures : 0;
      setCurrentDetails(`Deploying ${next.number}${failures > 0 ? ` (attempt ${failures + 1})` : ''}`);
      const result = await deployOrRetry({ deploymentId: next.id, failures });
      if (result.status === 'retrying') {
        retrying = { deploymentId: next.id, failures: failures + 1 };
        const wait = result.retryInMs ?? 1000;
        // What the Temporal UI shows while a target is down; the ledger (and the API) say the same.
        setCurrentDetails(
          `Deploying ${next.number}: retrying in ${Math.round(wait / 1000)} s after ${failures + 1} ` +
            `failed attempt(s)\n\nLast error: ${result.error ?? 'unknown'}`,
        );
        await condition(() => woken, wait);
      } else {
        retrying = null;
        await tell(result.number, result.status);
      }
    } else {
      try {
        const result = await deploy({ deploymentId: next.id });
        await tell(result.number, result.status);
      } catch {
        // Only an unreachable ledger gets here: the deployment stays `deploying` and is resumed first.
        await condition(() => woken, '30 seconds');
      }
    }
    const limit = input.historyLimit ?? HISTORY_LIMIT;
    if (workflowInfo().historyLength > limit || workflowInfo().continueAsNewSuggested)
      await continueAsNew<typeof environmentQueue>({ ...input, retrying: retrying ?? undefined });
  }
}
