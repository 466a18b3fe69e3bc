import { FreezeSpec, FreezeSpecSchema, freezeHold, HOLD_READINGS, nextWindow } from '../../src/domain/freeze';
import { instantOf } from '../../src/domain/zoned-time';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();
const freeze = (input: Record<string, unknown>): FreezeSpec => FreezeSpecSchema.parse(input);

describe('a recurring weekly freeze across a change of summer time', () => {
  // Sundays 01:00 to 05:00 in Berlin; on 28 March 2027 the clocks go from 02:00 CET to 03:00 CEST.
  const sundays = freeze({
    name: 'sunday-maintenance',
    timeZone: 'Europe/Berlin',
    recurring: { every: 'weekly', days: ['sun'], from: '01:00', until: '05:00' },
  });

  test('the window of the spring-forward Sunday starts in winter time and ends in summer time', () => {
    const w = nextWindow(sundays, at('2027-03-26T12:00:00Z'))!;
    expect(iso(w.start)).toBe('2027-03-28T00:00:00.000Z'); // 01:00 CET
    expect(iso(w.end)).toBe('2027-03-28T03:00:00.000Z'); // 05:00 CEST: three hours of clock time
  });

  test('the next window stays at 01:00 on the wall clock, an hour earlier in UTC', () => {
    const w = nextWindow(sundays, at('2027-03-28T03:00:00Z'))!;
    expect(iso(w.start)).toBe('2027-04-03T23:00:00.000Z');
    expect(iso(w.end)).toBe('2027-04-04T03:00:00.000Z');
  });

  test('the fall-back Sunday window lasts five hours', () => {
    const w = nextWindow(sundays, at('2026-10-24T00:00:00Z'))!;
    expect(iso(w.start)).toBe('2026-10-24T23:00:00.000Z'); // 01:00 CEST
    expect(iso(w.end)).toBe('2026-10-25T04:00:00.000Z'); // 05:00 CET
  });

  test('inside a window the hold lasts until its end; outside there is none', () => {
    expect(freezeHold([sundays], 'shop', 'prod', at('2027-03-28T01:30:00Z'))).toEqual({
      freeze: 'sunday-maintenance',
      until: at('2027-03-28T03:00:00Z'),
    });
    expect(freezeHold([sundays], 'shop', 'prod', at('2027-03-28T03:00:00Z'))).toBeNull();
  });
});

describe('freeze windows', () => {
  test('a time the clock skips lands after the gap, a time it shows twice is the first', () => {
    const local = { year: 2027, month: 3, day: 28, hour: 2, minute: 30, second: 0 };
    expect(iso(instantOf(local, 'Europe/Berlin'))).toBe('2027-03-28T01:30:00.000Z'); // 03:30 CEST
    const twice = { year: 2026, month: 10, day: 25, hour: 2, minute: 30, second: 0 };
    expect(iso(instantOf(twice, 'Europe/Berlin'))).toBe('2026-10-25T00:30:00.000Z'); // 02:30 CEST
  });

  test('a weekend freeze from Saturday 00:00 to Monday 00:00 is one hold', () => {
    const weekend = freeze({
      name: 'weekend',
      timeZone: 'America/New_York',
      recurring: { every: 'weekly', days: ['sat', 'sun'], from: '00:00', until: '00:00' },
    });
    // Saturday 5 December 2026, 10:00 in New York.
    expect(freezeHold([weekend], 'shop', 'prod', at('2026-12-05T15:00:00Z'))).toEqual({
      freeze: 'weekend',
      until: at('2026-12-07T05:00:00Z'),
    });
  });

  test('a monthly freeze on the 31st takes the last day of a shorter month', () => {
    const monthEnd = freeze({
      name: 'month-end',
      timeZone: 'UTC',
      recurring: { every: 'monthly', dayOfMonth: 31, from: '18:00', until: '06:00' },
    });
    const w = nextWindow(monthEnd, at('2027-02-01T06:00:00Z'))!;
    expect(iso(w.start)).toBe('2027-02-28T18:00:00.000Z');
    expect(iso(w.end)).toBe('2027-03-01T06:00:00.000Z');
  });

  test('a one-off freeze covers only its scope, and is over after its end', () => {
    const holidays = freeze({
      name: 'holidays',
      timeZone: 'Europe/Berlin',
      start: '2026-12-24T00:00',
      end: '2027-01-02T00:00',
      projects: ['shop'],
      environments: ['prod'],
    });
    const christmas = at('2026-12-25T12:00:00Z');
    expect(freezeHold([holidays], 'shop', 'prod', christmas)?.until).toBe(at('2027-01-01T23:00:00Z'));
    expect(freezeHold([holidays], 'shop', 'test', christmas)).toBeNull();
    expect(freezeHold([holidays], 'blog', 'prod', christmas)).toBeNull();
    expect(nextWindow(holidays, at('2027-01-02T00:00:00Z'))).toBeNull();
  });
});

describe('a freeze as given', () => {
  const problems = (input: Record<string, unknown>) =>
    FreezeSpecSchema.safeParse(input).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);

  test('an unknown time zone, a backwards window or a weekly freeze without days names the field', () => {
    expect(
      problems({ name: 'x', timeZone: 'Mars/Olympus', start: '2026-12-24T00:00', end: '2026-12-25T00:00' }),
    ).toEqual(['timeZone: an IANA time zone such as "Europe/Berlin" or "UTC"']);
    expect(
      problems({ name: 'x', timeZone: 'UTC', start: '2026-12-24T00:00', end: '2026-12-23T00:00' }),
    ).toEqual(['end: must be after start']);
    expect(
      problems({ name: 'x', timeZone: 'UTC', recurring: { every: 'weekly', from: '00:00', until: '06:00' } }),
    ).toEqual(['recurring.days: a weekly freeze names its days']);
    expect(
      problems({ name: 'x', timeZone: 'UTC', start: '2026-02-30T00:00', end: '2026-03-01T00:00' }),
    ).toEqual(['start: not a date and time on the calendar']);
    expect(problems({ name: 'x', timeZone: 'UTC' })).toEqual([
      'start: required (or give "recurring": a daily, weekly or monthly window)',
      'end: required (or give "recurring": a daily, weekly or monthly window)',
    ]);
  });
});

describe('a hold over many chained freezes', () => {
  const allDay = (name: string, timeZone: string) =>
    freeze({ name, timeZone, recurring: { every: 'daily', from: '00:00', until: '00:00' } });
  const now = at('2026-03-28T12:00:00Z');
  const day = 86_400_000;

  test('one freeze holding every day chains its windows for the whole year bound', () => {
    const hold = freezeHold([allDay('always', 'UTC')], 'p', 'e', now)!;
    expect(hold.freeze).toBe('always');
    expect(hold.until).toBe(at('2026-03-28T00:00:00Z') + 400 * day);
  });

  test('200 freezes holding every day read a bounded number of windows and still hold, ending the hold early', () => {
    // Read to the end this took 80,000 window readings (10 s of the API's one thread per deploy check).
    const many = Array.from({ length: 200 }, (_, i) =>
      allDay(`f${i}`, i % 2 ? 'Europe/Berlin' : 'America/New_York'),
    );
    const hold = freezeHold(many, 'p', 'e', now)!;
    expect(hold.freeze).toBe('f0');
    expect(hold.until).toBeGreaterThan(now);
    expect(hold.until).toBeLessThanOrEqual(now + Math.ceil(HOLD_READINGS / 200 + 1) * day);
  });
});
