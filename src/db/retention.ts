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
   *
   * Three statements in one transaction, because a statement reads the snapshot it started with: a deploy
   * request (which share-locks its release until its deployment is in) that commits after the candidates
   * were read but before they are locked would go unseen, and its new deployment would be deleted with the
   * release. So the candidates are read, then locked (SKIP LOCKED: a release a deploy request holds is
   * passed by), then deleted by a statement whose snapshot is taken after the locks and which checks again
   * that each is still free to go. The hooks let a test commit a deploy in that gap (`beforeLock`), or ask
   * for one while the locks are held (`beforeDelete`).
   */
  async removeBatch(
    projectId: number,
    channel: string,
    policy: RetentionPolicy,
    limit: number,
    now = new Date(),
    hooks: { readonly beforeLock?: () => Promise<void>; readonly beforeDelete?: () => Promise<void> } = {},
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
    // Not deployed now in an environment for any tenant or none (its last successful deployment there), nothing
    // in flight.
    const free = sql<boolean>`
      r.id NOT IN (
        SELECT DISTINCT ON (environment, tenant) release_id FROM deployments
        WHERE project_id = ${projectId} AND status = 'succeeded'
        ORDER BY environment, tenant, finished_at DESC, id DESC)
      AND NOT EXISTS (SELECT 1 FROM deployments d WHERE d.release_id = r.id
        AND d.status IN (${sql.join(active)}))
      AND NOT EXISTS (SELECT 1 FROM deliveries l WHERE l.release_id = r.id AND l.status = 'pending')`;
    return this.db.transaction().execute(async (trx) => {
      const candidates = await sql<{ id: number }>`
        SELECT r.id FROM releases r
        WHERE r.project_id = ${projectId} AND r.channel = ${channel} AND r.id < ${boundary.id}
          AND (${cutoff}::timestamptz IS NULL OR r.created_at < ${cutoff}::timestamptz)
          AND ${free}
        ORDER BY r.id
        LIMIT ${limit}`.execute(trx);
      if (candidates.rows.length === 0) return [];
      await hooks.beforeLock?.();
      const ids = candidates.rows.map((c) => c.id);
      const locked = await sql<{ id: number }>`
        SELECT id FROM releases WHERE id IN (${sql.join(ids)}) ORDER BY id FOR UPDATE SKIP LOCKED`.execute(
        trx,
      );
      if (locked.rows.length === 0) return [];
      await hooks.beforeDelete?.();
      const removed = await sql<{ id: number; number: string }>`
        DELETE FROM releases r
        WHERE r.id IN (${sql.join(locked.rows.map((l) => l.id))}) AND ${free}
        RETURNING r.id, r.number`.execute(trx);
      return removed.rows.sort((a, b) => a.id - b.id).map((r) => r.number);
    });
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
