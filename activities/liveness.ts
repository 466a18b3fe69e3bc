import { Context } from '@temporalio/activity';

/** How often a long activity heartbeats: well inside the heartbeat timeouts the workflows set. */
const HEARTBEAT_EVERY_MS = 2_000;

/**
 * Runs activity work with a heartbeat (so an attempt lost with its worker is retried within the
 * heartbeat timeout, and cancellation reaches it) and an abort signal that fires when the activity is
 * cancelled or its start-to-close deadline passes, so no listing outlives the activity that asked for it.
 */
export async function withLiveness<T>(
  work: (signal: AbortSignal) => Promise<T>,
  /** What the activity works on, shown with its retries (`GET /triggers/...`); never a secret. */
  details?: Record<string, string>,
): Promise<T> {
  const ctx = Context.current();
  // Start-to-close counts from when this worker took the task, which is about now.
  const { startToCloseTimeoutMs } = ctx.info;
  const signal =
    startToCloseTimeoutMs > 0
      ? AbortSignal.any([ctx.cancellationSignal, AbortSignal.timeout(startToCloseTimeoutMs)])
      : ctx.cancellationSignal;
  // A local activity cannot heartbeat: its workflow task is its liveness, and cancellation reaches it anyway.
  if (ctx.info.isLocal) return work(signal);
  ctx.heartbeat(details);
  const timer = setInterval(() => ctx.heartbeat(details), HEARTBEAT_EVERY_MS);
  try {
    return await work(signal);
  } finally {
    clearInterval(timer);
  }
}
