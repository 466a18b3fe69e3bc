/**
 * Workflow IDs: business keys, never secrets. Every caller that starts, signals or finds a workflow builds its
 * ID here, so a running workflow and its callers cannot disagree about it.
 */
import { triggerKey } from '../../src/domain/trigger';

/** A trigger: one per project and trigger name; its business key, which its releases record as their source. */
export function triggerWorkflowId(project: string, name: string): string {
  return triggerKey(project, name);
}

/** A release in flight: it hands the release to each destination's queue. */
export function releaseWorkflowId(project: string, number: string): string {
  return `release/${project}/${number}`;
}

/** A destination's queue: one delivery at a time, in release order. */
export function destinationWorkflowId(project: string, destination: string): string {
  return `destination/${project}/${destination}`;
}

/**
 * An environment's queue: one deployment at a time, in request order. A tenant's deployments there have a
 * queue of their own, so one tenant's slow deployment never holds another's.
 */
export function environmentWorkflowId(project: string, environment: string, tenant?: string): string {
  return tenant ? `environment/${project}/${environment}/${tenant}` : `environment/${project}/${environment}`;
}

/** A person's manual release: one workflow per request (`nonce` is random), so two requests never collide. */
export function manualReleaseWorkflowId(project: string, nonce: string): string {
  return `manual-release/${project}/${nonce}`;
}

/** A preview of a channel's rules against the live feeds, one workflow per request. */
export function channelPreviewWorkflowId(project: string, channel: string, nonce: string): string {
  return `channel-preview/${project}/${channel}/${nonce}`;
}

/**
 * A package watcher: one per shard of watched packages and task queue (workers on another task queue, such
 * as each test's, have watchers of their own).
 */
export function watcherWorkflowId(taskQueue: string, shard: number): string {
  return `watcher/${taskQueue}/${shard}`;
}
