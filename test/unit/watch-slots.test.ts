import { watcherDueAt } from '../../src/domain/watch-slots';

const I = 60_000;
// A fixed instant: the due times are a function of it, the shard and the interval, nothing else.
const R = Date.parse('2026-12-06T12:00:00.000Z');

describe('when a package watcher reads its packages (watcherDueAt)', () => {
  test('a package never read is due at once', () => {
    expect(watcherDueAt(3, I, null)).toBeLessThan(R);
  });

  test('read at its slot, a package is next due one interval later, on the same slot', () => {
    const slot = watcherDueAt(7, I, R);
    expect(watcherDueAt(7, I, slot)).toBe(slot + I);
    expect(watcherDueAt(7, I, slot + 400)).toBe(slot + I); // a read that took a moment to start
  });

  test('comes at least half an interval and at most one and a half after the last read', () => {
    for (let shard = 0; shard < 64; shard++) {
      const due = watcherDueAt(shard, I, R);
      expect(due - R).toBeGreaterThanOrEqual(I / 2);
      expect(due - R).toBeLessThan((3 * I) / 2);
    }
  });

  test('spreads 32 shards read in the same second (after an outage) over the next interval', () => {
    const dues = Array.from({ length: 32 }, (_, shard) => watcherDueAt(shard, I, R));
    const perFiveSeconds = new Map<number, number>();
    for (const d of dues) {
      const bucket = Math.floor((d - R) / 5000);
      perFiveSeconds.set(bucket, (perFiveSeconds.get(bucket) ?? 0) + 1);
    }
    // 12 five-second buckets in an interval: no bucket holds a third of the shards, most buckets hold some.
    expect(Math.max(...perFiveSeconds.values())).toBeLessThanOrEqual(8);
    expect(perFiveSeconds.size).toBeGreaterThanOrEqual(8);
  });

  test('is the same whenever it is asked (a watcher on any worker agrees)', () => {
    expect(watcherDueAt(5, 3_600_000, R)).toBe(watcherDueAt(5, 3_600_000, R));
    expect(watcherDueAt(5, I, R + I)).toBe(watcherDueAt(5, I, R) + I);
  });
});
