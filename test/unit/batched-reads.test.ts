import { BatchedReads } from '../../src/db/batched-reads';

/** A store of revisions that counts its reads and can be changed between them. */
function store(initial: Record<string, number>) {
  const values = new Map(Object.entries(initial));
  const reads: string[][] = [];
  const reader = new BatchedReads<number>(async (keys) => {
    reads.push([...keys]);
    const snapshot = new Map(keys.flatMap((k) => (values.has(k) ? [[k, values.get(k)!] as const] : [])));
    await new Promise((r) => setTimeout(r, 5));
    return snapshot;
  }, 3);
  return { values, reads, reader };
}

describe('batched reads (the projects’ revision checks)', () => {
  test('answers the keys asked together with one read, each asker its own key', async () => {
    const { reads, reader } = store({ a: 1, b: 2 });
    expect(await Promise.all([reader.get('a'), reader.get('b'), reader.get('a')])).toEqual([1, 2, 1]);
    expect(reads).toEqual([['a', 'b']]);
  });

  test('answers null for a key the read did not find (a deleted project)', async () => {
    const { reader } = store({ a: 1 });
    expect(await Promise.all([reader.get('a'), reader.get('gone')])).toEqual([1, null]);
  });

  test('never answers a question with a read that began before it was asked', async () => {
    const { values, reads, reader } = store({ a: 1 });
    const first = reader.get('a');
    await new Promise((r) => setImmediate(r)); // the first read has begun
    values.set('a', 2); // a release moved the revision
    const second = reader.get('a');
    expect(await first).toBe(1);
    expect(await second).toBe(2);
    expect(reads).toEqual([['a'], ['a']]);
  });

  test('sends a full batch at once and the rest in the next', async () => {
    const { reads, reader } = store({ a: 1, b: 2, c: 3, d: 4 });
    expect(await Promise.all(['a', 'b', 'c', 'd'].map((k) => reader.get(k)))).toEqual([1, 2, 3, 4]);
    expect(reads).toEqual([['a', 'b', 'c'], ['d']]);
  });

  test('a failed read fails every question of its batch, and the next batch reads again', async () => {
    let fail = true;
    const reader = new BatchedReads<number>(async (keys) => {
      if (fail) throw new Error('database down');
      return new Map(keys.map((k) => [k, 7]));
    });
    const asked = [reader.get('a'), reader.get('b')];
    await expect(asked[0]).rejects.toThrow('database down');
    await expect(asked[1]).rejects.toThrow('database down');
    fail = false;
    expect(await reader.get('a')).toBe(7);
  });
});
