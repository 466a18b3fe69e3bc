import { TriggerMachine, watchedSafetyIntervalMs } from '../../src/domain/trigger-machine';
import { initialTriggerState, TriggerChannelView } from '../../src/domain/trigger';
import { PackageRefSchema, TriggerSpecSchema } from '../../src/domain/trigger-schema';
import { VersionRuleSchema } from '../../src/domain/rule-schema';
import { shardOf } from '../../activities/watch';
import { listingFingerprint } from '../../src/feeds/package-source';

const refs = [
  PackageRefSchema.parse({ name: 'web', feed: 'reg.example', package: 'shop/web' }),
  PackageRefSchema.parse({ name: 'worker', feed: 'reg.example', package: 'shop/worker' }),
];
const machine = (rule: Record<string, unknown> = {}, watch?: string[], intervalSeconds = 60) => {
  const m = new TriggerMachine(
    initialTriggerState(TriggerSpecSchema.parse({ project: 'shop', name: 't', watch, intervalSeconds })),
  );
  const view: TriggerChannelView = {
    revision: 1,
    packages: refs,
    rules: [VersionRuleSchema.parse({ packages: ['web'], ...rule })],
    lastRelease: null,
  };
  m.applyLoad({ unchanged: false, view });
  return m;
};

describe('a trigger and its package watchers', () => {
  test('subscribes its watched packages, sorted by key, with its interval', () => {
    expect(machine({}, undefined, 120).watcherSubscription()).toEqual({
      packages: [
        { feed: 'reg.example', package: 'shop/web' },
        { feed: 'reg.example', package: 'shop/worker' },
      ],
      keys: ['reg.example/shop/web', 'reg.example/shop/worker'],
      intervalSeconds: 120,
    });
    expect(machine({}, ['worker']).watcherSubscription()?.keys).toEqual(['reg.example/shop/worker']);
  });

  test.each([
    ['tracks digests', { trackDigest: true }],
    ['reads image labels', { labels: { 'org.opencontainers.image.source': '^https://' } }],
    ['waits for an age', { minAgeMinutes: 30 }],
  ])('keeps polling on its own when a watched package rule %s', (_what, rule) => {
    expect(machine(rule).watcherSubscription()).toBeNull();
    // The rule is on `web`: a trigger watching only `worker` may still subscribe.
    expect(machine(rule, ['worker']).watcherSubscription()).not.toBeNull();
  });

  test('does not subscribe without a channel view or with a watch list the project lacks', () => {
    const bare = new TriggerMachine(
      initialTriggerState(TriggerSpecSchema.parse({ project: 'shop', name: 't' })),
    );
    expect(bare.watcherSubscription()).toBeNull();
    expect(machine({}, ['api']).watcherSubscription()).toBeNull();
  });

  test('polls on its own interval until a poll after subscribing, then on the safety interval', () => {
    const m = machine();
    expect(m.ownPollIntervalMs()).toBe(60_000);
    m.recordOutcome('no-change', 'nothing later', '2026-12-06T10:00:00.000Z');
    const wanted = m.watcherSubscription()!;
    expect(m.subscribedAsWanted(wanted)).toBe(false);
    m.state.watching = { keys: wanted.keys, intervalSeconds: 60, since: '2026-12-06T10:00:00.000Z' };
    expect(m.subscribedAsWanted(wanted)).toBe(true);
    // The poll before subscribing may have missed a change the watcher had already seen.
    expect(m.ownPollIntervalMs()).toBe(60_000);
    m.recordOutcome('no-change', 'nothing later', '2026-12-06T10:01:00.000Z');
    expect(m.ownPollIntervalMs()).toBe(3_600_000);
    // Another interval or package list is another subscription.
    expect(m.subscribedAsWanted({ ...wanted, intervalSeconds: 30 })).toBe(false);
    expect(m.subscribedAsWanted({ ...wanted, keys: [wanted.keys[0]] })).toBe(false);
    expect(m.subscribedAsWanted(null)).toBe(false);
  });

  test("hands over its polls' fingerprints, and sleeps on the safety interval at once when caught up", () => {
    const m = machine();
    const ok = (fingerprint?: string) => ({
      tagCount: 1,
      acceptedCount: 1,
      candidates: ['1.0.0'],
      digest: null,
      rateLimitRemaining: null,
      ...(fingerprint ? { fingerprint } : {}),
    });
    m.beginEvaluation('2026-12-07T10:00:00.000Z');
    m.applyPolls(
      [
        { name: 'web', ok: ok('f-web') },
        { name: 'worker', ok: ok('f-worker') },
      ],
      '2026-12-07T10:00:00.000Z',
    );
    m.recordOutcome('no-change', 'nothing later', '2026-12-07T10:00:00.000Z');
    const wanted = m.watcherSubscription()!;
    expect(wanted.fingerprints).toEqual({
      'reg.example/shop/web': 'f-web',
      'reg.example/shop/worker': 'f-worker',
    });
    m.state.watching = {
      keys: wanted.keys,
      intervalSeconds: 60,
      since: '2026-12-07T10:00:01.000Z',
      caughtUp: true,
    };
    // Caught up: no poll of its own follows the subscription.
    expect(m.ownPollIntervalMs()).toBe(3_600_000);
    // A failed poll, or a poll recorded before fingerprints, leaves that package's fingerprint unknown: then
    // none are handed over (the watcher cannot say the trigger is caught up).
    m.beginEvaluation('2026-12-07T10:01:00.000Z');
    m.applyPolls(
      [{ name: 'web', error: { code: 'UNAVAILABLE', message: 'down' } }],
      '2026-12-07T10:01:00.000Z',
    );
    expect(m.watcherSubscription()?.fingerprints).toBeUndefined();
    m.beginEvaluation('2026-12-07T10:02:00.000Z');
    m.applyPolls([{ name: 'web', ok: ok() }], '2026-12-07T10:02:00.000Z');
    expect(m.watcherSubscription()?.fingerprints).toBeUndefined();
    m.beginEvaluation('2026-12-07T10:03:00.000Z');
    m.applyPolls([{ name: 'web', ok: ok('f-web-2') }], '2026-12-07T10:03:00.000Z');
    expect(m.watcherSubscription()?.fingerprints).toEqual({
      'reg.example/shop/web': 'f-web-2',
      'reg.example/shop/worker': 'f-worker',
    });
  });

  test('the safety interval is ten intervals, an hour to a day, never shorter than the interval', () => {
    expect(watchedSafetyIntervalMs(10_000)).toBe(3_600_000);
    expect(watchedSafetyIntervalMs(600_000)).toBe(6_000_000);
    expect(watchedSafetyIntervalMs(7_200_000)).toBe(72_000_000);
    expect(watchedSafetyIntervalMs(43_200_000)).toBe(86_400_000);
    expect(watchedSafetyIntervalMs(7 * 86_400_000)).toBe(7 * 86_400_000);
  });
});

describe('package watcher fingerprints and shards', () => {
  const listing = (tags: string[], digests: [string, string][] | null = null) => ({
    tags,
    rateLimitRemaining: 7,
    digests: digests ? new Map(digests) : null,
  });

  test('a fingerprint changes with a tag or a digest, not with the listing order or the rate limit', () => {
    const base = listingFingerprint(listing(['1.0.0', '1.1.0']));
    expect(listingFingerprint({ ...listing(['1.1.0', '1.0.0']), rateLimitRemaining: 3 })).toBe(base);
    expect(listingFingerprint(listing(['1.0.0', '1.1.0', '1.2.0']))).not.toBe(base);
    expect(listingFingerprint(listing(['1.0.0']))).not.toBe(base);
    const withDigest = listingFingerprint(listing(['1.0.0'], [['1.0.0', 'sha256:a']]));
    expect(listingFingerprint(listing(['1.0.0'], [['1.0.0', 'sha256:b']]))).not.toBe(withDigest);
    expect(base).toMatch(/^[0-9a-f]{32}$/);
  });

  test('a package always falls in the same shard, and packages spread over the shards', () => {
    const keys = Array.from({ length: 2000 }, (_, i) => `registry.example/team/app-${i}`);
    expect(keys.map((k) => shardOf(k, 32))).toEqual(keys.map((k) => shardOf(k, 32)));
    const counts = new Array<number>(32).fill(0);
    for (const k of keys) counts[shardOf(k, 32)]++;
    // 62.5 a shard on average: none empty, none more than twice that.
    expect(Math.min(...counts)).toBeGreaterThan(0);
    expect(Math.max(...counts)).toBeLessThan(125);
  });
});
