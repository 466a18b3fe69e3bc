import { Kysely, sql } from 'kysely';
import type { ProjectSpec } from '../domain/project';
import { RetentionPolicy } from '../domain/retention';
import { ACTIVE_STATUSES } from '../domain/lifecycle';
import { Schema } from './schema';

/** One batch of removals in one channel. */
export interface RemovedBatch {
  readonly channel: string;
  readonly numbers: string[];
}

/**
 * Applies retention to the ledger, a batch at a time (each one statement, so reads go on between them).
 * A release is removed with what it owns (deliveries, deployments, approvals: the foreign keys cascade);
 * the newest of its channel, one deployed now in an environment, for any tenant or none (the last
 * successful deployment there),
 * and one in flight (a deployment scheduled, queued, deploying or retrying; a delivery pending) stay.
 */
export class RetentionStore {
  constructor(private readonly db: Kysely<Schema>) {}

  /** Live projects with a retention policy on the project or on a channel. */
  async projectsWithPolicies(): Promise<{ id: number; name: string; spec: ProjectSpec }[]> {
    const rows = await this.db
      .selectFrom('projects')
      .select(['id', 'name', 'spec'])
      .where('deleted_at', 'is', null)
      .orderBy('id')
      .execute();
    return rows.filter((r) => r.spec.retention || r.spec.channels.some((c) => c.retention));
  }

  /**
   * Removes up to `limit` releases of the channel that the policy lets go, oldest first; answers their
   * numbers (none: the channel is within its policy).
   */
  async removeBatch(
    projectId: number,
    channel: string,
    policy: RetentionPolicy,
    limit: number,
    now = new Date(),
  ): Promise<string[]> {
    // The newest release the policy may remove is older than the keepLast-th newest (and the newest).
    const boundary = await this.db
      .selectFrom('releases')
      .select('id')
      .where('project_id', '=', projectId)
      .where('channel', '=', channel)
      .orderBy('id', 'desc')
      .offset(Math.max(policy.keepLast ?? 1, 1) - 1)
      .limit(1)
      .executeTakeFirst();
    if (!boundary) return [];
    const cutoff =
      policy.keepDays === undefined ? null : new Date(now.getTime() - policy.keepDays * 86_400_000);
    const active = [...ACTIVE_STATUSES];
    const removed = await sql<{ number: string }>`
      WITH current AS (
        SELECT DISTINCT ON (environment, tenant) release_id FROM deployments
        WHERE project_id = ${projectId} AND status = 'succeeded'
        ORDER BY environment, tenant, finished_at DESC, id DESC
      ), doomed AS (
        SELECT r.id FROM releases r
        WHERE r.project_id = ${projectId} AND r.channel = ${channel} AND r.id < ${boundary.id}
          AND (${cutoff}::timestamptz IS NULL OR r.created_at < ${cutoff}::timestamptz)
          AND r.id NOT IN (SELECT release_id FROM current)
          AND NOT EXISTS (SELECT 1 FROM deployments d WHERE d.release_id = r.id
            AND d.status IN (${sql.join(active)}))
          AND NOT EXISTS (SELECT 1 FROM deliveries l WHERE l.release_id = r.id AND l.status = 'pending')
        ORDER BY r.id
        LIMIT ${limit}
        FOR UPDATE OF r SKIP LOCKED
      )
      DELETE FROM releases WHERE id IN (SELECT id FROM doomed) RETURNING number`.execute(this.db);
    return removed.rows.map((r) => r.number);
  }

  /** Writes the run's summary to the audit log, as the `retention` actor. */
  async audit(project: string, detail: string, now = new Date()): Promise<void> {
    await this.db
      .insertInto('audit_log')
      .values({
        at: now,
        actor: 'retention',
        role: null,
        method: 'DELETE',
        route: '(retention)',
        path: `/projects/${project}/releases`,
        status: 200,
        outcome: 'succeeded',
        detail: detail.slice(0, 500),
        minute: null,
      })
      .execute();
  }
}
