import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import { problemFor, unreachableProblem } from '../../src/api/failure-problems';
import { HttpProblem } from '../../src/api/problem';
import { LedgerError } from '../../src/db/ledger';
import { FailureCode } from '../../src/domain/failures';

/** What a problem answers, or the error's class when it is no problem. */
function answer(err: unknown): unknown {
  return err instanceof HttpProblem ? [err.status, err.title, err.message] : (err as Error).constructor.name;
}

const failed = (type: string, message: string) =>
  new WorkflowFailedError(
    'Workflow execution failed',
    new ActivityFailure(
      'activity failed',
      'pick',
      '1',
      RetryState.NON_RETRYABLE_FAILURE,
      undefined,
      ApplicationFailure.nonRetryable(message, type),
    ),
    RetryState.NON_RETRYABLE_FAILURE,
  );
const updateFailed = (type: string, message: string) =>
  new WorkflowUpdateFailedError('Workflow Update failed', ApplicationFailure.nonRetryable(message, type));

describe('one failure → problem mapping', () => {
  test('a failed workflow answers by its ApplicationFailure type, however deep it was wrapped', () => {
    expect(answer(problemFor(failed(FailureCode.UNKNOWN_VERSION, 'no tag 9.9')))).toEqual([
      404,
      'Not found',
      'no tag 9.9',
    ]);
    expect(answer(problemFor(failed(FailureCode.RELEASE_REFUSED, 'already 1.4.0')))).toEqual([
      422,
      'Release refused',
      'already 1.4.0',
    ]);
    // A code of no HTTP meaning is the route's to answer, or the error goes on (a 500).
    expect(answer(problemFor(failed('LedgerError', 'boom')))).toBe('WorkflowFailedError');
    expect(
      answer(
        problemFor(failed('LedgerError', 'boom'), { otherwise: { status: 422, title: 'Release refused' } }),
      ),
    ).toEqual([422, 'Release refused', 'boom']);
  });

  test('an update refused by the lifecycle is a 409 or 422 by its code; others go on', () => {
    expect(answer(problemFor(updateFailed(FailureCode.CONFLICT, 'already deploying')))).toEqual([
      409,
      'Conflict',
      'already deploying',
    ]);
    expect(answer(problemFor(updateFailed(FailureCode.NOT_ALLOWED, 'phase not open')))).toEqual([
      422,
      'Not allowed by the lifecycle',
      'phase not open',
    ]);
    expect(answer(problemFor(updateFailed('Error', 'a bug')))).toBe('WorkflowUpdateFailedError');
    expect(
      answer(
        problemFor(updateFailed('Error', 'bad'), { otherwise: { status: 400, title: 'Invalid request' } }),
      ),
    ).toEqual([400, 'Invalid request', 'bad']);
  });

  test("ledger errors answer by their code, in the route's words", () => {
    const detail = (code: string, message: string) =>
      code === FailureCode.PROJECT_NOT_FOUND ? 'no project shop' : message;
    expect(
      answer(
        problemFor(new LedgerError(FailureCode.PROJECT_NOT_FOUND, 'project shop does not exist'), { detail }),
      ),
    ).toEqual([404, 'Not found', 'no project shop']);
    expect(answer(problemFor(new LedgerError('OTHER', 'x'), { detail }))).toBe('LedgerError');
  });

  test("Temporal's own failures answer only where the route says what they mean", () => {
    const started = new WorkflowExecutionAlreadyStartedError('started', 'trigger/shop/web', 'trigger');
    expect(
      answer(problemFor(started, { alreadyStarted: 'trigger web already exists in project shop' })),
    ).toEqual([409, 'Conflict', 'trigger web already exists in project shop']);
    expect(answer(problemFor(started))).toBe('WorkflowExecutionAlreadyStartedError');
    const missing = new WorkflowNotFoundError('not found', 'trigger/shop/web', undefined);
    expect(answer(problemFor(missing, { notFound: 'no trigger web' }))).toEqual([
      404,
      'Not found',
      'no trigger web',
    ]);
    const problem = new HttpProblem(503, 'Service unavailable', 'no worker');
    expect(problemFor(problem, { otherwise: { status: 400, title: 'x' } })).toBe(problem);
  });

  test('a database or Temporal that does not answer is a 503 naming which', () => {
    expect(answer(unreachableProblem(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })))).toEqual(
      [503, 'Service unavailable', 'the ledger database does not answer; try again shortly'],
    );
    expect(
      answer(unreachableProblem(new Error('x', { cause: Object.assign(new Error('y'), { code: 14 }) }))),
    ).toEqual([503, 'Service unavailable', 'the Temporal server does not answer; try again shortly']);
    expect(unreachableProblem(new Error('a bug'))).toBeNull();
  });
});
