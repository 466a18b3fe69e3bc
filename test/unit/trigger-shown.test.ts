import { emptyPackageStatus, initialTriggerState, shownState, TriggerState } from '../../src/domain/trigger';

/** A trigger that polled `web` once: 1.0.0 is its latest, no change. */
function polled(at: string): TriggerState {
  const state = initialTriggerState({
    project: 'shop',
    name: 'web',
    channel: 'default',
    intervalSeconds: 60,
  });
  state.packages.web = {
    ...emptyPackageStatus({ name: 'web', feed: 'registry.example', package: 'shop/web' }),
    latest: { tag: '1.0.0', digest: 'sha256:aa' },
    polledAt: at,
    tagCount: 3,
  };
  state.lastPoll = { at, outcome: 'no-change', reason: 'no watched package has a later version' };
  state.iterations = 4;
  return state;
}

describe('what the console shows of a trigger (announced when it changes)', () => {
  test('an idle poll, which moves only the poll times and counts, leaves it as it was', () => {
    const later = polled('2026-12-06T10:05:00.000Z');
    later.iterations = 5;
    later.packages.web.tagCount = 4;
    expect(shownState(later)).toBe(shownState(polled('2026-12-06T10:00:00.000Z')));
  });

  test('a failing feed, a later version, an error outcome and a release each change it', () => {
    const base = shownState(polled('2026-12-06T10:00:00.000Z'));
    const failing = polled('2026-12-06T10:00:00.000Z');
    failing.lastError = {
      code: 'NETWORK',
      message: 'unreachable',
      at: '2026-12-06T10:05:00.000Z',
      package: 'web',
    };
    failing.packages.web.error = failing.lastError;
    const later = polled('2026-12-06T10:00:00.000Z');
    later.packages.web.latest = { tag: '1.1.0', digest: 'sha256:bb' };
    const errored = polled('2026-12-06T10:00:00.000Z');
    errored.lastPoll = { ...errored.lastPoll!, outcome: 'error', reason: 'web: unreachable' };
    const released = polled('2026-12-06T10:00:00.000Z');
    released.lastRelease = { number: '0.0.2', at: '2026-12-06T10:00:00.000Z' };
    const shown = [failing, later, errored, released].map(shownState);
    expect(new Set([base, ...shown]).size).toBe(5);
  });
});
