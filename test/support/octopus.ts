import { startServer, TestServer } from './http-server';

export interface OctopusRelease {
  Id: string;
  Version: string;
  ProjectId: string;
}
export interface OctopusDeployment {
  Id: string;
  ReleaseId: string;
  EnvironmentId: string;
  TenantId?: string;
  Comments: string;
}
/** A tenant as Octopus keeps it: the projects it is connected to, each with its environments. */
export interface OctopusTenant {
  Id: string;
  Name: string;
  ProjectEnvironments: Record<string, string[]>;
}
/** Octopus's project setting: whether its deployments go to tenants, to none, or either. */
export type OctopusTenantedMode = 'Untenanted' | 'Tenanted' | 'TenantedOrUntenanted';

export interface OctopusServer extends TestServer {
  /** Releases by version, and deployments in the order they were created. */
  readonly releases: Map<string, OctopusRelease>;
  readonly deployments: OctopusDeployment[];
  readonly tenants: OctopusTenant[];
}

/**
 * Octopus Deploy's REST API (space Spaces-1) as the targets use it: a release by version, creating a release,
 * a release's deployments, creating a deployment (untenanted, or for a `TenantId`), finding tenants by name;
 * every call with X-Octopus-ApiKey. A tenanted deployment is checked as Octopus checks it: the tenant exists,
 * the project deploys to tenants, and the tenant is connected to the release's project in that environment.
 * Its `name` filter matches loosely (any part, any case), so a client has to pick the exact name itself.
 */
export async function startOctopus(
  apiKey: string,
  options: {
    tenants?: OctopusTenant[];
    /** Each project's tenanted deployment mode; absent: `Untenanted`, Octopus's default. */
    modes?: Record<string, OctopusTenantedMode>;
  } = {},
): Promise<OctopusServer> {
  const releases = new Map<string, OctopusRelease>();
  const deployments: OctopusDeployment[] = [];
  const tenants = options.tenants ?? [];
  const server = await startServer((req, res) => {
    const json = (status: number, body: unknown): void =>
      void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const refuse = (error: string) =>
      json(400, { ErrorMessage: 'There was a problem with your request.', Errors: [error] });
    if (req.headers['x-octopus-apikey'] !== apiKey) return json(401, { ErrorMessage: 'Invalid API key' });
    const url = new URL(req.url, 'http://octopus');
    let m = /^\/api\/Spaces-1\/projects\/(Projects-\d+)\/releases\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && m) {
      const found = releases.get(decodeURIComponent(m[2]));
      return found
        ? json(200, found)
        : json(404, { ErrorMessage: 'The resource you requested was not found.' });
    }
    if (req.method === 'POST' && url.pathname === '/api/Spaces-1/releases') {
      const body = JSON.parse(req.body) as { Version: string; ProjectId: string };
      if (releases.has(body.Version))
        return json(400, { ErrorMessage: `A release with the version ${body.Version} already exists.` });
      const created = {
        Id: `Releases-${releases.size + 1}`,
        Version: body.Version,
        ProjectId: body.ProjectId,
      };
      releases.set(body.Version, created);
      return json(201, created);
    }
    m = /^\/api\/Spaces-1\/releases\/(Releases-\d+)\/deployments$/.exec(url.pathname);
    if (req.method === 'GET' && m) {
      const items = deployments.filter((d) => d.ReleaseId === m![1]);
      return json(200, { ItemType: 'Deployment', TotalResults: items.length, Items: items });
    }
    if (req.method === 'GET' && url.pathname === '/api/Spaces-1/tenants') {
      const name = (url.searchParams.get('name') ?? '').toLowerCase();
      const items = tenants.filter((t) => t.Name.toLowerCase().includes(name));
      return json(200, { ItemType: 'Tenant', TotalResults: items.length, Items: items });
    }
    if (req.method === 'POST' && url.pathname === '/api/Spaces-1/deployments') {
      const body = JSON.parse(req.body) as Omit<OctopusDeployment, 'Id'>;
      const release = [...releases.values()].find((r) => r.Id === body.ReleaseId);
      if (!release) return refuse(`The release ${body.ReleaseId} could not be found.`);
      const mode = options.modes?.[release.ProjectId] ?? 'Untenanted';
      if (body.TenantId) {
        const tenant = tenants.find((t) => t.Id === body.TenantId);
        if (!tenant) return refuse(`The tenant ${body.TenantId} could not be found.`);
        if (mode === 'Untenanted')
          return refuse(`The project ${release.ProjectId} does not allow tenanted deployments.`);
        if (!tenant.ProjectEnvironments[release.ProjectId]?.includes(body.EnvironmentId))
          return refuse(
            `The tenant ${tenant.Name} is not connected to the project ${release.ProjectId} in the environment ${body.EnvironmentId}.`,
          );
      } else if (mode === 'Tenanted') {
        return refuse(`The project ${release.ProjectId} can only be deployed to tenants.`);
      }
      const created = { Id: `Deployments-${deployments.length + 1}`, ...body };
      deployments.push(created);
      return json(201, created);
    }
    json(404, { ErrorMessage: 'The resource you requested was not found.' });
  });
  return { ...server, releases, deployments, tenants };
}
