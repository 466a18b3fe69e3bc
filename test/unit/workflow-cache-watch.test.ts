import {
  CacheFullEvictions,
  cacheTooSmall,
  RECURRING_WITHIN_MS,
  watchWorkflowCache,
} from '../../src/runtime/workflow-cache-watch';

const MINUTE = 60_000;

describe('evictions from a full cache, by run', () => {
  test('a run evicted again within the window recurs; one evicted once, or again after the window, does not', () => {
    const log = new CacheFullEvictions();
    log.record('a', 0);
    log.record('b', 0);
    log.record('a', MINUTE); // woke a minute later and was pushed out again: a trigger on its own interval
    log.record('b', 2 * 3_600_000); // its next wake was its hourly safety poll: a watched trigger
    expect(log.take()).toEqual({ evicted: 4, recurring: 1 });
    // Counts are since the last take; what each run was evicted last is kept.
    expect(log.take()).toEqual({ evicted: 0, recurring: 0 });
    log.record('b', 2 * 3_600_000 + MINUTE);
    expect(log.take()).toEqual({ evicted: 1, recurring: 1 });
  });

  test('the window is RECURRING_WITHIN_MS: shorter than a watched trigger’s safety poll', () => {
    expect(RECURRING_WITHIN_MS).toBeLessThan(3_600_000);
    const log = new CacheFullEvictions();
    log.record('a', 0);
    log.record('a', RECURRING_WITHIN_MS);
    log.record('a', 2 * RECURRING_WITHIN_MS + 1);
    expect(log.take()).toEqual({ evicted: 3, recurring: 1 });
  });

  test('runs are forgotten past the window, and never more than the bound are kept', () => {
    const log = new CacheFullEvictions(10 * MINUTE, 100);
    for (let i = 0; i < 50; i++) log.record(`old${i}`, 0);
    expect(log.remembered).toBe(50);
    log.record('new', 11 * MINUTE);
    expect(log.remembered).toBe(1);
    for (let i = 0; i < 500; i++) log.record(`r${i}`, 12 * MINUTE);
    expect(log.remembered).toBe(100);
    // The oldest went first: the last hundred are the ones kept.
    log.record('r499', 13 * MINUTE);
    log.record('r0', 13 * MINUTE);
    expect(log.take()).toEqual({ evicted: 553, recurring: 1 });
  });
});

describe('the cache warning', () => {
  test('warns on recurring evictions of at least one in a hundred of the cache; not on first evictions', () => {
    expect(cacheTooSmall({ recurring: 0 }, 20)).toBe(false);
    expect(cacheTooSmall({ recurring: 1 }, 20)).toBe(true);
    // A worker of 1,106 cached workflows: ten triggers of a package pushed twice in half an hour is not it.
    expect(cacheTooSmall({ recurring: 10 }, 1106)).toBe(false);
    expect(cacheTooSmall({ recurring: 12 }, 1106)).toBe(true);
  });

  test('2,000 triggers in a cache of 1,106 waking hourly (watched) say nothing; waking every minute, they do', () => {
    const warned: Array<Record<string, unknown>> = [];
    // Triggers wake in a cycle, so each wake misses and pushes out one run: the next of the cycle.
    const simulate = (cycleMs: number) => {
      const log = new CacheFullEvictions();
      const watch = watchWorkflowCache({
        capacity: 1106,
        memoryMiB: 1024,
        evictions: log,
        warn: (fields) => warned.push(fields),
        intervalMs: 3_600_000, // checked by hand, once a minute of the simulated time
      });
      let nextCheck = MINUTE;
      for (let k = 0, at = 0; at < 3 * 3_600_000; k++, at = (k * cycleMs) / 2000) {
        if (at >= nextCheck) {
          watch.check();
          nextCheck += MINUTE;
        }
        log.record(`t${k % 2000}`, at);
      }
      watch.stop();
    };
    simulate(3_600_000);
    expect(warned).toEqual([]);
    simulate(MINUTE);
    expect(warned.length).toBeGreaterThanOrEqual(178);
    expect(warned[5]).toMatchObject({ cacheCapacity: 1106, memoryMiB: 1024 });
    expect(warned[5].recurring).toBeGreaterThan(1900);
  });
});
