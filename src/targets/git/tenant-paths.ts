import type { ProjectSpec } from '../../domain/project';
import { tenantedMode } from '../../domain/project';
import { GitPermanentError, repositoryPath } from './transport';

/** A Git file's path that, filled with an environment's and a connected tenant's names, Git would refuse. */
export interface TenantPathError {
  readonly field: string;
  readonly tenant: string;
  readonly message: string;
}

/** At most this many are answered: one bad template connected to 1,000 tenants would repeat itself. */
const MAX_ERRORS = 20;

/**
 * Every (Git file path, environment, tenant connected to it) whose filled path the repository-path guard
 * refuses. The schema checks a template with stand-in names; a real name can still complete it into
 * something else (`.{tenant}/x` with a tenant named `git` is `.git/x`), which would otherwise be refused
 * only when that tenant's deployment writes. Untenanted projects connect no tenant and get nothing here.
 */
export function tenantPathErrors(spec: ProjectSpec): TenantPathError[] {
  if (tenantedMode(spec) === 'untenanted') return [];
  const errors: TenantPathError[] = [];
  spec.environments.forEach((env, i) => {
    const tenants = (spec.tenants ?? [])
      .filter((c) => c.environments.includes(env.name))
      .map((c) => c.tenant)
      .sort();
    env.targets.forEach((target, j) => {
      if (target.type !== 'git') return;
      target.files.forEach((file, k) => {
        if (!file.path.includes('{tenant}')) return;
        for (const tenant of tenants) {
          if (errors.length >= MAX_ERRORS) return;
          const filled = file.path.replaceAll('{environment}', env.name).replaceAll('{tenant}', tenant);
          try {
            repositoryPath(filled);
          } catch (err) {
            if (!(err instanceof GitPermanentError)) throw err;
            errors.push({
              field: `environments.${i}.targets.${j}.files.${k}.path`,
              tenant,
              message: `for tenant ${tenant} in environment "${env.name}" the path is ${err.message}`,
            });
          }
        }
      });
    });
  });
  return errors;
}
