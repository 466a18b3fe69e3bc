import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  ParentClosePolicy,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import {
  ProjectRelease,
  ProjectSpec,
  ProjectSpecSchema,
  ProjectState,
  ReleaseLedger,
  ReleaseRequestError,
} from '../src/domain/project';
import { deliverRelease, deliveryWorkflowId } from './delivery';
import {
  channelViewQuery,
  configQuery,
  configureUpdate,
  createReleaseUpdate,
  deleteProjectSignal,
  deliveryStatusSignal,
  projectContinueAsNewSignal,
  releaseQuery,
  releasesQuery,
} from './messages/project';
import { FailureCode } from '../src/domain/failures';

export * from './messages/project';

export interface ProjectInput {
  /** A new project's configuration; a continued run carries it in `state` only, so it travels once. */
  readonly spec?: ProjectSpec;
  readonly state?: ProjectState;
}

/** One per project: its configuration and release ledger; delivers each release durably. */
export async function project(input: ProjectInput): Promise<void> {
  const ledger = new ReleaseLedger(input.state ?? ReleaseLedger.initial(input.spec!));
  let deleted = false;
  let rollover = false;

  setHandler(configQuery, () => ({
    spec: ledger.state.spec,
    revision: ledger.state.revision,
    releaseCount: ledger.state.releases.length,
  }));
  setHandler(channelViewQuery, (channel) => ledger.channelView(channel));
  setHandler(releasesQuery, (options) => ledger.list(options));
  setHandler(releaseQuery, (number) => ledger.get(number));
  setHandler(deliveryStatusSignal, (s) => ledger.recordDelivery(s.release, s.destination, s));
  setHandler(deleteProjectSignal, () => {
    deleted = true;
  });
  setHandler(projectContinueAsNewSignal, () => {
    rollover = true;
  });

  setHandler(
    configureUpdate,
    (spec) => {
      const changed = ledger.configure(ProjectSpecSchema.parse(spec));
      return { changed, revision: ledger.state.revision };
    },
    {
      validator: (spec) => {
        const parsed = ProjectSpecSchema.safeParse(spec);
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          throw ApplicationFailure.nonRetryable(
            `${issue.path.join('.') || '(project)'}: ${issue.message}`,
            FailureCode.INVALID_PROJECT,
          );
        }
        if (parsed.data.name !== ledger.state.spec.name) {
          throw ApplicationFailure.nonRetryable(
            `name: a project cannot be renamed (${ledger.state.spec.name})`,
            FailureCode.INVALID_PROJECT,
          );
        }
      },
    },
  );

  setHandler(
    createReleaseUpdate,
    async (request) => {
      const result = ledger.create(request, new Date());
      if (result.outcome === 'created' && result.release) await startDeliveries(ledger, result.release);
      return result;
    },
    {
      validator: (request) => {
        try {
          ledger.validate(request);
        } catch (err) {
          if (err instanceof ReleaseRequestError)
            throw ApplicationFailure.nonRetryable(err.message, err.code);
          throw err;
        }
      },
    },
  );

  await condition(() => deleted || rollover || workflowInfo().continueAsNewSuggested);
  await condition(allHandlersFinished);
  if (deleted) return;
  ledger.state.runs += 1;
  await continueAsNew<typeof project>({ state: ledger.state });
}

/** One durable delivery workflow per destination, abandoned by the project so continue-as-new does not stop it. */
async function startDeliveries(ledger: ReleaseLedger, release: ProjectRelease): Promise<void> {
  const projectName = ledger.state.spec.name;
  for (const destination of ledger.state.spec.destinations) {
    await startChild(deliverRelease, {
      workflowId: deliveryWorkflowId(projectName, release.number, destination.name),
      parentClosePolicy: ParentClosePolicy.ABANDON,
      args: [{ project: projectName, release, destination }],
    });
  }
}
