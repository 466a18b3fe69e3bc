import { Kysely, sql } from 'kysely';
import { ProjectSpec } from '../domain/project';
import { Schema } from './schema';
import { Db, iso, lockProject, StoredProject } from './ledger-records';

/** Projects and every configuration revision they had; one writer per project (its row lock). */
export class ProjectStore {
  constructor(private readonly db: Kysely<Schema>) {}

  /** Creates or replaces a project's configuration; `changed` is false when it is the same. */
  async saveProject(
    spec: ProjectSpec,
    now = new Date(),
  ): Promise<{ created: boolean; changed: boolean; revision: number; configRevision: number }> {
    return this.db.transaction().execute(async (trx) => {
      const current = await lockProject(trx, spec.name);
      const json = JSON.stringify(spec);
      if (!current) {
        const { id } = await trx
          .insertInto('projects')
          .values({
            name: spec.name,
            revision: 1,
            config_revision: 1,
            spec: json,
            highest_number: null,
            created_at: now,
            updated_at: now,
            deleted_at: null,
          })
          .returning('id')
          .executeTakeFirstOrThrow();
        await trx
          .insertInto('project_revisions')
          .values({ project_id: id, config_revision: 1, spec: json, created_at: now })
          .execute();
        return { created: true, changed: true, revision: 1, configRevision: 1 };
      }
      if (JSON.stringify(current.spec) === json)
        return {
          created: false,
          changed: false,
          revision: current.revision,
          configRevision: current.config_revision,
        };
      const revision = current.revision + 1;
      const configRevision = current.config_revision + 1;
      await trx
        .updateTable('projects')
        .set({ spec: json, revision, config_revision: configRevision, updated_at: now })
        .where('id', '=', current.id)
        .execute();
      await trx
        .insertInto('project_revisions')
        .values({ project_id: current.id, config_revision: configRevision, spec: json, created_at: now })
        .execute();
      // Deliveries waiting for a destination the project no longer has will never be sent.
      const kept = spec.destinations.map((d) => d.name);
      let orphans = trx
        .updateTable('deliveries')
        .set({
          status: 'cancelled',
          last_error: 'the destination was removed from the project',
          updated_at: now,
        })
        .where('project_id', '=', current.id)
        .where('status', '=', 'pending');
      if (kept.length > 0) orphans = orphans.where('destination', 'not in', kept);
      await orphans.execute();
      return { created: false, changed: true, revision, configRevision };
    });
  }

  async getProject(name: string, db: Db = this.db): Promise<StoredProject | null> {
    const row = await db
      .selectFrom('projects')
      .selectAll()
      .where('name', '=', name)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    if (!row) return null;
    return {
      id: row.id,
      name: row.name,
      spec: row.spec,
      revision: row.revision,
      configRevision: row.config_revision,
      createdAt: iso(row.created_at)!,
      updatedAt: iso(row.updated_at)!,
    };
  }

  async listProjects(): Promise<{ name: string; revision: number; createdAt: string; updatedAt: string }[]> {
    const rows = await this.db
      .selectFrom('projects')
      .select(['name', 'revision', 'created_at', 'updated_at'])
      .where('deleted_at', 'is', null)
      .orderBy('name')
      .execute();
    return rows.map((r) => ({
      name: r.name,
      revision: r.revision,
      createdAt: iso(r.created_at)!,
      updatedAt: iso(r.updated_at)!,
    }));
  }

  /** Every configuration the project has had, newest first. */
  async projectRevisions(
    name: string,
  ): Promise<{ configRevision: number; createdAt: string; spec: ProjectSpec }[] | null> {
    const project = await this.getProject(name);
    if (!project) return null;
    const rows = await this.db
      .selectFrom('project_revisions')
      .selectAll()
      .where('project_id', '=', project.id)
      .orderBy('config_revision', 'desc')
      .limit(100)
      .execute();
    return rows.map((r) => ({
      configRevision: r.config_revision,
      createdAt: iso(r.created_at)!,
      spec: r.spec,
    }));
  }

  /**
   * Deletes a project: its pending deliveries are cancelled and its releases kept (marked deleted, so a
   * new project may take the name), or with `purge` everything it recorded goes. Answers what was in
   * flight, for the caller to cancel, or null for an unknown project.
   */
  async deleteProject(
    name: string,
    purge: boolean,
    now = new Date(),
  ): Promise<{ destinations: string[]; inFlight: string[]; releases: number } | null> {
    return this.db.transaction().execute(async (trx) => {
      const project = await lockProject(trx, name);
      if (!project) return null;
      const inFlight = await trx
        .selectFrom('deliveries')
        .innerJoin('releases', 'releases.id', 'deliveries.release_id')
        .select('releases.number')
        .distinct()
        .where('deliveries.project_id', '=', project.id)
        .where('deliveries.status', '=', 'pending')
        .execute();
      const { n } = await trx
        .selectFrom('releases')
        .select(sql<number>`count(*)::int`.as('n'))
        .where('project_id', '=', project.id)
        .executeTakeFirstOrThrow();
      if (purge) {
        await trx.deleteFrom('projects').where('id', '=', project.id).execute();
      } else {
        await trx
          .updateTable('deliveries')
          .set({ status: 'cancelled', last_error: 'the project was deleted', updated_at: now })
          .where('project_id', '=', project.id)
          .where('status', '=', 'pending')
          .execute();
        await trx.updateTable('projects').set({ deleted_at: now }).where('id', '=', project.id).execute();
      }
      return {
        destinations: project.spec.destinations.map((d) => d.name),
        inFlight: inFlight.map((r) => r.number),
        releases: n,
      };
    });
  }
}
