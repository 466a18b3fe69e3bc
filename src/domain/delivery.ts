/** Delivery states the release workflows use (no schemas: workflow code imports this). */

export type DeliveryStatus = 'pending' | 'delivered' | 'failed' | 'superseded' | 'cancelled';
export const TERMINAL_DELIVERY: ReadonlySet<DeliveryStatus> = new Set([
  'delivered',
  'failed',
  'superseded',
  'cancelled',
]);

/** What a destination's queue does next: deliver a release, wait, or end (its project is gone). */
export type NextDelivery =
  | { readonly kind: 'gone' }
  | { readonly kind: 'idle'; readonly ended: readonly EndedDelivery[] }
  | {
      readonly kind: 'deliver';
      readonly releaseId: number;
      readonly number: string;
      readonly ended: readonly EndedDelivery[];
    };

/** A delivery that ended without being sent (superseded or cancelled): its release workflow is told. */
export interface EndedDelivery {
  readonly number: string;
  readonly status: DeliveryStatus;
}

/** How a destination's queue retries while the destination is down. */
export interface DeliveryBackoff {
  /** Waits between attempts while the destination is down: doubling from `initialMs` up to `maxMs`. */
  readonly initialMs: number;
  readonly maxMs: number;
  /** Attempts one activity makes (with the first waits in between) before the workflow waits on a timer. */
  readonly quickTries: number;
}
