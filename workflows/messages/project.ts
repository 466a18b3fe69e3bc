import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type {
  ChannelView,
  CreateReleaseRequest,
  CreateReleaseResult,
  DeliveryStatus,
  ProjectRelease,
  ProjectSpec,
} from '../../src/domain/project';

/**
 * The project workflow's messages, apart from its implementation, so the API, activities, the delivery
 * workflow and tests can talk to a project without importing the workflow.
 */
/**
 * Configuration changes are an update, not a signal: the validator refuses a bad configuration before
 * anything is recorded, and the caller learns whether anything changed.
 */
export const configureUpdate = defineUpdate<{ changed: boolean; revision: number }, [ProjectSpec]>(
  'configure',
);
/**
 * Release creation is an update: updates on one workflow are serialized here (the handler records
 * before it awaits), so numbering is consistent and concurrent triggers cannot race; the update ID is
 * the idempotency key, and the ledger remembers keys across continue-as-new.
 */
export const createReleaseUpdate = defineUpdate<CreateReleaseResult, [CreateReleaseRequest]>('createRelease');
export const deliveryStatusSignal = defineSignal<
  [
    {
      release: string;
      destination: string;
      status: DeliveryStatus;
      attempts: number;
      error: string | null;
      at: string;
    },
  ]
>('deliveryStatus');
export const deleteProjectSignal = defineSignal('delete');
/** Asks the project to continue as new at the next safe point (operators, and tests of carried state). */
export const projectContinueAsNewSignal = defineSignal('continueAsNew');
export const configQuery = defineQuery<{ spec: ProjectSpec; revision: number; releaseCount: number }>(
  'config',
);
export const channelViewQuery = defineQuery<ChannelView | null, [string]>('channelView');
export const releasesQuery = defineQuery<
  { releases: ProjectRelease[]; total: number },
  [{ channel?: string; limit: number; offset: number }]
>('releases');
export const releaseQuery = defineQuery<ProjectRelease | null, [string]>('release');
