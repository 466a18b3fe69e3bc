import {
  decideRelease,
  isLaterTag,
  keepTakenAlong,
  movedPackages,
  ruleFor,
  stableHash,
  versionSetKey,
} from '../../src/domain/decision';
import { compileRule } from '../../src/domain/rule';
import { VersionRuleSchema } from '../../src/domain/rule-schema';
import { emptyPackageStatus, PackageStatus, ReleasedPackage } from '../../src/domain/trigger';
import { PackageRefSchema } from '../../src/domain/trigger-schema';
import { compareOrdered, compareRank, toOrderedValue } from '../../src/domain/order';

const rules = [
  VersionRuleSchema.parse({ packages: ['web'], range: '[1.0,2.0)' }),
  VersionRuleSchema.parse({ filter: '^main-(?<n>\\d+)$', extract: '$n', order: 'numerical' }),
];
const pkg = (name: string, tag: string, digest: string | null = null): ReleasedPackage => ({
  name,
  feed: 'reg.example',
  package: `shop/${name}`,
  tag,
  digest,
});

describe('decision', () => {
  test('ruleFor: the rule naming a package, else the general rule, else accept anything', () => {
    expect(ruleFor(rules, 'web')).toBe(rules[0]);
    expect(ruleFor(rules, 'worker')).toBe(rules[1]);
    expect(ruleFor([rules[0]], 'worker')).toEqual({});
  });

  test('later is by the rule order, not by text', () => {
    const numerical = compileRule(rules[1]);
    expect(isLaterTag(numerical, 'main-10', 'main-9')).toBe(true);
    expect(isLaterTag(numerical, 'main-9', 'main-10')).toBe(false);
    expect(isLaterTag(numerical, 'main-9', 'not-a-build')).toBe(true); // an unrankable previous tag is no bar
  });

  test('moved packages: later versions, first versions and new digests behind a tracked tag', () => {
    const previous = { packages: [pkg('web', '1.1.0'), pkg('worker', 'main-9')] };
    expect(
      movedPackages(rules, [pkg('web', '1.2.0'), pkg('worker', 'main-9')], previous, ['web', 'worker']),
    ).toEqual(['web 1.1.0 -> 1.2.0']);
    expect(movedPackages(rules, [pkg('web', '1.2.0')], previous, ['worker'])).toEqual([]);
    expect(movedPackages(rules, [pkg('web', '1.0.0')], null, ['web'])).toEqual(['web 1.0.0']);
    const tracked = [VersionRuleSchema.parse({ filter: '^stable$', trackDigest: true })];
    expect(
      movedPackages(
        tracked,
        [pkg('web', 'stable', 'sha256:b')],
        { packages: [pkg('web', 'stable', 'sha256:a')] },
        ['web'],
      ),
    ).toEqual(['web stable has a new digest sha256:b']);
  });

  test('a package taken along never goes back below the previous release, unless the rule now refuses that version', () => {
    const previous = { packages: [pkg('web', '1.1.0'), pkg('worker', 'main-9', 'sha256:9')] };
    // web is watched (1.2.0, later); worker was read at main-7, before the previous release took main-9.
    expect(keepTakenAlong(rules, [pkg('web', '1.2.0'), pkg('worker', 'main-7')], previous, ['web'])).toEqual({
      packages: [pkg('web', '1.2.0'), pkg('worker', 'main-9', 'sha256:9')],
      kept: ['worker main-9 (read main-7)'],
    });
    // Later or equal reads are kept as read; so is every watched package, and anything with no previous.
    for (const worker of ['main-10', 'main-9']) {
      const chosen = [pkg('web', '1.2.0'), pkg('worker', worker)];
      expect(keepTakenAlong(rules, chosen, previous, ['web'])).toEqual({ packages: chosen, kept: [] });
    }
    const watchedBack = [pkg('web', '1.0.0'), pkg('worker', 'main-7')];
    expect(keepTakenAlong(rules, watchedBack, previous, ['web', 'worker']).kept).toEqual([]);
    expect(keepTakenAlong(rules, watchedBack, null, ['web']).kept).toEqual([]);
    // web's rule now takes [1.0,2.0) only: a previous 2.1.0 (from before the change) is not carried.
    const before = { packages: [pkg('web', '2.1.0'), pkg('worker', 'main-9')] };
    expect(
      keepTakenAlong(rules, [pkg('web', '1.5.0'), pkg('worker', 'main-9')], before, ['worker']).kept,
    ).toEqual([]);
    // Another image under the same name (the package's path changed), or another precedence: as read.
    const moved = { packages: [pkg('web', '1.1.0'), { ...pkg('worker', 'main-9'), package: 'old/worker' }] };
    expect(
      keepTakenAlong(rules, [pkg('web', '1.2.0'), pkg('worker', 'main-7')], moved, ['web']).kept,
    ).toEqual([]);
    // Rules that need the registry (labels, age, signatures, platforms) decide only in a poll: as read.
    const aged = [
      rules[0],
      VersionRuleSchema.parse({
        filter: '^main-(?<n>\\d+)$',
        extract: '$n',
        order: 'numerical',
        minAgeMinutes: 5,
      }),
    ];
    expect(
      keepTakenAlong(aged, [pkg('web', '1.2.0'), pkg('worker', 'main-7')], previous, ['web']).kept,
    ).toEqual([]);
  });

  test('decideRelease holds every package at its latest version, or says why not', () => {
    const refs = ['web', 'worker'].map((n) =>
      PackageRefSchema.parse({ name: n, feed: 'reg.example', package: `shop/${n}` }),
    );
    const status = (tag: string | null): PackageStatus => ({
      ...emptyPackageStatus(refs[0]),
      latest: tag ? { tag, digest: null } : null,
    });
    expect(decideRelease(refs, rules, { web: status('1.0.0'), worker: status(null) }, null, ['web'])).toEqual(
      {
        kind: 'no-change',
        reason: "no version of worker passes the channel's rules yet",
      },
    );
    const first = decideRelease(refs, rules, { web: status('1.0.0'), worker: status('main-3') }, null, [
      'web',
    ]);
    expect(first).toEqual({
      kind: 'release',
      packages: [pkg('web', '1.0.0'), pkg('worker', 'main-3')],
      reason: 'first release: web 1.0.0',
    });
  });

  test('version set keys and hashes are stable whatever the package order', () => {
    const a = versionSetKey([pkg('web', '1.0.0'), pkg('worker', 'main-1')]);
    expect(versionSetKey([pkg('worker', 'main-1'), pkg('web', '1.0.0')])).toBe(a);
    expect(stableHash(a)).toMatch(/^[0-9a-f]{16}$/);
    expect(stableHash(a)).toBe(stableHash(a));
    expect(stableHash(a)).not.toBe(stableHash(`${a} `));
  });
});

describe('order', () => {
  test('numerical compares integers and decimals by value; alphabetical by text; semver by precedence', () => {
    const n = (v: string) => toOrderedValue('numerical', v, v)!;
    expect(compareRank('numerical', n('10'), n('9'))).toBe(1);
    expect(compareRank('numerical', n('1.5'), n('1.50'))).toBe(0);
    expect(compareRank('numerical', n('-2'), n('1'))).toBe(-1);
    expect(toOrderedValue('numerical', 'x', 'abc')).toBeNull();
    const a = (v: string) => toOrderedValue('alphabetical', v, v)!;
    expect(compareRank('alphabetical', a('2024-01-02'), a('2024-01-10'))).toBe(-1);
    const s = (v: string) => toOrderedValue('semver', v, v)!;
    expect(compareRank('semver', s('1.10.0'), s('1.9.0'))).toBe(1);
    expect(toOrderedValue('semver', 'x', 'not a version')).toBeNull();
  });

  test('ties on the ranked value are broken by the tag, so the order is total', () => {
    const x = toOrderedValue('numerical', 'build-007', '7')!;
    const y = toOrderedValue('numerical', 'build-7', '7')!;
    expect(compareRank('numerical', x, y)).toBe(0);
    expect(Math.sign(compareOrdered('numerical', x, y))).toBe(-1);
    expect(Math.sign(compareOrdered('numerical', y, x))).toBe(1);
  });
});
