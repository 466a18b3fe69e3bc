import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const CHECK = path.resolve(__dirname, '../../bin/import-cycles.js');
const check = (root?: string) =>
  spawnSync(process.execPath, root ? [CHECK, root] : [CHECK], { encoding: 'utf8' });

test('the project imports no module in a circle (npm run lint runs the same check)', () => {
  const result = check();
  expect(result.stdout).toMatch(/ 0 import circle\(s\)\n$/);
  expect(result.status).toBe(0);
});

describe('the import circle check', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'import-cycles-'));
    mkdirSync(path.join(root, 'src', 'room'), { recursive: true });
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));
  const write = (file: string, text: string) => writeFileSync(path.join(root, file), text);

  test('names the files of a circle, type-only imports and index files included', () => {
    write('src/a.ts', "import type { B } from './room';\nexport type A = B;\n");
    write('src/room/index.ts', "export { c } from './c';\nexport type B = string;\n");
    write('src/room/c.ts', "import type { A } from '../a';\nexport const c = (a: A) => a;\n");
    write('src/d.ts', "import { c } from './room/c';\nexport const d = c;\n");
    const result = check(root);
    expect(result.stdout).toContain('import circle: src/a.ts <-> src/room/c.ts <-> src/room/index.ts\n');
    expect(result.stdout).toMatch(/4 modules, 1 import circle\(s\)/);
    expect(result.status).toBe(1);
  });

  test('leaves a lazy import() and packages alone', () => {
    write(
      'src/a.ts',
      "import { z } from 'zod';\nexport const a = () => import('./b');\nexport const s = z;\n",
    );
    write('src/b.ts', "import { a } from './a';\nexport const b = a;\n");
    const result = check(root);
    expect(result.stdout).toBe('2 modules, 0 import circle(s)\n');
    expect(result.status).toBe(0);
  });
});
