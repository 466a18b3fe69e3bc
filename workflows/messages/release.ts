import { defineSignal } from '@temporalio/workflow';
import type { DeliveryStatus } from '../../src/domain/project';

/**
 * Messages between a release workflow and the destination queues, apart from their implementations, so
 * activities, the API and tests can send them without importing workflow code.
 */
/** A destination's queue tells a release that its delivery there ended (delivered, failed, superseded, cancelled). */
export const deliveryEndedSignal =
  defineSignal<[{ destination: string; status: DeliveryStatus }]>('deliveryEnded');
/** A release asks a destination's queue to look for work. */
export const wakeSignal = defineSignal('wake');
