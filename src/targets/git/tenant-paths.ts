import type { ProjectSpec } from '../../domain/project';
import { tenantedMode } from '../../domain/project';
import { GitPermanentError, repositoryPath } from './transport';

/** A Git file's path that, filled with an environment's (and a connected tenant's) names, Git would refuse. */
export interface TenantPathError {
  readonly field: string;
  /** The tenant whose name completed it; absent when the environment's name alone does. */
  readonly tenant?: string;
  readonly message: string;
}

/** At most this many are answered: one bad template connected to 1,000 tenants would repeat itself. */
const MAX_ERRORS = 20;

/**
 * Every (Git file path, environment, tenant connected to it) whose filled path the repository-path guard
 * refuses. The schema checks a template with stand-in names; a real name can still complete it into
 * something else (`.{tenant}/x` with a tenant named `git` is `.git/x`, `.{environment}/x` in an environment
 * named `git` too), which would otherwise be refused only when that deployment writes. A path naming
 * `{tenant}` is filled for each tenant connected to the environment; one naming only `{environment}`, or a
 * project that connects no tenant, with the environment's name alone (the tenant's stand-in kept).
 */
export function tenantPathErrors(spec: ProjectSpec): TenantPathError[] {
  const tenanted = tenantedMode(spec) !== 'untenanted';
  const errors: TenantPathError[] = [];
  spec.environments.forEach((env, i) => {
    const tenants = (spec.tenants ?? [])
      .filter((c) => c.environments.includes(env.name))
      .map((c) => c.tenant)
      .sort();
    env.targets.forEach((target, j) => {
      if (target.type !== 'git') return;
      target.files.forEach((file, k) => {
        const names = file.path.includes('{tenant}');
        if (!names && !file.path.includes('{environment}')) return;
        const fills: (string | undefined)[] = names && tenanted && tenants.length > 0 ? tenants : [undefined];
        for (const tenant of fills) {
          if (errors.length >= MAX_ERRORS) return;
          const filled = file.path
            .replaceAll('{environment}', env.name)
            .replaceAll('{tenant}', tenant ?? 't');
          try {
            repositoryPath(filled);
          } catch (err) {
            if (!(err instanceof GitPermanentError)) throw err;
            const field = `environments.${i}.targets.${j}.files.${k}.path`;
            errors.push(
              tenant === undefined
                ? { field, message: `in environment "${env.name}" the path is ${err.message}` }
                : {
                    field,
                    tenant,
                    message: `for tenant ${tenant} in environment "${env.name}" the path is ${err.message}`,
                  },
            );
          }
        }
      });
    });
  });
  return errors;
}
