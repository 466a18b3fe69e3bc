import { Kysely, sql } from 'kysely';
import { Schema } from './schema';

/** The tables of records a user creates and replaces by name, holding a JSON spec: freezes and tenants. */
export type NamedRecordTable = 'freezes' | 'tenants';

export interface SaveNamedRecordOptions {
  /** Who saves it (kept as its creator on a creation). */
  readonly by: string;
  readonly now: Date;
  /** At most this many records in the table: a creation past it throws `tooMany()`; a replacement never does. */
  readonly max: number;
  /** Whether the stored spec (as read from the table) is the one being saved: nothing is written then. */
  readonly same: (stored: unknown) => boolean;
  readonly tooMany: () => Error;
}

/**
 * Creates or replaces the record named `spec.name` in `table`; `changed` is false when it is the same.
 * Creations are serialised by a table lock taken before the count: under PostgreSQL's READ COMMITTED two
 * creations at once would otherwise both count `max - 1` and both insert, and two creations of one name would
 * both report it created. A replacement locks its own row only.
 */
export async function saveNamedRecord(
  db: Kysely<Schema>,
  table: NamedRecordTable,
  spec: { readonly name: string },
  options: SaveNamedRecordOptions,
): Promise<{ created: boolean; changed: boolean }> {
  return db.transaction().execute(async (trx) => {
    // Both tables have the same columns (their specs differ in type only): one of them names the shape.
    const records = trx as unknown as Kysely<Pick<Schema, 'freezes'>>;
    const from = table as 'freezes';
    const current = () =>
      records.selectFrom(from).select('spec').where('name', '=', spec.name).forUpdate().executeTakeFirst();
    let existing = await current();
    if (!existing) {
      await sql`LOCK TABLE ${sql.table(table)} IN SHARE ROW EXCLUSIVE MODE`.execute(trx);
      // A creation of the same name that held the lock before this one has committed by now: it is the
      // record this save replaces (or leaves as it is), not one it creates.
      existing = await current();
      if (!existing) {
        const { count } = await records
          .selectFrom(from)
          .select((eb) => eb.fn.countAll<number>().as('count'))
          .executeTakeFirstOrThrow();
        if (Number(count) >= options.max) throw options.tooMany();
      }
    }
    if (existing && options.same(existing.spec)) return { created: false, changed: false };
    const json = JSON.stringify(spec);
    await records
      .insertInto(from)
      .values({
        name: spec.name,
        spec: json,
        created_by: options.by,
        created_at: options.now,
        updated_at: options.now,
      })
      .onConflict((oc) => oc.column('name').doUpdateSet({ spec: json, updated_at: options.now }))
      .execute();
    return { created: !existing, changed: true };
  });
}
