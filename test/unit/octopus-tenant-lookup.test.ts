import { OctopusTargetSchema } from '../../src/domain/project';
import { mappedOctopusTenant, octopusReleaseId, octopusTenantIdIn } from '../../src/targets/octopus';

const target = (tenants: unknown) => ({
  name: 'octo',
  type: 'octopus',
  serverUrl: 'https://octopus.example.com',
  spaceId: 'Spaces-1',
  projectId: 'Projects-1',
  apiKey: { secret: 'octopus-key' },
  environmentId: 'Environments-1',
  tenants,
});

describe('an Octopus target’s tenant map (mappedOctopusTenant)', () => {
  test('a tenant named constructor is not mapped to Object’s constructor (it would deploy with no TenantId)', () => {
    const parsed = OctopusTargetSchema.parse(target({ acme: 'Tenants-1' }));
    expect(mappedOctopusTenant(parsed.tenants, 'constructor')).toBeUndefined();
    expect(mappedOctopusTenant(parsed.tenants, 'tostring')).toBeUndefined();
    expect(mappedOctopusTenant(parsed.tenants, 'acme')).toBe('Tenants-1');
    expect(mappedOctopusTenant(undefined, 'constructor')).toBeUndefined();
  });

  test('a mapped constructor is its own entry', () => {
    const parsed = OctopusTargetSchema.parse(target({ constructor: 'Tenants-9' }));
    expect(mappedOctopusTenant(parsed.tenants, 'constructor')).toBe('Tenants-9');
  });

  test('a __proto__ key (JSON or YAML makes it an own key) is dropped, not made the map’s prototype', () => {
    const parsed = OctopusTargetSchema.parse(target(JSON.parse('{"__proto__": {"acme": "Tenants-6"}}')));
    expect(Object.getPrototypeOf(parsed.tenants)).toBe(Object.prototype);
    expect(mappedOctopusTenant(parsed.tenants, 'acme')).toBeUndefined();
    expect(({} as Record<string, unknown>).acme).toBeUndefined();
  });

  test('hostile keys and values are refused naming the field: control characters, paths, too many', () => {
    const issues = (tenants: unknown) =>
      OctopusTargetSchema.safeParse(target(tenants)).error?.issues.map((i) => i.path.join('.'));
    expect(issues({ 'ac\u0000me': 'Tenants-1' })).toEqual(['tenants.ac\u0000me']);
    expect(issues({ acme: 'Tenants-1/../../deployments' })).toEqual(['tenants.acme']);
    expect(issues({ acme: 'Tenants-1\n' })).toEqual(['tenants.acme']);
    const many = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`t${i}`, `Tenants-${i}`]));
    expect(issues(many)).toEqual(['tenants']);
    // Nothing leaked onto Object's prototype while parsing.
    expect(({} as Record<string, unknown>).acme).toBeUndefined();
  });
});

describe('the Octopus tenant of a name in a lookup’s answer (octopusTenantIdIn)', () => {
  test('the exact name, its ASCII case ignored', () => {
    const answer = {
      Items: [
        { Id: 'Tenants-1', Name: 'acme-corp' },
        { Id: 'Tenants-2', Name: 'ACME' },
      ],
    };
    expect(octopusTenantIdIn(answer, 'acme')).toBe('Tenants-2');
  });

  test('a name equal only under Unicode case folding or a look-alike is not the tenant', () => {
    const answer = {
      Items: [
        { Id: 'Tenants-1', Name: '\u212Aey' }, // KELVIN SIGN lower-cases to k
        { Id: 'Tenants-2', Name: 'ke\u0443' }, // Cyrillic у
        { Id: 'Tenants-3', Name: 'ｋｅｙ' },
        { Id: 'Tenants-4', Name: 'key\u0000' },
      ],
    };
    expect(octopusTenantIdIn(answer, 'key')).toBeNull();
    expect(octopusTenantIdIn({ Items: [...answer.Items, { Id: 'Tenants-5', Name: 'KEY' }] }, 'key')).toBe(
      'Tenants-5',
    );
  });

  test('an Id that is not Tenants-N (a path, a number, an object) is not sent on', () => {
    for (const Id of ['../../api/Spaces-1/deployments', 'Tenants-1/x', 'Tenants-1?x=1', 7, { a: 1 }, null])
      expect(octopusTenantIdIn({ Items: [{ Id, Name: 'acme' }] }, 'acme')).toBeNull();
  });

  test('answers of the wrong shape find nothing and do not throw', () => {
    for (const answer of [
      null,
      7,
      'x',
      [],
      {},
      { Items: 'x' },
      { Items: { 0: {} } },
      { Items: [null, 1, 'a'] },
    ])
      expect(octopusTenantIdIn(answer, 'acme')).toBeNull();
  });

  test('a list of 100,000 tenants is read in one pass', () => {
    const Items = Array.from({ length: 100_000 }, (_, i) => ({ Id: `Tenants-${i}`, Name: `tenant-${i}` }));
    expect(octopusTenantIdIn({ Items }, 'tenant-99999')).toBe('Tenants-99999');
  });
});

describe('the release id in an Octopus answer (octopusReleaseId)', () => {
  test('only Releases-N is taken: it goes into the next request’s path with the API key', () => {
    expect(octopusReleaseId({ Id: 'Releases-42' })).toBe('Releases-42');
    for (const answer of [
      { Id: '../../users/me' },
      { Id: 'Releases-1/../../users/me' },
      { Id: 'Releases-1?x=1' },
      { Id: 'Releases-1#' },
      { Id: 42 },
      { Id: null },
      {},
      null,
      'Releases-1',
    ])
      expect(octopusReleaseId(answer)).toBeNull();
  });
});
