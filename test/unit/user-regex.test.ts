import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { compileRule, evaluateRule } from '../../src/domain/rule';
import { VersionRuleSchema } from '../../src/domain/rule-schema';
import { compileUserRegex, InvalidRegexError } from '../../src/domain/user-regex';

/** Patterns from the hostile-input report: each backtracks catastrophically on V8. */
const CATASTROPHIC = ['([a-z]|[a-z0-9])*!', '(a|aa)*b', 'a*a*a*a*a*b', '(\\w|\\d)*$', '(a+)+$', '(.*a){20}'];

describe('user regexes (RE2 semantics)', () => {
  it.each(CATASTROPHIC)('runs %s over a hostile 128-character tag in linear time', (source) => {
    const re = compileUserRegex(source, 'exclusion regex');
    const started = process.hrtime.bigint();
    re.test('a'.repeat(128));
    re.test('a'.repeat(127) + '!');
    // V8 takes minutes on some of these; RE2 takes microseconds. A generous bound keeps this stable.
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(500);
  });

  it('refuses backreferences, naming the field and the construct', () => {
    expect(() => compileUserRegex('(a*)\\1b', 'exclusion regex')).toThrow(
      /exclusion regex "\(a\*\)\\1b": backreferences \(\\1\) are not supported/,
    );
  });

  it.each(['(?=a)b', '(?!a)b', '(?<=a)b', '(?<!a)b'])('refuses lookaround %s', (source) => {
    expect(() => compileUserRegex(source, 'filter regex')).toThrow(/filter regex .*lookaround/);
  });

  it('reports a syntax error as InvalidRegexError', () => {
    expect(() => compileUserRegex('(unclosed', 'tag')).toThrow(InvalidRegexError);
    expect(() => compileUserRegex('(unclosed', 'tag')).toThrow(/not a valid RE2 regex: missing closing \)/);
  });

  it('keeps named groups for extract', () => {
    const rule = compileRule({ filter: '^main-(?<ts>\\d+)-[a-f0-9]+$', extract: '$ts', order: 'numerical' });
    expect(evaluateRule(rule, ['main-9-abc', 'main-10-def', 'feature-99-aaa']).selected).toBe('main-10-def');
    const numbered = compileRule({ filter: '^v(\\d+)\\.(\\d+)$', extract: '$2', order: 'numerical' });
    expect(evaluateRule(numbered, ['v1.9', 'v2.3', 'v0.12']).selected).toBe('v0.12');
  });

  it('refuses an invalid filter with extract as a validation error, not a crash', () => {
    const parsed = VersionRuleSchema.safeParse({ filter: '(?<ts>\\d+', extract: '$ts' });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues.map((i) => i.path.join('.'))).toEqual(['filter']);
  });

  it('a rule with a catastrophic exclude evaluates a 32-a tag quickly', () => {
    const rule = compileRule({ exclude: ['(a|aa)*b$'] });
    const started = Date.now();
    const out = evaluateRule(rule, ['a'.repeat(32), '1.0.0', 'a'.repeat(30) + 'b']);
    expect(Date.now() - started).toBeLessThan(500);
    expect(out.rejected).toEqual([{ tag: 'a'.repeat(30) + 'b', reason: 'excluded' }]);
    expect(out.selected).toBe('1.0.0');
  });
});

describe('no user regex reaches V8', () => {
  const root = path.resolve(__dirname, '../..');
  const files = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const full = path.join(dir, name);
      return statSync(full).isDirectory() ? files(full) : full.endsWith('.ts') ? [full] : [];
    });

  it('no production code builds a RegExp from a string', () => {
    const offenders = ['src', 'workflows', 'activities']
      .flatMap((d) => files(path.join(root, d)))
      .filter((f) => /\bRegExp\s*\(/.test(readFileSync(f, 'utf8')))
      .map((f) => path.relative(root, f));
    expect(offenders).toEqual([]);
  });
});

describe("Octopus's documented pre-release tag regexes (leading negative lookahead)", () => {
  // The examples of Octopus's channel documentation (releases/channels, "Design the version rules"), with
  // the pre-release text (label+metadata) each should accept.
  const OCTOPUS: ReadonlyArray<readonly [string, string[], string[]]> = [
    ['^[^\\+].*', ['beta', 'rc.1', 'alpha+build'], ['', '+build']],
    ['^(|\\+.*)$', ['', '+build.5'], ['beta', 'rc+x']],
    ['^$', [''], ['beta', '+meta']],
    ['^beta', ['beta', 'beta0003'], ['mybeta', '']],
    ['beta', ['beta', 'mybeta'], ['alpha', '']],
    ['^(?!beta).+', ['alpha', 'feature-x', 'mybeta', 'alpha+beta'], ['beta', 'beta0003', '']],
    ['^bugfix-', ['bugfix-syscrash'], ['hotfix-1', '']],
    [
      '^(?!latest\\b).+$|^$',
      ['', 'alpha', 'latestish', 'feature-latest'],
      ['latest', 'latest-1', 'latest.2'],
    ],
  ];
  it.each(OCTOPUS)('%s is accepted and matches as Octopus (.NET) does', (source, yes, no) => {
    const re = compileUserRegex(source, 'pre-release tag regex');
    for (const s of yes) expect([s, re.test(s)]).toEqual([s, true]);
    for (const s of no) expect([s, re.test(s)]).toEqual([s, false]);
  });

  it('a channel rule with ^(?!beta).+ selects the newest non-beta pre-release', () => {
    const rule = compileRule({ tag: '^(?!beta).+' });
    const out = evaluateRule(rule, ['1.0.0', '1.1.0-beta.1', '1.0.5-alpha.2', '1.0.9-rc.1']);
    expect(out.selected).toBe('1.0.9-rc.1');
    expect(out.rejected.map((r) => r.tag)).toEqual(['1.0.0', '1.1.0-beta.1']);
  });

  it('keeps capture groups and names of the rest for extract', () => {
    const rule = compileRule({
      filter: '^(?!dev-)(?<branch>[a-z]+)-(?<build>\\d+)$',
      extract: '$build',
      order: 'numerical',
    });
    expect(evaluateRule(rule, ['main-9', 'main-10', 'dev-99', 'main-x']).selected).toBe('main-10');
    const re = compileUserRegex('^(?!dev-)([a-z]+)-(\\d+)$|^(v)(\\d+)$');
    expect(re.groupCount).toBe(4);
    expect(re.exec('main-7')?.group(2)).toBe('7');
    expect(re.exec('v3')?.group(4)).toBe('3');
    expect(re.exec('dev-7')).toBeNull();
  });

  it('a lookahead with flags, classes and escapes in it', () => {
    const re = compileUserRegex('(?i)^(?!(?:beta|rc)[.)\\]])\\w');
    expect(re.test('BETA.1')).toBe(false);
    expect(re.test('Rc]2')).toBe(false);
    expect(re.test('betax')).toBe(true);
  });

  it.each([
    ['nested', '^(?!(?!a)b).+'],
    ['not at the start', '^a(?!b).*'],
    ['after a group', '^(a)(?!b)'],
    ['without ^', '(?!beta).+'],
    ['without ^ in a later alternative', '^x|(?!beta).+'],
    ['positive', '^(?=beta).+'],
    ['behind', '^(?<!beta).+'],
    ['inside a group', '^(?:(?!beta).+)'],
    ['a capture inside', '^(?!(beta)).+'],
    ['a flag group mid-pattern', '^(?!beta)a|(?i)b'],
    ['five of them', '^(?!a)x|^(?!b)x|^(?!c)x|^(?!d)x|^(?!e)x'],
    // V8 lets a lookahead match zero times ("abc" matches ^(?!a)?.+): it guards nothing there.
    ['quantified ?', '^(?!a)?.+'],
    ['quantified *', '^(?!a)*.+'],
    ['quantified {0}', '^(?!a){0}.+'],
    // With m, ^ matches after a newline too, where V8 checks the lookahead again ("beta\nx" matches).
    ['multi-line', '(?m)^(?!beta).+'],
  ])('other lookaround is still refused with the same message: %s', (_what, source) => {
    expect(() => compileUserRegex(source, 'pre-release tag regex')).toThrow(
      /pre-release tag regex .*lookaround \(\(\?=, \(\?!, \(\?<=, \(\?<!\) is not supported; user regexes use RE2 syntax/,
    );
  });

  it('runs in linear time over hostile input', () => {
    const re = compileUserRegex('^(?!(?:a|aa)*b)(a|aa)*c$|^(?!(?:a*)*!)x');
    const started = process.hrtime.bigint();
    for (let i = 0; i < 100; i++) re.test('a'.repeat(127) + '!');
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(2000);
  });
});

describe('leading negative lookaheads match as V8 does (property)', () => {
  // Safe shapes only: V8 runs them here as the reference, on short inputs.
  const atom = fc.oneof(
    fc
      .tuple(
        fc.constantFrom('a', 'b', '-', '\\.', '.', '[ab]', '[^a]', '\\d', '\\w', '(?:ab|a)', '(?:a|b)'),
        fc.constantFrom('', '', '*', '+', '?'),
      )
      .map(([a, q]) => a + q),
    fc.constantFrom('\\b', '$'),
  );
  const seq = (min: number) => fc.array(atom, { minLength: min, maxLength: 4 }).map((xs) => xs.join(''));
  const alternative = fc.oneof(
    fc.tuple(seq(1), seq(0)).map(([guard, rest]) => `^(?!${guard})${rest}`),
    fc.tuple(seq(1), seq(0)).map(([guard, rest]) => `^(?!${guard})(${rest})`),
    seq(0).map((rest) => `^${rest}`),
    seq(1),
  );
  const pattern = fc
    .array(alternative, { minLength: 1, maxLength: 3 })
    .filter((alts) => alts.some((a) => a.startsWith('^(?!')))
    .map((alts) => alts.join('|'));
  const input = fc.array(fc.constantFrom('a', 'b', '-', '.', '1'), { maxLength: 8 }).map((cs) => cs.join(''));

  it('test, the match and its groups agree with RegExp', () => {
    fc.assert(
      fc.property(pattern, fc.array(input, { minLength: 1, maxLength: 10 }), (source, inputs) => {
        const ours = compileUserRegex(source);
        const v8 = new RegExp(source);
        for (const s of inputs) {
          const expected = v8.exec(s);
          const actual = ours.exec(s);
          expect([source, s, ours.test(s)]).toEqual([source, s, expected !== null]);
          if (expected === null) continue;
          expect([source, s, actual?.index, actual?.group(0)]).toEqual([
            source,
            s,
            expected.index,
            expected[0],
          ]);
          for (let g = 1; g < expected.length; g++)
            expect([source, s, g, actual?.group(g)]).toEqual([source, s, g, expected[g]]);
        }
      }),
      { numRuns: 500 },
    );
  });
});
