import { randomBytes } from 'node:crypto';
import { Kysely, Selectable } from 'kysely';
import { ReceiverSpec, ReceiverSpecSchema } from '../receivers';
import { hashToken } from './access';
import { ReceiversTable, Schema } from './schema';

/** A receiver as listed: never the token of its URL. */
export interface ReceiverInfo {
  readonly spec: ReceiverSpec;
  readonly createdBy: string;
  readonly createdAt: string;
}

export class ReceiverConflict extends Error {}

function info(row: Selectable<ReceiversTable>): ReceiverInfo {
  return {
    spec: ReceiverSpecSchema.parse({
      name: row.name,
      type: row.type,
      ...(row.secret_name ? { secret: { secret: row.secret_name } } : {}),
      ...(row.feed ? { feed: row.feed } : {}),
    }),
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
  };
}

/** Webhook receivers in the ledger's database, found by the token in their URL. */
export class ReceiverStore {
  /** Receivers by URL-token hash, briefly: a burst of notifications costs one lookup. */
  private readonly recent = new Map<string, { spec: ReceiverSpec; until: number }>();

  constructor(private readonly db: Kysely<Schema>) {}

  /** Creates a receiver; answers the token of its URL, which is never shown again. */
  async create(spec: ReceiverSpec, createdBy: string): Promise<{ token: string; info: ReceiverInfo }> {
    const token = randomBytes(32).toString('base64url');
    try {
      const row = await this.db
        .insertInto('receivers')
        .values({
          name: spec.name,
          type: spec.type,
          secret_name: spec.secret?.secret ?? null,
          feed: spec.feed ?? null,
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
    return (await this.db.selectFrom('receivers').selectAll().orderBy('name').execute()).map(info);
  }

  /** Deletes a receiver: its URL stops at once here, within 5 s on other API processes. */
  async delete(name: string): Promise<boolean> {
    for (const [hash, { spec }] of this.recent) if (spec.name === name) this.recent.delete(hash);
    const result = await this.db.deleteFrom('receivers').where('name', '=', name).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /** The receiver a URL token opens, or null. Looked up by hash: the token itself is never compared. */
  async byToken(token: string): Promise<ReceiverSpec | null> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return null;
    const hash = hashToken(token);
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
