import { createHash, randomBytes } from 'node:crypto';
import { Kysely, Selectable, sql } from 'kysely';
import { z } from 'zod';
import { clip } from '../domain/size';
import { ApiTokensTable, AuditLogTable, Schema } from './schema';

/** What a token may do: each role may also do everything of the roles before it. */
export const ACCESS_ROLES = ['viewer', 'operator', 'admin'] as const;
export type AccessRole = (typeof ACCESS_ROLES)[number];

export function roleAllows(have: AccessRole, need: AccessRole): boolean {
  return ACCESS_ROLES.indexOf(have) >= ACCESS_ROLES.indexOf(need);
}

/** Token names: short, printable, safe in logs and URLs. */
export const TokenNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'a token name is 1-63 lowercase letters, digits, ".", "_" or "-"');

/** Tokens are `ft_` and 256 random bits: recognizable in a secret scanner, unguessable. */
export const TOKEN_PREFIX = 'ft_';
const TOKEN_SHAPE = /^ft_[A-Za-z0-9_-]{43}$/;

export function newToken(): string {
  return `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Who made a call: a token's name and role. */
export interface Principal {
  readonly name: string;
  readonly role: AccessRole;
}

/** A token as listed: never its value or hash. */
export interface TokenInfo extends Principal {
  readonly createdBy: string;
  readonly createdAt: string;
  readonly expiresAt: string | null;
  readonly lastUsedAt: string | null;
}

export interface AuditEntry {
  readonly actor: string;
  readonly role: AccessRole | null;
  readonly method: string;
  readonly route: string;
  readonly path: string;
  readonly status: number;
  readonly outcome: AuditLogTable['outcome'];
  readonly detail?: string | null;
}

export interface AuditRecord extends AuditEntry {
  readonly id: string;
  /** When the call was made; for counted refusals, the first of them. */
  readonly at: string;
  /** How many calls the record stands for (refusals of one token and route within one minute). */
  readonly count: number;
}

/** Outcomes counted in one row per token, route, status and minute rather than one row per call. */
const COUNTED_OUTCOMES: ReadonlySet<AuditEntry['outcome']> = new Set(['refused', 'denied']);

export class AccessError extends Error {
  constructor(
    readonly code: 'conflict' | 'not-found',
    message: string,
  ) {
    super(message);
  }
}

/** last_used_at is written at most this often per token: a busy client costs no write per call. */
const LAST_USED_RESOLUTION_MS = 60_000;

function tokenInfo(row: Selectable<ApiTokensTable>): TokenInfo {
  return {
    name: row.name,
    role: row.role,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    expiresAt: row.expires_at?.toISOString() ?? null,
    lastUsedAt: row.last_used_at?.toISOString() ?? null,
  };
}

/**
 * How long an answer to "whose token is this" is reused. A token revoked through this store stops at once;
 * one revoked through another API process stops within this time.
 */
const AUTHENTICATED_TTL_MS = 10_000;

/** API tokens (kept hashed) and the audit log of mutating calls, in the ledger's database. */
export class AccessStore {
  private readonly recent = new Map<string, { principal: Principal; until: number; expires: number }>();

  constructor(
    private readonly db: Kysely<Schema>,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Creates a token and answers its value, which is never shown again. */
  async createToken(
    name: string,
    role: AccessRole,
    createdBy: string,
    expiresAt: Date | null = null,
  ): Promise<{ token: string; info: TokenInfo }> {
    const token = newToken();
    try {
      const row = await this.db
        .insertInto('api_tokens')
        .values({
          name,
          role,
          token_hash: hashToken(token),
          created_by: createdBy,
          created_at: this.now(),
          expires_at: expiresAt,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return { token, info: tokenInfo(row) };
    } catch (err) {
      if ((err as { code?: string }).code === '23505')
        throw new AccessError('conflict', `a token named ${name} already exists; revoke it first`);
      throw err;
    }
  }

  async listTokens(): Promise<TokenInfo[]> {
    const rows = await this.db
      .selectFrom('api_tokens')
      .selectAll()
      .where('revoked_at', 'is', null)
      .orderBy('name')
      .execute();
    return rows.map(tokenInfo);
  }

  /** Revokes the live token of that name; answers whether there was one. */
  async revokeToken(name: string): Promise<boolean> {
    for (const [hash, { principal }] of this.recent) if (principal.name === name) this.recent.delete(hash);
    const result = await this.db
      .updateTable('api_tokens')
      .set({ revoked_at: this.now() })
      .where('name', '=', name)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Whether any token could authenticate (live and not expired). */
  async hasLiveTokens(): Promise<boolean> {
    const row = await this.db
      .selectFrom('api_tokens')
      .select('id')
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', this.now())]))
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** The principal a presented token stands for, or null (unknown, revoked or expired). */
  async authenticate(token: string): Promise<Principal | null> {
    if (!TOKEN_SHAPE.test(token)) return null;
    const now = this.now();
    const hash = hashToken(token);
    const known = this.recent.get(hash);
    if (known && known.until > Date.now() && known.expires > now.getTime()) return known.principal;
    this.recent.delete(hash);
    const row = await this.db
      .selectFrom('api_tokens')
      .select(['id', 'name', 'role', 'expires_at', 'last_used_at'])
      .where('token_hash', '=', hash)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (!row || (row.expires_at && row.expires_at <= now)) return null;
    if (!row.last_used_at || now.getTime() - row.last_used_at.getTime() >= LAST_USED_RESOLUTION_MS)
      await this.db.updateTable('api_tokens').set({ last_used_at: now }).where('id', '=', row.id).execute();
    const principal: Principal = { name: row.name, role: row.role };
    // Bounded: a few entries per live token; strangers' tokens never get here.
    if (this.recent.size >= 10_000) this.recent.clear();
    this.recent.set(hash, {
      principal,
      until: Date.now() + AUTHENTICATED_TTL_MS,
      expires: row.expires_at?.getTime() ?? Infinity,
    });
    return principal;
  }

  /**
   * Records a call. A refusal (4xx) adds to its token's row for the route, status and minute (its path and
   * detail are the first call's), so one token refused in a loop writes a row a minute, not a row a call.
   */
  async recordAudit(entry: AuditEntry): Promise<void> {
    const at = this.now();
    const counted = COUNTED_OUTCOMES.has(entry.outcome);
    await this.db
      .insertInto('audit_log')
      .values({
        at,
        actor: entry.actor,
        role: entry.role,
        method: entry.method,
        route: clip(entry.route, 200),
        path: clip(entry.path, 500),
        status: entry.status,
        outcome: entry.outcome,
        detail: entry.detail ? clip(entry.detail, 500) : null,
        minute: counted ? new Date(Math.floor(at.getTime() / 60_000) * 60_000) : null,
      })
      .onConflict((oc) =>
        oc
          .columns(['actor', 'method', 'route', 'status', 'minute'])
          .where('minute', 'is not', null)
          .doUpdateSet({ count: sql<number>`audit_log.count + 1` }),
      )
      .execute();
  }

  /** The newest audit records first; `before` pages back from a previous page's last id. */
  async listAudit(filter: { limit: number; before?: string; actor?: string }): Promise<AuditRecord[]> {
    let query = this.db.selectFrom('audit_log').selectAll().orderBy('id', 'desc').limit(filter.limit);
    if (filter.before) query = query.where('id', '<', filter.before);
    if (filter.actor) query = query.where('actor', '=', filter.actor);
    const rows = await query.execute();
    return rows.map((r) => ({
      id: String(r.id),
      at: r.at.toISOString(),
      actor: r.actor,
      role: (r.role as AccessRole | null) ?? null,
      method: r.method,
      route: r.route,
      path: r.path,
      status: r.status,
      outcome: r.outcome,
      detail: r.detail,
      count: r.count,
    }));
  }
}
