import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const script = path.resolve(__dirname, '../../bin/prune-dist.js');

test('the outputs of deleted sources leave dist; outputs with a source, and what tsc does not build, stay', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'prune-dist-'));
  try {
    const put = (file: string) => {
      mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
      writeFileSync(path.join(root, file), '');
    };
    // src/config.ts became src/config/index.ts; src/gone.ts was deleted; page.tsx is TSX.
    for (const source of ['src/config/index.ts', 'src/page.tsx', 'workflows/trigger.ts']) put(source);
    const kept = [
      'dist/src/config/index.js',
      'dist/src/config/index.js.map',
      'dist/src/page.js',
      'dist/workflows/trigger.js',
      'dist/workflows/trigger.d.ts',
      'dist/web/main-ABC.js',
      'dist/workflow-bundles/0123.js',
      'dist/build.tsbuildinfo',
    ];
    const stale = [
      'dist/src/config.js',
      'dist/src/config.js.map',
      'dist/src/config.d.ts',
      'dist/src/gone.js',
      'dist/activities/old/deliver.js',
    ];
    for (const file of [...kept, ...stale]) put(file);
    const out = execFileSync(process.execPath, [script, root], { encoding: 'utf8' });
    expect(out).toBe('prune-dist: removed 5 output(s) of deleted sources\n');
    expect(kept.filter((f) => !existsSync(path.join(root, f)))).toEqual([]);
    expect(stale.filter((f) => existsSync(path.join(root, f)))).toEqual([]);
    // A folder left empty goes too, so Node cannot resolve a directory import into it.
    expect(existsSync(path.join(root, 'dist/activities/old'))).toBe(false);
    // Nothing more to remove: silent.
    expect(execFileSync(process.execPath, [script, root], { encoding: 'utf8' })).toBe('');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
