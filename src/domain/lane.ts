/**
 * A deployment's place: an environment, and a tenant for a tenanted deployment. No schemas here: workflow
 * code imports this module.
 */

/** A deployment's place: an environment, and the tenant for a tenanted deployment. */
export interface Lane {
  readonly environment: string;
  readonly tenant?: string;
}

/**
 * The key of a lane in a release's progress: the environment, or `environment/tenant`. Neither name holds a
 * "/", so the key is unambiguous, and an untenanted lane's key is what it was before tenants.
 */
export function laneKey(environment: string, tenant?: string | null): string {
  return tenant ? `${environment}/${tenant}` : environment;
}

/** The lane a key names. */
export function laneOf(key: string): Lane {
  const slash = key.indexOf('/');
  return slash < 0
    ? { environment: key }
    : { environment: key.slice(0, slash), tenant: key.slice(slash + 1) };
}

/** A lane for people: `prod` or `prod for tenant acme`. */
export function laneText(environment: string, tenant?: string | null): string {
  return tenant ? `"${environment}" for tenant ${tenant}` : `"${environment}"`;
}
