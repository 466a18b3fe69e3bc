import { compileRule, evaluateRule, VersionRuleInput } from '../../src/domain/rule';
import { VersionRuleSchema } from '../../src/domain/rule-schema';

const run = (rule: VersionRuleInput, tags: string[]) => {
  const e = evaluateRule(compileRule(rule), tags);
  return { selected: e.selected, accepted: e.accepted.map((a) => a.tag), rejected: e.rejected };
};

describe('version rules', () => {
  test('with no rule, every version passes and the highest is selected', () => {
    expect(run({}, ['1.0.0', 'latest', '1.10.0', '1.9.0', 'v1.2.0'])).toEqual({
      selected: '1.10.0',
      accepted: ['1.10.0', '1.9.0', 'v1.2.0', '1.0.0', 'latest'],
      rejected: [],
    });
  });

  test.each([
    // Octopus's documented pre-release tag regexes.
    ['^$', ['1.0.0', '1.1.0-beta', '1.1.0+meta'], ['1.0.0']],
    ['^(|\\+.*)$', ['1.0.0', '1.1.0-beta', '1.1.0+meta'], ['1.1.0+meta', '1.0.0']],
    ['beta', ['1.0.0', '1.1.0-beta.1', '1.2.0-alpha', '1.3.0-prebeta'], ['1.3.0-prebeta', '1.1.0-beta.1']],
    ['^beta', ['1.1.0-beta.1', '1.3.0-prebeta'], ['1.1.0-beta.1']],
    ['^(alpha|rc)\\b', ['1.0.0', '1.1.0-beta', '1.2.0-rc.1'], ['1.2.0-rc.1']],
    ['.*', ['1.0.0', '1.1.0-beta'], ['1.1.0-beta', '1.0.0']],
  ])('pre-release tag %j', (tag, tags, accepted) => {
    const result = run({ tag }, tags);
    expect(result.accepted).toEqual(accepted);
    for (const r of result.rejected) expect(r.reason).toBe('pre-release tag does not match');
  });

  test('a range and a pre-release regex together give reasons for each rejection', () => {
    expect(
      run({ range: '[1.0,2.0)', tag: '^$' }, ['0.9.0', '1.2.0', '1.5.0-rc.1', '2.0.0', 'v1.4.2', 'latest']),
    ).toEqual({
      selected: 'v1.4.2',
      accepted: ['v1.4.2', '1.2.0'],
      rejected: [
        { tag: '0.9.0', reason: 'out of range' },
        { tag: '1.5.0-rc.1', reason: 'pre-release tag does not match' },
        { tag: '2.0.0', reason: 'out of range' },
        { tag: 'latest', reason: 'out of range' },
      ],
    });
  });

  test('drops signature, attestation and SBOM tags and digests by default', () => {
    const tags = ['1.0.0', 'sha256-0123abcd.sig', 'sha256-0123abcd.att', '1.0.0.sbom', 'sha256-deadbeef'];
    expect(run({}, tags).rejected).toEqual([
      { tag: 'sha256-0123abcd.sig', reason: 'excluded' },
      { tag: 'sha256-0123abcd.att', reason: 'excluded' },
      { tag: '1.0.0.sbom', reason: 'excluded' },
      { tag: 'sha256-deadbeef', reason: 'excluded' },
    ]);
    expect(run({ defaultExcludes: false }, tags).rejected).toEqual([]);
    expect(run({ exclude: ['-debug$'] }, ['1.0.0-debug', '1.0.0.sig', '0.9.0']).accepted).toEqual(['0.9.0']);
  });

  test('filter and extract order timestamped tags numerically', () => {
    const tags = [
      'main-1700000000-abc',
      'main-1699999999-def',
      'main-999-old',
      'feature-1800000000-x',
      'latest',
    ];
    const result = run({ filter: '^main-(?<ts>\\d+)-', extract: '$ts', order: 'numerical' }, tags);
    expect(result.accepted).toEqual(['main-1700000000-abc', 'main-1699999999-def', 'main-999-old']);
    expect(result.rejected).toEqual([
      { tag: 'feature-1800000000-x', reason: 'filtered out' },
      { tag: 'latest', reason: 'filtered out' },
    ]);
    expect(run({ filter: '^main-(\\d+)-', extract: '${1}', order: 'numerical' }, tags).selected).toBe(
      'main-1700000000-abc',
    );
  });

  test('alphabetical order ranks dates in RFC 3339 form; semver order applies to extracted versions', () => {
    const dated = ['build-2024-03-01', 'build-2024-12-24', 'build-2023-12-31'];
    expect(run({ filter: '^build-(?<d>.+)$', extract: '$d', order: 'alphabetical' }, dated).selected).toBe(
      'build-2024-12-24',
    );
    const prefixed = ['app-v1.9.0', 'app-v1.10.0', 'app-weird', 'other-v9.0.0'];
    const r = run({ filter: '^app-(?<v>.+)$', extract: '$v', range: '^1.0.0' }, prefixed);
    expect(r.selected).toBe('app-v1.10.0');
    expect(r.rejected).toContainEqual({ tag: 'other-v9.0.0', reason: 'filtered out' });
  });

  test('numerical order refuses values that are not numbers as "not a version"', () => {
    expect(run({ order: 'numerical' }, ['10', '9', '1.5', 'abc']).rejected).toEqual([
      { tag: 'abc', reason: 'not a version' },
    ]);
    expect(run({ order: 'numerical' }, ['10', '9', '10.5', '010']).accepted).toEqual([
      '10.5',
      '10',
      '010',
      '9',
    ]);
  });

  test('over-long tags and characters no registry allows are "not a version", never a crash', () => {
    const result = run({}, ['1.0.0', `1.${'0'.repeat(200)}`, '1.0.0 beta', 'résumé', '1.0.0\u0000']);
    expect(result.accepted).toEqual(['1.0.0']);
    expect(result.rejected.every((r) => r.reason === 'not a version')).toBe(true);
  });

  test.each([
    [{ tag: 'a(?!beta).+' }, 'tag', /lookaround .* is not supported/],
    [{ filter: '(x*)\\1y' }, 'filter', /backreferences .* are not supported/],
    [{ exclude: ['(?<=a)b'] }, 'exclude', /lookaround/],
    [{ labels: { 'org.opencontainers.image.source': '(a)\\1' } }, 'labels', /backreferences/],
    [{ tag: '([' }, 'tag', /not a valid RE2 regex/],
    [{ extract: '$ts' }, 'extract', /needs a filter/],
    [{ filter: '^(?<a>\\d+)$', extract: '$b' }, 'extract', /groups the filter lacks: b/],
    [{ order: 'numerical', range: '[1,2)' }, 'range', /needs order semver/],
    [{ range: '[2,1]' }, 'range', /empty/],
  ])('refuses %j, naming %s', (rule, field, message) => {
    const parsed = VersionRuleSchema.safeParse(rule);
    expect(parsed.success).toBe(false);
    const issue = parsed.error!.issues[0];
    expect(issue.path[0]).toBe(field);
    expect(issue.message).toMatch(message);
  });
});
