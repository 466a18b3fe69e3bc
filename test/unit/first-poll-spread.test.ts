import { TriggerMachine } from '../../src/domain/trigger-machine';
import { initialTriggerState, TriggerChannelView } from '../../src/domain/trigger';
import { PackageRefSchema, TriggerSpecSchema } from '../../src/domain/trigger-schema';

/** A trigger as the bulk endpoint starts it: its spec and its channel's view, never polled. */
const created = (project: string, name: string, pkg: string, intervalSeconds: number) => {
  const m = new TriggerMachine(
    initialTriggerState(TriggerSpecSchema.parse({ project, name, watch: ['app'], intervalSeconds })),
  );
  const view: TriggerChannelView = {
    revision: 1,
    packages: [PackageRefSchema.parse({ name: 'app', feed: 'bench', package: pkg })],
    rules: [],
    lastRelease: null,
  };
  m.applyLoad({ unchanged: false, view });
  return m;
};

// A fixed instant: the delays are a function of it, the trigger's packages and its interval, nothing else.
const NOW = Date.parse('2026-12-06T12:00:00.000Z');

describe('first polls of triggers created in bulk (firstPoll: slot)', () => {
  // bench:scale's layout: 20,000 triggers over 2,000 packages, ten triggers a package, a 60 s interval.
  const triggers = Array.from({ length: 20_000 }, (_, i) =>
    created(`b${i % 2000}`, `t${Math.floor(i / 2000)}`, `bench/app${i % 2000}`, 60),
  );
  const delays = triggers.map((m) => m.nextPollDelayMs(NOW, true));

  test('fall within one interval of the creation', () => {
    expect(Math.min(...delays)).toBeGreaterThan(0);
    expect(Math.max(...delays)).toBeLessThanOrEqual(60_000);
  });

  test('put the triggers of one package on one moment, so they share one listing', () => {
    const byPackage = new Map<number, Set<number>>();
    delays.forEach((d, i) => byPackage.set(i % 2000, (byPackage.get(i % 2000) ?? new Set()).add(d)));
    expect([...byPackage.values()].every((d) => d.size === 1)).toBe(true);
  });

  test('spread the packages evenly over the interval: no second holds twice its share', () => {
    const perSecond = new Array<number>(60).fill(0);
    for (let p = 0; p < 2000; p++) perSecond[Math.min(59, Math.floor(delays[p] / 1000))]++;
    // 2,000 packages over 60 s: 33 a second on average.
    expect(Math.max(...perSecond)).toBeLessThanOrEqual((2 * 2000) / 60);
    expect(Math.min(...perSecond)).toBeGreaterThan(0);
  });

  test('are the same for the same trigger whenever it is asked (deterministic, replay-safe)', () => {
    const again = created('b7', 't3', 'bench/app7', 60);
    expect(again.nextPollDelayMs(NOW, true)).toBe(delays[3 * 2000 + 7]);
    // One interval later the slot is at the same phase.
    expect(again.nextPollDelayMs(NOW + 60_000, true)).toBe(delays[3 * 2000 + 7]);
  });

  test('an hourly trigger waits at most its hour', () => {
    const hourly = Array.from({ length: 500 }, (_, p) => created('h', 't', `bench/app${p}`, 3600));
    const waits = hourly.map((m) => m.nextPollDelayMs(NOW, true));
    expect(Math.max(...waits)).toBeLessThanOrEqual(3_600_000);
    // Spread, not bunched: the 500 packages cover most of the hour's minutes.
    expect(new Set(waits.map((w) => Math.floor(w / 60_000))).size).toBeGreaterThan(45);
  });
});
