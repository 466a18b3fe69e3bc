import type { OrderedValue } from '../../src/domain/order';
import { compileRule, evaluateRule } from '../../src/domain/rule';
import { compareVersions, compareVersionTags, parseVersion, preReleaseText } from '../../src/domain/version';

const v = (tag: string) => {
  const parsed = parseVersion(tag);
  if (!parsed) throw new Error(`${tag} did not parse`);
  return parsed;
};

describe('parseVersion', () => {
  test.each([
    ['1.2.3', '1', '2', '3', '0', '', ''],
    ['v1.2', '1', '2', '0', '0', '', ''],
    ['V10', '10', '0', '0', '0', '', ''],
    ['1.2.3.4', '1', '2', '3', '4', '', ''],
    ['1.2.3-beta.1', '1', '2', '3', '0', 'beta.1', ''],
    ['1.2.3_rc1', '1', '2', '3', '0', 'rc1', ''],
    ['1.2.3.alpine', '1', '2', '3', '0', 'alpine', ''],
    ['1.2-alpine3.19', '1', '2', '0', '0', 'alpine3.19', ''],
    ['1.0.0beta', '1', '0', '0', '0', 'beta', ''],
    ['1.0.0+build.5', '1', '0', '0', '0', '', 'build.5'],
    ['1.0.0-rc.1+sha.abc', '1', '0', '0', '0', 'rc.1', 'sha.abc'],
    ['007.01', '7', '1', '0', '0', '', ''],
    ['20240101123045', '20240101123045', '0', '0', '0', '', ''],
  ])(
    '%s has parts %s.%s.%s.%s, label "%s", metadata "%s"',
    (tag, major, minor, patch, revision, label, metadata) => {
      expect(v(tag)).toMatchObject({
        original: tag,
        major,
        minor,
        patch,
        revision,
        label,
        metadata,
        labelOnly: false,
      });
    },
  );

  // The examples table of Octopus's "Octopus versioning scheme" page for Docker tags.
  test.each([
    ['1.0', '1', '0', '', false],
    ['v1.0', '1', '0', '', false],
    ['V1.0', '1', '0', '', false],
    ['1.0-myfeature', '1', '0', 'myfeature', false],
    ['1.0myfeature', '1', '0', 'myfeature', false],
    ['myfeature', '0', '0', 'myfeature', true],
    ['latest', '0', '0', 'latest', true],
  ])('Octopus example %s: major %s, minor %s, pre-release "%s"', (tag, major, minor, label, labelOnly) => {
    expect(v(tag)).toMatchObject({ major, minor, patch: '0', revision: '0', label, labelOnly });
  });

  test('a tag without leading digits is 0.0.0.0 with the tag as its label', () => {
    expect(v('latest')).toMatchObject({
      major: '0',
      minor: '0',
      patch: '0',
      revision: '0',
      label: 'latest',
      labelOnly: true,
    });
  });

  test.each([
    '',
    'a'.repeat(129),
    '1.0.0 beta',
    'ünïcode',
    '1.0-',
    '1.0.0+',
    '.1.0',
    '-1',
    '1.0.0/x',
    '1.0.0+a+b',
  ])('%j is not a version', (tag) => {
    expect(parseVersion(tag)).toBeNull();
  });

  test('the pre-release text includes metadata, as Octopus tests it', () => {
    expect(preReleaseText(v('1.0.0'))).toBe('');
    expect(preReleaseText(v('1.0.0-beta'))).toBe('beta');
    expect(preReleaseText(v('1.0.0+meta'))).toBe('+meta');
    expect(preReleaseText(v('1.0.0-beta+meta'))).toBe('beta+meta');
  });
});

describe('compareVersions', () => {
  const ordered = [
    '0.0.0.0-latest',
    '0.9',
    '1.0.0-alpha',
    '1.0.0-alpha.1',
    '1.0.0-alpha.beta',
    '1.0.0-beta',
    '1.0.0-beta.2',
    '1.0.0-beta.11',
    '1.0.0-rc.1',
    '1.0.0',
    '1.0.0.1',
    '1.0.1',
    '1.2',
    '1.10',
    '2',
    '99999999999999999999',
  ];
  test('orders by SemVer 2.0 precedence extended with the revision part', () => {
    const shuffled = [...ordered].reverse();
    shuffled.sort((a, b) => compareVersions(v(a), v(b)));
    expect(shuffled).toEqual(ordered);
  });

  test('ignores metadata, the v prefix and missing parts for precedence', () => {
    expect(compareVersions(v('1.0.0+a'), v('1.0.0+b'))).toBe(0);
    expect(compareVersions(v('v1.0'), v('1.0.0'))).toBe(0);
    expect(compareVersions(v('1.0.0.0'), v('1'))).toBe(0);
  });

  test('a pre-release sorts below its release', () => {
    expect(compareVersions(v('2.0.0-rc.1'), v('2.0.0'))).toBeLessThan(0);
    expect(compareVersions(v('2.0.0'), v('2.0.0-rc.1'))).toBeGreaterThan(0);
  });
});

describe('versions equal but for build metadata, as Helm ranks them', () => {
  test('1.3.1+build.10 is picked over 1.3.1+build.9, and neither is later than the other', () => {
    const rule = compileRule({}, 'semver');
    expect(evaluateRule(rule, ['1.3.1+build.9', '1.3.1+build.10']).selected).toBe('1.3.1+build.10');
    expect(evaluateRule(rule, ['1.3.1+build.10', '1.3.1+build.9']).selected).toBe('1.3.1+build.10');
    const [a, b] = ['1.3.1+build.10', '1.3.1+build.9'].map((t) => rule.check(t) as OrderedValue);
    expect(rule.isLater(a, b)).toBe(false);
  });

  test('metadata identifiers compare numbers as numbers, below words; more identifiers rank higher', () => {
    const sorted = ['1.0.0+2', '1.0.0+10', '1.0.0+abc', '1.0.0', '1.0.0+10.1', '1.0.0+b.2', '1.0.0+b.11'];
    sorted.sort((a, b) => compareVersionTags(v(a), v(b)));
    expect(sorted).toEqual([
      '1.0.0',
      '1.0.0+2',
      '1.0.0+10',
      '1.0.0+10.1',
      '1.0.0+abc',
      '1.0.0+b.2',
      '1.0.0+b.11',
    ]);
  });

  test('the text order (before) is still there for replays: +build.9 first', () => {
    const rule = compileRule({}, 'semver', 'text');
    expect(evaluateRule(rule, ['1.3.1+build.10', '1.3.1+build.9']).selected).toBe('1.3.1+build.9');
  });
});
