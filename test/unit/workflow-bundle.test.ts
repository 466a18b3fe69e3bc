import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { workflowBundleKey } from '../../src/runtime/workflow-bundle';

describe('the workflow bundle cache', () => {
  let root: string;
  const write = (file: string, text: string) => {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), text);
  };

  beforeAll(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-bundle-key-'));
    write('workflows/index.js', 'exports.trigger = 1;');
    write('src/domain/rule.js', 'exports.rule = 1;');
    write('scripts/bench.js', 'bench');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  test('its key follows the compiled code the workflows are bundled from, and nothing else', () => {
    const key = workflowBundleKey(root);
    expect(workflowBundleKey(root)).toBe(key);
    write('scripts/bench.js', 'another bench');
    write('src/domain/rule.d.ts', 'export declare const rule: number;');
    expect(workflowBundleKey(root)).toBe(key);

    write('src/domain/rule.js', 'exports.rule = 2;');
    const changed = workflowBundleKey(root);
    expect(changed).not.toBe(key);
    write('src/domain/rule.js', 'exports.rule = 1;');
    expect(workflowBundleKey(root)).toBe(key);

    write('workflows/lifecycle.js', 'exports.lifecycle = 1;');
    expect(workflowBundleKey(root)).not.toBe(key);
    expect(workflowBundleKey(root)).not.toBe(changed);
  });

  test("the service's bundle is made once, found again by its key, and preloads the workflow modules", () => {
    const dist = path.resolve(__dirname, '../../dist');
    const bundle = () =>
      execFileSync(process.execPath, [path.join(dist, 'src/runtime/bundle-workflows.js')], {
        encoding: 'utf8',
      }).trim();
    const first = bundle();
    expect(path.basename(first)).toBe(`${workflowBundleKey(dist)}.js`);
    const madeAt = statSync(first).mtimeMs;
    expect(bundle()).toBe(first);
    expect(statSync(first).mtimeMs).toBe(madeAt);
    // Worker.create would drop preloadModules given beside workflowsPath: the bundle must carry them.
    expect(readFileSync(first, 'utf8')).toMatch(
      /exports\.preloadModules = function preloadModules\(\) \{\s*__webpack_require__\([^)]*workflows\/index\.js/,
    );
  });
});
