import { SingleFlightCache } from '../../src/feeds/single-flight';

describe('SingleFlightCache', () => {
  test('concurrent callers share one load; later callers reuse it within the TTL', async () => {
    let now = 0;
    let loads = 0;
    const cache = new SingleFlightCache<number>(30_000, 100, () => now);
    const load = async () => {
      loads++;
      await new Promise((r) => setTimeout(r, 10));
      return loads;
    };
    const values = await Promise.all(Array.from({ length: 50 }, () => cache.get('k', load)));
    expect(new Set(values)).toEqual(new Set([1]));
    now = 29_999;
    expect(await cache.get('k', load)).toBe(1);
    now = 30_000;
    expect(await cache.get('k', load)).toBe(2);
    expect(loads).toBe(2);
  });

  test('an age past the TTL is honoured only when asked (pastTtl); with a TTL of 0 nothing is kept', async () => {
    let now = 0;
    let loads = 0;
    const load = async () => ++loads;
    const cache = new SingleFlightCache<number>(30_000, 100, () => now);
    await cache.get('k', load);
    now = 50_000;
    // A late scheduled poll naming a long age still gets no answer older than the TTL (one read before an
    // outage is not served long after it) ...
    expect(await cache.get('k', load, 55_000)).toBe(2);
    now = 100_000;
    // ... a take-along poll sharing a package watcher's read of 50 s ago does.
    expect(await cache.get('k', load, 55_000, undefined, true)).toBe(2);
    expect(await cache.get('k', load, 45_000, undefined, true)).toBe(3);
    const off = new SingleFlightCache<number>(0, 100, () => now);
    await off.get('k', load);
    expect(await off.get('k', load, 60_000, undefined, true)).toBe(5);
    expect(loads).toBe(5);
  });

  test('a max age of 0 forces a new load but still shares one in flight', async () => {
    let loads = 0;
    const cache = new SingleFlightCache<number>(30_000);
    const load = async () => ++loads;
    await cache.get('k', load);
    const [a, b] = await Promise.all([cache.get('k', load, 0), cache.get('k', load, 0)]);
    expect([a, b, loads]).toEqual([2, 2, 2]);
  });

  test('failures are shared with concurrent callers but not cached', async () => {
    let loads = 0;
    const cache = new SingleFlightCache<number>(30_000);
    const failing = async () => {
      loads++;
      throw new Error('registry down');
    };
    const results = await Promise.allSettled([cache.get('k', failing), cache.get('k', failing)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(loads).toBe(1);
    expect(await cache.get('k', async () => 7)).toBe(7);
  });

  test('a failed load makes the answer kept from before stale: it is not served as fresh again', async () => {
    const cache = new SingleFlightCache<string>(30_000);
    expect(await cache.get('k', async () => 'before the outage')).toBe('before the outage');
    await expect(
      cache.get(
        'k',
        async () => {
          throw new Error('registry down');
        },
        0,
      ),
    ).rejects.toThrow('registry down');
    // Within the TTL, yet a read failed since: loaded again.
    expect(await cache.get('k', async () => 'read again')).toBe('read again');
  });

  test('keeps at most maxEntries answers, dropping the oldest', async () => {
    const cache = new SingleFlightCache<string>(30_000, 2);
    let loads = 0;
    const load = (v: string) => async () => {
      loads++;
      return v;
    };
    await cache.get('a', load('a'));
    await cache.get('b', load('b'));
    await cache.get('c', load('c'));
    await cache.get('b', load('b'));
    expect(loads).toBe(3);
    await cache.get('a', load('a'));
    expect(loads).toBe(4);
  });
});
