import { readFileSync } from 'node:fs';
import path from 'node:path';

const pkg = JSON.parse(readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8')) as {
  engines: { node: string };
  dependencies: Record<string, string>;
};
const [major, minor] = process.versions.node.split('.').map(Number);

describe('the Node the tests run on', () => {
  test('is at or above the floor that package.json engines states (22.12)', () => {
    expect(pkg.engines.node).toBe('>=22.12');
    expect(major > 22 || (major === 22 && minor >= 12)).toBe(true);
  });

  test('is the Node that package.json pins when npm runs the tests', () => {
    // `npm test` puts node_modules/.bin (the `node` package's binary) first on PATH; jest run by hand may not.
    if (!process.env.npm_lifecycle_event) return;
    expect(pkg.dependencies.node).toMatch(/^24\.\d+\.\d+$/);
    expect(process.version).toBe(`v${pkg.dependencies.node}`);
  });
});
