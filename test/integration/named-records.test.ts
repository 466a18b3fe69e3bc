import { sql } from 'kysely';
import { Database, openDatabase } from '../../src/db/open';
import { FreezeLimit, FreezeStore, MAX_FREEZES } from '../../src/db/freezes';
import { TenantLimit, TenantStore } from '../../src/db/tenants';
import { FreezeSpecSchema } from '../../src/domain/freeze';
import { MAX_TENANTS, TenantSpecSchema } from '../../src/domain/tenant';
import { openTestDatabase } from '../support/database';

/**
 * Freezes and tenants are capped (every deployment check reads them all): creations that arrive at once, on
 * connections of their own, with one place left under the cap, make exactly one record. Without the lock before
 * the count, PostgreSQL's READ COMMITTED lets each see the same count and insert.
 */
let base: Database & { readonly url: string };
let pooled: Database;

beforeAll(async () => {
  base = await openTestDatabase();
  pooled = await openDatabase({ url: base.url, poolSize: 12 });
});
afterAll(async () => {
  await pooled?.close();
  await base?.close();
});

/** Fills `table` with `n` records named fill-1..fill-n (their spec's content does not matter to the count). */
async function fill(table: 'freezes' | 'tenants', n: number, spec: unknown): Promise<void> {
  await sql`
    INSERT INTO ${sql.table(table)} (name, spec, created_by, created_at, updated_at)
    SELECT 'fill-' || i, ${JSON.stringify(spec)}::jsonb, 'test', now(), now() FROM generate_series(1, ${n}) AS i`.execute(
    pooled.db,
  );
}

const count = async (table: 'freezes' | 'tenants') =>
  Number(
    (await sql<{ n: string }>`SELECT count(*) AS n FROM ${sql.table(table)}`.execute(pooled.db)).rows[0].n,
  );

test('ten freezes created at once with one place left make one freeze; the nine others are refused by the cap', async () => {
  const freeze = (name: string) =>
    FreezeSpecSchema.parse({ name, timeZone: 'UTC', start: '2027-01-01T00:00', end: '2027-01-02T00:00' });
  await fill('freezes', MAX_FREEZES - 1, freeze('fill'));
  const store = new FreezeStore(pooled.db);
  const outcomes = await Promise.allSettled(
    Array.from({ length: 10 }, (_, i) => store.save(freeze(`race-${i}`), 'test')),
  );
  expect(outcomes.filter((o) => o.status === 'fulfilled').map((o) => o.value)).toEqual([
    { created: true, changed: true },
  ]);
  const refused = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as Error] : []));
  expect(refused).toHaveLength(9);
  for (const err of refused) {
    expect(err).toBeInstanceOf(FreezeLimit);
    expect(err.message).toBe(`there are ${MAX_FREEZES} freezes already, the most kept: delete one first`);
  }
  expect(await count('freezes')).toBe(MAX_FREEZES);
  // At the cap, a replacement of an existing freeze is still allowed, and a creation is not.
  const changed = FreezeSpecSchema.parse({ ...freeze('fill-1'), description: 'moved' });
  expect(await store.save(changed, 'test')).toEqual({ created: false, changed: true });
  expect(await store.save(changed, 'test')).toEqual({ created: false, changed: false });
  await expect(store.save(freeze('one-more'), 'test')).rejects.toBeInstanceOf(FreezeLimit);
});

test('ten tenants created at once with one place left make one tenant; the nine others are refused by the cap', async () => {
  const tenant = (name: string) => TenantSpecSchema.parse({ name });
  await fill('tenants', MAX_TENANTS - 1, tenant('fill'));
  const store = new TenantStore(pooled.db);
  const outcomes = await Promise.allSettled(
    Array.from({ length: 10 }, (_, i) => store.save(tenant(`race-${i}`), 'test')),
  );
  expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
  const refused = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as Error] : []));
  expect(refused.map((e) => e instanceof TenantLimit)).toEqual(Array(9).fill(true));
  expect(await count('tenants')).toBe(MAX_TENANTS);
});

test('ten saves of one new freeze at once create it once: one reports it created, the others found it saved', async () => {
  const store = new FreezeStore(pooled.db);
  const spec = FreezeSpecSchema.parse({
    name: 'same-name',
    timeZone: 'UTC',
    start: '2027-03-01T00:00',
    end: '2027-03-02T00:00',
  });
  await sql`DELETE FROM freezes WHERE name LIKE 'fill-%'`.execute(pooled.db);
  const outcomes = await Promise.all(Array.from({ length: 10 }, () => store.save(spec, 'test')));
  expect(outcomes.filter((o) => o.created)).toHaveLength(1);
  expect(outcomes.filter((o) => !o.created)).toEqual(Array(9).fill({ created: false, changed: false }));
  const { rows } = await sql<{
    n: string;
  }>`SELECT count(*) AS n FROM freezes WHERE name = 'same-name'`.execute(pooled.db);
  expect(Number(rows[0].n)).toBe(1);
});
