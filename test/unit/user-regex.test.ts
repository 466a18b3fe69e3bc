import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
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
