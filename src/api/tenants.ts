import { RequestHandler } from 'express';
import { z } from 'zod';
import { TenantInUse, TenantLimit, TenantStore } from '../db/tenants';
import { TenantNameSchema, TenantSpecSchema } from '../domain/tenant';
import { principalOf } from './access';
import { HttpProblem, parseNamedOr400, parseOr400 } from './problem';
import { defineRoutes, Handlers, invalid, notFound, Problem, problemExample } from './route';

export const TenantParams = z.object({ name: TenantNameSchema });

const TenantInfo = z.object({
  spec: z.object({ name: z.string(), description: z.string(), tags: z.array(z.string()) }),
  createdBy: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  projects: z.array(z.string()).describe('Projects that connect the tenant to some of their environments'),
});
const specExample = {
  name: 'acme',
  description: 'ACME Corp., hosted in Frankfurt',
  tags: ['region/eu', 'tier/gold'],
};
const infoExample = {
  spec: specExample,
  createdBy: 'release-manager',
  createdAt: '2026-12-01T09:00:00.000Z',
  updatedAt: '2026-12-01T09:00:00.000Z',
  projects: ['shop'],
};

/** Tenants: admins define them; anyone may read them. Projects connect them to environments in their spec. */
export const TENANT_ROUTES = defineRoutes({
  listTenants: {
    method: 'GET',
    path: '/tenants',
    access: 'viewer',
    summary: 'Tenants (customers, regions, shards), each with the projects connecting it',
    tag: 'tenants',
    responses: {
      200: {
        description: 'Every tenant, by name',
        schema: z.object({ tenants: z.array(TenantInfo) }),
        example: { tenants: [infoExample] },
      },
    },
  },
  getTenant: {
    method: 'GET',
    path: '/tenants/:name',
    access: 'viewer',
    summary: 'One tenant',
    tag: 'tenants',
    params: TenantParams,
    responses: {
      200: { description: 'The tenant', schema: TenantInfo, example: infoExample },
      404: notFound('tenant'),
    },
  },
  saveTenant: {
    method: 'PUT',
    path: '/tenants/:name',
    access: 'admin',
    summary: 'Create or replace a tenant: a description and tags (`tag-set/tag`)',
    tag: 'tenants',
    params: TenantParams,
    body: TenantSpecSchema,
    bodyExample: specExample,
    responses: {
      200: {
        description: 'Replaced, or unchanged',
        schema: z.object({ created: z.boolean(), changed: z.boolean(), tenant: TenantInfo }),
        example: { created: false, changed: true, tenant: infoExample },
      },
      201: {
        description: 'Created',
        schema: z.object({ created: z.boolean(), changed: z.boolean(), tenant: TenantInfo }),
        example: { created: true, changed: true, tenant: infoExample },
      },
      400: invalid,
      409: {
        description: 'As many tenants as are kept exist already',
        schema: Problem,
        example: problemExample(409, 'Conflict', 'there are 1000 tenants already, the most kept'),
      },
    },
  },
  deleteTenant: {
    method: 'DELETE',
    path: '/tenants/:name',
    access: 'admin',
    summary: 'Delete a tenant that no project connects',
    tag: 'tenants',
    params: TenantParams,
    responses: {
      200: {
        description: 'Deleted',
        schema: z.object({ deleted: z.string() }),
        example: { deleted: 'acme' },
      },
      404: notFound('tenant'),
      409: {
        description: 'A project still connects it',
        schema: Problem,
        example: problemExample(
          409,
          'Conflict',
          'tenant acme is connected to shop: disconnect it there first',
        ),
      },
    },
  },
});

/** The handlers of TENANT_ROUTES. */
export function tenantHandlers(store: TenantStore): Handlers<typeof TENANT_ROUTES> {
  const listTenants: RequestHandler = async (_req, res) => {
    res.json({ tenants: await store.list() });
  };

  const getTenant: RequestHandler = async (req, res) => {
    const { name } = parseOr400(TenantParams, req.params);
    const found = await store.get(name);
    if (!found) throw new HttpProblem(404, 'Not found', `no tenant ${name}`);
    res.json(found);
  };

  const saveTenant: RequestHandler = async (req, res) => {
    const { name } = parseOr400(TenantParams, req.params);
    const spec = parseNamedOr400(TenantSpecSchema, name, req.body);
    let result;
    try {
      result = await store.save(spec, principalOf(res)?.name ?? 'anonymous');
    } catch (err) {
      if (err instanceof TenantLimit) throw new HttpProblem(409, 'Conflict', err.message);
      throw err;
    }
    res.locals.auditDetail = `tenant ${name} ${result.created ? 'created' : result.changed ? 'changed' : 'unchanged'}`;
    res.status(result.created ? 201 : 200).json({ ...result, tenant: await store.get(name) });
  };

  const deleteTenant: RequestHandler = async (req, res) => {
    const { name } = parseOr400(TenantParams, req.params);
    let deleted;
    try {
      deleted = await store.delete(name);
    } catch (err) {
      if (err instanceof TenantInUse) throw new HttpProblem(409, 'Conflict', err.message);
      throw err;
    }
    if (!deleted) throw new HttpProblem(404, 'Not found', `no tenant ${name}`);
    res.locals.auditDetail = `tenant ${name} deleted`;
    res.json({ deleted: name });
  };

  return { listTenants, getTenant, saveTenant, deleteTenant };
}
