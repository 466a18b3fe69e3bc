import { createHash } from 'node:crypto';
import { Kysely, Selectable, sql, Transaction } from 'kysely';
import { movedPackages, versionSetKey } from '../domain/decision';
import {
  ChannelView,
  CreateReleaseRequest,
  CreateReleaseResult,
  Delivery,
  Destination,
  ProjectRelease,
  ProjectSpec,
  proposedReleaseNumber,
  validateReleaseRequest,
} from '../domain/project';
import { highestNumber, uniqueReleaseNumber } from '../domain/release-number';
import { clip } from '../domain/size';
import { FailureCode } from '../domain/failures';
import type { ReleasedPackage } from '../domain/trigger';
import type { EndedDelivery, NextDelivery } from '../domain/delivery';
import { DeliveriesTable, ReleasesTable, Schema } from './schema';
import { DeploymentStore } from './deployments';

/** A refusal the callers map to a failure code (activities) or an HTTP status (API). */
export class LedgerError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface StoredProject {
  readonly id: number;
  readonly name: string;
  readonly spec: ProjectSpec;
  readonly revision: number;
  readonly configRevision: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface ReleaseFilter {
  readonly channel?: string;
  /** A package reference's name or a feed package (`library/nginx`). */
  readonly package?: string;
  /** A tag of any package (or of `package` when given). */
  readonly version?: string;
  readonly createdSince?: Date;
  readonly limit: number;
  /** From a previous page's `nextCursor`: releases older than that page. */
  readonly cursor?: number;
}

/** A release as stored, with its ledger id (workflows carry the id; users see the number). */
export interface StoredRelease extends ProjectRelease {
  readonly id: number;
}

/** What users and triggers see of a release: the ledger's id stays inside. */
export function publicRelease(release: StoredRelease): ProjectRelease {
  const { id: _id, ...rest } = release; // eslint-disable-line @typescript-eslint/no-unused-vars
  return rest;
}

export type AttemptStart =
  | { readonly kind: 'ended'; readonly status: Delivery['status'] }
  | {
      readonly kind: 'send';
      readonly release: StoredRelease;
      readonly destination: Destination;
      readonly attempt: number;
      /** An earlier request may have reached the destination (see `recordAttempt`). */
      readonly inDoubt: boolean;
    };

const UNIQUE_VIOLATION = '23505';

function iso(d: Date | string | null): string | null {
  if (d === null) return null;
  return (d instanceof Date ? d : new Date(d)).toISOString();
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** `LIKE` pattern text that matches `text` literally. */
function literalLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** Packages in a fixed key order (jsonb stores object keys in its own order). */
function packagesOf(rows: readonly ReleasedPackage[]): ReleasedPackage[] {
  return rows.map((p) => ({
    name: p.name,
    feed: p.feed,
    package: p.package,
    tag: p.tag,
    digest: p.digest ?? null,
    ...(p.precedence ? { precedence: p.precedence } : {}),
  }));
}

function deliveryOf(row: Selectable<DeliveriesTable>): Delivery {
  return {
    status: row.status,
    attempts: row.attempts,
    lastError: row.last_error,
    deliveredAt: iso(row.delivered_at),
  };
}

type Db = Kysely<Schema> | Transaction<Schema>;

/**
 * The system of record for projects (with every configuration revision), releases (all of them) and
 * delivery state. Release creation is one transaction under the project's row lock: numbering is
 * serialized per project, and unique constraints (key, version set per channel, number) make a retried
 * or racing request find the existing release instead of adding a second.
 */
export class Ledger {
  private createdSinceAnalyze = 0;
  /** Deployments and approvals of releases that follow a lifecycle. */
  readonly deployments: DeploymentStore;

  /**
   * `analyzeEvery`: refresh the planner's statistics after that many releases (the embedded database has
   * no autovacuum; without statistics a channel's page of 100,000 releases is sorted, not read in order).
   */
  constructor(
    readonly db: Kysely<Schema>,
    private readonly options: { readonly analyzeEvery?: number } = {},
  ) {
    this.deployments = new DeploymentStore(db);
  }

  /** The live project of that name, its row locked until the transaction ends: one writer per project. */
  private lockProject(trx: Transaction<Schema>, name: string) {
    return trx
      .selectFrom('projects')
      .selectAll()
      .where('name', '=', name)
      .where('deleted_at', 'is', null)
      .forUpdate()
      .executeTakeFirst();
  }

  /** Refreshes the planner's statistics of the ledger's tables. */
  async analyze(): Promise<void> {
    await sql`ANALYZE projects, releases, deliveries, channel_heads`.execute(this.db);
  }

  /** Creates or replaces a project's configuration; `changed` is false when it is the same. */
  async saveProject(
    spec: ProjectSpec,
    now = new Date(),
  ): Promise<{ created: boolean; changed: boolean; revision: number; configRevision: number }> {
    return this.db.transaction().execute(async (trx) => {
      const current = await this.lockProject(trx, spec.name);
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

  async releaseCount(projectId: number): Promise<number> {
    const { n } = await this.db
      .selectFrom('releases')
      .select(sql<number>`count(*)::int`.as('n'))
      .where('project_id', '=', projectId)
      .executeTakeFirstOrThrow();
    return n;
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
      const project = await this.lockProject(trx, name);
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

  /**
   * What a trigger needs of its channel, or null when the project is still at `knownRevision` (every poll
   * asks: an unchanged project costs one small row, not its configuration). Throws LedgerError for an
   * unknown project or channel.
   */
  async channelView(
    projectName: string,
    channelName: string,
    knownRevision: number | null = null,
  ): Promise<ChannelView | null> {
    const live = () =>
      this.db.selectFrom('projects').where('name', '=', projectName).where('deleted_at', 'is', null);
    if (knownRevision !== null) {
      // The revision moves with every configuration change, so an unchanged one has its channels unchanged.
      const head = await live().select(['revision']).executeTakeFirst();
      if (head?.revision === knownRevision) return null;
    }
    const project = await live().select(['id', 'spec', 'revision']).executeTakeFirst();
    if (!project)
      throw new LedgerError(FailureCode.PROJECT_NOT_FOUND, `project ${projectName} does not exist`);
    const channel = project.spec.channels.find((c) => c.name === channelName);
    if (!channel)
      throw new LedgerError(
        FailureCode.CHANNEL_NOT_FOUND,
        `project ${projectName} has no channel "${channelName}"`,
      );
    const last = await this.lastInChannel(this.db, project.id, channelName);
    return {
      project: projectName,
      channel: channelName,
      revision: project.revision,
      packages: project.spec.packages,
      rules: channel.rules,
      lastRelease: last ? { number: last.number, packages: packagesOf(last.packages) } : null,
    };
  }

  private async lastInChannel(db: Db, projectId: number, channel: string) {
    return db
      .selectFrom('channel_heads')
      .innerJoin('releases', 'releases.id', 'channel_heads.last_release_id')
      .select(['releases.number', 'releases.packages', 'channel_heads.highest_number'])
      .where('channel_heads.project_id', '=', projectId)
      .where('channel_heads.channel', '=', channel)
      .executeTakeFirst();
  }

  /**
   * Records a release unless it is a retry (`duplicate`, same key), an already-released version set, or
   * (for triggers) not later than the channel's last release. One transaction under the project's lock.
   */
  async createRelease(
    projectName: string,
    req: CreateReleaseRequest,
    now = new Date(),
  ): Promise<CreateReleaseResult & { release: StoredRelease | null }> {
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await this.db
          .transaction()
          .execute((trx) => this.createIn(trx, projectName, req, now));
        const every = this.options.analyzeEvery;
        if (result.outcome === 'created' && every && ++this.createdSinceAnalyze >= every) {
          this.createdSinceAnalyze = 0;
          await this.analyze();
        }
        return result;
      } catch (err) {
        // The project lock serializes creation, so this is a safety net: the retry finds the winner.
        if ((err as { code?: string }).code === UNIQUE_VIOLATION && attempt < 2) continue;
        throw err;
      }
    }
  }

  private async createIn(
    trx: Transaction<Schema>,
    projectName: string,
    req: CreateReleaseRequest,
    now: Date,
  ): Promise<CreateReleaseResult & { release: StoredRelease | null }> {
    const project = await this.lockProject(trx, projectName);
    if (!project)
      throw new LedgerError(FailureCode.PROJECT_NOT_FOUND, `project ${projectName} does not exist`);
    let channel;
    try {
      channel = validateReleaseRequest(project.spec, req);
    } catch (err) {
      throw new LedgerError(FailureCode.RELEASE_REFUSED, (err as Error).message);
    }
    const known = await trx
      .selectFrom('releases')
      .selectAll()
      .where('project_id', '=', project.id)
      .where('key', '=', req.key)
      .executeTakeFirst();
    if (known)
      return {
        outcome: 'duplicate',
        release: await this.withDeliveries(trx, known),
        reason: `idempotency key already used by release ${known.number}`,
      };
    const versionSet = hash(versionSetKey(req.packages));
    const same = await trx
      .selectFrom('releases')
      .selectAll()
      .where('project_id', '=', project.id)
      .where('channel', '=', req.channel)
      .where('version_set', '=', versionSet)
      .executeTakeFirst();
    if (same)
      return {
        outcome: 'already-released',
        release: await this.withDeliveries(trx, same),
        reason: `release ${same.number} already holds these versions`,
      };
    const head = await this.lastInChannel(trx, project.id, req.channel);
    const previous = head ? { number: head.number, packages: head.packages } : null;
    const moved = movedPackages(channel.rules, req.packages, previous, req.watched);
    if (req.requireLater && previous && moved.length === 0)
      return {
        outcome: 'not-later',
        release: null,
        reason: `no watched package is later than in release ${previous.number}`,
      };
    const proposed = proposedReleaseNumber(
      project.spec,
      req,
      { inProject: project.highest_number, inChannel: head?.highest_number ?? null },
      now,
    );
    const taken = await trx
      .selectFrom('releases')
      .select('number')
      .where('project_id', '=', project.id)
      .where((eb) =>
        eb.or([
          eb('number', '=', proposed),
          eb('number', 'like', sql<string>`${`${literalLike(proposed)}-%`}`),
        ]),
      )
      .execute();
    const takenSet = new Set(taken.map((r) => r.number));
    const number = uniqueReleaseNumber(proposed, (n) => takenSet.has(n));
    const row = await trx
      .insertInto('releases')
      .values({
        project_id: project.id,
        number,
        channel: req.channel,
        created_at: now,
        packages: JSON.stringify(req.packages),
        version_set: versionSet,
        reason: clip(req.reason),
        source: JSON.stringify(req.source),
        key: req.key,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    if (project.spec.destinations.length > 0)
      await trx
        .insertInto('deliveries')
        .values(
          project.spec.destinations.map((d) => ({
            release_id: row.id,
            project_id: project.id,
            destination: d.name,
            status: 'pending' as const,
            attempts: 0,
            last_error: null,
            updated_at: now,
            delivered_at: null,
          })),
        )
        .execute();
    const channelHighest = highestNumber([head?.highest_number ?? null, number].filter((n) => n !== null));
    await trx
      .insertInto('channel_heads')
      .values({
        project_id: project.id,
        channel: req.channel,
        last_release_id: row.id,
        highest_number: channelHighest ?? number,
      })
      .onConflict((oc) =>
        oc.columns(['project_id', 'channel']).doUpdateSet({
          last_release_id: row.id,
          highest_number: channelHighest ?? number,
        }),
      )
      .execute();
    await trx
      .updateTable('projects')
      .set({
        revision: sql<number>`revision + 1`,
        highest_number: highestNumber([project.highest_number, number].filter((n) => n !== null)) ?? number,
      })
      .where('id', '=', project.id)
      .execute();
    return { outcome: 'created', release: await this.withDeliveries(trx, row), reason: req.reason };
  }

  private async withDeliveries(db: Db, row: Selectable<ReleasesTable>): Promise<StoredRelease> {
    const [release] = await this.attach(db, [row]);
    return release;
  }

  private async attach(db: Db, rows: Selectable<ReleasesTable>[]): Promise<StoredRelease[]> {
    if (rows.length === 0) return [];
    const deliveries = await db
      .selectFrom('deliveries')
      .selectAll()
      .where(
        'release_id',
        'in',
        rows.map((r) => r.id),
      )
      .orderBy('destination')
      .execute();
    return rows.map((r) => ({
      id: r.id,
      number: r.number,
      channel: r.channel,
      createdAt: iso(r.created_at)!,
      packages: packagesOf(r.packages),
      reason: r.reason,
      source: r.source,
      key: r.key,
      deliveries: Object.fromEntries(
        deliveries.filter((d) => d.release_id === r.id).map((d) => [d.destination, deliveryOf(d)]),
      ),
    }));
  }

  /** Newest first, filtered, one page at a time: `nextCursor` continues below the page. */
  async listReleases(
    projectName: string,
    filter: ReleaseFilter,
  ): Promise<{ releases: StoredRelease[]; nextCursor: number | null } | null> {
    const project = await this.getProject(projectName);
    if (!project) return null;
    let query = this.db.selectFrom('releases').selectAll().where('project_id', '=', project.id);
    if (filter.channel !== undefined) query = query.where('channel', '=', filter.channel);
    if (filter.cursor !== undefined) query = query.where('id', '<', filter.cursor);
    if (filter.createdSince !== undefined) query = query.where('created_at', '>=', filter.createdSince);
    if (filter.package !== undefined || filter.version !== undefined) {
      const tag = filter.version !== undefined ? { tag: filter.version } : {};
      const byName = JSON.stringify([{ ...tag, ...(filter.package ? { name: filter.package } : {}) }]);
      const byPackage = JSON.stringify([{ ...tag, ...(filter.package ? { package: filter.package } : {}) }]);
      const contains = sql<boolean>`(packages @> ${byName}::jsonb OR packages @> ${byPackage}::jsonb)`;
      query = query.where(contains);
    }
    // A version is rare among a project's releases: `id + 0` keeps the planner from walking every release
    // newest first and testing each; it finds them through the packages index and sorts the few.
    const rows = await query
      .orderBy(filter.version !== undefined ? sql`id + 0` : sql`id`, 'desc')
      .limit(filter.limit + 1)
      .execute();
    const page = rows.slice(0, filter.limit);
    return {
      releases: await this.attach(this.db, page),
      nextCursor: rows.length > filter.limit ? page[page.length - 1].id : null,
    };
  }

  /** A release of a project (by the id getProject answered). */
  async getRelease(projectId: number, number: string): Promise<StoredRelease | null> {
    const row = await this.db
      .selectFrom('releases')
      .selectAll()
      .where('project_id', '=', projectId)
      .where('number', '=', number)
      .executeTakeFirst();
    return row ? this.withDeliveries(this.db, row) : null;
  }

  /** A release by its ledger id with its project's live name, or null when gone (purged). */
  async releaseById(releaseId: number): Promise<StoredRelease | null> {
    const row = await this.db
      .selectFrom('releases')
      .selectAll()
      .where('id', '=', releaseId)
      .executeTakeFirst();
    return row ? this.withDeliveries(this.db, row) : null;
  }

  /**
   * The next delivery a destination's queue should send, oldest release first. For `latest` destinations,
   * a waiting release with a newer one of its channel behind it is marked superseded first, unless a
   * request of it may have reached the destination: that one is delivered by a retry. A destination
   * the project no longer has ends its waiting deliveries as cancelled.
   */
  async nextDelivery(projectName: string, destinationName: string, now = new Date()): Promise<NextDelivery> {
    return this.db.transaction().execute(async (trx) => {
      const project = await this.lockProject(trx, projectName);
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
      const release = await this.withDeliveries(
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
