import { parse } from 'yaml';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readManifest } from '../../src/cli/apply';
import { UsageError } from '../../src/cli/usage';
import { ConfigError, loadConfig } from '../../src/config';
import { DeployFileError, editDeployFile } from '../../src/targets/git/deploy-file';
import { MAX_YAML_DEPTH, refuseDeepYaml, YamlTooDeepError } from '../../src/domain/yaml-depth';

/** YAML nested past MAX_YAML_DEPTH is refused by name before the (recursive) composer can overflow the stack. */
describe('refuseDeepYaml', () => {
  const nested = (levels: number) => ({
    flow: `${'['.repeat(levels)}${']'.repeat(levels)}`,
    'flow maps': `a: ${'{a: '.repeat(levels - 1)}1${'}'.repeat(levels - 1)}`,
    'compact sequences': `${'- '.repeat(levels)}x\n`,
    // Each level one space deeper: the text grows with the square of the depth.
    'indented maps': `${Array.from({ length: Math.min(levels, 3000) }, (_, i) => `${' '.repeat(i)}k:`).join('\n')} 1\n`,
  });

  // 100,000 `[` is the reported file; the other kinds overflow the composer long before 20,000.
  const deepest = { ...nested(20_000), flow: nested(100_000).flow };
  test.each(Object.entries(deepest).filter(([kind]) => kind !== 'indented maps'))(
    '%s nested 100,000 (20,000) deep: refused, not a stack overflow',
    (_kind, text) => {
      expect(() => refuseDeepYaml(text)).toThrow(YamlTooDeepError);
      expect(() => refuseDeepYaml(text)).toThrow(`nests collections deeper than ${MAX_YAML_DEPTH} levels`);
    },
  );

  // What the refusal spares: the parser overflows its stack on each kind at a tenth of those depths already
  // (on the reported file it spends over a second getting there).
  test.each(Object.entries(nested(10_000)).filter(([kind]) => kind !== 'indented maps'))(
    '%s nested 10,000 deep overflows the parser itself',
    (_kind, text) => {
      expect(() => parse(text)).toThrow(/Maximum call stack size exceeded/);
    },
  );

  test.each(Object.entries(nested(MAX_YAML_DEPTH + 1)))('%s one level too deep: refused', (_kind, text) => {
    expect(() => refuseDeepYaml(text)).toThrow(YamlTooDeepError);
  });

  test.each(Object.entries(nested(MAX_YAML_DEPTH)))('%s at the limit: parsed', (_kind, text) => {
    expect(() => refuseDeepYaml(text)).not.toThrow();
    expect(parse(text)).toBeDefined();
  });

  test('indentation deep enough to overflow the composer (3,000 levels) is refused', () => {
    const text = nested(3000)['indented maps'];
    expect(() => parse(text)).toThrow(/Maximum call stack size exceeded/);
    expect(() => refuseDeepYaml(text)).toThrow(YamlTooDeepError);
  });

  test('keys count too, and every document of a stream', () => {
    expect(() =>
      refuseDeepYaml(`? ${'['.repeat(MAX_YAML_DEPTH)}${']'.repeat(MAX_YAML_DEPTH)}\n: v\n`),
    ).toThrow(YamlTooDeepError);
    expect(() => refuseDeepYaml(`a: 1\n---\n${nested(MAX_YAML_DEPTH + 1).flow}\n`)).toThrow(YamlTooDeepError);
    // Explicit keys begun on one line, mixed with sequences: each indicator is a level.
    const keys = (levels: number) => `${'? - '.repeat(levels / 2)}x\n`;
    expect(() => refuseDeepYaml(keys(MAX_YAML_DEPTH))).not.toThrow();
    expect(() => refuseDeepYaml(keys(MAX_YAML_DEPTH + 2))).toThrow(YamlTooDeepError);
    expect(() => refuseDeepYaml(keys(100_000))).toThrow(YamlTooDeepError);
    // A flow collection that becomes a block map's key once its `:` comes: the map is a level too.
    const flowKey = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}: v\n`;
    expect(() => refuseDeepYaml(flowKey(MAX_YAML_DEPTH - 1))).not.toThrow();
    expect(() => refuseDeepYaml(flowKey(MAX_YAML_DEPTH))).toThrow(YamlTooDeepError);
  });

  test('nesting begun after a value indicator or a block scalar, or followed by many lines, is refused', () => {
    const compact = '- '.repeat(100_000);
    const texts = [
      `? x\n: ${compact}y\n`,
      `- |\n b\n- ${compact}y\n`,
      `? x\n: ${compact}y${'\n'.repeat(100_000)}`,
      `? x\n: ${compact}y${'\n#'.repeat(100_000)}`,
      `a:\n${Array.from({ length: 200 }, (_, i) => `${' '.repeat(i + 1)}k${i}:`).join('\n')} v${'\n'.repeat(100_000)}`,
    ];
    for (const text of texts) expect(() => refuseDeepYaml(text)).toThrow(YamlTooDeepError);
  });

  test('brackets and dashes in scalars and comments are text, however many; levels in separate places do not add up', () => {
    const many = '['.repeat(10 * MAX_YAML_DEPTH);
    const dashes = '- '.repeat(10 * MAX_YAML_DEPTH);
    const texts = [
      `a: "${many}"\n`,
      `a: '${many}'\n`,
      `a: x${many}\n`,
      `a: |\n  ${many}\n  ${many}\nb: [1]\n`,
      `# ${many}\na: 1\n`,
      `a: |\n  ${dashes}\n  ${dashes}\nb: c\n`,
      `a: "${dashes}"\n`,
      `# ${dashes}\n- - ${'-'.repeat(1000)}\n`,
      // Many short compact sequences, each on a line of its own, after a comment of brackets.
      `# ${many}\n${dashes.replace(/- /g, '- - x\n')}`,
      `# ${many}\n${Array.from({ length: 10 * MAX_YAML_DEPTH }, () => `- ${'['.repeat(MAX_YAML_DEPTH - 1)}${']'.repeat(MAX_YAML_DEPTH - 1)}`).join('\n')}\n`,
      // Shallow collections one after the other, in one document and over several.
      `a: [${'[1], '.repeat(10 * MAX_YAML_DEPTH)}[1]]\n`,
      Array.from({ length: 10 * MAX_YAML_DEPTH }, (_, i) => `k${i}: {a: [1]}`).join('\n'),
      Array.from(
        { length: 10 * MAX_YAML_DEPTH },
        () => `${'['.repeat(MAX_YAML_DEPTH)}${']'.repeat(MAX_YAML_DEPTH)}`,
      ).join('\n---\n'),
    ];
    for (const text of texts) expect(() => refuseDeepYaml(text)).not.toThrow();
    // Flow inside block nesting adds up: 60 block levels and 5 flow levels are one past the limit.
    const blocks = Array.from({ length: 60 }, (_, i) => `${'  '.repeat(i)}k:`).join('\n');
    expect(() => refuseDeepYaml(`${blocks} ${'['.repeat(5)}${']'.repeat(5)}\n`)).toThrow(YamlTooDeepError);
    expect(() => refuseDeepYaml(`${blocks} ${'['.repeat(4)}${']'.repeat(4)}\n`)).not.toThrow();
  });

  describe('every YAML input: a clear error naming the file, not "Maximum call stack size exceeded"', () => {
    const deep = nested(5_000).flow;
    // The unit project has no run folder of its own (no global setup): what is written here is removed here.
    const root = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-deep-'));
    afterAll(() => rmSync(root, { recursive: true, force: true }));
    const file = (text: string) => {
      const at = path.join(mkdtempSync(path.join(root, 'case-')), 'deep.yaml');
      writeFileSync(at, text);
      return at;
    };

    test('apply -f', async () => {
      const at = file(`projects:\n  - name: p\n    packages: ${deep}\n`);
      const failure = await readManifest(at).catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(UsageError);
      expect((failure as Error).message).toBe(
        `${at}: the YAML nests collections deeper than ${MAX_YAML_DEPTH} levels`,
      );
    });

    test('the configuration file', () => {
      const at = file(`feeds: ${deep}\n`);
      expect(() => loadConfig({ FEED_TRIGGERS_CONFIG: at })).toThrow(ConfigError);
      expect(() => loadConfig({ FEED_TRIGGERS_CONFIG: at })).toThrow(
        `${at}: the YAML nests collections deeper than ${MAX_YAML_DEPTH} levels`,
      );
    });

    test("a deploy repository's file", () => {
      const edit = {
        path: 'values.yaml',
        format: 'yaml',
        field: 'image.tag',
        use: 'tag',
        tag: '1.1.0',
        digest: null,
      } as const;
      expect(() => editDeployFile(`image:\n  tag: 1.0.0\nx: ${deep}\n`, edit)).toThrow(DeployFileError);
      expect(() => editDeployFile(`image:\n  tag: 1.0.0\nx: ${deep}\n`, edit)).toThrow(
        `values.yaml: the YAML nests collections deeper than ${MAX_YAML_DEPTH} levels`,
      );
    });

    // The library's pretty errors copied and scanned the line once per error: a line of thousands took seconds.
    test('a syntax error: the first one, placed by line and column, in the manifest and the configuration', async () => {
      for (const [text, error] of [
        [
          `projects:\n  - name: p\n${']'.repeat(4096)}\n`,
          'Unexpected flow-seq-end token in YAML stream: "]" at line 3, column 1',
        ],
        [
          `a: [1, 2\n`,
          'Flow sequence in block collection must be sufficiently indented and end with a ] at line 2, column 1',
        ],
      ]) {
        const at = file(text);
        const failure = await readManifest(at).catch((err: unknown) => err);
        expect([failure instanceof UsageError, (failure as Error).message]).toEqual([
          true,
          `${at}: ${error}`,
        ]);
        expect(() => loadConfig({ FEED_TRIGGERS_CONFIG: at })).toThrow(new ConfigError(`${at}: ${error}`));
      }
    });
  });
});
