import { Kysely, Selectable } from 'kysely';
import { MAX_TENANTS, TenantSpec, TenantSpecSchema } from '../domain/tenant';
import { Schema, TenantsTable } from './schema';
import { saveNamedRecord } from './named-records';

/** A tenant as the API lists it: its configuration, who saved it, and the projects connecting it. */
export interface TenantInfo {
  readonly spec: TenantSpec;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Live projects that connect the tenant, by name. */
  readonly projects: string[];
}

export class TenantLimit extends Error {}

/** A tenant a live project still connects: it cannot be deleted. */
export class TenantInUse extends Error {}

function info(row: Selectable<TenantsTable>, projects: string[]): TenantInfo {
  return {
    spec: TenantSpecSchema.parse(row.spec),
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    projects,
  };
}

/** Tenants in the ledger's database (global, like freezes); projects connect them in their specs. */
export class TenantStore {
  constructor(private readonly db: Kysely<Schema>) {}

  /** Live projects connecting each tenant (names sorted), read from the projects' specs. */
  private async connections(): Promise<Map<string, string[]>> {
    const rows = await this.db
      .selectFrom('projects')
      .select(['name', 'spec'])
      .where('deleted_at', 'is', null)
      .orderBy('name')
      .execute();
    const byTenant = new Map<string, string[]>();
    for (const row of rows)
      for (const c of row.spec.tenants ?? [])
        byTenant.set(c.tenant, [...(byTenant.get(c.tenant) ?? []), row.name]);
    return byTenant;
  }

  /** Every tenant, by name. */
  async list(): Promise<TenantInfo[]> {
    const rows = await this.db.selectFrom('tenants').selectAll().orderBy('name').execute();
    const projects = await this.connections();
    return rows.map((r) => info(r, projects.get(r.name) ?? []));
  }

  /** Every tenant's configuration, for selecting tenants by tag. */
  async specs(): Promise<TenantSpec[]> {
    const rows = await this.db.selectFrom('tenants').select('spec').orderBy('name').execute();
    return rows.map((r) => TenantSpecSchema.parse(r.spec));
  }

  async get(name: string): Promise<TenantInfo | null> {
    const row = await this.db.selectFrom('tenants').selectAll().where('name', '=', name).executeTakeFirst();
    return row ? info(row, (await this.connections()).get(name) ?? []) : null;
  }

  /** The names among `names` that are no tenant. */
  async missing(names: readonly string[]): Promise<string[]> {
    if (names.length === 0) return [];
    const rows = await this.db
      .selectFrom('tenants')
      .select('name')
      .where('name', 'in', [...names])
      .execute();
    const known = new Set(rows.map((r) => r.name));
    return names.filter((n) => !known.has(n));
  }

  /** Creates or replaces a tenant; `changed` is false when it is the same. */
  async save(
    spec: TenantSpec,
    by: string,
    now = new Date(),
  ): Promise<{ created: boolean; changed: boolean }> {
    return saveNamedRecord(this.db, 'tenants', spec, {
      by,
      now,
      max: MAX_TENANTS,
      same: (stored) => JSON.stringify(TenantSpecSchema.parse(stored)) === JSON.stringify(spec),
      tooMany: () =>
        new TenantLimit(`there are ${MAX_TENANTS} tenants already, the most kept: delete one first`),
    });
  }

  /** Deletes a tenant no live project connects; false when there was none of that name. */
  async delete(name: string): Promise<boolean> {
    const users = (await this.connections()).get(name) ?? [];
    if (users.length > 0)
      throw new TenantInUse(
        `tenant ${name} is connected to ${users.join(', ')}: disconnect it there first (their deployments keep its name)`,
      );
    const result = await this.db.deleteFrom('tenants').where('name', '=', name).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}
