import type { Destination } from '../domain/project';

/**
 * Octopus Deploy, as both kinds of sending talk to it: a destination creates a release there
 * (activities/deliver.ts); an environment's Octopus target finds or creates the release and deploys it
 * (activities/lifecycle.ts). What they send is the same and is built here once.
 */

/** The fields of an Octopus destination or target that say where a release goes and what it selects. */
export type OctopusProject = Pick<
  Extract<Destination, { type: 'octopus' }>,
  'serverUrl' | 'spaceId' | 'projectId' | 'channelId' | 'steps'
>;

/** `<server>/api/<space>`: where every call of one Octopus space goes. */
export function octopusSpaceUrl(target: Pick<OctopusProject, 'serverUrl' | 'spaceId'>): string {
  return `${target.serverUrl.replace(/\/+$/, '')}/api/${target.spaceId}`;
}

/**
 * The body that creates a release: its version, for each package the step and reference it feeds, and
 * the release's notes (Octopus shows `ReleaseNotes` on the release and offers them as Octopus.Release.Notes).
 */
export function octopusReleaseBody(
  target: OctopusProject,
  version: string,
  packages: readonly { readonly name: string; readonly tag: string }[],
  notes: string | null,
): string {
  return JSON.stringify({
    ProjectId: target.projectId,
    ...(target.channelId ? { ChannelId: target.channelId } : {}),
    Version: version,
    ...(notes !== null ? { ReleaseNotes: notes } : {}),
    SelectedPackages: packages.map((p) => ({
      ActionName: target.steps[p.name]?.actionName ?? p.name,
      PackageReferenceName: target.steps[p.name]?.packageReferenceName ?? '',
      Version: p.tag,
    })),
  });
}

/** What an Octopus error answer says (its ErrorMessage and Errors), or null when it is not one. */
export function octopusErrorText(text: string): string | null {
  try {
    const body = JSON.parse(text) as { ErrorMessage?: unknown; Errors?: unknown };
    const errors = Array.isArray(body.Errors)
      ? body.Errors.filter((e) => typeof e === 'string').join('; ')
      : '';
    return (
      [typeof body.ErrorMessage === 'string' ? body.ErrorMessage : '', errors].filter(Boolean).join(': ') ||
      null
    );
  } catch {
    return null;
  }
}

/** Octopus's tenant ids: the only form sent on as a deployment's TenantId. */
const OCTOPUS_TENANT_ID = /^Tenants-\d{1,18}$/;

/**
 * The Octopus tenant id a target maps our tenant to, or undefined. Own keys only: a tenant named
 * `constructor` would otherwise find Object's constructor, and its deployment would go out with no TenantId.
 */
export function mappedOctopusTenant(
  tenants: Readonly<Record<string, string>> | undefined,
  tenant: string,
): string | undefined {
  return tenants !== undefined && Object.hasOwn(tenants, tenant) ? tenants[tenant] : undefined;
}

/**
 * The id of the Octopus tenant named `tenant` in a tenant lookup's answer, or null. Octopus matches `name`
 * loosely, so only an exact name counts, its case ignored in ASCII only: a full Unicode fold would take
 * `\u212Aey` (Kelvin sign) for our `key`. An id that is not `Tenants-N` is not taken either: it would go
 * on to Octopus as the deployment's tenant.
 */
export function octopusTenantIdIn(answer: unknown, tenant: string): string | null {
  const items = (answer as { Items?: unknown } | null)?.Items;
  if (!Array.isArray(items)) return null;
  const asciiLower = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
  for (const item of items as unknown[]) {
    const { Name, Id } = (item ?? {}) as { Name?: unknown; Id?: unknown };
    if (typeof Name === 'string' && Name.length === tenant.length && asciiLower(Name) === tenant)
      return typeof Id === 'string' && OCTOPUS_TENANT_ID.test(Id) ? Id : null;
  }
  return null;
}

/**
 * The id in an Octopus release's answer, when it is one (`Releases-N`), or null. It goes into the next call's
 * path (`/releases/<id>/deployments`, with the API key): `../../users/me` from a hostile or broken server would
 * send the key's request elsewhere.
 */
export function octopusReleaseId(answer: unknown): string | null {
  const id = (answer as { Id?: unknown } | null)?.Id;
  return typeof id === 'string' && /^Releases-\d{1,18}$/.test(id) ? id : null;
}
