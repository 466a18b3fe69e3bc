import { randomBytes } from 'node:crypto';
import { Kysely, Selectable } from 'kysely';
import { ConfiguredReceiver, ReceiverSpec, ReceiverSpecSchema } from '../receivers/spec';
import { hashToken } from './access';
import { ReceiversTable, Schema } from './schema';

/** A receiver as listed: never the token of its URL. */
export interface ReceiverInfo {
  readonly spec: ReceiverSpec;
  readonly createdBy: string;
  readonly createdAt: string;
}

export class ReceiverConflict extends Error {}

/** Notifications kept per receiver for the admin page; older ones are deleted as new ones arrive. */
export const NOTIFICATIONS_KEPT = 50;
/** A verdict's reason is cut to this many characters: it can quote what a sender sent. */
const REASON_MAX = 300;

/** A notification a receiver answered, as the admin page lists it. */
export interface ReceiverNotification {
  readonly receivedAt: string;
  readonly verdict: string;
  readonly status: number;
  readonly reason: string;
}

/** Expired delivery records are deleted at most this often per process. */
const PRUNE_EVERY_MS = 60_000;

function info(row: Selectable<ReceiversTable>): ReceiverInfo {
  return {
    spec: ReceiverSpecSchema.parse({
      name: row.name,
      type: row.type,
      ...(row.secret_name ? { secret: { secret: row.secret_name } } : {}),
      ...(row.feed ? { feed: row.feed } : {}),
      ...(row.oidc ? { oidc: row.oidc } : {}),
    }),
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
  };
}

/** Webhook receivers in the ledger's database, found by the token in their URL. */
export class ReceiverStore {
  /** Receivers by URL-token hash, briefly: a burst of notifications costs one lookup. */
  private readonly recent = new Map<string, { spec: ReceiverSpec; until: number }>();

  /** Receivers of the configuration file, by URL-token hash: listed, found, never created or deleted here. */
  private readonly configured: ReadonlyMap<string, ReceiverSpec>;
  private readonly loadedAt = new Date().toISOString();
  private prunedAt = 0;

  constructor(
    private readonly db: Kysely<Schema>,
    configured: readonly ConfiguredReceiver[] = [],
  ) {
    this.configured = new Map(configured.map((r) => [hashToken(r.token), r.spec]));
  }

  private inConfiguration(name: string): boolean {
    return [...this.configured.values()].some((s) => s.name === name);
  }

  /** Records a notification's verdict for the receiver, keeping its newest NOTIFICATIONS_KEPT. */
  async recordNotification(
    receiver: string,
    verdict: string,
    status: number,
    reason: string,
    now = new Date(),
  ): Promise<void> {
    await this.db
      .insertInto('receiver_notifications')
      .values({ receiver, received_at: now, verdict, status, reason: reason.slice(0, REASON_MAX) })
      .execute();
    await this.db
      .deleteFrom('receiver_notifications')
      .where('receiver', '=', receiver)
      .where('id', '<=', (qb) =>
        qb
          .selectFrom('receiver_notifications')
          .select('id')
          .where('receiver', '=', receiver)
          .orderBy('id', 'desc')
          .offset(NOTIFICATIONS_KEPT)
          .limit(1),
      )
      .execute();
  }

  /** The receiver's last notifications, newest first. */
  async notifications(receiver: string): Promise<ReceiverNotification[]> {
    const rows = await this.db
      .selectFrom('receiver_notifications')
      .select(['received_at', 'verdict', 'status', 'reason'])
      .where('receiver', '=', receiver)
      .orderBy('id', 'desc')
      .limit(NOTIFICATIONS_KEPT)
      .execute();
    return rows.map((r) => ({
      receivedAt: r.received_at.toISOString(),
      verdict: r.verdict,
      status: r.status,
      reason: r.reason,
    }));
  }

  /** Creates a receiver; answers the token of its URL, which is never shown again. */
  async create(spec: ReceiverSpec, createdBy: string): Promise<{ token: string; info: ReceiverInfo }> {
    if (this.inConfiguration(spec.name))
      throw new ReceiverConflict(`a receiver named ${spec.name} is defined in the configuration file`);
    const token = randomBytes(32).toString('base64url');
    try {
      const row = await this.db
        .insertInto('receivers')
        .values({
          name: spec.name,
          type: spec.type,
          secret_name: spec.secret?.secret ?? null,
          feed: spec.feed ?? null,
          oidc: spec.oidc ? JSON.stringify(spec.oidc) : null,
          url_hash: hashToken(token),
          created_by: createdBy,
          created_at: new Date(),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return { token, info: info(row) };
    } catch (err) {
      if ((err as { code?: string }).code === '23505')
        throw new ReceiverConflict(`a receiver named ${spec.name} exists; delete it first`);
      throw err;
    }
  }

  async list(): Promise<ReceiverInfo[]> {
    const stored = (await this.db.selectFrom('receivers').selectAll().orderBy('name').execute()).map(info);
    const configured = [...this.configured.values()].map((spec) => ({
      spec,
      createdBy: 'configuration',
      createdAt: this.loadedAt,
    }));
    return [...configured, ...stored].sort((a, b) => a.spec.name.localeCompare(b.spec.name));
  }

  /** Deletes a receiver: its URL stops at once here, within 5 s on other API processes. */
  async delete(name: string): Promise<boolean> {
    if (this.inConfiguration(name))
      throw new ReceiverConflict(`receiver ${name} is defined in the configuration file; remove it there`);
    for (const [hash, { spec }] of this.recent) if (spec.name === name) this.recent.delete(hash);
    const result = await this.db.deleteFrom('receivers').where('name', '=', name).executeTakeFirst();
    // A receiver made again under the name starts with no notifications.
    await this.db.deleteFrom('receiver_notifications').where('receiver', '=', name).execute();
    return Number(result.numDeletedRows) > 0;
  }

  /**
   * Records a verified notification's keys for `windowMs`; false when one of them is already recorded and
   * unexpired (a replay). One statement: two API processes given the same notification at once record it
   * once, and only one of them acts on it.
   */
  async firstDelivery(receiver: string, keys: readonly string[], windowMs: number): Promise<boolean> {
    if (keys.length === 0) return true;
    const now = new Date();
    if (now.getTime() >= this.prunedAt + PRUNE_EVERY_MS) {
      this.prunedAt = now.getTime();
      await this.db.deleteFrom('receiver_deliveries').where('expires_at', '<=', now).execute();
    }
    const expires = new Date(now.getTime() + windowMs);
    const recorded = await this.db
      .insertInto('receiver_deliveries')
      .values([...new Set(keys)].map((key) => ({ receiver, key, expires_at: expires })))
      .onConflict((oc) =>
        oc
          .columns(['receiver', 'key'])
          .doUpdateSet({ expires_at: expires })
          .where('receiver_deliveries.expires_at', '<=', now),
      )
      .returning('key')
      .execute();
    return recorded.length === new Set(keys).size;
  }

  /** Forgets keys recorded for a notification that could not be acted on, so the sender's retry is not a replay. */
  async forgetDelivery(receiver: string, keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.db
      .deleteFrom('receiver_deliveries')
      .where('receiver', '=', receiver)
      .where('key', 'in', [...keys])
      .execute();
  }

  /** The receiver a URL token opens, or null. Looked up by hash: the token itself is never compared. */
  async byToken(token: string): Promise<ReceiverSpec | null> {
    if (!/^[A-Za-z0-9_-]{32,128}$/.test(token)) return null;
    const hash = hashToken(token);
    const fromFile = this.configured.get(hash);
    if (fromFile) return fromFile;
    if (token.length !== 43) return null;
    const known = this.recent.get(hash);
    if (known && known.until > Date.now()) return known.spec;
    const row = await this.db
      .selectFrom('receivers')
      .selectAll()
      .where('url_hash', '=', hash)
      .executeTakeFirst();
    if (!row) return null;
    const spec = info(row).spec;
    if (this.recent.size >= 1000) this.recent.clear();
    this.recent.set(hash, { spec, until: Date.now() + 5000 });
    return spec;
  }
}
