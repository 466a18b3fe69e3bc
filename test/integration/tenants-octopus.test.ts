import { bindingsOf } from '../../src/config/secrets';
import { ProjectSpecInput } from '../../src/domain/project';
import { startApi, TestApi } from '../support/api';
import { OctopusServer, startOctopus } from '../support/octopus';
import { recordWebRelease } from '../support/projects';
import { eventually, startTestWorker, TestWorkerEnv } from '../support/temporal';

const OCTOPUS_KEY = 'API-TENANTSOCTOPUS01';
const NAME = 'tnto-octo';

let env: TestWorkerEnv;
let api: TestApi;
let octopus: OctopusServer;
let number: string;

interface Listed {
  id: number;
  environment: string;
  tenant?: string;
  status: string;
  error: string | null;
  targets: Record<string, { detail: string }>;
}

/** Octopus's tenants: two whose names contain "tnto-acme", Globex under its display name, one connected elsewhere. */
const connected = { 'Projects-1': ['Environments-1', 'Environments-2'] };
const OCTOPUS_TENANTS = [
  { Id: 'Tenants-2', Name: 'tnto-acme-eu', ProjectEnvironments: connected },
  { Id: 'Tenants-1', Name: 'TNTO-Acme', ProjectEnvironments: connected },
  { Id: 'Tenants-3', Name: 'Globex Corporation', ProjectEnvironments: connected },
  { Id: 'Tenants-4', Name: 'tnto-hooli', ProjectEnvironments: { 'Projects-1': ['Environments-2'] } },
];
/** Ours: acme found by name, globex mapped, hooli not connected to dev in Octopus, initech unknown there. */
const TENANTS = ['tnto-acme', 'tnto-globex', 'tnto-hooli', 'tnto-initech'];

/** dev (automatic) and prod (after an approval), both Octopus environments of one tenanted Octopus project. */
function project(): ProjectSpecInput {
  const target = (environmentId: string) => ({
    name: 'octopus',
    type: 'octopus' as const,
    serverUrl: octopus.url,
    spaceId: 'Spaces-1',
    projectId: 'Projects-1',
    environmentId,
    apiKey: { secret: 'octopus' },
    tenants: { 'tnto-globex': 'Tenants-3' },
  });
  return {
    name: NAME,
    packages: [{ name: 'web', feed: 'registry.example', package: `${NAME}/web` }],
    environments: [
      { name: 'dev', targets: [target('Environments-1')] },
      { name: 'prod', targets: [target('Environments-2')] },
    ],
    lifecycles: [
      {
        name: 'standard',
        phases: [
          { name: 'dev', environments: ['dev'], automatic: true },
          { name: 'prod', environments: ['prod'], approval: true },
        ],
      },
    ],
    lifecycle: 'standard',
    tenantedDeployments: 'tenanted',
    tenants: TENANTS.map((tenant) => ({ tenant, environments: ['dev', 'prod'] })),
  };
}

async function deployments(): Promise<Listed[]> {
  const res = await api.request('GET', `/projects/${NAME}/releases/${number}/deployments`);
  expect(res.status).toBe(200);
  return res.body.deployments as Listed[];
}

beforeAll(async () => {
  octopus = await startOctopus(OCTOPUS_KEY, {
    tenants: OCTOPUS_TENANTS,
    modes: { 'Projects-1': 'Tenanted' },
  });
  const secrets = new Map([['octopus', { value: OCTOPUS_KEY, sendTo: [`${octopus.url}/api/`] }]]);
  env = await startTestWorker({ secrets, deployBackoff: { initialMs: 200, maxMs: 1000 } });
  api = await startApi(env, { secretBindings: bindingsOf(secrets) });
  for (const tenant of TENANTS)
    expect((await api.request('PUT', `/tenants/${tenant}`, { tags: ['tier/gold'] })).status).toBe(201);
  expect((await api.request('PUT', `/projects/${NAME}`, project())).status).toBe(201);
  // A release as a trigger records it: its workflow starts the lifecycle, whose dev phase is automatic.
  number = await recordWebRelease(env, NAME, '3.0.0');
  await eventually(async () => {
    const listed = await deployments();
    const done = listed.filter((d) => d.status === 'succeeded' || d.status === 'failed');
    return done.length === TENANTS.length ? true : undefined;
  }, 'every tenant deployed or refused in dev');
});

afterAll(async () => {
  await api?.close();
  await env?.stop();
  await octopus?.close();
});

describe('tenants on an Octopus target', () => {
  test('a tenanted automatic phase creates one Octopus deployment per tenant, with the tenant Octopus knows it by', async () => {
    const release = octopus.releases.get(number)!;
    expect(release).toMatchObject({ ProjectId: 'Projects-1' });
    expect(octopus.releases.size).toBe(1);
    const listed = await deployments();
    const byTenant = Object.fromEntries(listed.map((d) => [d.tenant, d]));
    expect(
      octopus.deployments
        .map((d) => ({ ...d, Id: undefined }))
        .sort((a, b) => String(a.TenantId).localeCompare(String(b.TenantId))),
    ).toEqual([
      {
        Id: undefined,
        ReleaseId: release.Id,
        EnvironmentId: 'Environments-1',
        TenantId: 'Tenants-1',
        Comments: `feed-triggers:${NAME}:deployment:${byTenant['tnto-acme'].id}`,
      },
      {
        Id: undefined,
        ReleaseId: release.Id,
        EnvironmentId: 'Environments-1',
        TenantId: 'Tenants-3',
        Comments: `feed-triggers:${NAME}:deployment:${byTenant['tnto-globex'].id}`,
      },
    ]);
    expect(byTenant['tnto-acme'].targets.octopus.detail).toMatch(/ for tenant Tenants-1$/);
    // Refused for good, each with the reason: unknown to Octopus, or not connected there.
    expect(byTenant['tnto-initech']).toMatchObject({ status: 'failed' });
    expect(byTenant['tnto-initech'].error).toContain(
      'target octopus: Octopus has no tenant named "tnto-initech" in Spaces-1',
    );
    expect(byTenant['tnto-hooli']).toMatchObject({ status: 'failed' });
    expect(byTenant['tnto-hooli'].error).toContain(
      'The tenant tnto-hooli is not connected to the project Projects-1 in the environment Environments-1.',
    );
  });

  test("the all-projects dashboard gives each tenant's release, failure and approval per environment", async () => {
    const res = await api.request('GET', '/environments');
    expect(res.status).toBe(200);
    const mine = res.body.projects.find((p: { project: string }) => p.project === NAME);
    expect(mine.tenantedDeployments).toBe('tenanted');
    const cells = (environment: string) =>
      Object.fromEntries(
        mine.environments
          .find((e: { name: string }) => e.name === environment)
          .tenants.map(
            (t: {
              tenant: string;
              current: { release: string } | null;
              latest: { status: string } | null;
              awaitingApproval: { phase: string } | null;
            }) => [
              t.tenant,
              `${t.current?.release ?? '-'} ${t.latest?.status ?? '-'} ${t.awaitingApproval?.phase ?? '-'}`,
            ],
          ),
      );
    expect(cells('dev')).toEqual({
      'tnto-acme': `${number} succeeded -`,
      'tnto-globex': `${number} succeeded -`,
      'tnto-hooli': '- failed -',
      'tnto-initech': '- failed -',
    });
    // prod waits for an approval only for the tenants whose dev phase is complete.
    expect(cells('prod')).toEqual({
      'tnto-acme': '- - prod',
      'tnto-globex': '- - prod',
      'tnto-hooli': '- - -',
      'tnto-initech': '- - -',
    });
    // The untenanted cell is as before tenants: this project deploys to tenants only.
    expect(mine.environments[0]).toMatchObject({ current: null, latest: null, inFlight: 0 });
  });

  test("an environment's history filters by tenant, and a bad tenant is a 400 naming it", async () => {
    const history = (query: string) =>
      api.request('GET', `/projects/${NAME}/environments/dev/deployments${query}`);
    const all = await history('');
    expect(all.body.deployments).toHaveLength(TENANTS.length);
    const acme = await history('?tenant=tnto-acme');
    expect(acme.status).toBe(200);
    expect(acme.body.deployments.map((d: Listed) => `${d.tenant}:${d.status}`)).toEqual([
      'tnto-acme:succeeded',
    ]);
    expect((await history('?tenant=tnto-nobody')).body.deployments).toEqual([]);
    const bad = await history('?tenant=..%2Fx');
    expect([bad.status, bad.body.errors[0].field]).toEqual([400, 'query.tenant']);
  });

  test("a Git path that a connected tenant's name fills into .git is refused when the project is saved", async () => {
    const name = 'tnto-paths';
    expect((await api.request('PUT', '/tenants/git', {})).status).toBe(201);
    const spec = (tenant: string): ProjectSpecInput => ({
      name,
      packages: [{ name: 'web', feed: 'registry.example', package: `${name}/web` }],
      environments: [
        {
          name: 'dev',
          targets: [
            {
              name: 'gitops',
              type: 'git',
              url: 'http://127.0.0.1:9/deploy.git',
              files: [{ path: '.{tenant}/kustomization.yaml', format: 'kustomize', package: 'web' }],
            },
          ],
        },
      ],
      tenantedDeployments: 'tenanted',
      tenants: [{ tenant, environments: ['dev'] }],
    });
    const refused = await api.request('PUT', `/projects/${name}`, spec('git'));
    expect([refused.status, refused.body.errors]).toEqual([
      422,
      [
        {
          field: 'environments.0.targets.0.files.0.path',
          message:
            'for tenant git in environment "dev" the path is ".git/kustomization.yaml": a path into .git is refused',
        },
      ],
    ]);
    expect((await api.request('GET', `/projects/${name}`)).status).toBe(404);
    // The same template is fine for a tenant whose name keeps it inside the repository.
    expect((await api.request('PUT', `/projects/${name}`, spec('tnto-acme'))).status).toBe(201);
  });
});
