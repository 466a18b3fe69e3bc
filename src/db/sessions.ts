import { randomBytes, timingSafeEqual } from 'node:crypto';
import { Kysely } from 'kysely';
import { hashToken, Principal } from './access';
import { Schema } from './schema';

/** How long a console sign-in lasts: a working day, after which the token is asked for again. */
export const SESSION_TTL_MS = 12 * 3_600_000;

/** A signed-in console: who it is and the token its writes must echo (the CSRF defence). */
export interface ConsoleSession {
  readonly principal: Principal;
  readonly csrf: string;
  readonly expiresAt: Date;
}

const SESSION_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/** Whether two secrets are equal, in time that does not depend on where they differ. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Console sessions in the ledger's database: a token is exchanged once for a random session id (kept only
 * hashed) that lives in an HttpOnly cookie. The session takes the token's role at every call, so a token
 * revoked or expired ends its sessions at once, on every API process.
 */
export class SessionStore {
  constructor(
    private readonly db: Kysely<Schema>,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Opens a session for a live token; null when the token is unknown, revoked or expired. */
  async open(token: string): Promise<(ConsoleSession & { id: string }) | null> {
    const now = this.now();
    const row = await this.db
      .selectFrom('api_tokens')
      .select(['id', 'name', 'role', 'expires_at'])
      .where('token_hash', '=', hashToken(token))
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (!row || (row.expires_at && row.expires_at <= now)) return null;
    await this.db.deleteFrom('console_sessions').where('expires_at', '<=', now).execute();
    const id = randomBytes(32).toString('base64url');
    const csrf = randomBytes(32).toString('base64url');
    const expiresAt = new Date(
      Math.min(now.getTime() + SESSION_TTL_MS, row.expires_at?.getTime() ?? Infinity),
    );
    await this.db
      .insertInto('console_sessions')
      .values({ id_hash: hashToken(id), token_id: row.id, csrf, created_at: now, expires_at: expiresAt })
      .execute();
    return { id, csrf, expiresAt, principal: { name: row.name, role: row.role } };
  }

  /** The session a cookie names, with its token's current role; null when it ended or its token did. */
  async find(id: string): Promise<ConsoleSession | null> {
    if (!SESSION_SHAPE.test(id)) return null;
    const now = this.now();
    const row = await this.db
      .selectFrom('console_sessions as s')
      .innerJoin('api_tokens as t', 't.id', 's.token_id')
      .select(['t.name', 't.role', 't.expires_at as token_expires', 's.csrf', 's.expires_at'])
      .where('s.id_hash', '=', hashToken(id))
      .where('s.expires_at', '>', now)
      .where('t.revoked_at', 'is', null)
      .executeTakeFirst();
    if (!row || (row.token_expires && row.token_expires <= now)) return null;
    return { principal: { name: row.name, role: row.role }, csrf: row.csrf, expiresAt: row.expires_at };
  }

  /** Ends a session; answers whether there was one. */
  async close(id: string): Promise<boolean> {
    if (!SESSION_SHAPE.test(id)) return false;
    const result = await this.db
      .deleteFrom('console_sessions')
      .where('id_hash', '=', hashToken(id))
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}
