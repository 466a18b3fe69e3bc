import { parseHelmReference, parseImageReference } from '../../src/domain/reference';
import { PackageRefSchema } from '../../src/domain/trigger';
import { parseWwwAuthenticate } from '../../src/feeds/challenge';
import { pageSizeFor, registryApiHost } from '../../src/feeds/feed';

describe('image references, normalised as Docker does', () => {
  test.each([
    ['nginx', 'docker.io', 'library/nginx', null],
    ['nginx:1.27', 'docker.io', 'library/nginx', '1.27'],
    ['index.docker.io/library/nginx', 'docker.io', 'library/nginx', null],
    ['docker.io/bitnami/redis:7.2', 'docker.io', 'bitnami/redis', '7.2'],
    ['ghcr.io/org/team/app:v1', 'ghcr.io', 'org/team/app', 'v1'],
    ['localhost:5000/app', 'localhost:5000', 'app', null],
    ['localhost/app', 'localhost', 'app', null],
    ['127.0.0.1:5000/a/b/c:1.0.0', '127.0.0.1:5000', 'a/b/c', '1.0.0'],
    ['myorg/app', 'docker.io', 'myorg/app', null],
  ])('%s is %s + %s (tag %s)', (ref, registry, repository, tag) => {
    expect(parseImageReference(ref)).toMatchObject({ registry, repository, tag });
  });

  test('keeps digests and refuses malformed references', () => {
    expect(parseImageReference(`alpine@sha256:${'a'.repeat(64)}`).digest).toBe(`sha256:${'a'.repeat(64)}`);
    expect(() => parseImageReference('Upper/Case')).toThrow(/repository path component/);
    expect(() => parseImageReference('app:bad tag')).toThrow();
    expect(() => parseImageReference('')).toThrow();
  });

  test('the API host of docker.io is registry-1.docker.io; ECR pages are capped at 1000', () => {
    expect(registryApiHost('docker.io')).toBe('registry-1.docker.io');
    expect(registryApiHost('ghcr.io')).toBe('ghcr.io');
    expect(pageSizeFor('https://123456789012.dkr.ecr.eu-west-1.amazonaws.com', 5000)).toBe(1000);
    expect(pageSizeFor('https://ghcr.io', 5000)).toBe(5000);
  });

  test('package references in triggers are normalised the same way', () => {
    expect(PackageRefSchema.parse({ name: 'web', feed: 'index.docker.io', package: 'nginx' })).toEqual({
      name: 'web',
      feed: 'docker.io',
      package: 'library/nginx',
    });
    expect(PackageRefSchema.parse({ name: 'web', feed: 'ghcr.io', package: 'nginx' })).toEqual({
      name: 'web',
      feed: 'ghcr.io',
      package: 'nginx',
    });
  });
});

describe('Helm references', () => {
  test('oci:// charts and HTTP repositories', () => {
    expect(parseHelmReference('oci://registry.example.com/charts/ingress')).toEqual({
      kind: 'oci',
      registry: 'registry.example.com',
      repository: 'charts/ingress',
    });
    expect(parseHelmReference('https://kubernetes.github.io/ingress-nginx/', 'ingress-nginx')).toEqual({
      kind: 'http',
      url: 'https://kubernetes.github.io/ingress-nginx',
      chart: 'ingress-nginx',
    });
    expect(() => parseHelmReference('ftp://x/y', 'c')).toThrow(/http, https or oci/);
    expect(() => parseHelmReference('https://x/y')).toThrow(/chart name/);
  });
});

describe('WWW-Authenticate', () => {
  test('parses several challenges in one header, quoted commas included', () => {
    expect(
      parseWwwAuthenticate(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull,push", Basic realm="r"',
      ),
    ).toEqual([
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.docker.io/token',
          service: 'registry.docker.io',
          scope: 'repository:a/b:pull,push',
        },
      },
      { scheme: 'basic', params: { realm: 'r' } },
    ]);
  });

  test('reads error="insufficient_scope", unquoted values and escapes; ignores garbage', () => {
    expect(
      parseWwwAuthenticate('Bearer realm=x, error="insufficient_scope", error_description="a \\"b\\""'),
    ).toEqual([
      { scheme: 'bearer', params: { realm: 'x', error: 'insufficient_scope', error_description: 'a "b"' } },
    ]);
    expect(parseWwwAuthenticate(null)).toEqual([]);
    expect(parseWwwAuthenticate('')).toEqual([]);
    expect(parseWwwAuthenticate('"""===,,,')).toEqual([]);
    expect(parseWwwAuthenticate('Bearer')).toEqual([{ scheme: 'bearer', params: {} }]);
  });
});
