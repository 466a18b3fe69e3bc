import { VerdictStore } from './verdicts';
import { Kysely } from 'kysely';
import { Schema } from './schema';
import { DeploymentStore } from './deployments';
import { FreezeStore } from './freezes';
import { TenantStore } from './tenants';
import { RetentionStore } from './retention';
import { DeliveryStore } from './deliveries';
import { ProjectStore } from './projects';
import { ReleaseStore } from './releases';

export {
  type AttemptStart,
  LedgerError,
  publicRelease,
  type ReleaseFilter,
  type StoredProject,
  type StoredRelease,
} from './ledger-records';

/**
 * The system of record for projects (with every configuration revision), releases (all of them) and
 * delivery state: the stores that hold each, on one database, and their methods under the names callers
 * have always used. Release creation stays one transaction (in `ReleaseStore`), writing its deliveries too.
 */
export class Ledger {
  readonly projects: ProjectStore;
  readonly releases: ReleaseStore;
  readonly deliveries: DeliveryStore;
  /** Deployments and approvals of releases that follow a lifecycle. */
  readonly deployments: DeploymentStore;
  /** What signature and platform rules found of image digests, once per digest and rule. */
  readonly verdicts: VerdictStore;
  /** Deployment freezes: what holds deployments, and until when. */
  readonly freezes: FreezeStore;
  /** Tenants: customers or regions that projects deploy to separately. */
  readonly tenants: TenantStore;
  /** Retention: removing the releases the policies let go. */
  readonly retention: RetentionStore;

  /**
   * `analyzeEvery`: refresh the planner's statistics after that many releases (the embedded database has
   * no autovacuum; without statistics a channel's page of 100,000 releases is sorted, not read in order).
   */
  constructor(db: Kysely<Schema>, options: { readonly analyzeEvery?: number } = {}) {
    this.projects = new ProjectStore(db);
    this.releases = new ReleaseStore(db, this.projects, options);
    this.deliveries = new DeliveryStore(db);
    this.freezes = new FreezeStore(db);
    this.tenants = new TenantStore(db);
    this.retention = new RetentionStore(db);
    this.deployments = new DeploymentStore(db, this.freezes);
    this.verdicts = new VerdictStore(db);
  }

  /** Creates or replaces a project's configuration; `changed` is false when it is the same. */
  saveProject(...args: Parameters<ProjectStore['saveProject']>): ReturnType<ProjectStore['saveProject']> {
    return this.projects.saveProject(...args);
  }

  getProject(...args: Parameters<ProjectStore['getProject']>): ReturnType<ProjectStore['getProject']> {
    return this.projects.getProject(...args);
  }

  listProjects(...args: Parameters<ProjectStore['listProjects']>): ReturnType<ProjectStore['listProjects']> {
    return this.projects.listProjects(...args);
  }

  /** Every configuration the project has had, newest first. */
  projectRevisions(
    ...args: Parameters<ProjectStore['projectRevisions']>
  ): ReturnType<ProjectStore['projectRevisions']> {
    return this.projects.projectRevisions(...args);
  }

  /**
   * Deletes a project: its pending deliveries are cancelled and its releases kept (marked deleted, so a
   * new project may take the name), or with `purge` everything it recorded goes. Answers what was in
   * flight, for the caller to cancel, or null for an unknown project.
   */
  deleteProject(
    ...args: Parameters<ProjectStore['deleteProject']>
  ): ReturnType<ProjectStore['deleteProject']> {
    return this.projects.deleteProject(...args);
  }

  /** Refreshes the planner's statistics of the ledger's tables. */
  analyze(...args: Parameters<ReleaseStore['analyze']>): ReturnType<ReleaseStore['analyze']> {
    return this.releases.analyze(...args);
  }

  releaseCount(...args: Parameters<ReleaseStore['releaseCount']>): ReturnType<ReleaseStore['releaseCount']> {
    return this.releases.releaseCount(...args);
  }

  /**
   * What a trigger needs of its channel, or null when the project is still at `knownRevision` (every poll
   * asks: an unchanged project costs one small row, not its configuration). Throws LedgerError for an
   * unknown project or channel.
   */
  channelView(...args: Parameters<ReleaseStore['channelView']>): ReturnType<ReleaseStore['channelView']> {
    return this.releases.channelView(...args);
  }

  /**
   * Records a release unless it is a retry (`duplicate`, same key), an already-released version set, or
   * (for triggers) not later than the channel's last release. One transaction under the project's lock.
   */
  createRelease(
    ...args: Parameters<ReleaseStore['createRelease']>
  ): ReturnType<ReleaseStore['createRelease']> {
    return this.releases.createRelease(...args);
  }

  /** Newest first, filtered, one page at a time: `nextCursor` continues below the page. */
  listReleases(...args: Parameters<ReleaseStore['listReleases']>): ReturnType<ReleaseStore['listReleases']> {
    return this.releases.listReleases(...args);
  }

  /** A release of a project (by the id getProject answered). */
  getRelease(...args: Parameters<ReleaseStore['getRelease']>): ReturnType<ReleaseStore['getRelease']> {
    return this.releases.getRelease(...args);
  }

  /** A release by its ledger id with its project's live name, or null when gone (purged). */
  releaseById(...args: Parameters<ReleaseStore['releaseById']>): ReturnType<ReleaseStore['releaseById']> {
    return this.releases.releaseById(...args);
  }

  /**
   * The next delivery a destination's queue should send, oldest release first. For `latest` destinations,
   * a waiting release with a newer one of its channel behind it is marked superseded first, unless a
   * request of it may have reached the destination: that one is delivered by a retry. A destination
   * the project no longer has ends its waiting deliveries as cancelled.
   */
  nextDelivery(
    ...args: Parameters<DeliveryStore['nextDelivery']>
  ): ReturnType<DeliveryStore['nextDelivery']> {
    return this.deliveries.nextDelivery(...args);
  }

  /**
   * Before a request is sent: checks the delivery still waits (and, for `latest`, is not superseded),
   * counts the attempt, and answers what to send with the destination's current configuration.
   */
  beginAttempt(
    ...args: Parameters<DeliveryStore['beginAttempt']>
  ): ReturnType<DeliveryStore['beginAttempt']> {
    return this.deliveries.beginAttempt(...args);
  }

  /**
   * Records an attempt's outcome; a delivery that already ended keeps its status. `inDoubt`: a request of
   * it may have reached the destination (one left and no answer came back refusing it, now or before), so
   * a `latest` destination does not supersede it.
   */
  recordAttempt(
    ...args: Parameters<DeliveryStore['recordAttempt']>
  ): ReturnType<DeliveryStore['recordAttempt']> {
    return this.deliveries.recordAttempt(...args);
  }
}
