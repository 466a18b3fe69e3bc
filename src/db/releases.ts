import { Kysely, sql, Transaction } from 'kysely';
import { keepTakenAlong, movedPackages, versionSetKey } from '../domain/decision';
import {
  ChannelView,
  CreateReleaseRequest,
  CreateReleaseResult,
  lifecycleOf,
  proposedReleaseNumber,
  validateReleaseRequest,
} from '../domain/project';
import { highestNumber, uniqueReleaseNumber } from '../domain/release-number';
import { renderReleaseNotes } from '../domain/release-notes';
import { clip } from '../domain/size';
import { FailureCode } from '../domain/failures';
import { Schema } from './schema';
import {
  attachDeliveries,
  Db,
  hash,
  LedgerError,
  literalLike,
  lockProject,
  packagesOf,
  ReleaseFilter,
  StoredRelease,
  UNIQUE_VIOLATION,
  withDeliveries,
} from './ledger-records';
import { ProjectStore } from './projects';
import { BatchedReads } from './batched-reads';

/** What recording a release answers: the outcome, the release, and whether its channel follows a lifecycle now. */
export type RecordedRelease = CreateReleaseResult & {
  readonly release: StoredRelease | null;
  readonly followsLifecycle: boolean;
};

/**
 * Releases and the heads of their channels. Release creation is one transaction under the project's row
 * lock that also writes the release's deliveries: numbering is serialized per project, and unique
 * constraints (key, version set per channel, number) make a retried or racing request find the existing
 * release instead of adding a second.
 */
export class ReleaseStore {
  private createdSinceAnalyze = 0;
  /**
   * The live projects' revisions, read for many polls in one query: at thousands of triggers, the triggers of
   * a project poll at one slot, and each asks whether its copy of the channel is current.
   */
  private readonly revisions = new BatchedReads<number>(async (names) => {
    const rows = await this.db
      .selectFrom('projects')
      .select(['name', 'revision'])
      .where('name', 'in', names)
      .where('deleted_at', 'is', null)
      .execute();
    return new Map(rows.map((r) => [r.name, r.revision]));
  });

  /**
   * `analyzeEvery`: refresh the planner's statistics after that many releases (the embedded database has
   * no autovacuum; without statistics a channel's page of 100,000 releases is sorted, not read in order).
   */
  constructor(
    private readonly db: Kysely<Schema>,
    private readonly projects: ProjectStore,
    private readonly options: { readonly analyzeEvery?: number } = {},
  ) {}

  /** Refreshes the planner's statistics of the ledger's tables. */
  async analyze(): Promise<void> {
    await sql`ANALYZE projects, releases, deliveries, channel_heads`.execute(this.db);
  }

  async releaseCount(projectId: number): Promise<number> {
    const { n } = await this.db
      .selectFrom('releases')
      .select(sql<number>`count(*)::int`.as('n'))
      .where('project_id', '=', projectId)
      .executeTakeFirstOrThrow();
    return n;
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
      if ((await this.revisions.get(projectName)) === knownRevision) return null;
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
      .select(['releases.number', 'releases.packages', 'releases.created_at', 'channel_heads.highest_number'])
      .where('channel_heads.project_id', '=', projectId)
      .where('channel_heads.channel', '=', channel)
      .executeTakeFirst();
  }

  /**
   * Records a release unless it is a retry (`duplicate`, same key), an already-released version set, or
   * (for triggers) not later than the channel's last release. One transaction under the project's lock.
   * `keepTakenAlongMs`: a trigger's release keeps each package it takes along at the channel's last version
   * where it read an older one (keepTakenAlong), if the last release is at most this old: younger than the
   * oldest read the request can hold (its evaluation and the listing age its polls accept). An older last
   * release came before the trigger's reads, which then say what the registry holds (a tag taken down is
   * not brought back). 0 (the default) keeps nothing.
   */
  async createRelease(
    projectName: string,
    req: CreateReleaseRequest,
    now = new Date(),
    keepTakenAlongMs = 0,
  ): Promise<RecordedRelease> {
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await this.db
          .transaction()
          .execute((trx) => this.createIn(trx, projectName, req, now, keepTakenAlongMs));
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
    keepTakenAlongMs: number,
  ): Promise<RecordedRelease> {
    const project = await lockProject(trx, projectName);
    if (!project)
      throw new LedgerError(FailureCode.PROJECT_NOT_FOUND, `project ${projectName} does not exist`);
    let channel;
    try {
      channel = validateReleaseRequest(project.spec, req);
    } catch (err) {
      throw new LedgerError(FailureCode.RELEASE_REFUSED, (err as Error).message);
    }
    const followsLifecycle = lifecycleOf(project.spec, req.channel) !== null;
    const known = await trx
      .selectFrom('releases')
      .selectAll()
      .where('project_id', '=', project.id)
      .where('key', '=', req.key)
      .executeTakeFirst();
    if (known)
      return {
        outcome: 'duplicate',
        release: await withDeliveries(trx, known),
        reason: `idempotency key already used by release ${known.number}`,
        followsLifecycle,
      };
    const head = await this.lastInChannel(trx, project.id, req.channel);
    const previous = head ? { number: head.number, packages: packagesOf(head.packages) } : null;
    // A trigger's release never takes a package it does not watch back below the channel's last release.
    const recent =
      keepTakenAlongMs > 0 &&
      head !== undefined &&
      now.getTime() - new Date(head.created_at).getTime() <= keepTakenAlongMs;
    const { packages, kept } =
      req.requireLater && recent
        ? keepTakenAlong(channel.rules, req.packages, previous, req.watched)
        : { packages: req.packages, kept: [] };
    const reason =
      kept.length === 0
        ? req.reason
        : `${req.reason}; kept from release ${previous!.number}: ${kept.join(', ')}`;
    const versionSet = hash(versionSetKey(packages));
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
        release: await withDeliveries(trx, same),
        reason: `release ${same.number} already holds these versions`,
        followsLifecycle,
      };
    const moved = movedPackages(channel.rules, packages, previous, req.watched);
    if (req.requireLater && previous && moved.length === 0)
      return {
        outcome: 'not-later',
        release: null,
        reason: `no watched package is later than in release ${previous.number}`,
        followsLifecycle,
      };
    const proposed = proposedReleaseNumber(
      project.spec,
      { ...req, packages },
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
    const notes =
      channel.releaseNotes === undefined
        ? null
        : renderReleaseNotes(channel.releaseNotes, {
            project: projectName,
            number,
            channel: req.channel,
            createdAt: now.toISOString(),
            reason: clip(reason),
            source: req.source,
            ...(req.notification ? { notification: clip(req.notification, 200) } : {}),
            packages,
            previous,
          });
    const row = await trx
      .insertInto('releases')
      .values({
        project_id: project.id,
        number,
        channel: req.channel,
        created_at: now,
        packages: JSON.stringify(packages),
        version_set: versionSet,
        reason: clip(reason),
        source: JSON.stringify(req.source),
        key: req.key,
        notes,
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
    return {
      outcome: 'created',
      release: await withDeliveries(trx, row),
      reason,
      followsLifecycle,
    };
  }

  /** Newest first, filtered, one page at a time: `nextCursor` continues below the page. */
  async listReleases(
    projectName: string,
    filter: ReleaseFilter,
  ): Promise<{ releases: StoredRelease[]; nextCursor: number | null } | null> {
    const project = await this.projects.getProject(projectName);
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
      releases: await attachDeliveries(this.db, page),
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
    return row ? withDeliveries(this.db, row) : null;
  }

  /** A release by its ledger id with its project's live name, or null when gone (purged). */
  async releaseById(releaseId: number): Promise<StoredRelease | null> {
    const row = await this.db
      .selectFrom('releases')
      .selectAll()
      .where('id', '=', releaseId)
      .executeTakeFirst();
    return row ? withDeliveries(this.db, row) : null;
  }
}
