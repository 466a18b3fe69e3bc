import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ManifestSchema } from '../../src/cli/apply';

/** The README's declarative example must stay a file `apply` accepts. */
test('the README example file is a valid manifest', () => {
  const readme = readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');
  const block = /```yaml\n(projects:[\s\S]*?)```/.exec(readme);
  expect(block).not.toBeNull();
  const parsed = ManifestSchema.safeParse(parseYaml(block![1]));
  expect(parsed.success ? [] : parsed.error.issues).toEqual([]);
  const shop = parsed.data!.projects[0];
  expect(shop.spec.channels.map((c) => c.name)).toEqual(['stable', 'nightly']);
  expect(shop.triggers.map((t) => [t.name, t.channel, t.intervalSeconds])).toEqual([
    ['web-stable', 'stable', 60],
    ['web-nightly', 'nightly', 300],
  ]);
});
