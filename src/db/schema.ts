import type { ColumnType, Generated, JSONColumnType } from 'kysely';
import type { OidcConfig } from '../receivers/spec';
import type { DeliveryStatus, ProjectSpec, ReleaseSource } from '../domain/project';
import type { ReleasedPackage } from '../domain/trigger';
import type { DeploymentStatus } from '../domain/lifecycle';
import type { FreezeOverride, TargetOutcome } from '../domain/deployment';
import type { FreezeSpec } from '../domain/freeze';
import type { TenantSpec } from '../domain/tenant';

/** A timestamp column: read as a Date, written as a Date or an ISO string. */
type Timestamp = ColumnType<Date, Date | string, Date | string>;

/** The tables of the ledger, as Kysely sees them (migrations.ts creates them). */
export interface ProjectsTable {
  id: Generated<number>;
  name: string;
  /** Grows with every configuration change and release: triggers skip reloading an unchanged channel. */
  revision: number;
  /** Grows with configuration changes only; project_revisions keeps each. */
  config_revision: number;
  spec: JSONColumnType<ProjectSpec>;
  /** The highest release number by version precedence (Octopus's LastMajor/LastMinor/LastPatch). */
  highest_number: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  /** Set when the project is deleted with its releases kept; a new project may take the name. */
  deleted_at: Timestamp | null;
}

export interface ProjectRevisionsTable {
  project_id: number;
  config_revision: number;
  spec: JSONColumnType<ProjectSpec>;
  created_at: Timestamp;
}

export interface ChannelHeadsTable {
  project_id: number;
  channel: string;
  last_release_id: number;
  highest_number: string;
}

export interface ReleasesTable {
  id: Generated<number>;
  project_id: number;
  number: string;
  channel: string;
  created_at: Timestamp;
  packages: JSONColumnType<ReleasedPackage[]>;
  /** SHA-256 of the version set, unique per channel: the "already released" rule as a constraint. */
  version_set: string;
  reason: string;
  source: JSONColumnType<ReleaseSource>;
  /** The request's idempotency key, unique per project: a retried request finds its release. */
  key: string;
  /** Release notes from the channel's template (migration 0019); null without one. */
  notes: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface DeliveriesTable {
  release_id: number;
  project_id: number;
  destination: string;
  status: DeliveryStatus;
  attempts: number;
  last_error: string | null;
  updated_at: Timestamp;
  delivered_at: Timestamp | null;
  /** The last request may have reached the destination (no answer refused it): never superseded. */
  in_doubt: Generated<boolean>;
}

export interface ApiTokensTable {
  id: Generated<number>;
  name: string;
  role: 'viewer' | 'operator' | 'admin';
  /** Hex SHA-256 of the token; the token itself is shown once and never stored. */
  token_hash: string;
  created_by: string;
  created_at: Timestamp;
  expires_at: Timestamp | null;
  last_used_at: Timestamp | null;
  revoked_at: Timestamp | null;
}

export interface AuditLogTable {
  id: Generated<string>;
  at: Timestamp;
  /** The token's name, or `anonymous` for a call without a valid token. */
  actor: string;
  role: string | null;
  method: string;
  /** The route's pattern (`/triggers/:project/:name/pause`); `path` is the one called. */
  route: string;
  path: string;
  status: number;
  outcome: 'succeeded' | 'refused' | 'denied' | 'failed';
  detail: string | null;
  /** How many calls the row stands for: refusals are counted per token, route, status and minute. */
  count: Generated<number>;
  /** The minute a row of refusals counts; null on other rows. */
  minute: Timestamp | null;
}

export interface ReceiversTable {
  id: Generated<number>;
  name: string;
  type: string;
  secret_name: string | null;
  feed: string | null;
  /** gar: the OIDC configuration its pushes' tokens are verified against (public keys only). */
  oidc: JSONColumnType<OidcConfig | null, string | null, string | null>;
  /** Hex SHA-256 of the token in the receiver's URL; the token is shown once. */
  url_hash: string;
  created_by: string;
  created_at: Timestamp;
}

/** Verified notifications a receiver has acted on, by key, until the replay window closes. */
export interface ReceiverDeliveriesTable {
  receiver: string;
  /** `delivery:` or `body:` and a hex SHA-256: the sender's delivery id, or the signed body. */
  key: string;
  expires_at: Timestamp;
}

export interface DeploymentsTable {
  id: Generated<number>;
  project_id: number;
  release_id: number;
  environment: string;
  status: DeploymentStatus;
  /** Asked for explicitly over a newer release already in the environment (a rollback). */
  forced: boolean;
  requested_by: string;
  queued_at: Timestamp;
  started_at: Timestamp | null;
  finished_at: Timestamp | null;
  attempts: Generated<number>;
  error: string | null;
  /** When a `retrying` deployment is tried next. */
  next_attempt_at: Timestamp | null;
  /** What each target did (a Git commit, an Octopus deployment id), by target name. */
  targets: ColumnType<Record<string, TargetOutcome>, string | undefined, string>;
  /** Sent through a freeze by an admin: which freeze, why, by whom. */
  freeze_override: ColumnType<FreezeOverride | null, string | null | undefined, string | null>;
  /** A scheduled deployment joins the queue at this time. */
  deploy_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  /** Cancelled if it has not started by this time. */
  deploy_at_expiry: ColumnType<Date | null, Date | null | undefined, Date | null>;
  /** The tenant deployed to; '' for an untenanted deployment. */
  tenant: ColumnType<string, string | undefined, string>;
}

/** A tenant (src/db/tenants.ts). */
export interface TenantsTable {
  name: string;
  spec: ColumnType<TenantSpec, string, string>;
  created_by: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** A deployment freeze (src/db/freezes.ts). */
export interface FreezesTable {
  name: string;
  spec: ColumnType<FreezeSpec, string, string>;
  created_by: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ApprovalsTable {
  release_id: number;
  phase: string;
  /** The tenant the decision is for; '' for every tenant (and the untenanted deployments). */
  tenant: ColumnType<string, string | undefined, string>;
  decision: 'approved' | 'rejected';
  decided_by: string;
  comment: string;
  decided_at: Timestamp;
}

/** A trigger's subscription to one package's watcher. */
export interface PackageWatchesTable {
  trigger_id: string;
  /** `feed/package` (watchedPackageKey). */
  package_key: string;
  feed: string;
  package: string;
  /** The watcher the package belongs to (a stable hash of its key). */
  shard: number;
  /** The trigger's interval: the package is read at the shortest of its subscribers'. */
  interval_ms: number;
  /** The channel the trigger releases into (null: subscribed before it was recorded). */
  channel: string | null;
  /** Whether the trigger is paused (the API's pause and resume). */
  paused: Generated<boolean>;
}

/** What a package's watcher last read: when, a fingerprint of its tags and digests, and any failure. */
export interface PackageChecksTable {
  package_key: string;
  checked_at: Timestamp;
  fingerprint: string;
  error_code: string | null;
  error_message: string | null;
}

export interface FeedListingsTable {
  /** `feed|package` for a listing, as the worker's own cache keys it; `feed|package@tag` for a digest. */
  key: string;
  /** When the listing was read from the feed (the database's clock); null while only leased. */
  fetched_at: Timestamp | null;
  /** Until when one worker reads the feed for everyone; others wait for its listing meanwhile. */
  lease_until: Timestamp | null;
  listing: JSONColumnType<StoredRead | null, string | null, string | null>;
}

/** A package listing as the workers share it: tags, the registry's rate-limit reading, known digests. */
export interface StoredListing {
  readonly tags: string[];
  readonly rateLimitRemaining: number | null;
  readonly digests: Record<string, string> | null;
}

/** A tag's digest as the workers share it (null: the feed has none, e.g. a Helm repository). */
export interface StoredDigest {
  readonly digest: string | null;
}

/** What a row of feed_listings holds: a listing, or a tag's digest. */
export type StoredRead = StoredListing | StoredDigest;

/** A console sign-in (src/db/sessions.ts): the session id is kept hashed. */
export interface ConsoleSessionsTable {
  id_hash: string;
  token_id: number;
  csrf: string;
  created_at: Date;
  expires_at: Date;
}

/** One notification a receiver answered, and its verdict (the last few per receiver). */
export interface ReceiverNotificationsTable {
  id: Generated<string>;
  receiver: string;
  received_at: Timestamp;
  verdict: string;
  status: number;
  reason: string;
}

/** What a signature or platform rule found of one image digest (src/db/verdicts.ts). */
export interface ImageVerdictsTable {
  digest: string;
  /** The rule's gate fingerprint (keys and platforms). */
  rule: string;
  passed: boolean;
  reason: string;
  key_name: string | null;
  key_fingerprint: string | null;
  /** The provenance attestation's digest, where the rule asks for provenance (0018). */
  attestation_digest: string | null;
  verified_at: Timestamp;
}

export interface Schema {
  projects: ProjectsTable;
  project_revisions: ProjectRevisionsTable;
  channel_heads: ChannelHeadsTable;
  releases: ReleasesTable;
  deliveries: DeliveriesTable;
  api_tokens: ApiTokensTable;
  console_sessions: ConsoleSessionsTable;
  audit_log: AuditLogTable;
  receivers: ReceiversTable;
  receiver_deliveries: ReceiverDeliveriesTable;
  receiver_notifications: ReceiverNotificationsTable;
  deployments: DeploymentsTable;
  approvals: ApprovalsTable;
  feed_listings: FeedListingsTable;
  image_verdicts: ImageVerdictsTable;
  freezes: FreezesTable;
  tenants: TenantsTable;
  package_watches: PackageWatchesTable;
  package_checks: PackageChecksTable;
}
