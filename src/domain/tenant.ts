/**
 * Tenants (Octopus's multi-tenant deployments): a customer, a region or a shard that a project deploys to
 * separately in some of its environments. A tenant has a name, a description and tags (`tag-set/tag`); a
 * project connects tenants to environments. Schemas, and the pure selection of tenants by name and tag.
 */
import { z } from 'zod';

/**
 * A tenant's name: it goes into workflow IDs (`environment/<p>/<env>/<tenant>`), URL paths and Git paths
 * (`overlays/{tenant}/…`), so no "/", no leading "." and nothing a shell or a path could read twice.
 */
export const TenantNameSchema = z
  .string()
  .min(1)
  .max(63)
  .regex(
    /^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$/,
    'use lower-case letters, digits, ".", "_" and "-", starting and ending with a letter or digit',
  );

/** A tag as Octopus writes it: `tag-set/tag`, such as `region/eu-west` or `tier/Gold`. */
export const TenantTagSchema = z
  .string()
  .max(127)
  .regex(
    /^[A-Za-z0-9]([A-Za-z0-9 ._-]{0,61}[A-Za-z0-9])?\/[A-Za-z0-9]([A-Za-z0-9 ._-]{0,61}[A-Za-z0-9])?$/,
    'a tag as tag-set/tag, such as region/eu-west',
  );

/** At most this many tenants: a deploy request by tag reads them all. */
export const MAX_TENANTS = 1000;

export const TenantSpecSchema = z
  .object({
    name: TenantNameSchema,
    description: z.string().max(1000).default(''),
    tags: z
      .array(TenantTagSchema)
      .max(50)
      .default([])
      .superRefine((tags, ctx) => {
        const seen = new Set<string>();
        tags.forEach((tag, i) => {
          if (seen.has(tag))
            ctx.addIssue({ code: 'custom', path: [i], message: `tag "${tag}" is given twice` });
          seen.add(tag);
        });
      }),
  })
  .strict();
export type TenantSpec = z.infer<typeof TenantSpecSchema>;

/**
 * How a project deploys, in Octopus's terms: only without tenants (the default), only to tenants, or both
 * (a deployment names tenants, or none for the untenanted one).
 */
export const TenantedDeploymentsSchema = z.enum(['untenanted', 'tenanted', 'tenantedOrUntenanted']);
export type TenantedDeployments = z.infer<typeof TenantedDeploymentsSchema>;

/** A tenant connected to some of a project's environments. */
export const TenantConnectionSchema = z
  .object({
    tenant: TenantNameSchema,
    environments: z.array(z.string().min(1).max(63)).min(1).max(20),
  })
  .strict();
export type TenantConnection = z.infer<typeof TenantConnectionSchema>;

/**
 * Whether a tenant's tags match every tag set the request names: tags of one set are alternatives, tags of
 * different sets must all match (Octopus's tag filter).
 */
export function matchesTags(tenantTags: readonly string[], wanted: readonly string[]): boolean {
  const bySet = new Map<string, string[]>();
  for (const tag of wanted) {
    const set = tag.slice(0, tag.indexOf('/')).toLowerCase();
    bySet.set(set, [...(bySet.get(set) ?? []), tag.toLowerCase()]);
  }
  const have = new Set(tenantTags.map((t) => t.toLowerCase()));
  return [...bySet.values()].every((alternatives) => alternatives.some((t) => have.has(t)));
}

/** Why a selection of tenants is refused, naming the field. */
export class TenantSelectionError extends Error {
  readonly code = 'INVALID_TENANT_SELECTION';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The tenants a deploy request to `environment` names: those given by name (each must be connected to the
 * environment) and those connected to it whose tags match `tags`, sorted and each once. Empty when the
 * request names neither (the untenanted deployment).
 */
export function selectTenants(
  connections: readonly TenantConnection[],
  tenants: readonly TenantSpec[],
  environment: string,
  request: { readonly tenants?: readonly string[]; readonly tenantTags?: readonly string[] },
): string[] {
  const connected = new Set(
    connections.filter((c) => c.environments.includes(environment)).map((c) => c.tenant),
  );
  const chosen = new Set<string>();
  (request.tenants ?? []).forEach((name, i) => {
    if (!connected.has(name))
      throw new TenantSelectionError(
        `tenants.${i}`,
        `tenant ${name} is not connected to environment "${environment}" of this project`,
      );
    chosen.add(name);
  });
  const tags = request.tenantTags ?? [];
  if (tags.length > 0) {
    const matching = tenants.filter((t) => connected.has(t.name) && matchesTags(t.tags, tags));
    if (matching.length === 0)
      throw new TenantSelectionError(
        'tenantTags',
        `no tenant connected to environment "${environment}" has the tags ${tags.join(', ')}`,
      );
    matching.forEach((t) => chosen.add(t.name));
  }
  return [...chosen].sort();
}
