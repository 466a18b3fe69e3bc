import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ManifestSchema } from '../../src/cli/apply';
import { planFor } from '../../src/domain/deployment';
import { freezeHold, FreezeSpecSchema } from '../../src/domain/freeze';
import {
  approvalRefusal,
  automaticDeployments,
  automaticTenantDeployments,
  deployRefusal,
  lanePlan,
  laneProgress,
  lifecycleSettled,
  lifecycleStranded,
  phaseStates,
  ReleaseProgress,
} from '../../src/domain/lifecycle';
import { laneKey, laneOf } from '../../src/domain/lane';
import { ProjectSpecInput, ProjectSpecSchema } from '../../src/domain/project';
import {
  matchesTags,
  selectTenants,
  TenantSelectionError,
  TenantSpec,
  TenantSpecSchema,
} from '../../src/domain/tenant';

const hook = { name: 'hook', type: 'webhook' as const, url: 'https://deploy.example.com/hook' };

/** dev (automatic) → test (automatic, one of two) → prod (approval); three tenants on different environments. */
const project = (over: Partial<ProjectSpecInput> = {}): ProjectSpecInput => ({
  name: 'shop',
  packages: [{ name: 'web', feed: 'docker.io', package: 'library/nginx' }],
  environments: ['dev', 'test-a', 'test-b', 'prod'].map((name) => ({ name, targets: [hook] })),
  lifecycles: [
    {
      name: 'standard',
      phases: [
        { name: 'dev', environments: ['dev'], automatic: true },
        { name: 'test', environments: ['test-a', 'test-b'], automatic: true, minimumEnvironments: 2 },
        { name: 'prod', environments: ['prod'], approval: true },
      ],
    },
  ],
  lifecycle: 'standard',
  tenantedDeployments: 'tenanted',
  tenants: [
    { tenant: 'acme', environments: ['dev', 'test-a', 'test-b', 'prod'] },
    { tenant: 'globex', environments: ['dev', 'test-a', 'prod'] },
    { tenant: 'initech', environments: ['prod'] },
  ],
  ...over,
});

const plan = planFor(ProjectSpecSchema.parse(project()), 'default')!;

const progress = (
  deployments: Record<string, ReleaseProgress['deployments'][string]['status']>,
  approvals: Record<string, 'approved' | 'rejected'> = {},
  taken: string[] = [],
): ReleaseProgress => ({
  deployments: Object.fromEntries(
    Object.entries(deployments).map(([key, status], id) => [key, { id, status }]),
  ),
  approvals: Object.fromEntries(
    Object.entries(approvals).map(([key, decision]) => [key, { decision, by: 'rm', comment: 'ok' }]),
  ),
  taken,
});

describe('tenants and their tags', () => {
  test('a tenant has a checked name, a description and tag-set/tag tags', () => {
    expect(TenantSpecSchema.parse({ name: 'acme', tags: ['region/eu west', 'tier/Gold'] })).toEqual({
      name: 'acme',
      description: '',
      tags: ['region/eu west', 'tier/Gold'],
    });
    for (const name of ['../x', 'a/b', '.git', 'Acme', '-a', '', 'a'.repeat(64), 'a b', '{tenant}'])
      expect(TenantSpecSchema.safeParse({ name }).success).toBe(false);
    for (const tag of ['region', 'region/', '/eu', 'a/b/c', 'region/eu\n', 'x/y'.padEnd(200, 'z')])
      expect(TenantSpecSchema.safeParse({ name: 'acme', tags: [tag] }).success).toBe(false);
    const twice = TenantSpecSchema.safeParse({ name: 'acme', tags: ['tier/gold', 'tier/gold'] });
    expect(twice.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      ['tags.1', 'tag "tier/gold" is given twice'],
    ]);
  });

  test('tags of one tag set are alternatives; tags of different sets must all match', () => {
    expect(matchesTags(['region/eu', 'tier/gold'], ['region/eu', 'region/us'])).toBe(true);
    expect(matchesTags(['region/eu', 'tier/gold'], ['region/eu', 'tier/silver'])).toBe(false);
    expect(matchesTags(['Region/EU'], ['region/eu'])).toBe(true);
  });

  const tenants: TenantSpec[] = [
    { name: 'acme', description: '', tags: ['region/eu', 'tier/gold'] },
    { name: 'globex', description: '', tags: ['region/us', 'tier/gold'] },
    { name: 'initech', description: '', tags: ['region/eu'] },
  ];
  const connections = ProjectSpecSchema.parse(project()).tenants!;

  test('a deploy request selects connected tenants by name and by tag, each once', () => {
    expect(selectTenants(connections, tenants, 'prod', { tenantTags: ['region/eu'] })).toEqual([
      'acme',
      'initech',
    ]);
    expect(
      selectTenants(connections, tenants, 'prod', { tenants: ['globex'], tenantTags: ['tier/gold'] }),
    ).toEqual(['acme', 'globex']);
    expect(selectTenants(connections, tenants, 'dev', { tenantTags: ['region/eu'] })).toEqual(['acme']);
    expect(selectTenants(connections, tenants, 'dev', {})).toEqual([]);
  });

  test('a tenant not connected to the environment, or tags nobody there has, are refused naming the field', () => {
    const refusal = (request: { tenants?: string[]; tenantTags?: string[] }) => {
      try {
        selectTenants(connections, tenants, 'test-b', request);
      } catch (err) {
        return [(err as TenantSelectionError).field, (err as Error).message];
      }
      return null;
    };
    expect(refusal({ tenants: ['acme', 'globex'] })).toEqual([
      'tenants.1',
      'tenant globex is not connected to environment "test-b" of this project',
    ]);
    expect(refusal({ tenantTags: ['region/us'] })).toEqual([
      'tenantTags',
      'no tenant connected to environment "test-b" has the tags region/us',
    ]);
  });
});

describe('a project connecting tenants', () => {
  const issues = (input: ProjectSpecInput) =>
    ProjectSpecSchema.safeParse(input).error?.issues.map((i) => [i.path.join('.'), i.message]) ?? [];

  test('names its environments, each tenant once, and deploys tenanted', () => {
    expect(issues(project())).toEqual([]);
    expect(
      issues(
        project({
          tenantedDeployments: undefined,
          tenants: [
            { tenant: 'acme', environments: ['dev', 'qa'] },
            { tenant: 'acme', environments: ['dev'] },
          ],
        }),
      ),
    ).toEqual([
      ['tenantedDeployments', 'a project that connects tenants deploys "tenanted" or "tenantedOrUntenanted"'],
      ['tenants.0.environments.1', 'no environment named "qa"'],
      ['tenants.1.tenant', 'tenant "acme" is connected twice'],
    ]);
  });

  test('a Git path may name {environment} and {tenant}, and still cannot leave the repository', () => {
    const git = (path: string) =>
      project({
        environments: [
          {
            name: 'dev',
            targets: [
              {
                name: 'gitops',
                type: 'git',
                url: 'https://git.example.com/deploy.git',
                files: [{ path, format: 'kustomize', package: 'web' }],
              },
            ],
          },
        ],
        lifecycles: [],
        lifecycle: undefined,
        tenants: [{ tenant: 'acme', environments: ['dev'] }],
      });
    expect(issues(git('overlays/{environment}/{tenant}/kustomization.yaml'))).toEqual([]);
    for (const bad of [
      '{tenant}/../../x.yaml',
      '/{tenant}/k.yaml',
      '.git/{tenant}',
      'overlays/{customer}/k.yaml',
    ])
      expect(issues(git(bad)).map(([field]) => field)).toEqual(['environments.0.targets.0.files.0.path']);
  });

  test('an untenanted project plans as before: no tenants in its plan', () => {
    const untenanted = planFor(
      ProjectSpecSchema.parse(project({ tenantedDeployments: undefined, tenants: undefined })),
      'default',
    )!;
    expect(untenanted).toEqual({ name: 'standard', phases: plan.phases });
    expect(automaticDeployments(untenanted, progress({}))).toEqual(['dev']);
  });
});

describe('a tenanted release through its lifecycle', () => {
  test('an automatic phase deploys to every connected tenant of its environments, and no untenanted one', () => {
    expect(automaticDeployments(plan, progress({}))).toEqual([]);
    // initech is connected to prod only: dev and test are passed through, and prod needs a person.
    expect(automaticTenantDeployments(plan, progress({}))).toEqual([
      { environment: 'dev', tenant: 'acme' },
      { environment: 'dev', tenant: 'globex' },
    ]);
    const devDone = progress({ 'dev/acme': 'succeeded', 'dev/globex': 'succeeded' });
    expect(automaticTenantDeployments(plan, devDone)).toEqual([
      { environment: 'test-a', tenant: 'acme' },
      { environment: 'test-b', tenant: 'acme' },
      { environment: 'test-a', tenant: 'globex' },
    ]);
  });

  test('minimumEnvironments counts per tenant, up to the environments it is connected to', () => {
    const states = (p: ReleaseProgress, tenant: string) =>
      phaseStates(lanePlan(plan, tenant), laneProgress(p, tenant)).map((s) => `${s.name}:${s.state}`);
    const p = progress({
      'dev/acme': 'succeeded',
      'test-a/acme': 'succeeded',
      'dev/globex': 'succeeded',
      'test-a/globex': 'succeeded',
    });
    expect(states(p, 'acme')).toEqual(['dev:complete', 'test:open', 'prod:locked']);
    expect(states(p, 'globex')).toEqual(['dev:complete', 'test:complete', 'prod:awaiting-approval']);
    expect(states(p, 'initech')).toEqual(['dev:complete', 'test:complete', 'prod:awaiting-approval']);
  });

  test('a tenant is refused where it is not connected, and a tenanted-only project refuses an untenanted deploy', () => {
    expect(deployRefusal(plan, progress({}), 'test-b', 'globex')?.message).toBe(
      'tenant globex is not connected to environment "test-b" of this project',
    );
    expect(deployRefusal(plan, progress({}), 'dev')?.message).toBe(
      'this project deploys to tenants only: name tenants or tenant tags',
    );
    expect(deployRefusal(plan, progress({}), 'prod', 'acme')?.message).toBe(
      'tenant acme: phase "prod" is not open yet: phase "dev" needs 1 successful deployment(s) of this release (dev), and has 0',
    );
    expect(deployRefusal(plan, progress({}), 'dev', 'acme')).toBeNull();
  });

  test('an approval is given per tenant or for all; a tenant’s own decision wins over the one for all', () => {
    expect(approvalRefusal(plan, progress({}), 'prod', 'initech')).toBeNull();
    const forAll = progress({}, { prod: 'approved' });
    expect(deployRefusal(plan, forAll, 'prod', 'initech')).toBeNull();
    expect(approvalRefusal(plan, forAll, 'prod')?.status).toBe(409);
    const rejectedForOne = progress({}, { prod: 'approved', [laneKey('prod', 'initech')]: 'rejected' });
    expect(deployRefusal(plan, rejectedForOne, 'prod', 'initech')?.message).toMatch(
      /^tenant initech: phase "prod" was rejected by rm/,
    );
    expect(approvalRefusal(plan, progress({}), 'prod', 'nobody')?.message).toBe(
      'tenant nobody is not connected to this project',
    );
  });

  test('settles when every tenant has settled, and is stranded when each tenant is settled or stranded', () => {
    const all = {
      'dev/acme': 'succeeded',
      'test-a/acme': 'succeeded',
      'test-b/acme': 'succeeded',
      'prod/acme': 'succeeded',
      'dev/globex': 'succeeded',
      'test-a/globex': 'succeeded',
      'prod/globex': 'succeeded',
    } as const;
    expect(lifecycleSettled(plan, progress(all, { prod: 'approved' }))).toBe(false);
    expect(
      lifecycleSettled(plan, progress({ ...all, 'prod/initech': 'succeeded' }, { prod: 'approved' })),
    ).toBe(true);
    const withoutGlobexProd = Object.fromEntries(
      Object.entries(all).filter(([key]) => key !== 'prod/globex'),
    );
    const p = progress({ ...withoutGlobexProd, 'prod/initech': 'succeeded' }, { prod: 'approved' }, [
      'prod/globex',
    ]);
    expect(lifecycleStranded(plan, p)).toBe(true);
    expect(
      lifecycleStranded(plan, progress({ ...withoutGlobexProd }, { prod: 'approved' }, ['prod/globex'])),
    ).toBe(false);
  });

  test('lane keys are the environment for untenanted deployments, environment/tenant for a tenant’s', () => {
    expect(laneKey('prod')).toBe('prod');
    expect(laneKey('prod', 'acme')).toBe('prod/acme');
    expect(laneOf('prod/acme')).toEqual({ environment: 'prod', tenant: 'acme' });
    expect(laneOf('prod')).toEqual({ environment: 'prod' });
  });
});

describe('a freeze scoped to tenants', () => {
  const freeze = FreezeSpecSchema.parse({
    name: 'acme-audit',
    timeZone: 'UTC',
    start: '2026-12-01T00:00',
    end: '2026-12-31T00:00',
    tenants: ['acme'],
  });
  const at = Date.parse('2026-12-10T12:00:00Z');

  test('holds that tenant’s deployments only, not other tenants’ nor untenanted ones', () => {
    expect(freezeHold([freeze], 'shop', 'prod', at, 'acme')?.freeze).toBe('acme-audit');
    expect(freezeHold([freeze], 'shop', 'prod', at, 'globex')).toBeNull();
    expect(freezeHold([freeze], 'shop', 'prod', at)).toBeNull();
  });

  test('a freeze without tenants holds tenanted deployments too', () => {
    const all = FreezeSpecSchema.parse({ ...freeze, tenants: undefined });
    expect(freezeHold([all], 'shop', 'prod', at, 'globex')?.freeze).toBe('acme-audit');
  });
});

describe('docs/tenants.md', () => {
  test('its example is a file apply -f accepts: three tenants, a tenanted project connecting them', () => {
    const doc = readFileSync(path.resolve(__dirname, '../../docs/tenants.md'), 'utf8');
    const [file] = [...doc.matchAll(/```yaml\n(tenants:[\s\S]*?)```/g)].map((m) => m[1]);
    const parsed = ManifestSchema.safeParse(parseYaml(file));
    expect(parsed.success ? [] : parsed.error.issues).toEqual([]);
    expect(parsed.data!.tenants.map((t) => t.name)).toEqual(['acme', 'globex', 'initech']);
    const spec = parsed.data!.projects[0].spec;
    expect([spec.tenantedDeployments, spec.tenants?.map((c) => c.tenant)]).toEqual([
      'tenanted',
      ['acme', 'globex', 'initech'],
    ]);
    // Staging fans out to the two tenants connected there; initech waits for prod's approval.
    expect(automaticTenantDeployments(planFor(spec, 'default')!, progress({}))).toEqual([
      { environment: 'staging', tenant: 'acme' },
      { environment: 'staging', tenant: 'globex' },
    ]);
  });
});
