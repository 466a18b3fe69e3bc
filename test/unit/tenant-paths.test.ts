import { ProjectSpecInput, ProjectSpecSchema } from '../../src/domain/project';
import { tenantPathErrors } from '../../src/targets/git/tenant-paths';

/** A tenanted project whose dev and prod write `path` (or each of `path`) in one repository. */
const spec = (
  path: string | string[],
  connections: Record<string, string[]>,
  over: Partial<ProjectSpecInput> = {},
): ProjectSpecInput => ({
  name: 'saas',
  packages: [{ name: 'web', feed: 'docker.io', package: 'library/nginx' }],
  environments: ['dev', 'prod'].map((name) => ({
    name,
    targets: [
      {
        name: 'gitops',
        type: 'git' as const,
        url: 'https://git.example.com/deploy.git',
        files: [
          { path: 'base/kustomization.yaml', format: 'kustomize' as const, package: 'web' },
          ...[path].flat().map((p) => ({ path: p, format: 'kustomize' as const, package: 'web' })),
        ],
      },
    ],
  })),
  tenantedDeployments: 'tenanted',
  tenants: Object.entries(connections).map(([tenant, environments]) => ({ tenant, environments })),
  ...over,
});

const errorsOf = (input: ProjectSpecInput) => tenantPathErrors(ProjectSpecSchema.parse(input));

describe('tenantPathErrors', () => {
  test('a tenant named git completes .{tenant}/x into .git/x: refused, naming the field, the tenant and the environment', () => {
    // The schema accepts the template: with stand-in names it stays inside the repository.
    expect(ProjectSpecSchema.safeParse(spec('.{tenant}/x.yaml', { git: ['prod'] })).success).toBe(true);
    expect(errorsOf(spec('.{tenant}/x.yaml', { acme: ['dev', 'prod'], git: ['prod'] }))).toEqual([
      {
        field: 'environments.1.targets.0.files.1.path',
        tenant: 'git',
        message:
          'for tenant git in environment "prod" the path is ".git/x.yaml": a path into .git is refused',
      },
    ]);
  });

  test('trailing dots that some file systems drop reach .git as well', () => {
    expect(errorsOf(spec('overlays/.{tenant}./x.yaml', { git: ['dev'] })).map((e) => e.field)).toEqual([
      'environments.0.targets.0.files.1.path',
    ]);
  });

  test('a template every connected tenant fills into the repository is accepted', () => {
    expect(
      errorsOf(spec('overlays/{environment}/{tenant}/kustomization.yaml', { git: ['dev', 'prod'] })),
    ).toEqual([]);
    expect(errorsOf(spec('.{tenant}/x.yaml', { acme: ['dev', 'prod'], 'git.x': ['dev'] }))).toEqual([]);
  });

  test('only the environments a tenant is connected to are filled with its name', () => {
    expect(errorsOf(spec('.{tenant}/x.yaml', { git: ['dev'] })).map((e) => e.field)).toEqual([
      'environments.0.targets.0.files.1.path',
    ]);
  });

  test('at most 20 errors are answered, however many files and environments a bad name fills', () => {
    const paths = Array.from({ length: 15 }, (_, i) => `.{tenant}/f${i}.yaml`);
    expect(errorsOf(spec(paths, { git: ['dev', 'prod'] }))).toHaveLength(20);
  });
});
