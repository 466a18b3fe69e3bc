import { compileRule, evaluateRule, VersionRuleInput } from '../src/domain/rule';

/** Deterministic pseudo-random numbers, so every run measures the same tags. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Tags as real repositories hold them: semver, v-prefixed, suffixed, pre-releases, dates, shas, signatures. */
export function realisticTags(count: number, seed = 42): string[] {
  const rand = lcg(seed);
  const int = (n: number) => Math.floor(rand() * n);
  const hex = (n: number) => Array.from({ length: n }, () => '0123456789abcdef'[int(16)]).join('');
  const kinds: Array<() => string> = [
    () => `${int(5)}.${int(30)}.${int(50)}`,
    () => `v${int(5)}.${int(30)}.${int(50)}`,
    () => `${int(5)}.${int(30)}.${int(50)}-alpine${int(4)}.${int(20)}`,
    () => `${int(5)}.${int(30)}.${int(50)}-${['alpha', 'beta', 'rc'][int(3)]}.${int(10)}`,
    () =>
      `${2020 + int(6)}${String(1 + int(12)).padStart(2, '0')}${String(1 + int(28)).padStart(2, '0')}-${hex(7)}`,
    () => `main-${1_600_000_000 + int(100_000_000)}-${hex(7)}`,
    () => `sha-${hex(40)}`,
    () => `sha256-${hex(64)}.sig`,
    () => `${int(5)}.${int(30)}.${int(50)}.${int(100)}`,
    () => ['latest', 'stable', 'edge', 'nightly'][int(4)],
  ];
  return Array.from({ length: count }, () => kinds[int(kinds.length)]());
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function bench(name: string, rule: VersionRuleInput, tags: string[], runs: number): void {
  const compiled = compileRule(rule);
  evaluateRule(compiled, tags); // warm-up
  const times: number[] = [];
  let selected: string | null = null;
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    selected = evaluateRule(compiled, tags).selected;
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  process.stdout.write(
    `${name.padEnd(44)} ${String(tags.length).padStart(7)} tags  median ${median(times).toFixed(2).padStart(8)} ms  ` +
      `min ${Math.min(...times)
        .toFixed(2)
        .padStart(8)} ms  (${runs} runs, selected ${selected})\n`,
  );
}

const rules: Array<[string, VersionRuleInput]> = [
  ['no rule (semver, default excludes)', {}],
  ['range [1.0,3.0) + stable only', { range: '[1.0,3.0)', tag: '^$' }],
  ['npm range ^2.0.0', { range: '^2.0.0' }],
  [
    'filter main-(?<ts>\\d+) + numerical',
    { filter: '^main-(?<ts>\\d+)-', extract: '$ts', order: 'numerical' },
  ],
];
for (const size of [10_000, 100_000]) {
  const tags = realisticTags(size);
  for (const [name, rule] of rules) bench(name, rule, tags, size >= 100_000 ? 11 : 51);
}
