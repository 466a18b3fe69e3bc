import type { Client } from '@temporalio/client';
import { HttpProblem } from './problem';

/** How often the API checks that Temporal answers, and how long one check may take. */
const PROBE_EVERY_MS = 1_000;
const PROBE_TIMEOUT_MS = 1_500;

/** A workflow that never exists: describing it proves the frontend and the history service answer. */
const PROBE_WORKFLOW_ID = 'feed-triggers/readiness-probe';

/**
 * Whether the Temporal server answers, from a cheap call made every second. Requests that need Temporal are
 * answered 503 at once while it does not, and those already waiting are released with a 503 when it stops
 * answering, instead of hanging in the SDK's retries.
 *
 * The call describes a workflow that does not exist (NOT_FOUND is the answer of a server that works): a
 * restarted server answers on its frontend (getSystemInfo, visibility) seconds before its history service
 * can start or query workflows, and /readyz must not say ready while those still fail.
 */
export class TemporalHealth {
  private up = true;
  /** Probes answered in a row: a server back from an outage counts as up after two (it warms up unevenly). */
  private answered = 0;
  /** Probes in a row that ran out of time. */
  private slow = 0;
  private lastError: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly waiters = new Set<(err: HttpProblem) => void>();

  constructor(private readonly client: Client) {}

  start(): this {
    if (this.timer) return this;
    const probe = async () => {
      try {
        await this.client
          .withDeadline(Date.now() + PROBE_TIMEOUT_MS, () =>
            this.client.workflowService.describeWorkflowExecution({
              namespace: this.client.options.namespace,
              execution: { workflowId: PROBE_WORKFLOW_ID },
            }),
          )
          .catch((err: unknown) => {
            if (!hasGrpcCode(err, GRPC_NOT_FOUND)) throw err;
          });
        this.slow = 0;
        this.answered++;
        if (this.answered >= UP_AFTER_ANSWERS) this.up = true;
        if (this.up) this.lastError = null;
      } catch (err) {
        const message = (err as Error).message?.split('\n')[0] ?? 'no answer';
        // A server that refuses is down at once; one that is only slow (a loaded machine) must miss twice in
        // a row, so one late answer does not turn every waiting request into a 503.
        this.slow = hasGrpcCode(err, GRPC_DEADLINE_EXCEEDED) ? this.slow + 1 : DOWN_AFTER_SLOW_PROBES;
        if (this.slow < DOWN_AFTER_SLOW_PROBES && this.up) return;
        this.lastError = message;
        this.up = false;
        this.answered = 0;
        const problem = unavailable();
        for (const fail of this.waiters) fail(problem);
        this.waiters.clear();
      }
    };
    this.timer = setInterval(() => void probe(), PROBE_EVERY_MS);
    this.timer.unref();
    void probe();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  get status(): { up: boolean; error: string | null } {
    return { up: this.up, error: this.lastError };
  }

  /** Calls `onDown` once if Temporal stops answering before `cancel` is called. */
  whenDown(onDown: (err: HttpProblem) => void): () => void {
    this.waiters.add(onDown);
    return () => this.waiters.delete(onDown);
  }

  /** Throws a 503 problem when Temporal is known not to answer. */
  require(): void {
    if (!this.up) throw unavailable();
  }
}

function unavailable(): HttpProblem {
  return new HttpProblem(
    503,
    'Service unavailable',
    'the Temporal server does not answer; try again shortly',
  );
}

const GRPC_NOT_FOUND = 5;
const GRPC_DEADLINE_EXCEEDED = 4;
/** Probes that run out of time in a row before Temporal counts as down (a refusal counts at once). */
const DOWN_AFTER_SLOW_PROBES = 2;
/** In the 130 s outage benchmark, routes still failed for about a second after the first probe answered. */
const UP_AFTER_ANSWERS = 2;

/** Whether an error or one of its causes carries one of the gRPC status codes. */
export function hasGrpcCode(err: unknown, ...codes: number[]): boolean {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
    if (typeof e.code === 'number' && codes.includes(e.code)) return true;
    e = e.cause as typeof e;
  }
  return false;
}

/** gRPC UNAVAILABLE (14) and DEADLINE_EXCEEDED (4), however deep the SDK wraps them. */
export function isTemporalUnreachable(err: unknown): boolean {
  return hasGrpcCode(err, 14, 4);
}
