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
  if (!(err instanceof ActivityFailure)) throw err;
  const cause = err.cause;
  if (cause instanceof ApplicationFailure)
    return { code: cause.type ?? FailureCode.ERROR, message: cause.message };
  if (cause instanceof TimeoutFailure)
    return { code: FailureCode.TIMEOUT, message: `${err.activityType} timed out (${cause.timeoutType})` };
  return { code: cause?.name ?? FailureCode.ERROR, message: cause?.message ?? err.message };
}
