import type { Api } from './api';
import { reasonOf } from './api';
import type { paths } from './api-types';
import { Loaded, useLoad } from './live';

type ProjectEnvironments =
  paths['/projects/{project}/environments']['get']['responses'][200]['content']['application/json'];
/** One environment of a project as GET /projects/{p}/environments answers it. */
export type ProjectEnvironment = ProjectEnvironments['environments'][number];
/** A tenant's release and queue in one environment. */
export type Lane = NonNullable<ProjectEnvironment['tenants']>[number];
/** A tenant as GET /tenants lists it. */
export type TenantInfo =
  paths['/tenants']['get']['responses'][200]['content']['application/json']['tenants'][number];

/** project → environment → its tenants' lanes, for the projects that connect tenants. */
export type TenantLanes = ReadonlyMap<string, ReadonlyMap<string, readonly Lane[]>>;

/**
 * Each tenanted project's lanes, through the public API: GET /tenants names the projects that connect a tenant,
 * and each of those answers its environments with a lane per connected tenant. Untenanted projects cost no
 * request, so the all-projects pages stay one read for them.
 */
export function useTenantLanes(api: Api): Loaded<TenantLanes> {
  return useLoad(async () => {
    const { data, error, response } = await api.GET('/tenants');
    if (!data) throw new Error(reasonOf(error, response));
    const projects = [...new Set(data.tenants.flatMap((t) => t.projects))].sort();
    const read = await Promise.all(
      projects.map(async (project) => {
        const answer = await api.GET('/projects/{project}/environments', { params: { path: { project } } });
        const lanes = new Map<string, readonly Lane[]>();
        for (const e of answer.data?.environments ?? []) if (e.tenants) lanes.set(e.name, e.tenants);
        return [project, lanes] as const;
      }),
    );
    return new Map(read);
  }, []);
}

/** A list typed as comma-separated text (tags, names): trimmed, empty items dropped. */
export function listOf(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
