import { SLOT_SHARE_MS, takeAlongAgeMs } from '../../activities/poll';

/** How old a listing a take-along poll accepts (activities/poll.ts; test/integration/take-along.test.ts runs it). */
describe('takeAlongAgeMs', () => {
  const now = 1_000_000;
  const along = { maxAgeMs: 65_000, project: 'p', channel: 'default' };
  const woken = { maxAgeMs: 3_000, takeAlong: along };

  test("shares the package watcher's last read, with the slot's room for two clocks", () => {
    expect(takeAlongAgeMs(woken, now - 40_000, now, 30_000)).toBe(40_000 + SLOT_SHARE_MS);
    // A read younger than what the poll asked for anyway changes nothing.
    expect(takeAlongAgeMs({ ...woken, maxAgeMs: 20_000 }, now - 1_000, now, 30_000)).toBe(20_000);
  });

  test('a watcher read older than the bound, none, or a poll asked to be fresh: as asked', () => {
    expect(takeAlongAgeMs(woken, now - 65_001, now, 30_000)).toBe(3_000);
    expect(takeAlongAgeMs(woken, null, now, 30_000)).toBe(3_000);
    expect(takeAlongAgeMs({ ...woken, maxAgeMs: 0 }, now - 1_000, now, 30_000)).toBe(0);
    expect(takeAlongAgeMs({ maxAgeMs: 3_000 }, now - 1_000, now, 30_000)).toBe(3_000);
  });

  test('a scheduled poll long past its slot gets no more than the TTL or the watcher read, not its own age', () => {
    // Due 20 minutes ago: its own age would be 20 minutes; the watcher read 30 s ago, the TTL is 60 s.
    const late = { maxAgeMs: null, dueAtMs: now - 20 * 60_000, takeAlong: along };
    expect(takeAlongAgeMs(late, now - 30_000, now, 60_000)).toBe(60_000);
    expect(takeAlongAgeMs(late, now - 62_000, now, 60_000)).toBe(62_000 + SLOT_SHARE_MS);
    // A worker's limit (the ledger's keep window) below the read's age: not shared, the poll's age as asked
    // (not a take-along, so the caches hold it to their TTL).
    expect(takeAlongAgeMs(late, now - 62_000, now, 60_000, 61_000)).toBe(20 * 60_000 + SLOT_SHARE_MS);
  });

  test('a scheduled poll (any recent read) takes the longer of the TTL and the watcher read', () => {
    expect(takeAlongAgeMs({ maxAgeMs: null, takeAlong: along }, now - 50_000, now, 30_000)).toBe(
      50_000 + SLOT_SHARE_MS,
    );
    expect(takeAlongAgeMs({ maxAgeMs: null, takeAlong: along }, now - 1_000, now, 30_000)).toBe(30_000);
    // At its slot: one read since shortly before the slot, or the watcher's if that is older and in bounds.
    expect(
      takeAlongAgeMs({ maxAgeMs: null, dueAtMs: now - 1_000, takeAlong: along }, now - 30_000, now, 0),
    ).toBe(30_000 + SLOT_SHARE_MS);
  });
});
