import { watcherDueAt } from '../../src/domain/watch-slots';

const I = 60_000;
// A fixed instant: the due times are a function of it, the shard and the interval, nothing else.
const R = Date.parse('2026-12-06T12:00:00.000Z');
// A clock well after every last read these tests give.
const LATER = R + 100 * I;

describe('when a package watcher reads its packages (watcherDueAt)', () => {
  test('a package never read is due at once', () => {
    expect(watcherDueAt(3, I, null, LATER)).toBeLessThan(R);
  });

  test('read at its slot, a package is next due one interval later, on the same slot', () => {
    const slot = watcherDueAt(7, I, R, LATER);
    expect(watcherDueAt(7, I, slot, LATER)).toBe(slot + I);
    expect(watcherDueAt(7, I, slot + 400, LATER)).toBe(slot + I); // a read that took a moment to start
  });

  test('comes at least half an interval and at most one and a half after the last read', () => {
    for (let shard = 0; shard < 64; shard++) {
      const due = watcherDueAt(shard, I, R, LATER);
      expect(due - R).toBeGreaterThanOrEqual(I / 2);
      expect(due - R).toBeLessThan((3 * I) / 2);
    }
  });

  test('spreads 32 shards read in the same second (after an outage) over the next interval', () => {
    const dues = Array.from({ length: 32 }, (_, shard) => watcherDueAt(shard, I, R, LATER));
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
    expect(watcherDueAt(5, 3_600_000, R, LATER)).toBe(watcherDueAt(5, 3_600_000, R, LATER));
    expect(watcherDueAt(5, I, R + I, LATER)).toBe(watcherDueAt(5, I, R, LATER) + I);
  });
  test('a last read after now (a worker whose clock ran ahead wrote it) counts as a read now', () => {
    const now = R;
    const dayAhead = R + 86_400_000;
    expect(watcherDueAt(7, I, dayAhead, now)).toBe(watcherDueAt(7, I, now, now));
    expect(watcherDueAt(7, I, dayAhead, now) - now).toBeLessThan((3 * I) / 2);
  });

  test('a last read that is not a number is none: due at once', () => {
    expect(watcherDueAt(7, I, Number.NaN, R)).toBeLessThan(R);
    expect(watcherDueAt(7, I, Number.POSITIVE_INFINITY, R)).toBeLessThan(R);
  });

  test('an interval outside the triggers’ bounds (0, negative, NaN, enormous) still gives a due time inside them', () => {
    for (const interval of [0, -5, Number.NaN, 1, 1e300, Number.POSITIVE_INFINITY]) {
      const due = watcherDueAt(3, interval, R, R);
      expect([interval, Number.isFinite(due)]).toEqual([interval, true]);
      expect(due - R).toBeGreaterThanOrEqual(5_000);
      expect(due - R).toBeLessThan(1.5 * 7 * 86_400_000);
    }
    expect(watcherDueAt(3, 0, R, R)).toBe(watcherDueAt(3, 10_000, R, R));
  });
});
