import { defineSignal, defineUpdate } from '@temporalio/workflow';
import type { DeploymentStatus } from '../../src/domain/lifecycle';
import type { Approval, Deployment, DeploymentSchedule, FreezeOverride } from '../../src/domain/deployment';
import type { DeliveryStatus } from '../../src/domain/delivery';

/**
 * Messages between a release workflow and the destination queues, apart from their implementations, so
 * activities, the API and tests can send them without importing workflow code.
 */
/** A destination's queue tells a release that its delivery there ended (delivered, failed, superseded, cancelled). */
export const deliveryEndedSignal =
  defineSignal<[{ destination: string; status: DeliveryStatus }]>('deliveryEnded');
/** A release asks a destination's queue to look for work. */
export const wakeSignal = defineSignal('wake');

/** An environment's queue tells a release that its deployment there ended (or a person cancelled one). */
export const deploymentEndedSignal =
  defineSignal<[{ environment: string; tenant?: string; status: DeploymentStatus }]>('deploymentEnded');

/** What a person asks of a release: deploy it to an environment (`force` over a newer release: a rollback). */
export interface DeployRequest {
  readonly environment: string;
  readonly force: boolean;
  readonly requestedBy: string;
  /** An admin sends it through the freeze that would hold it (checked and recorded by the API). */
  readonly freezeOverride?: FreezeOverride;
  /** Deploy at a later time, or not after a time (`deployAt`, `deployAtExpiry`, ISO 8601). */
  readonly schedule?: DeploymentSchedule;
}
export const deployUpdate = defineUpdate<Deployment, [DeployRequest]>('deploy');

/** Deploy the release to an environment for some tenants (by name; the API resolves tenant tags). */
export interface TenantDeployRequest extends DeployRequest {
  readonly tenants: readonly string[];
}
/** An update of its own: its answer is a deployment per tenant, and old workers never see it. */
export const deployTenantsUpdate = defineUpdate<Deployment[], [TenantDeployRequest]>('deployTenants');

/** Approve or reject a phase that asks for an approval. */
export interface DecideRequest {
  readonly phase: string;
  /** For one tenant; absent: for every tenant (and the untenanted deployments). */
  readonly tenant?: string;
  readonly decision: 'approved' | 'rejected';
  readonly by: string;
  readonly comment: string;
}
export const decideUpdate = defineUpdate<Approval, [DecideRequest]>('decide');
