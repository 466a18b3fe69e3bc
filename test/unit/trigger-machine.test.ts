import { PackagePoll, TriggerMachine } from '../../src/domain/trigger-machine';
import { changedTriggerSpec, initialTriggerState, TriggerChannelView } from '../../src/domain/trigger';
import { TriggerSpecSchema } from '../../src/domain/trigger-schema';
import { PackageRefSchema } from '../../src/domain/trigger-schema';
import { VersionRuleSchema } from '../../src/domain/rule-schema';

const NOW = '2026-11-28T10:00:00.000Z';
const refs = [
  PackageRefSchema.parse({ name: 'web', feed: 'reg.example', package: 'shop/web' }),
  PackageRefSchema.parse({ name: 'worker', feed: 'reg.example', package: 'shop/worker' }),
];
const view = (extra: Partial<TriggerChannelView> = {}): TriggerChannelView => ({
  revision: 1,
  packages: refs,
  rules: [VersionRuleSchema.parse({ range: '[1.0,2.0)' })],
  lastRelease: null,
  ...extra,
});
const machine = (watch?: string[]) => {
  const m = new TriggerMachine(
    initialTriggerState(TriggerSpecSchema.parse({ project: 'shop', name: 't', channel: 'stable', watch })),
  );
  m.applyLoad({ unchanged: false, view: view() });
  return m;
};
const ok = (name: string, candidates: string[], digest = `sha256:${name}`): PackagePoll => ({
  name,
  ok: {
    tagCount: candidates.length,
    acceptedCount: candidates.length,
    candidates,
    digest,
    rateLimitRemaining: null,
  },
});

describe('TriggerMachine, an evaluation step by step', () => {
  test('polls the watched packages first, the others only once a watched one moved, then asks for a release', () => {
    const m = machine(['web']);
    const plan = m.beginEvaluation(NOW)!;
    expect(plan.polls.map((p) => p.name)).toEqual(['web']);
    expect(plan.keys).toEqual(['reg.example/shop/web']);
    expect(m.pollRequest(plan.polls[0], 0)).toMatchObject({
      feed: 'reg.example',
      package: 'shop/web',
      watermark: null,
      limit: 10,
      maxAgeMs: 0,
    });
    m.applyPolls([ok('web', ['1.2.0', '1.1.0'])], NOW);
    expect(m.nextPolls().map((p) => p.name)).toEqual(['worker']);
    m.applyPolls([ok('worker', ['1.0.3'])], NOW);
    expect(m.nextPolls()).toEqual([]);
    const request = m.conclude(NOW)!;
    expect(request.packages.map((p) => `${p.name} ${p.tag}`)).toEqual(['web 1.2.0', 'worker 1.0.3']);
    expect(request).toMatchObject({ channel: 'stable', watched: ['web'], requireLater: true });
    expect(request.key).toMatch(/^trigger\/shop\/t\/[0-9a-f]{16}$/);
  });

  test('a release request names the notifications its evaluation answered, for the release notes; a scheduled one none', () => {
    const evaluate = (notified: boolean) => {
      const m = machine();
      if (notified) m.noteNotification({ source: 'webhook hub' }, Date.parse(NOW));
      m.takeNotifications();
      m.beginEvaluation(NOW);
      m.applyPolls([ok('web', ['1.2.0']), ok('worker', ['1.0.3'])], NOW);
      return m.conclude(NOW)!;
    };
    expect(evaluate(true).notification).toBe('webhook hub');
    expect(evaluate(false)).not.toHaveProperty('notification');
  });

  test('one watched package can be polled with the channel check; none before the view is known, nor for two', () => {
    expect(machine(['web']).singleWatched()?.name).toBe('web');
    expect(machine(['worker']).singleWatched()?.package).toBe('shop/worker');
    expect(machine().singleWatched()).toBeNull(); // watches both
    expect(machine(['ghost']).singleWatched()).toBeNull();
    const fresh = new TriggerMachine(
      initialTriggerState(TriggerSpecSchema.parse({ project: 'shop', name: 't', watch: ['web'] })),
    );
    expect(fresh.singleWatched()).toBeNull();
  });

  test('nothing later: no other package is polled and the outcome is no-change', () => {
    const m = machine(['web']);
    m.applyLoad({
      unchanged: false,
      view: view({
        revision: 2,
        lastRelease: {
          number: '0.0.1',
          packages: [
            { name: 'web', feed: 'reg.example', package: 'shop/web', tag: '1.2.0', digest: 'sha256:web' },
            {
              name: 'worker',
              feed: 'reg.example',
              package: 'shop/worker',
              tag: '1.0.0',
              digest: 'sha256:worker',
            },
          ],
        },
      }),
    });
    m.beginEvaluation(NOW);
    m.applyPolls([ok('web', ['1.2.0'])], NOW);
    expect(m.nextPolls()).toEqual([]);
    expect(m.conclude(NOW)).toBeNull();
    expect(m.state.lastPoll).toEqual({
      at: NOW,
      outcome: 'no-change',
      reason: "no watched package has a later version than the channel's previous release",
    });
  });

  test('versions a signature rule refused are named in the history entry, once, at most five a package', () => {
    const m = machine(['web']);
    const released = {
      name: 'web',
      feed: 'reg.example',
      package: 'shop/web',
      tag: '1.2.0',
      digest: 'sha256:web',
    };
    m.applyLoad({
      unchanged: false,
      view: view({ revision: 2, lastRelease: { number: '0.0.1', packages: [released] } }),
    });
    const skipped: Record<string, string> = {};
    for (let i = 9; i >= 3; i--) skipped[`1.${i}.0`] = 'no signature by key `release-2026`';
    m.beginEvaluation(NOW);
    m.applyPolls(
      [
        {
          name: 'web',
          ok: {
            tagCount: 8,
            acceptedCount: 8,
            candidates: ['1.2.0'],
            digest: 'sha256:web',
            rateLimitRemaining: null,
            skipped,
          },
        },
      ],
      NOW,
    );
    expect(m.conclude(NOW)).toBeNull();
    const entry = m.state.history.at(-1)!;
    expect(entry.outcome).toBe('no-change');
    expect(entry.reason).toBe(
      "no watched package has a later version than the channel's previous release; skipped " +
        ['1.9.0', '1.8.0', '1.7.0', '1.6.0', '1.5.0']
          .map((v) => `web ${v}: no signature by key \`release-2026\``)
          .join('; '),
    );
    m.beginEvaluation(NOW);
    m.applyPolls([ok('web', ['1.2.0'])], NOW);
    m.conclude(NOW);
    expect(m.state.history.at(-1)!.reason).not.toContain('skipped');
  });

  test('paused while polling: nothing released, and a cancelled poll is no feed error', () => {
    const m = machine();
    m.beginEvaluation(NOW);
    m.pause();
    m.applyPolls(
      [
        ok('web', ['1.2.0']),
        { name: 'worker', error: { code: 'CANCELLED', message: 'poll cancelled by pause' } },
      ],
      NOW,
    );
    expect(m.conclude(NOW)).toBeNull();
    expect(m.state.lastPoll?.outcome).toBe('paused');
    expect(m.state.packages.worker.error).toBeNull();
  });

  test('failed polls become an error outcome naming each package', () => {
    const m = machine();
    m.beginEvaluation(NOW);
    m.applyPolls(
      [ok('web', ['1.2.0']), { name: 'worker', error: { code: 'NOT_FOUND', message: 'gone' } }],
      NOW,
    );
    expect(m.conclude(NOW)).toBeNull();
    expect(m.state.lastPoll).toMatchObject({ outcome: 'error', reason: 'worker: gone' });
    expect(m.state.lastError).toMatchObject({ code: 'NOT_FOUND', package: 'worker' });
    expect(m.status).toBe('error');
  });

  test('a watch list naming a package the project lacks is an error, and nothing is polled', () => {
    const m = machine(['web', 'ghost']);
    expect(m.beginEvaluation(NOW)).toBeNull();
    expect(m.state.lastError).toMatchObject({
      code: 'UNKNOWN_PACKAGE',
      message: 'project shop has no package ghost',
    });
  });

  test('a poll that finds nothing passing clears the package: no stale latest rides into a release', () => {
    const m = machine();
    m.beginEvaluation(NOW);
    m.applyPolls([ok('web', ['1.2.0']), ok('worker', ['1.0.0'])], NOW);
    expect(m.state.packages.worker.latest?.tag).toBe('1.0.0');
    // The rule changes so worker 1.0.0 no longer passes; web moves on.
    m.applyLoad({
      unchanged: false,
      view: view({ revision: 2, rules: [VersionRuleSchema.parse({ range: '[1.1,2.0)' })] }),
    });
    m.beginEvaluation(NOW);
    m.applyPolls([ok('web', ['1.3.0']), ok('worker', [])], NOW);
    expect(m.state.packages.worker.latest).toBeNull();
    expect(m.conclude(NOW)).toBeNull();
    expect(m.state.lastPoll?.reason).toBe("no version of worker passes the channel's rules yet");
  });

  test('the workflow re-ranks candidates itself and caps them', () => {
    const m = machine(['web']);
    m.beginEvaluation(NOW);
    const many = Array.from({ length: 100 }, (_, i) => `1.0.${i}`);
    m.applyPolls([ok('web', ['0.9.0', '3.0.0', ...many])], NOW); // the activity's order is not trusted
    expect(m.state.packages.web.latest?.tag).toBe('1.0.22'); // best of the first 25, by the rule
    expect(m.state.packages.web.discovered).toHaveLength(25);
  });

  test('configure: a refused change names the field; a channel change drops the loaded view', () => {
    const m = machine();
    expect(m.refuseChange({ intervalSeconds: 1 } as never)).toMatch(/^intervalSeconds: /);
    expect(m.configure({ intervalSeconds: 300 } as never)).toEqual({ changed: false, channelChanged: false });
    expect(m.configure({ channel: 'beta' } as never)).toEqual({ changed: true, channelChanged: true });
    expect(m.state.view).toBeNull();
    expect(m.loadRequest()).toEqual({ project: 'shop', channel: 'beta', knownRevision: null });
  });

  test('a release the project created moves the watermark; a refusal is recorded as no-change', () => {
    const m = machine();
    m.beginEvaluation(NOW);
    m.applyPolls([ok('web', ['1.2.0']), ok('worker', ['1.0.0'])], NOW);
    const request = m.conclude(NOW)!;
    m.recordReleaseResult(
      {
        outcome: 'created',
        reason: request.reason,
        release: {
          number: '0.0.1',
          channel: 'stable',
          createdAt: NOW,
          packages: request.packages,
          reason: request.reason,
          source: request.source,
          key: request.key,
          deliveries: {},
        },
      },
      NOW,
    );
    expect(m.watermark('web')).toBe('1.2.0');
    expect(m.state.lastRelease).toEqual({ number: '0.0.1', at: NOW });
    m.recordReleaseResult(
      { outcome: 'already-released', release: null, reason: 'release 0.0.1 already holds these versions' },
      NOW,
    );
    expect(m.state.lastPoll).toMatchObject({
      outcome: 'no-change',
      reason: 'release 0.0.1 already holds these versions',
    });
  });
});

describe('TriggerMachine, when to poll next', () => {
  const at = (ms: number) => new Date(ms).toISOString();
  const onPackage = (pkg: string, name = 't') => {
    const m = new TriggerMachine(
      initialTriggerState(TriggerSpecSchema.parse({ project: 'shop', name, intervalSeconds: 60 })),
    );
    m.applyLoad({
      unchanged: false,
      view: view({ packages: [PackageRefSchema.parse({ name: 'app', feed: 'reg.example', package: pkg })] }),
    });
    return m;
  };
  const T = Date.parse('2026-11-28T10:00:00.000Z');

  test('triggers on one package share a phase; other packages spread over the interval', () => {
    const now = T + 12_345;
    const a = onPackage('shop/web', 'a').nextPollDelayMs(now);
    expect(onPackage('shop/web', 'b').nextPollDelayMs(now)).toBe(a);
    const phases = new Set(
      Array.from({ length: 50 }, (_, i) => (now + onPackage(`shop/app${i}`).nextPollDelayMs(now)) % 60_000),
    );
    expect(phases.size).toBeGreaterThan(40);
  });

  test('even phases: 200 packages named alike spread over the minute (the plain hash crowds them)', () => {
    const now = T + 777;
    const busiest = (even: boolean) => {
      const perSecond = new Map<number, number>();
      for (let i = 0; i < 200; i++) {
        const second = Math.floor(
          ((now + onPackage(`bench/app${i}`).nextPollDelayMs(now, even)) % 60_000) / 1000,
        );
        perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
      }
      return { seconds: perSecond.size, busiest: Math.max(...perSecond.values()) };
    };
    const plain = busiest(false);
    const even = busiest(true);
    // The plain FNV-1a phases leave a quarter of the minute empty (44 of 60 seconds used, 11 packages in the
    // busiest one); the mixed ones use every second.
    expect(plain.seconds).toBeLessThan(50);
    expect(even.seconds).toBeGreaterThanOrEqual(58);
    expect(even.busiest).toBeLessThan(plain.busiest);
    // Still one phase per package.
    expect(onPackage('shop/web', 'b').nextPollDelayMs(now, true)).toBe(
      onPackage('shop/web', 'a').nextPollDelayMs(now, true),
    );
  });

  test('the next poll comes within one and a half intervals and never within half of one after a poll', () => {
    for (let i = 0; i < 200; i++) {
      const m = onPackage(`shop/app${i}`);
      const now = T + i * 7_919;
      m.state.lastPoll = { at: at(now - (i % 60) * 1000), outcome: 'no-change', reason: '' };
      const delay = m.nextPollDelayMs(now, i % 2 === 0);
      expect(delay).toBeGreaterThan(0);
      expect(delay).toBeLessThanOrEqual(90_000);
      expect(now + delay - Date.parse(m.state.lastPoll.at)).toBeGreaterThanOrEqual(30_000);
    }
  });
});

describe('TriggerMachine, notified tags wanted until seen', () => {
  const T = Date.parse('2026-11-28T10:00:00.000Z');
  const explained = (verdicts: Record<string, string>): PackagePoll => ({
    name: 'web',
    ok: {
      tagCount: 0,
      acceptedCount: 0,
      candidates: [],
      digest: null,
      rateLimitRemaining: null,
      explained: verdicts,
    },
  });
  const notified = (m: TriggerMachine, tag: string, at = T) =>
    m.noteNotification({ source: 'webhook r', tags: [{ key: 'reg.example/shop/web', tag }] }, at);

  test('a tag the listing lacks is polled for again soon, backing off, fresh each time, and asked about', () => {
    const m = machine(['web']);
    notified(m, '1.3.0');
    m.takeNotifications();
    const plan = m.beginEvaluation(NOW)!;
    expect(m.pollRequest(plan.polls[0], 0).explain).toEqual(['1.3.0']);
    m.applyPolls([explained({ '1.3.0': 'not in the feed' })], NOW);
    expect(m.noteUnseen(T + 100)).toBe(true);
    expect(m.wantedPollDelayMs(T + 100)).toBe(1000);
    // The next evaluation answers no notification, yet still asks about the wanted tag.
    m.takeNotifications();
    expect(m.pollRequest(m.beginEvaluation(NOW)!.polls[0], 0).explain).toEqual(['1.3.0']);
    m.noteUnseen(T + 1200);
    expect(m.wantedPollDelayMs(T + 1200)).toBe(2000);
    for (let i = 0; i < 6; i++) m.noteUnseen(T + 2000);
    expect(m.wantedPollDelayMs(T + 2000)).toBe(16_000);
    // Never past the deadline, and given up after it.
    expect(m.wantedPollDelayMs(T + 119_000)).toBe(1000);
    expect(m.noteUnseen(T + 120_000)).toBe(false);
    expect(m.wantedPollDelayMs(T + 120_000)).toBeNull();
  });

  test('only a key the trigger polls is waited for: another feed on the same registry host is not', () => {
    const m = machine(['web']);
    m.noteNotification(
      {
        source: 'webhook r',
        tags: [
          { key: 'reg.example/shop/web', tag: '1.3.0' },
          { key: '127.0.0.1:5000/shop/web', tag: '1.3.0' },
        ],
      },
      T,
    );
    expect(m.state.wanted?.map((w) => `${w.key} ${w.tag}`)).toEqual(['reg.example/shop/web 1.3.0']);
  });

  test('a tag a poll saw (accepted, or judged by the rules) is no longer wanted; other tags still are', () => {
    const m = machine(['web']);
    notified(m, '1.3.0');
    notified(m, '0.9.0');
    notified(m, '1.4.0');
    m.takeNotifications();
    m.beginEvaluation(NOW);
    m.applyPolls(
      [
        explained({
          '1.3.0': 'accepted',
          '0.9.0': 'outside the range [1.0,2.0)',
          '1.4.0': 'not in the feed',
        }),
      ],
      NOW,
    );
    m.noteUnseen(T);
    expect(m.state.wanted?.map((w) => w.tag)).toEqual(['1.4.0']);
  });

  test('a failed poll sees nothing: the tag stays wanted; at most 20 are kept, the newest', () => {
    const m = machine(['web']);
    for (let i = 0; i < 25; i++) notified(m, `1.0.${i}`);
    expect(m.state.wanted).toHaveLength(20);
    expect(m.state.wanted?.[0].tag).toBe('1.0.5');
    m.takeNotifications();
    m.beginEvaluation(NOW);
    m.applyPolls([{ name: 'web', error: { code: 'NOT_FOUND', message: 'shop/web:1.0.24 …' } }], NOW);
    expect(m.noteUnseen(T)).toBe(true);
    expect(m.state.wanted).toHaveLength(20);
  });
});

describe('changedTriggerSpec, the plain-code check workflows run instead of the schema', () => {
  const spec = TriggerSpecSchema.parse({ project: 'shop', name: 'web', watch: ['web'], intervalSeconds: 60 });
  const changes: Array<Record<string, unknown>> = [
    {},
    { intervalSeconds: 300 },
    { intervalSeconds: undefined },
    { intervalSeconds: 9 },
    { intervalSeconds: 10.5 },
    { intervalSeconds: 7 * 24 * 3600 + 1 },
    { intervalSeconds: '60' },
    { channel: 'beta' },
    { channel: undefined },
    { channel: 'Beta' },
    { channel: '-beta' },
    { channel: 'x'.repeat(64) },
    { watch: undefined },
    { watch: [] },
    { watch: ['web', 'worker'] },
    { watch: ['web', 'web'] },
    { watch: ['WEB'] },
    { watch: Array.from({ length: 51 }, (_, i) => `p${i}`) },
    { watch: 'web' },
  ];
  test.each(changes.map((c) => [JSON.stringify(c), c]))(
    '%s: same verdict and result as the schema',
    (_, change) => {
      const bySchema = TriggerSpecSchema.safeParse({ ...spec, ...change });
      const plain = changedTriggerSpec(spec, change as never);
      if (bySchema.success) expect(plain).toEqual({ spec: bySchema.data });
      else
        expect('refusal' in plain && plain.refusal).toMatch(
          new RegExp(`^${String(bySchema.error.issues[0].path[0])}`),
        );
    },
  );
});

describe('TriggerMachine, a failing feed', () => {
  const T = Date.parse('2026-11-28T10:00:00.000Z');
  const at = (ms: number) => new Date(ms).toISOString();
  const failed = (code: string): PackagePoll => ({
    name: 'web',
    error: { code, message: `${code}: http://reg.example could not be reached` },
  });

  test('a poll failing now shows as error before its retries end, and active once one succeeds', () => {
    const m = machine(['web']);
    m.beginEvaluation(at(T));
    m.applyPolls([ok('web', ['1.0.0'])], at(T));
    m.conclude(at(T));
    expect(m.status).toBe('active');
    m.notePollFailure(
      'web',
      { code: 'NETWORK', message: 'http://reg.example could not be reached' },
      at(T + 10),
    );
    expect(m.status).toBe('error');
    expect(m.state.packages.web.error?.code).toBe('NETWORK');
    m.beginEvaluation(at(T + 12));
    m.applyPolls([ok('web', ['1.0.0'])], at(T + 12));
    m.conclude(at(T + 12));
    expect(m.status).toBe('active');
    // A failure that passed on retry leaves no error behind.
    expect(m.state.lastError).toBeNull();
    expect(m.state.packages.web.error).toBeNull();
  });

  test('after a failure that may pass the next poll comes in 4 s, for 10 minutes; after others, on schedule', () => {
    const m = machine(['web']);
    m.beginEvaluation(at(T));
    m.applyPolls([failed('NETWORK')], at(T));
    m.conclude(at(T));
    expect(m.failingPollDelayMs(T + 100)).toBe(4_000);
    for (const t of [T + 60_000, T + 300_000]) {
      m.beginEvaluation(at(t));
      m.applyPolls([failed('SERVER_ERROR')], at(t));
      m.conclude(at(t));
    }
    expect(m.failingPollDelayMs(T + 300_100)).toBe(4_000);
    expect(m.failingPollDelayMs(T + 600_100)).toBeNull(); // failing since T: the schedule again
    const denied = machine(['web']);
    denied.beginEvaluation(at(T));
    denied.applyPolls([failed('DENIED')], at(T));
    denied.conclude(at(T));
    expect(denied.failingPollDelayMs(T + 100)).toBeNull();
  });
});

describe('TriggerMachine, versions equal but for build metadata', () => {
  const helm = (metadataOrder?: () => 'numeric' | 'text') => {
    const m = new TriggerMachine(
      initialTriggerState(TriggerSpecSchema.parse({ project: 'shop', name: 't', channel: 'stable' })),
      { metadataOrder },
    );
    m.applyLoad({ unchanged: false, view: view() });
    return m;
  };
  const chart = (candidates: string[]): PackagePoll => {
    const poll = ok('web', candidates);
    return { ...poll, ok: { ...(poll as { ok: object }).ok, precedence: 'semver' } } as PackagePoll;
  };

  test('picks +build.10 over +build.9, as Helm does, asking the workflow once the orders disagree', () => {
    const asked: string[] = [];
    const m = helm(() => (asked.push('asked'), 'numeric'));
    m.applyPolls([chart(['1.3.1+build.9', '1.3.1+build.10'])], NOW);
    expect(m.state.packages.web.latest?.tag).toBe('1.3.1+build.10');
    expect(asked).toEqual(['asked']);
  });

  test('a run that decided by the tag text keeps +build.9; a poll where the orders agree never asks', () => {
    const asked: string[] = [];
    const m = helm(() => (asked.push('asked'), 'text'));
    m.applyPolls([chart(['1.3.1+build.9', '1.3.1+build.10'])], NOW);
    expect(m.state.packages.web.latest?.tag).toBe('1.3.1+build.9');
    m.applyPolls([chart(['1.3.2', '1.3.1+build.10'])], NOW);
    expect(m.state.packages.web.latest?.tag).toBe('1.3.2');
    expect(asked).toEqual(['asked']);
  });
});
