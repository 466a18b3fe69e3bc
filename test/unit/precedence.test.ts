import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { compileRule, evaluateRule, VersionRuleInput } from '../../src/domain/rule';
import {
  compareVersions,
  compareVersionTags,
  parseVersion,
  Precedence,
  Version,
} from '../../src/domain/version';

const FIXTURES = path.resolve(__dirname, '../fixtures/real-tags');
const lists = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.txt'))
  .map((f) => ({
    name: f.replace(/\.txt$/, ''),
    // Helm charts are ranked as Octopus ranks Helm (SemVer); images by Octopus's Docker precedence.
    precedence: (f.startsWith('helm-') ? 'semver' : 'docker') as Precedence,
    tags: readFileSync(path.join(FIXTURES, f), 'utf8')
      .split('\n')
      .filter((t) => t !== ''),
  }));
const tagsOf = (name: string) => lists.find((l) => l.name === name)!.tags;

const v = (tag: string) => parseVersion(tag)!;
const sign = (x: number) => (x > 0 ? 1 : x < 0 ? -1 : 0);
const cmp = (a: string, b: string, p: Precedence = 'docker') => sign(compareVersions(v(a), v(b), p));

/**
 * An independent reading of Octopus Deploy's own comparison (OctopusDeploy/Versioning: OctopusVersion for
 * Docker tags, the NuGet-derived VersionComparer for SemVer), written from its documented rules rather than
 * from our code: four numeric parts; a version without a label above one with; labels split on anything
 * not a letter or digit (Docker) or on dots (SemVer); numeric identifiers as numbers and below alphanumeric
 * ones; alphanumeric ones case-insensitively; the shorter list of equal identifiers first.
 */
const OCTOPUS = /^(?:[vV]?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:\.(\d+))?)?(?:[.\-_])?([^+]*?)(?:\+(.*))?$/;
function octopusCompare(a: string, b: string, precedence: Precedence): number {
  const pa = OCTOPUS.exec(a)!;
  const pb = OCTOPUS.exec(b)!;
  for (let i = 1; i <= 4; i++) {
    const x = BigInt(pa[i] ?? 0);
    const y = BigInt(pb[i] ?? 0);
    if (x !== y) return x < y ? -1 : 1;
  }
  const la = pa[5] ?? '';
  const lb = pb[5] ?? '';
  if (la !== '' && lb === '') return -1;
  if (la === '' && lb !== '') return 1;
  const split = (l: string) => (precedence === 'docker' ? l.split(/[^\p{L}\p{N}]/u) : l.split('.'));
  const ia = split(la);
  const ib = split(lb);
  for (let i = 0; i < Math.max(ia.length, ib.length); i++) {
    if (i >= ia.length) return -1;
    if (i >= ib.length) return 1;
    const na = /^\d+$/.test(ia[i]);
    const nb = /^\d+$/.test(ib[i]);
    if (na && nb) {
      const x = BigInt(ia[i]);
      const y = BigInt(ib[i]);
      if (x !== y) return x < y ? -1 : 1;
    } else if (na !== nb) return na ? -1 : 1;
    else {
      const x = ia[i].toUpperCase();
      const y = ib[i].toUpperCase();
      if (x !== y) return x < y ? -1 : 1;
    }
  }
  return 0;
}

describe('Octopus precedence: the cases from the field', () => {
  test('pre-release labels compare case-insensitively: [8.0-M01,8.0) refuses 8-alpine and 8.0-bookworm', () => {
    const tags = ['8-alpine', '8.0-M04-bookworm', '8.0-bookworm', '8.0-M01', '8.0-M10-jdk', '8.0-rc1', '7.9'];
    const result = evaluateRule(compileRule({ range: '[8.0-M01,8.0)' }), tags);
    expect(result.accepted.map((a) => a.tag)).toEqual([
      '8.0-rc1',
      '8.0-M10-jdk',
      '8.0-M04-bookworm',
      '8.0-M01',
    ]);
    expect(cmp('8-alpine', '8.0-M04-bookworm')).toBe(-1);
  });

  test('labels differing only in case have the same precedence and still sort deterministically', () => {
    expect(cmp('1.0-RC1', '1.0-rc1')).toBe(0);
    const sorted = ['1.0-rc1', '1.0-RC1', '1.0-Rc1'].map(v).sort((a, b) => compareVersionTags(a, b));
    expect(sorted.map((x) => x.original)).toEqual(['1.0-RC1', '1.0-Rc1', '1.0-rc1']);
  });

  test.each([
    ['1.31-alpine3.23-otel', '1.31-alpine3.24'],
    ['chakracore-8.11.1', 'chakracore-10.13.0'],
    ['3.7.0-rc.1-nanoserver-ltsc2022', '3.7.0-rc.3'],
    ['1.0.0-alpha-2', '1.0.0-alpha-10'],
    ['1.0.0-beta_9', '1.0.0-beta_10'],
  ])('Docker precedence splits labels on ".", "-" and "_": %s < %s', (lower, higher) => {
    expect(cmp(lower, higher, 'docker')).toBe(-1);
    expect(cmp(higher, lower, 'docker')).toBe(1);
  });

  test('SemVer precedence (Helm) keeps splitting on dots only', () => {
    expect(cmp('1.0.0-alpha-10', '1.0.0-alpha-2', 'semver')).toBe(-1); // "alpha-10" < "alpha-2" as text
    expect(cmp('1.0.0-alpha.10', '1.0.0-alpha.2', 'semver')).toBe(1);
    expect(cmp('3.7.0-rc.1-nanoserver', '3.7.0-rc.3', 'semver')).toBe(1); // "1-nanoserver" is alphanumeric
  });

  test('a range is evaluated with the feed precedence', () => {
    const tags = ['1.0.0-alpha-2', '1.0.0-alpha-10'];
    const within = (p: Precedence) =>
      evaluateRule(compileRule({ range: '[1.0.0-alpha-3,1.0.0)' }, p), tags).accepted.map((a) => a.tag);
    expect(within('docker')).toEqual(['1.0.0-alpha-10']);
    expect(within('semver')).toEqual([]); // as text, "alpha-10" and "alpha-2" both sort below "alpha-3"
  });
});

// NuGet intervals admit pre-releases of the upper bound (21.0.0-alpine < 21.0): users who mean "20.x with a
// label" write the upper bound as 21.0-0, the lowest pre-release of 21.0, as Octopus users do.
describe('what users ask of real images and charts', () => {
  const pick = (name: string, rule: VersionRuleInput, p: Precedence = 'docker') => {
    const result = evaluateRule(compileRule(rule, p), tagsOf(name));
    return result.accepted.slice(0, 3).map((a) => a.tag);
  };
  test.each<[string, VersionRuleInput, Precedence, string[]]>([
    ['node', { range: '[18.0,19.0)', tag: '^$' }, 'docker', ['18.20.8', '18.20.7', '18.20.6']],
    [
      'node',
      { range: '[20.0,21.0-0)', tag: '^alpine$' },
      'docker',
      ['20.20.2-alpine', '20.20.1-alpine', '20.20.0-alpine'],
    ],
    [
      'python',
      { range: '[3.12,3.13-0)', tag: '^slim-bookworm$' },
      'docker',
      ['3.12.14-slim-bookworm', '3.12.13-slim-bookworm', '3.12.12-slim-bookworm'],
    ],
    ['python', { range: '[3.13,3.14)', tag: '^$' }, 'docker', ['3.13.15', '3.13.14', '3.13.13']],
    ['golang', { range: '[1.22,1.23)', tag: '^$' }, 'docker', ['1.22.12', '1.22.11', '1.22.10']],
    [
      'golang',
      { range: '[1.22,1.23-0)', tag: '^alpine$' },
      'docker',
      ['1.22.12-alpine', '1.22.11-alpine', '1.22.10-alpine'],
    ],
    ['nginx', { range: '[1.26,1.27)', tag: '^$' }, 'docker', ['1.26.3', '1.26.2', '1.26.1']],
    ['redis', { range: '[7.2,7.3)', tag: '^$' }, 'docker', ['7.2.16', '7.2.15', '7.2.14']],
    ['postgres', { range: '[16,17)', tag: '^$' }, 'docker', ['16.15', '16.14', '16.13']],
    [
      'postgres',
      { range: '[16,17-0)', tag: '^alpine3\\.2\\d$' },
      'docker',
      ['16.15-alpine3.24', '16.15-alpine3.23', '16.14-alpine3.24'],
    ],
    ['traefik', { range: '[2.11,3.0)', tag: '^$' }, 'docker', ['v2.11.55', '2.11.55', 'v2.11.54']],
    ['alpine', { filter: '^\\d+\\.\\d+\\.\\d+$' }, 'docker', ['3.24.1', '3.24.0', '3.23.5']],
    ['helm-ingress-nginx', { range: '[4.10,4.11)' }, 'semver', ['4.10.6', '4.10.5', '4.10.4']],
    [
      'helm-mimir-distributed',
      { tag: '^weekly' },
      'semver',
      ['6.3.0-weekly.408', '6.2.0-weekly.407', '6.2.0-weekly.406'],
    ],
    ['helm-argo-cd', { range: '^7.0.0' }, 'semver', ['7.9.1', '7.9.0', '7.8.28']],
    ['helm-grafana', { range: '[8.0,9.0)' }, 'semver', ['8.15.0', '8.14.2', '8.14.1']],
  ])('%s %j (%s): %j', (name, rule, p, expected) => {
    expect(pick(name, rule, p)).toEqual(expected);
  });
});

describe('the order on every real list', () => {
  test.each(lists.map((l) => [l.name, l] as const))(
    '%s: a total order that agrees with Octopus',
    (_name, list) => {
      const versions = list.tags.map(parseVersion).filter((x): x is Version => x !== null);
      expect(versions.length).toBeGreaterThan(list.tags.length * 0.9);
      const sorted = [...versions].sort((a, b) => compareVersionTags(a, b, list.precedence));
      // Deterministic: any input order gives the same sorted list.
      const shuffled = [...versions].reverse().sort((a, b) => compareVersionTags(a, b, list.precedence));
      expect(shuffled.map((x) => x.original)).toEqual(sorted.map((x) => x.original));
      // Agrees with Octopus's precedence on every adjacent pair of the sorted list...
      const disagree: string[] = [];
      for (let i = 1; i < sorted.length; i++) {
        const [a, b] = [sorted[i - 1].original, sorted[i].original];
        if (octopusCompare(a, b, list.precedence) > 0) disagree.push(`${a} > ${b}`);
      }
      expect(disagree).toEqual([]);
      // ...and on random pairs, with antisymmetry and transitivity on random triples.
      const index = fc.nat({ max: versions.length - 1 });
      fc.assert(
        fc.property(index, index, index, (i, j, k) => {
          const [a, b, c] = [versions[i], versions[j], versions[k]];
          const ab = compareVersions(a, b, list.precedence);
          const [x, y, z] = [a.original, b.original, c.original];
          const octopus = octopusCompare(x, y, list.precedence);
          // A plain throw, not `expect` (which builds every matcher anew at each of these thousands of calls).
          if (sign(ab) !== octopus) throw new Error(`${x} vs ${y}: ${sign(ab)}, Octopus says ${octopus}`);
          if (
            sign(compareVersionTags(a, b, list.precedence)) +
              sign(compareVersionTags(b, a, list.precedence)) !==
            0
          )
            throw new Error(`tag order not antisymmetric: ${x}, ${y}`);
          if (
            compareVersionTags(a, b, list.precedence) <= 0 &&
            compareVersionTags(b, c, list.precedence) <= 0 &&
            compareVersionTags(a, c, list.precedence) > 0
          )
            throw new Error(`tag order not transitive: ${x} <= ${y} <= ${z}`);
        }),
        { numRuns: 2000 },
      );
    },
  );
});
