import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { lifecycleDetails, releaseDetails } from '../src/domain/ui-text';
import type { LedgerActivities, LifecycleActivities } from './contracts/activities';
import type { ReleaseInput } from './contracts/workflows';
import type { ReleaseLifecycle } from '../src/domain/deployment';
import { DeliveryStatus, TERMINAL_DELIVERY } from '../src/domain/delivery';
import {
  approvalRefusal,
  automaticDeployments,
  automaticTenantDeployments,
  deployRefusal,
  lifecycleSettled,
  lifecycleStranded,
  Refusal,
} from '../src/domain/lifecycle';
import { FailureCode } from '../src/domain/failures';
import {
  decideUpdate,
  deliveryEndedSignal,
  deployTenantsUpdate,
  deployUpdate,
  deploymentEndedSignal,
} from './contracts/release';

const { handOff } = proxyActivities<LedgerActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

const { releaseLifecycle, queueDeployments, decidePhase } = proxyActivities<LifecycleActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

/** How often a release looks again at deliveries it has not heard from (a lost wake is repaired). */
const RECHECK = '1 hour';
/** How often a release waiting in its lifecycle reads its deployments again (a lost signal is repaired). */
const LIFECYCLE_RECHECK = '6 hours';
const LIFECYCLE_PATCH = 'lifecycles';
/** A release that can no longer progress without a person ends instead of waking every 6 hours. */
const STRANDED_PATCH = 'release-ends-when-stranded-2026-12';
/** A tenanted project's automatic phases deploy to each connected tenant. Asked only when one would. */
const TENANTS_PATCH = 'tenanted-deployments-2026-12';
/** A release with nothing to hand off or promote ends in its first task (ReleaseInput.idle). */
const IDLE_PATCH = 'idle-release-2026-12';
const HISTORY_LIMIT = 2000;

/**
 * A release in flight, `release/<project>/<number>`: it hands the release to each destination's queue
 * (deliveries to one destination happen one at a time, in release order) and ends when every delivery
 * has ended. Alongside, it promotes the release through its lifecycle (see `promote`); it ends when both
 * are done. A person's request to a release whose workflow has ended starts it again (update-with-start).
 */
export async function release(input: ReleaseInput): Promise<Record<string, DeliveryStatus>> {
  const known = new Map<string, DeliveryStatus>();
  let waiting: string[] = [];
  setHandler(deliveryEndedSignal, ({ destination, status }) => {
    if (TERMINAL_DELIVERY.has(status)) known.set(destination, status);
  });
  // What the Temporal UI shows: the phase, each delivery's state and the lifecycle's.
  let all: Record<string, DeliveryStatus> = {};
  let lifecycleLines: string[] = [];
  let phase = 'Handing off to destinations';
  const show = (now = phase) => {
    phase = now;
    setCurrentDetails(releaseDetails(phase, { ...all, ...Object.fromEntries(known) }, lifecycleLines));
  };
  show();
  // Behind a patch: a run an older worker began with the flag (ignoring it) replays on the path it took.
  if (input.idle && patched(IDLE_PATCH)) {
    show('Every delivery ended');
    return {};
  }
  const promoting = patched(LIFECYCLE_PATCH)
    ? promote(input, (lines) => {
        lifecycleLines = lines;
        show();
      })
    : null;
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
  if (promoting) await promoting;
  await condition(allHandlersFinished);
  return Object.fromEntries(known);
}

function refuse(refusal: Refusal | null): void {
  if (refusal === null) return;
  throw ApplicationFailure.create({
    type: refusal.status === 409 ? FailureCode.CONFLICT : FailureCode.NOT_ALLOWED,
    message: refusal.message,
    nonRetryable: true,
  });
}

const NO_LIFECYCLE: Refusal = {
  status: 422,
  message: 'this release follows no lifecycle: neither its channel nor its project names one',
};

/**
 * The release's way through its lifecycle. The ledger holds where it stands (deployments, approvals); the
 * workflow reads that, queues what automatic phases deploy, and answers people's requests (updates whose
 * validators refuse, with the reason, what the lifecycle does not allow yet, so nothing changes). It
 * returns when every phase is complete (or one was rejected) and nothing of the release is in flight, or
 * when a newer release holds the phase it waits on (see `lifecycleStranded`).
 */
async function promote(input: ReleaseInput, showLines: (lines: string[]) => void): Promise<void> {
  let state: ReleaseLifecycle | null | undefined;
  let changed = false;
  const reload = async () => {
    state = await releaseLifecycle({ releaseId: input.releaseId });
    showLines(state?.plan ? lifecycleDetails(state.plan, state.progress) : []);
  };
  setHandler(deploymentEndedSignal, () => {
    changed = true;
  });
  // Validators refuse what no progress can change (the configuration forbids it, or a decision was made):
  // no event is written. What depends on progress is checked by the handler on a fresh read of the ledger
  // (the workflow's copy may be a signal behind), before anything is written.
  const checkDeploy = (environment: string, fresh: boolean) => {
    if (state === undefined) return;
    if (!state?.plan) return refuse(NO_LIFECYCLE);
    const refusal = deployRefusal(state.plan, state.progress, environment);
    if (fresh || refusal?.final) refuse(refusal);
  };
  const checkDecide = (phaseName: string, fresh: boolean, tenant?: string) => {
    if (state === undefined) return;
    if (!state?.plan) return refuse(NO_LIFECYCLE);
    const refusal = approvalRefusal(state.plan, state.progress, phaseName, tenant);
    if (fresh || refusal?.final) refuse(refusal);
  };
  const checkTenants = (environment: string, tenants: readonly string[], fresh: boolean) => {
    if (state === undefined) return;
    if (!state?.plan) return refuse(NO_LIFECYCLE);
    for (const tenant of tenants) {
      const refusal = deployRefusal(state.plan, state.progress, environment, tenant);
      if (fresh || refusal?.final) refuse(refusal);
    }
  };
  setHandler(
    deployUpdate,
    async (req) => {
      await condition(() => state !== undefined);
      await reload();
      checkDeploy(req.environment, true);
      const [deployment] = await queueDeployments({
        project: input.project,
        releaseId: input.releaseId,
        environments: [req.environment],
        requestedBy: req.requestedBy,
        forced: req.force,
        ...(req.freezeOverride ? { freezeOverride: req.freezeOverride } : {}),
        ...(req.schedule ? { schedule: req.schedule } : {}),
      });
      await reload();
      changed = true;
      return deployment;
    },
    { validator: (req) => checkDeploy(req.environment, false) },
  );
  setHandler(
    deployTenantsUpdate,
    async (req) => {
      await condition(() => state !== undefined);
      await reload();
      checkTenants(req.environment, req.tenants, true);
      const deployments = await queueDeployments({
        project: input.project,
        releaseId: input.releaseId,
        environments: [],
        lanes: req.tenants.map((tenant) => ({ environment: req.environment, tenant })),
        requestedBy: req.requestedBy,
        forced: req.force,
        ...(req.freezeOverride ? { freezeOverride: req.freezeOverride } : {}),
        ...(req.schedule ? { schedule: req.schedule } : {}),
      });
      await reload();
      changed = true;
      return deployments;
    },
    {
      validator: (req) => {
        if (req.tenants.length === 0 || req.tenants.length > 1000)
          refuse({ status: 422, message: 'name 1 to 1000 tenants' });
        checkTenants(req.environment, req.tenants, false);
      },
    },
  );
  setHandler(
    decideUpdate,
    async (req) => {
      await condition(() => state !== undefined);
      await reload();
      checkDecide(req.phase, true, req.tenant);
      const approval = await decidePhase({ releaseId: input.releaseId, ...req });
      await reload();
      changed = true;
      return approval;
    },
    { validator: (req) => checkDecide(req.phase, false, req.tenant) },
  );
  await reload();
  for (;;) {
    const current = state;
    if (!current?.plan) return;
    const auto = automaticDeployments(current.plan, current.progress);
    // Tenants' deployments, behind a patch asked only when there are some: an untenanted release's
    // history is the same as before tenants.
    const lanes = automaticTenantDeployments(current.plan, current.progress);
    const withTenants = lanes.length > 0 && patched(TENANTS_PATCH);
    if (auto.length > 0 || withTenants) {
      await queueDeployments({
        project: input.project,
        releaseId: input.releaseId,
        environments: auto,
        ...(withTenants ? { lanes } : {}),
        requestedBy: 'lifecycle',
        forced: false,
      });
      await reload();
      continue;
    }
    if (lifecycleSettled(current.plan, current.progress)) return;
    // A newer release holds the phase it waits on: nothing can happen here until a person asks, and a
    // person's request (update-with-start) starts the workflow again.
    if (lifecycleStranded(current.plan, current.progress) && patched(STRANDED_PATCH)) return;
    changed = false;
    await condition(() => changed, LIFECYCLE_RECHECK);
    await reload();
  }
}
