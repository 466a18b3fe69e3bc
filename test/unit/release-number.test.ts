import { checkTemplate, renderReleaseNumber } from '../../src/domain/release-number';

const now = new Date(Date.UTC(2026, 10, 26, 13, 5, 9));

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
