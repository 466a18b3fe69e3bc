import { Kysely, sql, Transaction } from 'kysely';

/** The NOTIFY channel on which the ledger's writes announce changes (src/api/events.ts listens). */
export const CHANGES_CHANNEL = 'feed_triggers_changes';

interface Migration {
  up(db: Transaction<unknown>): Promise<void>;
}

/**
 * Versioned migrations, in order, run at start, each in its own transaction and recorded in
 * feed_triggers_migrations; an advisory lock keeps two processes starting at once from both migrating.
 * Plain PostgreSQL: the same SQL runs on a PostgreSQL server and on PGlite. Never edit a migration that
 * has shipped; add the next one.
 */
const MIGRATIONS: Record<string, Migration> = {
  '0001_ledger': {
    async up(db) {
      await sql`
        CREATE TABLE projects (
          id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          name text NOT NULL,
          revision integer NOT NULL,
          config_revision integer NOT NULL,
          spec json NOT NULL,
          highest_number text,
          created_at timestamptz NOT NULL,
          updated_at timestamptz NOT NULL,
          deleted_at timestamptz
        )`.execute(db);
      await sql`CREATE UNIQUE INDEX projects_live_name ON projects (name) WHERE deleted_at IS NULL`.execute(
        db,
      );
      await sql`
        CREATE TABLE project_revisions (
          project_id integer NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
          config_revision integer NOT NULL,
          spec json NOT NULL,
          created_at timestamptz NOT NULL,
          PRIMARY KEY (project_id, config_revision)
        )`.execute(db);
      await sql`
        CREATE TABLE releases (
          id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          project_id integer NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
          number text NOT NULL,
          channel text NOT NULL,
          created_at timestamptz NOT NULL,
          packages jsonb NOT NULL,
          version_set text NOT NULL,
          reason text NOT NULL,
          source jsonb NOT NULL,
          key text NOT NULL,
          UNIQUE (project_id, number),
          UNIQUE (project_id, key),
          UNIQUE (project_id, channel, version_set)
        )`.execute(db);
      await sql`CREATE INDEX releases_project_newest ON releases (project_id, id DESC)`.execute(db);
      await sql`CREATE INDEX releases_channel_newest ON releases (project_id, channel, id DESC)`.execute(db);
      await sql`CREATE INDEX releases_created ON releases (project_id, created_at)`.execute(db);
      await sql`CREATE INDEX releases_packages ON releases USING gin (packages jsonb_path_ops)`.execute(db);
      await sql`
        CREATE TABLE channel_heads (
          project_id integer NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
          channel text NOT NULL,
          last_release_id integer NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
          highest_number text NOT NULL,
          PRIMARY KEY (project_id, channel)
        )`.execute(db);
      await sql`
        CREATE TABLE deliveries (
          release_id integer NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
          project_id integer NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
          destination text NOT NULL,
          status text NOT NULL
            CHECK (status IN ('pending', 'delivered', 'failed', 'superseded', 'cancelled')),
          attempts integer NOT NULL DEFAULT 0,
          last_error text,
          updated_at timestamptz NOT NULL,
          delivered_at timestamptz,
          PRIMARY KEY (release_id, destination)
        )`.execute(db);
      await sql`
        CREATE INDEX deliveries_pending ON deliveries (project_id, destination, release_id)
        WHERE status = 'pending'`.execute(db);
    },
  },
  '0002_access': {
    async up(db) {
      // API tokens: only a SHA-256 of each is kept (tokens are 256 random bits, so no salt or slow hash is
      // needed); a revoked token stays, so the audit log can still name it.
      await sql`
        CREATE TABLE api_tokens (
          id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          name text NOT NULL,
          role text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
          token_hash text NOT NULL UNIQUE,
          created_by text NOT NULL,
          created_at timestamptz NOT NULL,
          expires_at timestamptz,
          last_used_at timestamptz,
          revoked_at timestamptz
        )`.execute(db);
      await sql`CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (name) WHERE revoked_at IS NULL`.execute(
        db,
      );
      await sql`
        CREATE TABLE audit_log (
          id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          at timestamptz NOT NULL,
          actor text NOT NULL,
          role text,
          method text NOT NULL,
          route text NOT NULL,
          path text NOT NULL,
          status integer NOT NULL,
          outcome text NOT NULL CHECK (outcome IN ('succeeded', 'refused', 'denied', 'failed')),
          detail text
        )`.execute(db);
      await sql`CREATE INDEX audit_log_actor ON audit_log (actor, id DESC)`.execute(db);
    },
  },
  '0003_receivers': {
    async up(db) {
      // Webhook receivers: the token in a receiver's URL is kept only as a SHA-256, like API tokens.
      await sql`
        CREATE TABLE receivers (
          id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          name text NOT NULL UNIQUE,
          type text NOT NULL,
          secret_name text,
          feed text,
          url_hash text NOT NULL UNIQUE,
          created_by text NOT NULL,
          created_at timestamptz NOT NULL
        )`.execute(db);
    },
  },
  '0004_lifecycles': {
    async up(db) {
      // A deployment is one release to one environment. At most one of a release is queued or deploying
      // in an environment at a time (the partial unique index), so a retried request finds it.
      await sql`
        CREATE TABLE deployments (
          id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          project_id integer NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
          release_id integer NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
          environment text NOT NULL,
          status text NOT NULL,
          forced boolean NOT NULL,
          requested_by text NOT NULL,
          queued_at timestamptz NOT NULL,
          started_at timestamptz,
          finished_at timestamptz,
          attempts integer NOT NULL DEFAULT 0,
          error text,
          targets jsonb NOT NULL DEFAULT '{}'::jsonb
        )`.execute(db);
      await sql`CREATE UNIQUE INDEX deployments_one_active ON deployments (release_id, environment)
        WHERE status IN ('queued', 'deploying')`.execute(db);
      await sql`CREATE INDEX deployments_environment ON deployments (project_id, environment, id)`.execute(
        db,
      );
      await sql`CREATE INDEX deployments_release ON deployments (release_id, id)`.execute(db);
      await sql`
        CREATE TABLE approvals (
          release_id integer NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
          phase text NOT NULL,
          decision text NOT NULL,
          decided_by text NOT NULL,
          comment text NOT NULL,
          decided_at timestamptz NOT NULL,
          PRIMARY KEY (release_id, phase)
        )`.execute(db);
    },
  },
  '0005_receiver_oidc': {
    async up(db) {
      // gar receivers may verify Pub/Sub push's OIDC tokens: the audience, issuers and public keys.
      await sql`ALTER TABLE receivers ADD COLUMN oidc json`.execute(db);
    },
  },
  '0006_feed_listings': {
    async up(db) {
      // Tag listings shared by the workers of one ledger: one read of a package per interval, not one per worker.
      await sql`
        CREATE TABLE feed_listings (
          key text PRIMARY KEY,
          fetched_at timestamptz,
          lease_until timestamptz,
          listing json
        )`.execute(db);
    },
  },
  '0007_deployment_retrying': {
    async up(db) {
      // A deployment whose target is down waits `retrying` until its next attempt, and stays the one active
      // deployment of its release there. A delivery whose request may have reached its destination (sent, and
      // no answer said it was refused) is `in_doubt`: it is never superseded, only delivered by a retry.
      await sql`ALTER TABLE deployments ADD COLUMN next_attempt_at timestamptz`.execute(db);
      await sql`DROP INDEX deployments_one_active`.execute(db);
      await sql`CREATE UNIQUE INDEX deployments_one_active ON deployments (release_id, environment)
        WHERE status IN ('queued', 'deploying', 'retrying')`.execute(db);
      await sql`ALTER TABLE deliveries ADD COLUMN in_doubt boolean NOT NULL DEFAULT false`.execute(db);
    },
  },
  '0008_receiver_deliveries': {
    async up(db) {
      // Notifications a receiver acted on, kept for the replay window in the database, so a replay is
      // recognised after a restart and by every API process of the ledger.
      await sql`
        CREATE TABLE receiver_deliveries (
          receiver text NOT NULL,
          key text NOT NULL,
          expires_at timestamptz NOT NULL,
          PRIMARY KEY (receiver, key)
        )`.execute(db);
      await sql`CREATE INDEX receiver_deliveries_expiry ON receiver_deliveries (expires_at)`.execute(db);
    },
  },
  '0009_audit_refusal_counts': {
    async up(db) {
      // Refused calls are one row per token, route, status and minute with a count: one token cannot grow
      // the log without bound. `minute` is set on those rows only.
      await sql`ALTER TABLE audit_log ADD COLUMN count integer NOT NULL DEFAULT 1`.execute(db);
      await sql`ALTER TABLE audit_log ADD COLUMN minute timestamptz`.execute(db);
      await sql`
        CREATE UNIQUE INDEX audit_log_refusals ON audit_log (actor, method, route, status, minute)
        WHERE minute IS NOT NULL`.execute(db);
    },
  },
  '0010_console_sessions': {
    async up(db) {
      // Console sign-ins: a token exchanged for a session. Only the session id's hash is kept (a copy of the
      // table signs no one in); the token is referenced by id, so revoking it ends its sessions.
      await sql`
        CREATE TABLE console_sessions (
          id_hash text PRIMARY KEY,
          token_id integer NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
          csrf text NOT NULL,
          created_at timestamptz NOT NULL,
          expires_at timestamptz NOT NULL
        )`.execute(db);
      await sql`CREATE INDEX console_sessions_expiry ON console_sessions (expires_at)`.execute(db);
    },
  },
  '0011_change_notifications': {
    async up(db) {
      // Every write of a project, release, deployment, approval or delivery tells the listening API processes
      // which project and release changed (NOTIFY is sent at commit, so a listener never reads a change before it is there).
      // In the database rather than at each write in the code, so no writer can forget it.
      await sql`
        CREATE FUNCTION feed_triggers_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
          row_json jsonb := to_jsonb(NEW);
          rel_id integer := COALESCE((row_json->>'release_id')::integer, (row_json->>'id')::integer);
          project_name text;
          rel_number text;
        BEGIN
          IF TG_TABLE_NAME = 'projects' THEN
            project_name := row_json->>'name';
          ELSE
            SELECT p.name, r.number INTO project_name, rel_number
              FROM releases r JOIN projects p ON p.id = r.project_id WHERE r.id = rel_id;
          END IF;
          PERFORM pg_notify('${sql.raw(CHANGES_CHANNEL)}', json_build_object(
            'kind', TG_TABLE_NAME, 'project', project_name, 'release', rel_number,
            'environment', row_json->>'environment')::text);
          RETURN NULL;
        END $$`.execute(db);
      for (const table of ['projects', 'releases', 'deployments', 'approvals', 'deliveries'])
        await sql`
          CREATE TRIGGER ${sql.raw(`${table}_notify_change`)} AFTER INSERT OR UPDATE ON ${sql.table(table)}
          FOR EACH ROW EXECUTE FUNCTION feed_triggers_notify_change()`.execute(db);
    },
  },
  '0012_receiver_notifications': {
    async up(db) {
      // The last notifications of each receiver and their verdicts, for the admin page: a few per receiver
      // (ReceiverStore.recordNotification keeps the newest), never a body, a header or the URL's token.
      await sql`
        CREATE TABLE receiver_notifications (
          id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          receiver text NOT NULL,
          received_at timestamptz NOT NULL,
          verdict text NOT NULL,
          status integer NOT NULL,
          reason text NOT NULL
        )`.execute(db);
      await sql`CREATE INDEX receiver_notifications_receiver ON receiver_notifications (receiver, id)`.execute(
        db,
      );
    },
  },
  '0013_image_verdicts': {
    async up(db) {
      // What a signature or platform rule found of an image digest, once: a digest's content never changes,
      // so a passed verdict (or a missing platform) holds for good and an idle poll verifies nothing again.
      // `rule` is the gate's fingerprint (its keys and platforms): another rule judges the digest afresh.
      await sql`
        CREATE TABLE image_verdicts (
          digest text NOT NULL,
          rule text NOT NULL,
          passed boolean NOT NULL,
          reason text NOT NULL,
          key_name text,
          key_fingerprint text,
          verified_at timestamptz NOT NULL,
          PRIMARY KEY (digest, rule)
        )`.execute(db);
    },
  },
  '0014_deployment_freezes': {
    async up(db) {
      // Deployment freezes, global like Octopus's: each scoped to projects and environments by name. A
      // deployment an admin sent through a freeze records which freeze, why and who (`freeze_override`).
      await sql`
        CREATE TABLE freezes (
          name text PRIMARY KEY,
          spec jsonb NOT NULL,
          created_by text NOT NULL,
          created_at timestamptz NOT NULL,
          updated_at timestamptz NOT NULL
        )`.execute(db);
      await sql`ALTER TABLE deployments ADD COLUMN freeze_override jsonb`.execute(db);
    },
  },
  '0015_package_watchers': {
    async up(db) {
      // Which triggers a package's watcher wakes (the trigger writes its rows when it subscribes), and what
      // the watcher last saw of each package: a small fingerprint, never the listing, and when it read it.
      await sql`
        CREATE TABLE package_watches (
          trigger_id text NOT NULL,
          package_key text NOT NULL,
          feed text NOT NULL,
          package text NOT NULL,
          shard integer NOT NULL,
          interval_ms integer NOT NULL,
          PRIMARY KEY (trigger_id, package_key)
        )`.execute(db);
      await sql`CREATE INDEX package_watches_shard ON package_watches (shard, package_key)`.execute(db);
      await sql`CREATE INDEX package_watches_package ON package_watches (package_key)`.execute(db);
      await sql`
        CREATE TABLE package_checks (
          package_key text PRIMARY KEY,
          checked_at timestamptz NOT NULL,
          fingerprint text NOT NULL,
          error_code text,
          error_message text
        )`.execute(db);
    },
  },
  '0016_scheduled_deployments': {
    async up(db) {
      // A deployment asked for at a later time waits `scheduled` until `deploy_at`; one not started by
      // `deploy_at_expiry` is cancelled. A scheduled one is active: a second request finds it.
      await sql`ALTER TABLE deployments ADD COLUMN deploy_at timestamptz`.execute(db);
      await sql`ALTER TABLE deployments ADD COLUMN deploy_at_expiry timestamptz`.execute(db);
      await sql`DROP INDEX deployments_one_active`.execute(db);
      await sql`CREATE UNIQUE INDEX deployments_one_active ON deployments (release_id, environment)
        WHERE status IN ('scheduled', 'queued', 'deploying', 'retrying')`.execute(db);
    },
  },
  '0017_tenants': {
    async up(db) {
      // Tenants, global like Octopus's (a project connects them to environments in its spec). A deployment
      // and an approval belong to a tenant, or to none (''): untenanted rows keep their meaning and keys.
      await sql`
        CREATE TABLE tenants (
          name text PRIMARY KEY,
          spec jsonb NOT NULL,
          created_by text NOT NULL,
          created_at timestamptz NOT NULL,
          updated_at timestamptz NOT NULL
        )`.execute(db);
      await sql`ALTER TABLE deployments ADD COLUMN tenant text NOT NULL DEFAULT ''`.execute(db);
      await sql`DROP INDEX deployments_one_active`.execute(db);
      await sql`CREATE UNIQUE INDEX deployments_one_active ON deployments (release_id, environment, tenant)
        WHERE status IN ('scheduled', 'queued', 'deploying', 'retrying')`.execute(db);
      await sql`ALTER TABLE approvals ADD COLUMN tenant text NOT NULL DEFAULT ''`.execute(db);
      await sql`ALTER TABLE approvals DROP CONSTRAINT approvals_pkey`.execute(db);
      await sql`ALTER TABLE approvals ADD PRIMARY KEY (release_id, phase, tenant)`.execute(db);
    },
  },
  '0018_verdict_attestations': {
    async up(db) {
      // A provenance rule's verdict names the attestation (the digest of its DSSE envelope) that passed, so a
      // release shows which provenance it was released on.
      await sql`ALTER TABLE image_verdicts ADD COLUMN attestation_digest text`.execute(db);
    },
  },
  '0019_release_notes': {
    async up(db) {
      // Rendered once from the channel's template when the release is recorded; null for releases of a
      // channel without one, and for every release recorded before.
      await sql`ALTER TABLE releases ADD COLUMN notes text`.execute(db);
    },
  },
  '0020_watch_channels': {
    async up(db) {
      // The channel a subscribed trigger releases into: a release of that channel may take the package at
      // its watcher's last read, since the trigger is woken when it moves. Null for subscriptions written
      // before (such a package is listed afresh until its trigger subscribes again).
      await sql`ALTER TABLE package_watches ADD COLUMN channel text`.execute(db);
    },
  },
  '0021_watch_paused': {
    async up(db) {
      // Whether the subscribed trigger is paused (set by the API's pause and resume): a paused trigger
      // releases no move of the package, so no release shares its watcher's read on its account.
      await sql`ALTER TABLE package_watches ADD COLUMN paused boolean NOT NULL DEFAULT false`.execute(db);
    },
  },
};

export class MigrationError extends Error {}

/** Any constant: the advisory lock that serializes migrations across processes. */
const MIGRATION_LOCK = 0x66656564;

/** Brings the schema up to date; refuses a database migrated by a newer feed-triggers. Answers what ran. */
export async function migrate(db: Kysely<unknown>): Promise<string[]> {
  const names = Object.keys(MIGRATIONS).sort();
  return db.connection().execute(async (conn) => {
    await sql`SELECT pg_advisory_lock(${MIGRATION_LOCK})`.execute(conn);
    try {
      await sql`CREATE TABLE IF NOT EXISTS feed_triggers_migrations (
        name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`.execute(conn);
      const done = new Set(
        (await sql<{ name: string }>`SELECT name FROM feed_triggers_migrations`.execute(conn)).rows.map(
          (r) => r.name,
        ),
      );
      const unknown = [...done].filter((n) => !(n in MIGRATIONS));
      if (unknown.length > 0)
        throw new MigrationError(
          `the database has migrations this version does not know (${unknown.join(', ')}): ` +
            'it was used by a newer feed-triggers',
        );
      const ran: string[] = [];
      for (const name of names) {
        if (done.has(name)) continue;
        try {
          await conn.transaction().execute(async (trx) => {
            await MIGRATIONS[name].up(trx);
            await sql`INSERT INTO feed_triggers_migrations (name) VALUES (${name})`.execute(trx);
          });
        } catch (err) {
          throw new MigrationError(`database migration ${name} failed: ${(err as Error).message}`);
        }
        ran.push(name);
      }
      return ran;
    } finally {
      await sql`SELECT pg_advisory_unlock(${MIGRATION_LOCK})`.execute(conn);
    }
  });
}
