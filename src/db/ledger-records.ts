/** Records, refusals and row helpers the ledger's stores (projects, releases, deliveries) share. */
import { createHash } from 'node:crypto';
import { Kysely, Selectable, Transaction } from 'kysely';
import { Delivery, Destination, ProjectRelease, ProjectSpec } from '../domain/project';
import type { ReleasedPackage } from '../domain/trigger';
import { DeliveriesTable, ReleasesTable, Schema } from './schema';

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
  /** Rendered from the channel's template when recorded; null without one. Not in listings or workflows. */
  readonly notes: string | null;
}

/**
 * What users and triggers see of a release: the ledger's id stays inside, and so do the notes (up to 16 KiB:
 * kept out of workflow histories and listings; GET of one release adds them).
 */
export function publicRelease(release: StoredRelease): ProjectRelease {
  const { id: _id, notes: _notes, ...rest } = release; // eslint-disable-line @typescript-eslint/no-unused-vars
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

export const UNIQUE_VIOLATION = '23505';

export function iso(d: Date | string | null): string | null {
  if (d === null) return null;
  return (d instanceof Date ? d : new Date(d)).toISOString();
}

export function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** `LIKE` pattern text that matches `text` literally. */
export function literalLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** Packages in a fixed key order (jsonb stores object keys in its own order). */
export function packagesOf(rows: readonly ReleasedPackage[]): ReleasedPackage[] {
  return rows.map((p) => ({
    name: p.name,
    feed: p.feed,
    package: p.package,
    tag: p.tag,
    digest: p.digest ?? null,
    ...(p.precedence ? { precedence: p.precedence } : {}),
  }));
}

export function deliveryOf(row: Selectable<DeliveriesTable>): Delivery {
  return {
    status: row.status,
    attempts: row.attempts,
    lastError: row.last_error,
    deliveredAt: iso(row.delivered_at),
  };
}

export type Db = Kysely<Schema> | Transaction<Schema>;

/** The live project of that name, its row locked until the transaction ends: one writer per project. */
export function lockProject(trx: Transaction<Schema>, name: string) {
  return trx
    .selectFrom('projects')
    .selectAll()
    .where('name', '=', name)
    .where('deleted_at', 'is', null)
    .forUpdate()
    .executeTakeFirst();
}

/** A release row with its deliveries. */
export async function withDeliveries(db: Db, row: Selectable<ReleasesTable>): Promise<StoredRelease> {
  const [release] = await attachDeliveries(db, [row]);
  return release;
}

/** Release rows with their deliveries, in one query. */
export async function attachDeliveries(db: Db, rows: Selectable<ReleasesTable>[]): Promise<StoredRelease[]> {
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
    notes: r.notes,
    deliveries: Object.fromEntries(
      deliveries.filter((d) => d.release_id === r.id).map((d) => [d.destination, deliveryOf(d)]),
    ),
  }));
}
