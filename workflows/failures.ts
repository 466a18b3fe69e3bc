import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/workflow';
import { FailureCode } from '../src/domain/failures';

/** What an activity's failure says: its code and message. */
export interface FailureInfo {
  readonly code: string;
  readonly message: string;
}

/**
 * The code and message of an activity's failure. Anything else is rethrown: a programming error in workflow
 * or domain code must fail the workflow task (fixed by a deploy and replayed), not become an `error` entry
 * on every poll.
 */
export function activityFailure(err: unknown): FailureInfo {
  // A local activity's failure reaches the workflow as the bare failure, without the ActivityFailure around it.
  const local = localActivityFailure(err);
  if (!(err instanceof ActivityFailure) && !local) throw err;
  const cause = local ?? (err as ActivityFailure).cause;
  const activity = err instanceof ActivityFailure ? err.activityType : 'the poll';
  if (cause instanceof ApplicationFailure)
    return { code: cause.type ?? FailureCode.ERROR, message: cause.message };
  if (cause instanceof TimeoutFailure)
    return { code: FailureCode.TIMEOUT, message: `${activity} timed out (${cause.timeoutType})` };
  return { code: cause?.name ?? FailureCode.ERROR, message: cause?.message ?? (err as Error).message };
}

/** The failure of a local activity as it reaches the workflow (an application failure or a timeout), or null. */
export function localActivityFailure(err: unknown): ApplicationFailure | TimeoutFailure | null {
  return err instanceof ApplicationFailure || err instanceof TimeoutFailure ? err : null;
}
