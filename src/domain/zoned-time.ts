/**
 * Wall-clock time in an IANA time zone, on the engine's own time zone data (Intl): no dependency, and the
 * same answers in the API, the activities and the workflow sandbox. Pure functions of their arguments.
 */

/** Whether the engine knows `zone` as an IANA time zone (`Europe/Berlin`, `UTC`). */
export function isTimeZone(zone: string): boolean {
  if (zone.length === 0 || zone.length > 64) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** A date and time on a wall clock, months from 1. */
export interface LocalDateTime {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

/**
 * Formatters by zone: building one costs far more than using it, and a freeze's windows take dozens of
 * readings. A cache, bounded by the zones in use (a few), and cleared if it ever grows past that.
 */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  const known = formatters.get(zone);
  if (known) return known;
  if (formatters.size >= 64) formatters.clear();
  const made = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
  formatters.set(zone, made);
  return made;
}

/** The wall clock in `zone` at the instant `epochMs`. */
export function localTimeAt(epochMs: number, zone: string): LocalDateTime {
  const parts: Record<string, number> = {};
  for (const p of formatter(zone).formatToParts(new Date(epochMs)))
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return {
    year: parts.year,
    month: parts.month,
    day: parts.day,
    hour: parts.hour,
    minute: parts.minute,
    second: parts.second,
  };
}

const asUtc = (t: LocalDateTime) => Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second);

/** How far `zone`'s wall clock is ahead of UTC at `epochMs`, in ms. */
function offsetAt(epochMs: number, zone: string): number {
  const whole = Math.floor(epochMs / 1000) * 1000;
  return asUtc(localTimeAt(whole, zone)) - whole;
}

/**
 * The instant a wall-clock time in `zone` names. A time the clock skips (the hour lost when summer time
 * starts) is read with the offset before the change, so it lands that far after the gap (02:30 on a
 * spring-forward night is 03:30); a time the clock shows twice is the first of the two. These are the
 * "compatible" choices of RFC 5545 and the Temporal proposal.
 */
export function instantOf(local: LocalDateTime, zone: string): number {
  const wall = asUtc(local);
  const before = offsetAt(wall - 86_400_000, zone);
  const after = offsetAt(wall + 86_400_000, zone);
  const fits = (offset: number) => offsetAt(wall - offset, zone) === offset;
  const candidates = [wall - before, wall - after].filter((c, i) => fits(i === 0 ? before : after));
  if (candidates.length === 0) return wall - before;
  return Math.min(...candidates);
}

/** The calendar day `days` after the given one (any count, months and years rolled over). */
export function addDays(
  date: Pick<LocalDateTime, 'year' | 'month' | 'day'>,
  days: number,
): { year: number; month: number; day: number } {
  const d = new Date(Date.UTC(date.year, date.month - 1, date.day + days));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

/** 0 for Monday … 6 for Sunday. */
export function weekdayOf(date: Pick<LocalDateTime, 'year' | 'month' | 'day'>): number {
  return (new Date(Date.UTC(date.year, date.month - 1, date.day)).getUTCDay() + 6) % 7;
}

/** Days in the month (1–12) of the year. */
export function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}
