import { Writable } from 'node:stream';
import pino, { Logger } from 'pino';
import type { LogLevel, LogMetadata, Logger as SdkLoggerInterface } from '@temporalio/common';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type Level = (typeof LOG_LEVELS)[number];

export interface LogOptions {
  readonly level: Level;
  /** Human-readable lines instead of JSON: by default when stdout is a terminal. */
  readonly pretty?: boolean;
  /** Where lines go (stdout by default); tests capture them. */
  readonly destination?: Writable;
}

/** Keys that carry credentials anywhere they might appear; pino blanks them before a line is written. */
const REDACT = [
  'authorization',
  'password',
  'token',
  'secret',
  'headers.authorization',
  '*.authorization',
  '*.password',
  '*.token',
  '*.secret',
];

/**
 * One JSON object per line: `level`, `time` (ISO), `component` and the message (`msg`), with `project`,
 * `trigger`, `workflowId` and `runId` where a line is about a workflow. On a terminal, short readable
 * lines instead.
 */
export function createLogger(options: LogOptions): Logger {
  const destination = options.destination ?? process.stdout;
  const pretty = options.pretty ?? (destination === process.stdout && process.stdout.isTTY === true);
  return pino(
    {
      level: options.level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT, censor: '[redacted]' },
    },
    pretty ? prettyStream(destination) : destination,
  );
}

/** `12:00:01 INFO  [api] message key=value`: for people at a terminal (no extra dependency). */
function prettyStream(out: Writable): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) {
        if (!line) continue;
        try {
          const { level, time, msg, component, ...rest } = JSON.parse(line) as Record<string, unknown>;
          const fields = Object.entries(rest)
            .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
            .join(' ');
          const clock = String(time).slice(11, 19);
          out.write(
            `${clock} ${String(level).toUpperCase().padEnd(5)} ${component ? `[${String(component)}] ` : ''}${String(msg ?? '')}${fields ? ` ${fields}` : ''}\n`,
          );
        } catch {
          out.write(`${line}\n`);
        }
      }
      done();
    },
  });
}

/** `trigger/<project>/<name>` and `release/<project>/…` name their project (and trigger). */
export function workflowFields(workflowId: unknown): Record<string, string> {
  if (typeof workflowId !== 'string') return {};
  const [kind, project, name] = workflowId.split('/');
  if (kind === 'trigger' && project && name) return { project, trigger: name };
  if ((kind === 'release' || kind === 'delivery') && project) return { project };
  return {};
}

const SDK_LEVELS: Record<LogLevel, Level> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/**
 * The Temporal SDK's logger (worker, workflows, activities, forwarded core logs) on top of pino. Its
 * routine lines (worker state, the bundle it built) go to debug; workflow and activity context is renamed
 * to our fields. Webpack's banner arrives as one long multi-line message and is kept at trace.
 */
export class TemporalLogger implements SdkLoggerInterface {
  /** Lines of the SDK's core held back in this window, by kind: how many, and the level to sum them up at. */
  private readonly repeats = new Map<string, { count: number; level: Level }>();
  private flushTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly logger: Logger,
    /** How long one core message is said once: the first line in full, the rest as one count. */
    private readonly repeatWindowMs = 60_000,
  ) {}

  log(level: LogLevel, message: string, meta: LogMetadata = {}): void {
    let target = SDK_LEVELS[level] ?? 'info';
    if (target === 'info' && ROUTINE.some((r) => message.startsWith(r))) target = 'debug';
    // Webpack's report of a good build (a build with errors comes at error level and stays there).
    if (target === 'info' && message.includes('\n') && /asset |webpack/i.test(message)) target = 'trace';
    if (!this.logger.isLevelEnabled(target)) return;
    // The core says the same thing once per workflow task when a worker is past its capacity ("Task not
    // found when completing" hundreds of times a minute past the workflow cache): the first in full, then
    // one line a window with the count.
    if (meta.sdkComponent === 'core' && this.heldBack(message, target)) return;
    const { workflowId, runId, workflowRunId, sdkComponent, taskQueue, ...rest } = meta as Record<
      string,
      unknown
    >;
    this.logger[target](
      {
        component: typeof sdkComponent === 'string' ? `temporal.${sdkComponent}` : 'temporal',
        ...workflowFields(workflowId),
        ...(workflowId ? { workflowId } : {}),
        ...(runId || workflowRunId ? { runId: runId ?? workflowRunId } : {}),
        ...(taskQueue ? { taskQueue } : {}),
        ...withErrorMessages(rest),
      },
      message,
    );
  }

  /**
   * True when `message` was already said in this window, run ids and numbers aside ("[TMPRL1104] <run>:36:1
   * Workflow task duration exceeded 5 seconds." comes once per slow task): it is counted, and summed up
   * when the window ends.
   */
  private heldBack(message: string, level: Level): boolean {
    // The start of a message names its kind; the rest (a server's error text) could be long.
    const kind = message
      .slice(0, MAX_KIND_CHARS)
      .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(:\d+)*/gi, '<run>')
      .replace(/(\[TMPRL\d+\])|\d+/g, (_, code?: string) => code ?? 'N');
    const seen = this.repeats.get(kind);
    if (!seen) {
      // Bounded: past this many kinds in one window, lines are said as they come.
      if (this.repeats.size >= MAX_REPEAT_KINDS) return false;
      this.repeats.set(kind, { count: 0, level });
      this.flushTimer ??= setInterval(() => this.flushRepeats(), this.repeatWindowMs).unref();
      return false;
    }
    seen.count++;
    return true;
  }

  /** Sums up what the window held back, and forgets what it said: the next line of each is said in full. */
  flushRepeats(): void {
    for (const [kind, { count, level }] of this.repeats)
      if (count > 0)
        this.logger[level](
          { component: 'temporal.core', repeated: count, windowSeconds: this.repeatWindowMs / 1000 },
          `${kind} (${count} more like it in the last ${this.repeatWindowMs / 1000} s)`,
        );
    this.repeats.clear();
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.flushTimer = null;
  }

  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}

/**
 * An Error's message is not an enumerable property, so pino wrote an activity's failure as
 * `{"type":"NETWORK","nonRetryable":false}`: errors in the SDK's metadata keep their message (which never
 * carries a secret: see HttpError) and name.
 */
function withErrorMessages(meta: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(meta)) {
    if (!(value instanceof Error)) {
      out[key] = value;
      continue;
    }
    // Own enumerable fields (an ApplicationFailure's type and nonRetryable), not its details or cause chain.
    const own = Object.fromEntries(
      Object.entries(value).filter(
        ([k]) => k !== 'stack' && k !== 'details' && k !== 'cause' && k !== 'failure',
      ),
    );
    out[key] = { ...own, name: value.name, message: value.message };
  }
  return out;
}

/** How many kinds of core line one window tracks, and how much of a line names its kind. */
const MAX_REPEAT_KINDS = 1000;
const MAX_KIND_CHARS = 200;

/** SDK lines that say nothing an operator acts on: debug, not info. */
const ROUTINE = [
  'Workflow bundle created',
  'Worker state changed',
  'Initializing worker',
  'Creating worker',
  'Workflow started',
  'Workflow completed',
  'Workflow continued as new',
  'Activity started',
  'Activity completed',
  'Beginning Worker shutdown',
  'No Nexus services registered',
];
