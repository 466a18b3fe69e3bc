import { Kysely, Selectable } from 'kysely';
import { FreezeHold, freezeHold, FreezeSpec, FreezeSpecSchema, nextWindow } from '../domain/freeze';
import { FreezesTable, Schema } from './schema';
import { saveNamedRecord } from './named-records';

/** A freeze as the API lists it: its configuration, who saved it, and its current or next window. */
export interface FreezeInfo {
  readonly spec: FreezeSpec;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Whether a window of it holds now. */
  readonly active: boolean;
  /** The window in force or the next one; null once a one-off freeze is over. */
  readonly window: { readonly start: string; readonly end: string } | null;
}

/** At most this many freezes: every deployment check reads them all. */
export const MAX_FREEZES = 200;

export class FreezeLimit extends Error {}

function info(row: Selectable<FreezesTable>, now: number): FreezeInfo {
  const spec = FreezeSpecSchema.parse(row.spec);
  const w = nextWindow(spec, now);
  return {
    spec,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    active: w !== null && w.start <= now,
    window: w && { start: new Date(w.start).toISOString(), end: new Date(w.end).toISOString() },
  };
}

/** Deployment freezes in the ledger's database, and whether one holds a deployment now. */
export class FreezeStore {
  constructor(private readonly db: Kysely<Schema>) {}

  /** Every freeze, by name. */
  async list(now = new Date()): Promise<FreezeInfo[]> {
    const rows = await this.db.selectFrom('freezes').selectAll().orderBy('name').execute();
    return rows.map((r) => info(r, now.getTime()));
  }

  async get(name: string, now = new Date()): Promise<FreezeInfo | null> {
    const row = await this.db.selectFrom('freezes').selectAll().where('name', '=', name).executeTakeFirst();
    return row ? info(row, now.getTime()) : null;
  }

  /** Creates or replaces a freeze; `changed` is false when it is the same. */
  async save(
    spec: FreezeSpec,
    by: string,
    now = new Date(),
  ): Promise<{ created: boolean; changed: boolean }> {
    return saveNamedRecord(this.db, 'freezes', spec, {
      by,
      now,
      max: MAX_FREEZES,
      same: (stored) => JSON.stringify(FreezeSpecSchema.parse(stored)) === JSON.stringify(spec),
      tooMany: () =>
        new FreezeLimit(`there are ${MAX_FREEZES} freezes already, the most kept: delete one first`),
    });
  }

  /** Deletes a freeze; false when there was none of that name. */
  async delete(name: string): Promise<boolean> {
    const result = await this.db.deleteFrom('freezes').where('name', '=', name).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /**
   * The freeze holding deployments of `project` to `environment` (for `tenant`, when tenanted) at `now`, and
   * until when; null if none.
   */
  async holding(
    project: string,
    environment: string,
    now = new Date(),
    tenant?: string,
  ): Promise<FreezeHold | null> {
    return freezeHold(await this.specs(), project, environment, now.getTime(), tenant);
  }

  /** Every freeze's spec: read once for a page of lanes, each then judged with freezeHold. */
  async specs(): Promise<FreezeSpec[]> {
    const rows = await this.db.selectFrom('freezes').select('spec').execute();
    return rows.map((r) => FreezeSpecSchema.parse(r.spec));
  }
}
