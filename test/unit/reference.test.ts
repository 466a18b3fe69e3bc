import { PackageRefSchema } from '../../src/domain/trigger-schema';
import { parseWwwAuthenticate } from '../../src/feeds/challenge';
import { pageSizeFor, registryApiHost } from '../../src/feeds/feed';

describe('registry names, normalised as Docker does', () => {
  test('the API host of docker.io is registry-1.docker.io; ECR pages are capped at 1000', () => {
    expect(registryApiHost('docker.io')).toBe('registry-1.docker.io');
    expect(registryApiHost('ghcr.io')).toBe('ghcr.io');
    expect(pageSizeFor('https://123456789012.dkr.ecr.eu-west-1.amazonaws.com', 5000)).toBe(1000);
    expect(pageSizeFor('https://ghcr.io', 5000)).toBe(5000);
    for (const host of [
      '123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com',
      '123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn',
      '123456789012.dkr-ecr.eu-west-1.on.aws',
      '123456789012.dkr-ecr-fips.us-east-1.on.aws',
      'public.ecr.aws',
    ])
      expect([host, pageSizeFor(`https://${host}`, 5000)]).toEqual([host, 1000]);
    expect(pageSizeFor('https://dkr.ecr.us-east-1.amazonaws.com.evil.example', 5000)).toBe(5000);
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
