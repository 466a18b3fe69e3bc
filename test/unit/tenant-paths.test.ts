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
  test('an environment named git completes .{environment}/x into .git/x, in an untenanted project too', () => {
    const named = (input: ProjectSpecInput, env: string): ProjectSpecInput => ({
      ...input,
      environments: (input.environments ?? []).map((e, i) => (i === 1 ? { ...e, name: env } : e)),
    });
    const untenanted = named(
      spec('.{environment}/x.yaml', {}, { tenantedDeployments: 'untenanted', tenants: undefined }),
      'git',
    );
    expect(ProjectSpecSchema.safeParse(untenanted).success).toBe(true);
    expect(errorsOf(untenanted)).toEqual([
      {
        field: 'environments.1.targets.0.files.1.path',
        message: 'in environment "git" the path is ".git/x.yaml": a path into .git is refused',
      },
    ]);
    // Environment and tenant together: `.{environment}{tenant}` is `.git` for environment gi and tenant t.
    const together = named(spec('a/.{environment}{tenant}/x.yaml', { t: ['gi'], acme: ['gi'] }), 'gi');
    expect(errorsOf(together).map((e) => e.tenant)).toEqual(['t']);
    expect(errorsOf(named(spec('.{environment}.{tenant}/x.yaml', { git: ['git'] }), 'git'))).toEqual([]);
  });

  test('a name used twice is filled twice, each time checked: .{tenant}/ok/.{tenant}', () => {
    expect(
      errorsOf(spec('ok/.{tenant}/ok/.{tenant}/x.yaml', { git: ['prod'] })).map((e) => e.tenant),
    ).toEqual(['git']);
  });

  test('templates that could reach out of the repository or hide .git are refused by the schema itself', () => {
    for (const path of [
      '{tenant}/../../x.yaml',
      '../{tenant}/x.yaml',
      '/{tenant}/x.yaml',
      '.GIT/{tenant}.yaml',
      '.Git/{tenant}.yaml',
      'a/.git./{tenant}.yaml',
      '.git /{tenant}.yaml',
      'a%2f..%2f{tenant}.yaml',
      '\uFF0Egit/{tenant}.yaml', // fullwidth full stop
      'a/{tenant}\u200b/x.yaml',
      '{tenant}~1/x.yaml',
      `${'{tenant}/'.repeat(64)}x.yaml`,
    ])
      expect([path, ProjectSpecSchema.safeParse(spec(path, { acme: ['dev'] })).success]).toEqual([
        path,
        false,
      ]);
  });

  test('tenant and environment names that could reach .git by case or trailing dots are refused as names', () => {
    for (const name of ['.git', 'GIT', 'Git', 'git.', 'git ', 'git~1', '..', 'a/b', '%2e%2e'])
      expect([
        name,
        ProjectSpecSchema.safeParse(spec('.{tenant}/x.yaml', { [name]: ['dev'] })).success,
      ]).toEqual([name, false]);
  });
});
