import { ConfiguredReceiver } from '../receivers/spec';
import { AccessStore } from './access';
import { ChangeStore } from './changes';
import { DeliveryStore } from './deliveries';
import { DeploymentStore } from './deployments';
import { FreezeStore } from './freezes';
import { SharedDigests, SharedListings, SharedListingsOptions } from './feed-listings';
import { Ledger } from './ledger';
import { PackageWatches } from './package-watches';
import { ProjectStore } from './projects';
import type { Database } from './open';
import { ReceiverStore } from './receivers';
import { ReleaseStore } from './releases';
import { OverviewStore } from './overview';
import { SessionStore } from './sessions';

/** Every store on one database, each holding one kind of record; callers take the one they need. */
export interface Stores {
  /** Projects, releases and deliveries under one name: the three stores below, for callers of all three. */
  readonly ledger: Ledger;
  /** Projects and their configuration revisions. */
  readonly projects: ProjectStore;
  /** Releases and channel heads; creating a release writes its deliveries in the same transaction. */
  readonly releases: ReleaseStore;
  /** Delivery state per release and destination, and each destination's queue. */
  readonly deliveries: DeliveryStore;
  /** Deployments and approvals of releases that follow a lifecycle. */
  readonly deployments: DeploymentStore;
  /** Deployment freezes. */
  readonly freezes: FreezeStore;
  /** API tokens and the audit log. */
  readonly access: AccessStore;
  /** Registry receivers: those saved through the API and those of the configuration file. */
  readonly receivers: ReceiverStore;
  /** Tag listings shared between the workers on this database. */
  readonly listings: SharedListings;
  /** Tag digests (manifest HEADs) shared between the workers on this database. */
  readonly digests: SharedDigests;
  /** Triggers' subscriptions to package watchers, and what the watchers last read. */
  readonly watches: PackageWatches;
  /** Console sessions, each bound to the API token it was opened with. */
  readonly sessions: SessionStore;
  /** What is deployed where, for every project at once. */
  readonly overview: OverviewStore;
  /** Announcements of changes to every API process (LISTEN/NOTIFY). */
  readonly changes: ChangeStore;
}

export interface StoresOptions {
  /** Receivers defined in the configuration file. */
  readonly receivers?: readonly ConfiguredReceiver[];
  /** For the shared listings and the shared digests alike. */
  readonly listings?: Partial<SharedListingsOptions>;
}

/** Opens every store on the database; the only place that hands its connection to them. */
export function openStores(
  database: Pick<Database, 'db'> & Partial<Pick<Database, 'ledgerOptions'>>,
  options: StoresOptions = {},
): Stores {
  const ledger = new Ledger(database.db, database.ledgerOptions ?? {});
  return {
    ledger,
    projects: ledger.projects,
    releases: ledger.releases,
    deliveries: ledger.deliveries,
    deployments: ledger.deployments,
    freezes: ledger.freezes,
    access: new AccessStore(database.db),
    receivers: new ReceiverStore(database.db, options.receivers),
    listings: new SharedListings(database.db, options.listings),
    digests: new SharedDigests(database.db, options.listings),
    watches: new PackageWatches(database.db),
    sessions: new SessionStore(database.db),
    overview: new OverviewStore(database.db),
    changes: new ChangeStore(database.db),
  };
}
