import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { patchMarkers } from '../support/markers';

const ROOT = path.resolve(__dirname, '../..');
const FIXTURES = path.join(ROOT, 'test/fixtures/histories');

/** Every patch ID the workflows ask (`const X_PATCH = '<id>'`), by file. */
function patchIds(): string[] {
  const dir = path.join(ROOT, 'workflows');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .flatMap((f) => [...readFileSync(path.join(dir, f), 'utf8').matchAll(/const \w+_PATCH = '([^']+)'/g)])
    .map((m) => m[1])
    .sort();
}

/** The patch markers each recorded history holds, by patch ID. */
function fixturesByPatch(): Map<string, string[]> {
  const byPatch = new Map<string, string[]>();
  for (const file of readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    const { events } = JSON.parse(readFileSync(path.join(FIXTURES, file), 'utf8')) as {
      events: Parameters<typeof patchMarkers>[0];
    };
    for (const id of patchMarkers(events)) byPatch.set(id, [...new Set([...(byPatch.get(id) ?? []), file])]);
  }
  return byPatch;
}

/** docs/versioning.md's patch tables: the fixtures each row says hold the patch's marker. */
function documented(): Map<string, string[]> {
  const doc = readFileSync(path.join(ROOT, 'docs/versioning.md'), 'utf8');
  const rows = new Map<string, string[]>();
  for (const line of doc.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    const id = /^`([a-z0-9-]+)`/.exec(cells[1] ?? '')?.[1];
    if (!id || cells.length < 8) continue;
    rows.set(id, [...cells[4].matchAll(/[\w-]+\.json/g)].map((m) => m[0]).sort());
  }
  return rows;
}

describe('docs/versioning.md', () => {
  test('has a row for every patch the workflows ask, and none for a patch that is gone', () => {
    expect([...documented().keys()].sort()).toEqual(patchIds());
  });

  test('names, for each patch, exactly the recorded histories that hold its marker', () => {
    const recorded = fixturesByPatch();
    for (const [id, fixtures] of documented())
      expect([id, fixtures]).toEqual([id, (recorded.get(id) ?? []).sort()]);
  });
});
