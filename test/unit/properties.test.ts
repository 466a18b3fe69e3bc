import fc from 'fast-check';
import { parseRange } from '../../src/domain/range';
import { compileRule, evaluateRule } from '../../src/domain/rule';
import { compareVersions, compareVersionTags, parseVersion, Version } from '../../src/domain/version';

const number = fc.oneof(
  fc.integer({ min: 0, max: 30 }).map(String),
  fc.constantFrom('0', '00', '007', '20240101123045', '99999999999999999999'),
);
const identifier = fc.oneof(
  fc.constantFrom('alpha', 'beta', 'rc', 'latest', 'x', 'SNAPSHOT'),
  fc.integer({ min: 0, max: 20 }).map(String),
);
const label = fc.array(identifier, { minLength: 1, maxLength: 3 }).map((ids) => ids.join('.'));
/** Tags in the shapes registries hold: numeric parts, optional v, labels and metadata, or labels alone. */
const versionTag = fc.oneof(
  fc
    .tuple(
      fc.constantFrom('', 'v', 'V'),
      fc.array(number, { minLength: 1, maxLength: 4 }),
      fc.option(fc.tuple(fc.constantFrom('-', '.', '_', ''), label), { nil: undefined }),
      fc.option(fc.constantFrom('build.1', 'sha.abc', '2'), { nil: undefined }),
    )
    .map(([prefix, parts, pre, meta]) => {
      let tag = prefix + parts.join('.');
      if (pre) tag += pre[0] === '' && /^\d/.test(pre[1]) ? `-${pre[1]}` : pre[0] + pre[1];
      if (meta) tag += `+${meta}`;
      return tag;
    }),
  label.filter((l) => /^[A-Za-z]/.test(l)),
);
const version = versionTag.map((t) => parseVersion(t)).filter((v): v is Version => v !== null);
const sign = (n: number) => (n > 0 ? 1 : n < 0 ? -1 : 0);
/**
 * A property's check: thousands of runs each, so a plain throw (fast-check shrinks and reports the input)
 * rather than `expect`, which builds every matcher anew at each call and costs more than the property.
 */
function holds(condition: boolean, what: string): void {
  if (!condition) throw new Error(what);
}

describe('properties', () => {
  test('parseVersion never throws, on any string', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), versionTag), (s) => {
        const v = parseVersion(s);
        holds(v === null || v.original === s, `parseVersion(${JSON.stringify(s)}) kept ${v?.original}`);
      }),
      { numRuns: 2000 },
    );
  });

  test('generated version-shaped tags parse', () => {
    fc.assert(
      fc.property(versionTag, (t) => parseVersion(t) !== null),
      { numRuns: 1000 },
    );
  });

  test('the tag order is total: antisymmetric, transitive, and zero only for the same tag', () => {
    fc.assert(
      fc.property(version, version, version, (a, b, c) => {
        const [x, y, z] = [a.original, b.original, c.original];
        holds(
          sign(compareVersionTags(a, b)) === -sign(compareVersionTags(b, a)),
          `tag order not antisymmetric: ${x}, ${y}`,
        );
        if (compareVersionTags(a, b) <= 0 && compareVersionTags(b, c) <= 0)
          holds(compareVersionTags(a, c) <= 0, `tag order not transitive: ${x} <= ${y} <= ${z}`);
        if (compareVersionTags(a, b) === 0) holds(x === y, `different tags ordered equal: ${x}, ${y}`);
        // precedence is also antisymmetric and transitive
        holds(
          sign(compareVersions(a, b)) === -sign(compareVersions(b, a)),
          `precedence not antisymmetric: ${x}, ${y}`,
        );
        if (compareVersions(a, b) <= 0 && compareVersions(b, c) <= 0)
          holds(compareVersions(a, c) <= 0, `precedence not transitive: ${x} <= ${y} <= ${z}`);
      }),
      { numRuns: 3000 },
    );
  });

  test('interval membership agrees with comparison', () => {
    const numeric = version.filter((v) => !v.labelOnly && v.metadata === '');
    fc.assert(
      fc.property(numeric, numeric, version, fc.boolean(), fc.boolean(), (lo, hi, x, loIn, hiIn) => {
        fc.pre(compareVersions(lo, hi) < 0);
        const text = `${loIn ? '[' : '('}${lo.original},${hi.original}${hiIn ? ']' : ')'}`;
        const range = parseRange(text);
        const above = loIn ? compareVersions(x, lo) >= 0 : compareVersions(x, lo) > 0;
        const below = hiIn ? compareVersions(x, hi) <= 0 : compareVersions(x, hi) < 0;
        holds(range.includes(x) === (above && below), `${text} includes ${x.original}: ${range.includes(x)}`);
        // A bare version means "at least"; `1.x.0`-like text is an npm x-range instead.
        if (!/[xX]/.test(lo.original))
          holds(
            parseRange(lo.original).includes(x) === compareVersions(x, lo) >= 0,
            `${lo.original} includes ${x.original}: ${parseRange(lo.original).includes(x)}`,
          );
      }),
      { numRuns: 3000 },
    );
  });

  test('rule evaluation never throws, and partitions the tags', () => {
    const rules = [
      {},
      { range: '[1.0,2.0)', tag: '^$' },
      { range: '^1.2 || >=3' },
      { filter: '^v?(?<n>\\d+)', extract: '$n', order: 'numerical' as const },
      { order: 'alphabetical' as const, exclude: ['^x'] },
    ];
    fc.assert(
      fc.property(
        fc.array(fc.oneof(versionTag, fc.string({ maxLength: 200 })), { maxLength: 50 }),
        fc.constantFrom(...rules),
        (tags, rule) => {
          const e = evaluateRule(compileRule(rule), tags);
          holds(e.accepted.length + e.rejected.length === tags.length, 'accepted and rejected lose tags');
          holds(
            e.selected === (e.accepted[0]?.tag ?? null),
            `selected ${e.selected}, not the first accepted`,
          );
        },
      ),
      { numRuns: 1000 },
    );
  });
});
