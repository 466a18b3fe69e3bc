/** Workflow IDs and delivery states the release workflows use (no schemas: workflow code imports this). */

/** The workflow ID of a release in flight: it hands the release to each destination's queue. */
export function releaseWorkflowId(project: string, number: string): string {
  return `release/${project}/${number}`;
}

/** The workflow ID of a destination's queue: one delivery at a time, in release order. */
export function destinationWorkflowId(project: string, destination: string): string {
  return `destination/${project}/${destination}`;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed' | 'superseded' | 'cancelled';
export const TERMINAL_DELIVERY: ReadonlySet<DeliveryStatus> = new Set([
  'delivered',
  'failed',
  'superseded',
  'cancelled',
]);
