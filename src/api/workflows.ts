import {
  Client,
  WorkflowExecutionDescription,
  WorkflowHandle,
  WorkflowNotFoundError,
} from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import { HttpProblem } from './problem';
import { hasGrpcCode } from './temporal-health';

/** A running workflow's handle with the description that proved it runs, or null when there is none. */
async function describeRunning<T extends Workflow>(
  client: Client,
  workflowId: string,
): Promise<{ handle: WorkflowHandle<T>; description: WorkflowExecutionDescription } | null> {
  const handle = client.workflow.getHandle<T>(workflowId);
  try {
    const description = await handle.describe();
    return description.status.name === 'RUNNING' ? { handle, description } : null;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return null;
    throw err;
  }
}

/** The handle of a running workflow, or null when there is none. */
export async function runningHandle<T extends Workflow>(
  client: Client,
  workflowId: string,
): Promise<WorkflowHandle<T> | null> {
  return (await describeRunning<T>(client, workflowId))?.handle ?? null;
}

/** Like runningHandle, but a 404 problem when there is none. */
export async function requireRunning<T extends Workflow>(
  client: Client,
  workflowId: string,
  what: string,
): Promise<WorkflowHandle<T>> {
  return (await requireDescribed<T>(client, workflowId, what)).handle;
}

/** Like requireRunning, with the description (pending activities included). */
export async function requireDescribed<T extends Workflow>(
  client: Client,
  workflowId: string,
  what: string,
): Promise<{ handle: WorkflowHandle<T>; description: WorkflowExecutionDescription }> {
  const found = await describeRunning<T>(client, workflowId);
  if (!found) throw new HttpProblem(404, 'Not found', `no ${what}`);
  return found;
}

/**
 * A string literal for a visibility query: backslashes and quotes escaped, so a value can never end the
 * literal and add clauses of its own.
 */
export function visibilityLiteral(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** `Attribute = 'value'`, with the value escaped. */
export function equals(attribute: string, value: string): string {
  return `${attribute} = ${visibilityLiteral(value)}`;
}

/** `Attribute IN ('a', 'b')`, with each value escaped. */
export function within(attribute: string, values: readonly string[]): string {
  return `${attribute} IN (${values.map(visibilityLiteral).join(', ')})`;
}

/** Lists running workflows of a type, optionally for one project (Temporal visibility; eventually consistent). */
export async function listRunning(client: Client, type: string, extra: string[] = [], limit = 1000) {
  const query = [`WorkflowType = '${type}'`, `ExecutionStatus = 'Running'`, ...extra].join(' AND ');
  const out = [];
  for await (const wf of client.workflow.list({ query })) {
    out.push(wf);
    if (out.length >= limit) break;
  }
  return out;
}

/** How long the API waits for a worker to answer an update or query before answering 503. */
export const WORKER_DEADLINE_MS = 30_000;

/** Runs an update or query with a deadline: without a running worker it would wait a long time. */
export async function withWorkerDeadline<R>(
  client: Client,
  fn: () => Promise<R>,
  ms = WORKER_DEADLINE_MS,
): Promise<R> {
  const deadline = Date.now() + ms;
  try {
    return await client.withDeadline(deadline, fn);
  } catch (err) {
    const e = err as { code?: number; cause?: { code?: number }; message?: string; name?: string };
    // gRPC status 4 is DEADLINE_EXCEEDED, however deep the SDK wraps it (an update-with-start that times
    // out in its start or its update phase surfaces differently). The server may also answer a query it
    // could not hand to any worker with another code as the deadline passes: the clock says what happened.
    if (
      hasGrpcCode(err, 4) ||
      Date.now() >= deadline - 50 ||
      e.name === 'WorkflowUpdateRPCTimeoutOrCancelledError' ||
      /deadline exceeded|timed out or cancelled/i.test(e.message ?? '')
    ) {
      throw new HttpProblem(
        503,
        'Service unavailable',
        'no worker answered in time; is the feed-triggers worker running?',
      );
    }
    // FAILED_PRECONDITION: the workflow's first task has not run yet, so it cannot answer a query.
    if (hasGrpcCode(err, 9) || /first workflow task/i.test(e.message ?? ''))
      throw new HttpProblem(
        503,
        'Service unavailable',
        'no worker has started this workflow yet; is the feed-triggers worker running?',
      );
    throw err;
  }
}

/**
 * Cancels a workflow and waits briefly until it has closed, so a client that deletes and then reads sees
 * it gone. Returns false when it is still closing after `ms` (the API then answers 202).
 */
export async function cancelAndWait(handle: WorkflowHandle, ms = 10_000): Promise<boolean> {
  await handle.cancel();
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const description = await handle.describe();
    if (description.status.name !== 'RUNNING') return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}
