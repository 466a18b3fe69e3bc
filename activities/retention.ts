import { Context } from '@temporalio/activity';
import { Client } from '@temporalio/client';
import { Ledger } from '../src/db/ledger';
import { describeRetention, RetentionPolicy } from '../src/domain/retention';
import { countRetentionRemoved } from '../src/observability/metrics';
import type { RetentionActivities, RetentionInput, RetentionRound } from '../workflows/contracts/activities';
import { releaseWorkflowId } from '../workflows/contracts/ids';
import { PROJECT_ATTRIBUTE } from '../workflows/contracts/search-attributes';

export interface RetentionDependencies {
  readonly ledger: Ledger;
  /** Ends the workflows of removed releases that still run; absent (benchmarks): they are left. */
  readonly client?: Client;
  /** Called after every batch: the activity's heartbeat unless given (benchmarks run it outside one). */
  readonly heartbeat?: () => void;
}

/** Retention, applied by the `retention` workflow a round at a time. */
export function createRetentionActivities(deps: RetentionDependencies): RetentionActivities {
  const store = deps.ledger.retention;

  /** The workflows of removed releases that still run (a release waiting for an approval) are ended. */
  async function endWorkflows(project: string, removed: ReadonlySet<string>): Promise<void> {
    if (!deps.client || removed.size === 0) return;
    const client = deps.client;
    const query =
      `WorkflowType = 'release' AND ExecutionStatus = 'Running' AND ` +
      `${PROJECT_ATTRIBUTE.name} = '${project.replaceAll("'", '')}'`;
    try {
      for await (const wf of client.workflow.list({ query, pageSize: 100 })) {
        const number = wf.workflowId.slice(releaseWorkflowId(project, '').length);
        if (removed.has(number))
          await client.workflow
            .getHandle(wf.workflowId)
            .terminate('its release was removed by retention')
            .catch(() => undefined);
      }
    } catch {
      // Visibility unavailable: such a workflow finds its release gone when it next reads it, and ends.
    }
  }

  return {
    /**
     * Removes releases the policies let go, a batch at a time, for at most `budgetMs`; answers how many and
     * whether any are left. Each project's removals are counted in the metric and summarized in the audit log.
     */
    async applyRetention(input: RetentionInput): Promise<RetentionRound> {
      const started = Date.now();
      const heartbeat = deps.heartbeat ?? (() => Context.current().heartbeat());
      let removed = 0;
      let more = false;
      for (const project of await store.projectsWithPolicies()) {
        const gone = new Set<string>();
        const policies: string[] = [];
        for (const channel of project.spec.channels) {
          const policy: RetentionPolicy | undefined = channel.retention ?? project.spec.retention;
          if (!policy) continue;
          policies.push(`${channel.name}: ${describeRetention(policy)}`);
          for (;;) {
            if (Date.now() - started > input.budgetMs) {
              more = true;
              break;
            }
            const numbers = await store.removeBatch(project.id, channel.name, policy, input.batch);
            heartbeat();
            // The embedded database runs on this thread, and each statement resolves in a microtask: without
            // a turn of the event loop between batches, the API in this process would answer nothing until
            // the whole removal is done (bench:retention measured one read taking the removal's 4 s).
            await new Promise((resolve) => setImmediate(resolve));
            numbers.forEach((n) => gone.add(n));
            if (numbers.length < input.batch) break;
          }
        }
        if (gone.size > 0) {
          removed += gone.size;
          countRetentionRemoved(gone.size);
          const sample = [...gone].slice(0, 5).join(', ');
          await store.audit(
            project.name,
            `retention removed ${gone.size} release(s) of ${project.name} (${sample}${gone.size > 5 ? ', …' : ''}); ` +
              `policy ${policies.join('; ')}`,
          );
          await endWorkflows(project.name, gone);
        }
        if (more) break;
      }
      return { removed, more };
    },
  };
}
