/**
 * Deployment freezes: windows of time in which nothing deploys to the projects and environments a freeze
 * covers (Octopus's deployment freezes). A freeze is one window (`start`, `end`) or a recurring one (daily,
 * weekly on given days, monthly on a day), on the wall clock of its time zone, so "every Saturday from
 * 00:00" stays at 00:00 across a change to or from summer time. Schema and pure functions only.
 */
import { z } from 'zod';
import { SlugSchema } from './trigger-schema';
import { TenantNameSchema } from './tenant';
import { addDays, daysInMonth, instantOf, isTimeZone, localTimeAt, weekdayOf } from './zoned-time';

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

const LOCAL_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/;
const CLOCK_TIME = /^([01]\d|2[0-3]):([0-5]\d)$/;

function onCalendar(s: string): boolean {
  const m = LOCAL_DATE_TIME.exec(s);
  if (!m) return false;
  const [, y, mo, d, h, mi, se] = m.map(Number);
  return mo >= 1 && mo <= 12 && d >= 1 && d <= daysInMonth(y, mo) && h < 24 && mi < 60 && (se || 0) < 60;
}

/** `2026-12-24T18:00` (seconds optional): a time on the freeze's wall clock, no offset. */
const LocalDateTimeSchema = z
  .string()
  .max(19)
  .regex(LOCAL_DATE_TIME, 'a date and time on the time zone’s clock, YYYY-MM-DDTHH:MM[:SS], no offset')
  .refine(onCalendar, 'not a date and time on the calendar');

const ClockTimeSchema = z.string().max(5).regex(CLOCK_TIME, 'a time of day, HH:MM (00:00 to 23:59)');

export const RecurrenceSchema = z
  .strictObject({
    every: z.enum(['daily', 'weekly', 'monthly']),
    /** Weekly: the days whose `from` starts a window. */
    days: z.array(z.enum(WEEKDAYS)).min(1).max(7).optional(),
    /** Monthly: the day of the month; a month without it (31 in April) takes its last day. */
    dayOfMonth: z.number().int().min(1).max(31).optional(),
    /** A window starts at `from` and ends at the next `until` (the next day when `until` is not later). */
    from: ClockTimeSchema,
    until: ClockTimeSchema,
  })
  .superRefine((r, ctx) => {
    if (r.every === 'weekly' && !r.days)
      ctx.addIssue({ code: 'custom', path: ['days'], message: 'a weekly freeze names its days' });
    if (r.every !== 'weekly' && r.days)
      ctx.addIssue({ code: 'custom', path: ['days'], message: 'only a weekly freeze names days' });
    if (r.every === 'monthly' && r.dayOfMonth === undefined)
      ctx.addIssue({ code: 'custom', path: ['dayOfMonth'], message: 'a monthly freeze names its day' });
    if (r.every !== 'monthly' && r.dayOfMonth !== undefined)
      ctx.addIssue({ code: 'custom', path: ['dayOfMonth'], message: 'only a monthly freeze names a day' });
  });

export const FreezeSpecSchema = z
  .strictObject({
    name: SlugSchema,
    description: z.string().max(500).optional(),
    /** The IANA time zone whose wall clock `start`, `end` and the recurrence are read on. */
    timeZone: z.string().max(64).refine(isTimeZone, 'an IANA time zone such as "Europe/Berlin" or "UTC"'),
    start: LocalDateTimeSchema.optional(),
    end: LocalDateTimeSchema.optional(),
    recurring: RecurrenceSchema.optional(),
    /** The projects it covers; absent: every project. */
    projects: z.array(SlugSchema).min(1).max(100).optional(),
    /** The environments (by name, in any covered project) it covers; absent: every environment. */
    environments: z.array(SlugSchema).min(1).max(100).optional(),
    /** The tenants it covers (their tenanted deployments only); absent: every deployment, tenanted or not. */
    tenants: z.array(TenantNameSchema).min(1).max(100).optional(),
  })
  .superRefine((f, ctx) => {
    if (f.recurring) {
      for (const key of ['start', 'end'] as const)
        if (f[key] !== undefined)
          ctx.addIssue({ code: 'custom', path: [key], message: 'a recurring freeze has no start or end' });
      return;
    }
    for (const key of ['start', 'end'] as const)
      if (f[key] === undefined)
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: 'required (or give "recurring": a daily, weekly or monthly window)',
        });
    if (
      f.start &&
      f.end &&
      onCalendar(f.start) &&
      onCalendar(f.end) &&
      isTimeZone(f.timeZone) &&
      onceWindow(f as FreezeSpec) === null
    )
      ctx.addIssue({ code: 'custom', path: ['end'], message: 'must be after start' });
  });
export type FreezeSpec = z.infer<typeof FreezeSpecSchema>;
export type FreezeSpecInput = z.input<typeof FreezeSpecSchema>;

/** A window of a freeze, epoch ms, `end` excluded. */
export interface FreezeWindow {
  readonly start: number;
  readonly end: number;
}

function parseLocal(s: string) {
  const [, year, month, day, hour, minute, second] = LOCAL_DATE_TIME.exec(s)!.map(Number);
  return { year, month, day, hour, minute, second: second || 0 };
}

function onceWindow(f: FreezeSpec): FreezeWindow | null {
  const start = instantOf(parseLocal(f.start!), f.timeZone);
  const end = instantOf(parseLocal(f.end!), f.timeZone);
  return end > start ? { start, end } : null;
}

/** Days looked at for a recurring freeze's next window: a monthly one on the 31st recurs within them. */
const SEARCH_DAYS = 70;

/**
 * The freeze's first window that has not ended at `at` (it may have begun): null when none is left (a
 * one-off freeze that is over).
 */
export function nextWindow(f: FreezeSpec, at: number): FreezeWindow | null {
  const r = f.recurring;
  if (!r) {
    const w = onceWindow(f);
    return w && w.end > at ? w : null;
  }
  const [fromH, fromM] = r.from.split(':').map(Number);
  const [untilH, untilM] = r.until.split(':').map(Number);
  const overnight = untilH * 60 + untilM <= fromH * 60 + fromM;
  // From the day before: a window begun yesterday evening may not have ended.
  const today = localTimeAt(at, f.timeZone);
  for (let i = -1; i < SEARCH_DAYS; i++) {
    const day = addDays(today, i);
    if (!startsOn(r, day)) continue;
    const endDay = overnight ? addDays(day, 1) : day;
    const start = instantOf({ ...day, hour: fromH, minute: fromM, second: 0 }, f.timeZone);
    const end = instantOf({ ...endDay, hour: untilH, minute: untilM, second: 0 }, f.timeZone);
    if (end > at && end > start) return { start, end };
  }
  return null;
}

function startsOn(
  r: NonNullable<FreezeSpec['recurring']>,
  day: { year: number; month: number; day: number },
) {
  if (r.every === 'daily') return true;
  if (r.every === 'weekly') return r.days!.includes(WEEKDAYS[weekdayOf(day)]);
  return day.day === Math.min(r.dayOfMonth!, daysInMonth(day.year, day.month));
}

/** The freeze's window holding the instant `at`, or null. */
export function windowAt(f: FreezeSpec, at: number): FreezeWindow | null {
  const w = nextWindow(f, at);
  return w && w.start <= at ? w : null;
}

/** Whether the freeze covers deployments of `project` to `environment` (for `tenant`, when tenanted). */
export function freezeScopes(f: FreezeSpec, project: string, environment: string, tenant?: string): boolean {
  return (
    (f.projects === undefined || f.projects.includes(project)) &&
    (f.environments === undefined || f.environments.includes(environment)) &&
    (f.tenants === undefined || (tenant !== undefined && f.tenants.includes(tenant)))
  );
}

/** What holds a deployment: the freeze in force (by name), and when deployments may go again. */
export interface FreezeHold {
  readonly freeze: string;
  /** The first instant no freeze covers (windows that touch or overlap are one hold). */
  readonly until: number;
}

/** Windows read per hold at most (a year-long daily chain of one freeze), so a hold costs < 100 ms. */
export const HOLD_READINGS = 400;

/**
 * Whether a deployment of `project` to `environment` is frozen at `at`, and until when: windows of any
 * covering freeze that follow on without a gap hold it until the last one ends.
 */
export function freezeHold(
  freezes: readonly FreezeSpec[],
  project: string,
  environment: string,
  at: number,
  tenant?: string,
): FreezeHold | null {
  const covering = freezes.filter((f) => freezeScopes(f, project, environment, tenant));
  let name: string | null = null;
  let until = at;
  let readings = 0;
  // Bounded: a year of back-to-back daily windows, far more than any real chain.
  for (let i = 0; i < 400; i++) {
    // Each reading costs about 0.1 ms of zone arithmetic: 200 freezes chained all year took 10 s of one
    // thread. Past the budget the hold ends early, which is safe: the queue reads the freezes again then.
    if (i > 0 && readings + covering.length > HOLD_READINGS) break;
    readings += covering.length;
    let end = until;
    for (const f of covering) {
      const w = windowAt(f, until);
      if (!w) continue;
      name ??= f.name;
      end = Math.max(end, w.end);
    }
    if (end === until) break;
    until = end;
  }
  return name === null ? null : { freeze: name, until };
}
