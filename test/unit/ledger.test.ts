import {
  CreateReleaseRequest,
  ProjectSpecSchema,
  ReleaseLedger,
  ReleaseRequestError,
} from '../../src/domain/project';
import { checkTemplate, renderReleaseNumber } from '../../src/domain/release-number';
import { ReleasedPackage } from '../../src/domain/trigger';

const spec = (extra: object = {}) =>
  ProjectSpecSchema.parse({
    name: 'shop',
    packages: [
      { name: 'web', feed: 'docker.io', package: 'shop/web' },
      { name: 'worker', feed: 'docker.io', package: 'shop/worker' },
    ],
    channels: [{ name: 'stable', rules: [{ packages: ['web'], range: '[1.0,2.0)' }] }, { name: 'beta' }],
    destinations: [{ name: 'hook', type: 'webhook', url: 'http://127.0.0.1:9/hook' }],
    ...extra,
  });

const pkgs = (web: string, worker: string): ReleasedPackage[] => [
  { name: 'web', feed: 'docker.io', package: 'shop/web', tag: web, digest: null },
  { name: 'worker', feed: 'docker.io', package: 'shop/worker', tag: worker, digest: null },
];

const request = (
  web: string,
  worker: string,
  extra: Partial<CreateReleaseRequest> = {},
): CreateReleaseRequest => ({
  channel: 'stable',
  packages: pkgs(web, worker),
  watched: ['web'],
  requireLater: true,
  reason: 'test',
  source: { kind: 'trigger', trigger: 'trigger/shop/t' },
  key: `k-${web}-${worker}`,
  ...extra,
});

const now = new Date(Date.UTC(2026, 10, 26, 13, 5, 9));

describe('the release ledger', () => {
  test('numbers releases 0.0.1, 0.0.2 ... under the default template, across channels', () => {
    const ledger = new ReleaseLedger(ReleaseLedger.initial(spec()));
    expect(ledger.create(request('1.0.0', '2.0.0'), now).release?.number).toBe('0.0.1');
    expect(ledger.create(request('1.1.0', '2.0.0'), now).release?.number).toBe('0.0.2');
    expect(
      ledger.create(request('1.1.0', '2.0.0', { channel: 'beta', key: 'b1' }), now).release?.number,
    ).toBe('0.0.3');
    expect(ledger.list({ limit: 10, offset: 0 }).releases.map((r) => r.number)).toEqual([
      '0.0.3',
      '0.0.2',
      '0.0.1',
    ]);
    expect(ledger.list({ channel: 'stable', limit: 1, offset: 1 }).releases.map((r) => r.number)).toEqual([
      '0.0.1',
    ]);
    expect(ledger.get('0.0.2')?.deliveries).toEqual({
      hook: { status: 'pending', attempts: 0, lastError: null, deliveredAt: null },
    });
  });

  test('never twice: a retried key, an already-released version set, and a set that is not later', () => {
    const ledger = new ReleaseLedger(ReleaseLedger.initial(spec()));
    ledger.create(request('1.1.0', '2.0.0'), now);
    expect(ledger.create(request('1.1.0', '2.0.0'), now)).toMatchObject({
      outcome: 'duplicate',
      release: { number: '0.0.1' },
    });
    expect(ledger.create(request('1.1.0', '2.0.0', { key: 'other-trigger' }), now)).toMatchObject({
      outcome: 'already-released',
    });
    // Only the unwatched package moved: not a reason to release.
    expect(ledger.create(request('1.1.0', '2.1.0', { key: 'k3' }), now)).toMatchObject({
      outcome: 'not-later',
      release: null,
    });
    // An older watched version is not later either; a manual release may pin it.
    expect(ledger.create(request('1.0.0', '2.1.0', { key: 'k4' }), now).outcome).toBe('not-later');
    expect(
      ledger.create(
        request('1.0.0', '2.1.0', { key: 'k5', requireLater: false, source: { kind: 'manual' } }),
        now,
      ).outcome,
    ).toBe('created');
    expect(ledger.state.releases).toHaveLength(2);
  });

  test('refuses requests that do not fit the configuration', () => {
    const ledger = new ReleaseLedger(ReleaseLedger.initial(spec()));
    expect(() => ledger.validate(request('1.0.0', '2.0.0', { channel: 'nope' }))).toThrow(
      ReleaseRequestError,
    );
    expect(() =>
      ledger.validate({ ...request('1.0.0', '2.0.0'), packages: pkgs('1.0.0', '2.0.0').slice(0, 1) }),
    ).toThrow(/every package/);
    expect(() => ledger.validate(request('1.0.0', '2.0.0', { watched: ['ghost'] }))).toThrow(
      /no package named "ghost"/,
    );
  });

  test('a donor package gives the release number; a repeat gets a suffix', () => {
    const ledger = new ReleaseLedger(ReleaseLedger.initial(spec({ versioning: { donorPackage: 'web' } })));
    expect(
      ledger.create(request('v1.4.0', '2.0.0', { watched: ['web', 'worker'] }), now).release?.number,
    ).toBe('1.4.0');
    expect(
      ledger.create(request('v1.4.0', '2.1.0', { watched: ['web', 'worker'], key: 'k2' }), now).release
        ?.number,
    ).toBe('1.4.0-1');
    expect(
      ledger.create(request('v1.4.0', '2.2.0', { watched: ['web', 'worker'], key: 'k3' }), now).release
        ?.number,
    ).toBe('1.4.0-2');
  });

  test('keeps the newest 1,000 releases and remembers their keys', () => {
    const ledger = new ReleaseLedger(ReleaseLedger.initial(spec({ channels: [{ name: 'stable' }] })));
    for (let i = 0; i < 1005; i++) ledger.create(request(`1.0.${i}`, '2.0.0', { key: `k${i}` }), now);
    expect(ledger.state.releases).toHaveLength(1000);
    expect(ledger.state.releases[0].number).toBe('0.0.6');
    expect(ledger.list({ limit: 1, offset: 0 }).releases[0].number).toBe('0.0.1005');
    expect(ledger.create(request('1.0.1004', '2.0.0', { key: 'k1004' }), now).outcome).toBe('duplicate');
  });

  test('configure reports whether anything changed and moves the revision', () => {
    const ledger = new ReleaseLedger(ReleaseLedger.initial(spec()));
    expect(ledger.configure(spec())).toBe(false);
    expect(ledger.configure(spec({ destinations: [] }))).toBe(true);
    expect(ledger.state.revision).toBe(2);
  });
});

describe('Octopus versioning templates', () => {
  const ctx = { lastInProject: '1.4.9', lastInChannel: '1.2.3', channelName: 'beta', now };
  test.each([
    ['#{Octopus.Version.LastMajor}.#{Octopus.Version.LastMinor}.#{Octopus.Version.NextPatch}', '1.4.10'],
    ['#{Octopus.Version.LastMajor}.#{Octopus.Version.NextMinor}.0', '1.5.0'],
    ['#{Octopus.Version.NextMajor}.0.0', '2.0.0'],
    ['1.2.#{Octopus.Version.Channel.NextPatch}-#{Octopus.Release.Channel.Name}', '1.2.4-beta'],
    [
      '#{Octopus.Date.Year}.#{Octopus.Date.Month}.#{Octopus.Date.Day}.#{Octopus.Version.NextBuild}',
      '2026.11.26.1',
    ],
    [
      '#{Octopus.Date.Year}.#{Octopus.Date.DayOfYear}.#{Octopus.Time.Hour}#{Octopus.Time.Minute}',
      '2026.330.1305',
    ],
  ])('%s renders %s', (template, expected) => {
    expect(renderReleaseNumber(template, ctx)).toBe(expected);
  });

  test('the first release under the default template is 0.0.1', () => {
    expect(
      renderReleaseNumber(
        '#{Octopus.Version.LastMajor}.#{Octopus.Version.LastMinor}.#{Octopus.Version.NextPatch}',
        { ...ctx, lastInProject: null },
      ),
    ).toBe('0.0.1');
  });

  test.each([
    ['#{Octopus.Version.Unknown}', /unknown variable/],
    ['release-#{Octopus.Release.Channel.Name}', /not a version/],
    ['1.0.#{Octopus.Version.NextPatch', /unclosed/],
  ])('refuses %j when the project is saved', (template, message) => {
    expect(() => checkTemplate(template)).toThrow(message);
  });
});
