import { Kysely, sql, Transaction } from 'kysely';
import { Delivery } from '../domain/project';
import { clip } from '../domain/size';
import type { EndedDelivery, NextDelivery } from '../domain/delivery';
import { Schema } from './schema';
import { AttemptStart, lockProject, withDeliveries } from './ledger-records';

/** The delivery state of each release at each destination, and the queue order destinations take. */
export class DeliveryStore {
  constructor(private readonly db: Kysely<Schema>) {}

  /**
   * The next delivery a destination's queue should send, oldest release first. For `latest` destinations,
   * a waiting release with a newer one of its channel behind it is marked superseded first, unless a
   * request of it may have reached the destination: that one is delivered by a retry. A destination
   * the project no longer has ends its waiting deliveries as cancelled.
   */
  async nextDelivery(projectName: string, destinationName: string, now = new Date()): Promise<NextDelivery> {
    return this.db.transaction().execute(async (trx) => {
      const project = await lockProject(trx, projectName);
      if (!project) return { kind: 'gone' };
      const destination = project.spec.destinations.find((d) => d.name === destinationName);
      const ended: EndedDelivery[] = [];
      if (!destination) {
        const cancelled = await this.endPending(trx, project.id, destinationName, 'cancelled', now, null);
        return { kind: 'idle', ended: cancelled };
      }
      if (destination.order === 'latest')
        ended.push(...(await this.endPending(trx, project.id, destinationName, 'superseded', now, null)));
      const next = await trx
        .selectFrom('deliveries')
        .innerJoin('releases', 'releases.id', 'deliveries.release_id')
        .select(['releases.id', 'releases.number'])
        .where('deliveries.project_id', '=', project.id)
        .where('deliveries.destination', '=', destinationName)
        .where('deliveries.status', '=', 'pending')
        .orderBy('deliveries.release_id')
        .limit(1)
        .executeTakeFirst();
      if (!next) return { kind: 'idle', ended };
      return { kind: 'deliver', releaseId: next.id, number: next.number, ended };
    });
  }

  /**
   * Ends a destination's waiting deliveries: all of them (`cancelled`), or (`superseded`) those with a
   * newer release of their channel, optionally only `releaseId`. Answers which ended.
   */
  private async endPending(
    trx: Transaction<Schema>,
    projectId: number,
    destination: string,
    status: 'cancelled' | 'superseded',
    now: Date,
    releaseId: number | null,
  ): Promise<EndedDelivery[]> {
    let query = trx
      .updateTable('deliveries as d')
      .set({
        status,
        updated_at: now,
        last_error: status === 'cancelled' ? 'the destination was removed from the project' : null,
      })
      .from('releases as r')
      .whereRef('r.id', '=', 'd.release_id')
      .where('d.project_id', '=', projectId)
      .where('d.destination', '=', destination)
      .where('d.status', '=', 'pending');
    if (releaseId !== null) query = query.where('d.release_id', '=', releaseId);
    // A delivery the destination may have received is never recorded as skipped: the ledger would then
    // contradict the destination. Its retry (same idempotency key) confirms it as delivered.
    if (status === 'superseded')
      query = query.where('d.in_doubt', '=', false).where(({ exists, selectFrom }) =>
        exists(
          selectFrom('deliveries as d2')
            .innerJoin('releases as r2', 'r2.id', 'd2.release_id')
            .select(sql`1`.as('one'))
            .whereRef('d2.project_id', '=', 'd.project_id')
            .whereRef('d2.destination', '=', 'd.destination')
            .whereRef('r2.channel', '=', 'r.channel')
            .whereRef('d2.release_id', '>', 'd.release_id')
            .where('d2.status', '<>', 'cancelled'),
        ),
      );
    const rows = await query.returning(['r.number']).execute();
    return rows.map((r) => ({ number: r.number, status }));
  }

  /**
   * Before a request is sent: checks the delivery still waits (and, for `latest`, is not superseded),
   * counts the attempt, and answers what to send with the destination's current configuration.
   */
  async beginAttempt(releaseId: number, destinationName: string, now = new Date()): Promise<AttemptStart> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('deliveries')
        .innerJoin('projects', 'projects.id', 'deliveries.project_id')
        .select([
          'deliveries.status',
          'deliveries.attempts',
          'deliveries.in_doubt',
          'projects.spec',
          'projects.deleted_at',
          'projects.id',
        ])
        .where('deliveries.release_id', '=', releaseId)
        .where('deliveries.destination', '=', destinationName)
        .forUpdate()
        .executeTakeFirst();
      if (!row) return { kind: 'ended', status: 'cancelled' };
      if (row.status !== 'pending') return { kind: 'ended', status: row.status };
      const destination = row.spec.destinations.find((d) => d.name === destinationName);
      if (row.deleted_at !== null || !destination) {
        await this.finish(trx, releaseId, destinationName, 'cancelled', 'the destination was removed', now);
        return { kind: 'ended', status: 'cancelled' };
      }
      if (destination.order === 'latest') {
        const ended = await this.endPending(trx, row.id, destinationName, 'superseded', now, releaseId);
        if (ended.length > 0) return { kind: 'ended', status: 'superseded' };
      }
      const attempt = row.attempts + 1;
      // In doubt from here until an answer says otherwise: a crash after the request left leaves it so.
      await trx
        .updateTable('deliveries')
        .set({ attempts: attempt, updated_at: now, in_doubt: true })
        .where('release_id', '=', releaseId)
        .where('destination', '=', destinationName)
        .execute();
      const release = await withDeliveries(
        trx,
        await trx.selectFrom('releases').selectAll().where('id', '=', releaseId).executeTakeFirstOrThrow(),
      );
      return { kind: 'send', release, destination, attempt, inDoubt: row.in_doubt };
    });
  }

  /**
   * Records an attempt's outcome; a delivery that already ended keeps its status. `inDoubt`: a request of
   * it may have reached the destination (one left and no answer came back refusing it, now or before), so
   * a `latest` destination does not supersede it.
   */
  async recordAttempt(
    releaseId: number,
    destination: string,
    status: 'pending' | 'delivered' | 'failed',
    error: string | null,
    now = new Date(),
    inDoubt = false,
  ): Promise<Delivery['status']> {
    return this.db.transaction().execute(async (trx) => {
      await this.finish(trx, releaseId, destination, status, error, now);
      await trx
        .updateTable('deliveries')
        .set({ in_doubt: inDoubt })
        .where('release_id', '=', releaseId)
        .where('destination', '=', destination)
        .execute();
      const row = await trx
        .selectFrom('deliveries')
        .select('status')
        .where('release_id', '=', releaseId)
        .where('destination', '=', destination)
        .executeTakeFirst();
      return row?.status ?? 'cancelled';
    });
  }

  private async finish(
    trx: Transaction<Schema>,
    releaseId: number,
    destination: string,
    status: Delivery['status'],
    error: string | null,
    now: Date,
  ): Promise<void> {
    await trx
      .updateTable('deliveries')
      .set({
        status,
        last_error: error === null ? null : clip(error),
        updated_at: now,
        ...(status === 'delivered' ? { delivered_at: now } : {}),
      })
      .where('release_id', '=', releaseId)
      .where('destination', '=', destination)
      .where('status', '=', 'pending')
      .execute();
  }
}
