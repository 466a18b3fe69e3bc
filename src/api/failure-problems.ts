import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { LedgerError } from '../db/ledger';
import { FailureCode, NOT_FOUND_CODES } from '../domain/failures';
import { HttpProblem } from './problem';
import { isTemporalUnreachable } from './temporal-health';

/*
 * The one place a failure becomes an HTTP answer. Workflows, activities and the ledger name what went wrong
 * with a failure code (src/domain/failures.ts); this table says what each code is over HTTP, whichever layer
 * it came from: an ApplicationFailure's `type` in a failed workflow or update, or a LedgerError's `code`.
 * Temporal's own failures (no such workflow, one already running, the server not answering) and the
 * database's connection errors are mapped here too. A route supplies only what the code cannot know: the
 * detail in its own words, and how to answer a code of no meaning to the table.
 */

/** A status and its title. */
export interface Answer {
  readonly status: number;
  readonly title: string;
}

const NOT_FOUND: Answer = { status: 404, title: 'Not found' };

/** What each failure code answers; a code not listed here has no HTTP meaning of its own. */
export const FAILURE_ANSWERS: Readonly<Partial<Record<FailureCode, Answer>>> = {
  ...Object.fromEntries([...NOT_FOUND_CODES].map((code) => [code, NOT_FOUND])),
  [FailureCode.CONFLICT]: { status: 409, title: 'Conflict' },
  [FailureCode.NOT_ALLOWED]: { status: 422, title: 'Not allowed by the lifecycle' },
  [FailureCode.RELEASE_REFUSED]: { status: 422, title: 'Release refused' },
  [FailureCode.INVALID_TRIGGER]: { status: 400, title: 'Invalid request' },
};

/** How a route words what the table answers. */
export interface AnswerOptions {
  /** The detail for a failure's code; by default the failure's own message. */
  readonly detail?: (code: string, message: string) => string;
  /** The answer for a failure whose code the table does not list; none: the error goes on unchanged. */
  readonly otherwise?: Answer;
  /** A workflow that is already running (start with a conflict policy of FAIL): the 409's detail. */
  readonly alreadyStarted?: string;
  /** A workflow that does not exist (a handle's call): the 404's detail. */
  readonly notFound?: string;
}

/** The ApplicationFailure a failed workflow carries, however deep the SDK wrapped it (activity, child). */
function applicationFailure(err: unknown): ApplicationFailure | null {
  let cause: unknown = (err as { cause?: unknown }).cause;
  while (cause && !(cause instanceof ApplicationFailure) && (cause as { cause?: unknown }).cause)
    cause = (cause as { cause?: unknown }).cause;
  return cause instanceof ApplicationFailure ? cause : null;
}

/**
 * The problem a failure answers with, or the error itself (a 500 in the error handler) when it has no HTTP
 * meaning: failed workflows and updates by their ApplicationFailure's type, LedgerErrors by their code.
 */
export function problemFor(err: unknown, options: AnswerOptions = {}): unknown {
  if (err instanceof HttpProblem) return err;
  if (err instanceof WorkflowExecutionAlreadyStartedError && options.alreadyStarted !== undefined)
    return new HttpProblem(409, 'Conflict', options.alreadyStarted);
  if (err instanceof WorkflowNotFoundError && options.notFound !== undefined)
    return new HttpProblem(404, 'Not found', options.notFound);
  let code: string;
  let message: string;
  if (err instanceof LedgerError) [code, message] = [err.code, err.message];
  else if (err instanceof WorkflowFailedError) {
    const failure = applicationFailure(err);
    if (!failure) return err;
    [code, message] = [failure.type ?? '', failure.message];
  } else if (err instanceof WorkflowUpdateFailedError) {
    // An update's failure is its handler's or validator's ApplicationFailure, directly.
    const failure = err.cause instanceof ApplicationFailure ? err.cause : null;
    [code, message] = [failure?.type ?? '', err.cause?.message ?? err.message];
  } else return err;
  const answer = FAILURE_ANSWERS[code as FailureCode] ?? options.otherwise;
  if (!answer) return err;
  return new HttpProblem(answer.status, answer.title, options.detail?.(code, message) ?? message);
}

/** Connection failures of the ledger's database (node-postgres and PostgreSQL's own codes). */
function isDatabaseUnreachable(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return (
    [
      'ECONNREFUSED',
      'ECONNRESET',
      'ETIMEDOUT',
      'EPIPE',
      '57P01',
      '57P02',
      '57P03',
      '08000',
      '08001',
      '08003',
      '08006',
    ].includes(e?.code ?? '') ||
    /Connection terminated|connection timeout|Client has encountered a connection error/i.test(
      e?.message ?? '',
    )
  );
}

/** A 503 for an error that means the database or Temporal does not answer; null for any other. */
export function unreachableProblem(err: unknown): HttpProblem | null {
  if (isDatabaseUnreachable(err))
    return new HttpProblem(
      503,
      'Service unavailable',
      'the ledger database does not answer; try again shortly',
    );
  if (isTemporalUnreachable(err))
    return new HttpProblem(
      503,
      'Service unavailable',
      'the Temporal server does not answer; try again shortly',
    );
  return null;
}
