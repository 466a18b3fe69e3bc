import { ApplicationFailure } from '@temporalio/activity';
import {
  Client,
  QueryRejectedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { CreateReleaseRequest, CreateReleaseResult, projectWorkflowId } from '../src/domain/project';
import type { TriggerChannelView } from '../src/domain/trigger';
import { FailureCode } from '../src/domain/failures';
import { channelViewQuery, createReleaseUpdate } from '../workflows/messages/project';

export interface LoadChannelInput {
  readonly project: string;
  readonly channel: string;
  /** The revision the trigger already has: an unchanged project answers without the view. */
  readonly knownRevision: number | null;
}

export type LoadChannelResult =
  { readonly unchanged: true } | { readonly unchanged: false; readonly view: TriggerChannelView };

/** Activities that reach a project's ledger through the Temporal client. */
export function createProjectActivities(deps: { readonly client: Client }) {
  // A deleted project's workflow is closed but still queryable; its triggers must see it as gone.
  const client = new Client({
    connection: deps.client.connection,
    namespace: deps.client.options.namespace,
    workflow: { queryRejectCondition: 'NOT_OPEN' },
  });
  const handle = (project: string) => client.workflow.getHandle(projectWorkflowId(project));

  return {
    /** The channel's packages, rules and previous release, unless the trigger's copy is current. */
    async loadChannel(input: LoadChannelInput): Promise<LoadChannelResult> {
      let view;
      try {
        view = await handle(input.project).query(channelViewQuery, input.channel);
      } catch (err) {
        if (err instanceof WorkflowNotFoundError || err instanceof QueryRejectedError) {
          throw ApplicationFailure.nonRetryable(
            `project ${input.project} does not exist`,
            FailureCode.PROJECT_NOT_FOUND,
          );
        }
        throw err;
      }
      if (view === null)
        throw ApplicationFailure.nonRetryable(
          `project ${input.project} has no channel "${input.channel}"`,
          FailureCode.CHANNEL_NOT_FOUND,
        );
      if (input.knownRevision === view.revision) return { unchanged: true };
      return {
        unchanged: false,
        view: {
          revision: view.revision,
          packages: view.packages,
          rules: view.rules,
          lastRelease: view.lastRelease,
        },
      };
    },

    /** Asks the project to record a release; the update ID is the request's idempotency key. */
    async createRelease(input: {
      project: string;
      request: CreateReleaseRequest;
    }): Promise<CreateReleaseResult> {
      try {
        return await handle(input.project).executeUpdate(createReleaseUpdate, {
          args: [input.request],
          updateId: input.request.key,
        });
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError) {
          throw ApplicationFailure.nonRetryable(
            err.cause?.message ?? err.message,
            FailureCode.RELEASE_REFUSED,
          );
        }
        if (err instanceof WorkflowNotFoundError)
          throw ApplicationFailure.nonRetryable(
            `project ${input.project} does not exist`,
            FailureCode.PROJECT_NOT_FOUND,
          );
        throw err;
      }
    },
  };
}

export type ProjectActivities = ReturnType<typeof createProjectActivities>;
