import type { PackageCheck, PackageWatches } from '../db/package-watches';
import {
  Client,
  WorkflowExecutionAlreadyStartedError,
  WorkflowExecutionDescription,
  WorkflowHandle,
} from '@temporalio/client';
import { RequestHandler } from 'express';
import { z } from 'zod';
import { Ledger } from '../db/ledger';
import { FailureCode } from '../domain/failures';
import {
  PackageStatus,
  triggerStatus,
  TriggerChannelView,
  TriggerSpec,
  TriggerState,
  watchedPackageKey,
} from '../domain/trigger';
import { SlugSchema, TriggerDescriptionSchema, TriggerSpecSchema } from '../domain/trigger-schema';
import {
  configureTrigger,
  signalTrigger,
  startTrigger,
  TriggerAction,
} from '../../workflows/contracts/client';
import { triggerWorkflowId } from '../../workflows/contracts/ids';
import {
  PACKAGES_ATTRIBUTE,
  PROJECT_ATTRIBUTE,
  TRIGGER_STATE_ATTRIBUTE,
} from '../../workflows/contracts/search-attributes';
import { historyQuery, stateQuery } from '../../workflows/contracts/trigger';
import type { TriggerWorkflow } from '../../workflows/contracts/workflows';
import { HttpProblem, parseOr400 } from './problem';
import { cancelAndWait, equals, listRunning, requireDescribed, withWorkerDeadline } from './workflows';
import { problemFor } from './failure-problems';
import {
  defineRoutes,
  Handlers,
  invalid,
  notFound,
  Problem,
  problemExample,
  RouteSpec,
  Timestamp,
  unavailable,
} from './route';

export const TriggerParams = z.object({ project: SlugSchema, name: SlugSchema });
const ProjectParams = z.object({ project: SlugSchema });
export const TriggerListQuery = z.object({ project: SlugSchema.optional() }).strict();
export const ChangeSchema = z
  .object({
    channel: SlugSchema.optional(),
    watch: z.array(SlugSchema).min(1).max(50).optional(),
    intervalSeconds: z.number().int().optional(),
    description: TriggerDescriptionSchema.optional(),
  })
  .strict();

/**
 * The most triggers one bulk request starts: a project's worth in a manifest (apply -f allows 100 a project).
 * Each is one workflow start; a request of 100 answers in well under a second on an idle box.
 */
export const MAX_BULK_TRIGGERS = 100;
/** Triggers started at once from one request; more only queue on the Temporal server's connection. */
const BULK_STARTS_IN_FLIGHT = 16;
/**
 * When the new triggers poll first: `now` (the default), or `slot`, at their slot in the interval like every
 * later poll, so a large manifest's triggers do not all poll (and subscribe) in the minute they are created.
 */
const FirstPollSchema = z.enum(['now', 'slot']).optional();
const BulkTriggersBody = z
  .object({ triggers: z.array(z.unknown()).min(1).max(MAX_BULK_TRIGGERS), firstPoll: FirstPollSchema })
  .strict();
/** What the body holds, for the OpenAPI document (each item as POST /projects/{project}/triggers takes it). */
const BulkTriggersDoc = z
  .object({ triggers: z.array(TriggerSpecSchema).min(1).max(MAX_BULK_TRIGGERS), firstPoll: FirstPollSchema })
  .strict();
const BulkTriggersResult = z.object({
  results: z.array(z.object({ id: z.string(), name: z.string(), created: z.boolean() })),
});

/** A channel as the ledger answers it for a new trigger. */
type TriggerChannel = TriggerChannelView;

/** The view a new trigger starts with, so its first evaluation is one local activity like every later one. */
function viewOf(channel: TriggerChannel): TriggerChannelView {
  return {
    revision: channel.revision,
    packages: channel.packages,
    rules: channel.rules,
    lastRelease: channel.lastRelease,
  };
}

/**
 * A watched trigger polls on its own only hourly: each watched package shows when it was last checked, by
 * the trigger's poll or its watcher's read (the later), and a failure of the watcher's read.
 */
async function withWatcherChecks(state: TriggerState, watches?: PackageWatches): Promise<TriggerState> {
  const watched = state.watching?.keys ?? [];
  const checks =
    watches && watched.length > 0 ? await watches.checks(watched) : new Map<string, PackageCheck>();
  const packages: Record<string, ShownPackage> = {};
  for (const [name, status] of Object.entries(state.packages)) {
    const check = checks.get(watchedPackageKey(status.feed, status.package));
    const byWatcher = check?.checkedAt.toISOString() ?? null;
    packages[name] = {
      ...status,
      checkedAt:
        byWatcher !== null && (status.polledAt === null || byWatcher > status.polledAt)
          ? byWatcher
          : status.polledAt,
      ...(check ? { watcherCheck: { at: byWatcher!, error: check.error } } : {}),
    };
  }
  return { ...state, packages };
}

/** A package's status as the API shows it: with its last check, by the trigger or by its watcher. */
type ShownPackage = PackageStatus & {
  checkedAt: string | null;
  watcherCheck?: { at: string; error: { code: string; message: string } | null };
};

/** A trigger as the API shows it: its spec, its status and its state. */
function present(state: TriggerState) {
  return {
    id: triggerWorkflowId(state.spec.project, state.spec.name),
    status: triggerStatus(state),
    ...state,
  };
}

/** A poll the server is retrying: visible from its first failed attempt, before the trigger records an outcome. */
export interface RetryingPoll {
  readonly feed: string | null;
  readonly package: string | null;
  readonly attempt: number;
  readonly maximumAttempts: number | null;
  readonly lastFailure: string;
  readonly nextAttemptAt: string | null;
  /** `retrying: SERVER_ERROR … attempt 2 of 5`, for people. */
  readonly summary: string;
}

const POLL_ACTIVITIES: ReadonlySet<string> = new Set(['pollPackage', 'pollChannel']);

/** The trigger's polls that failed at least once and are waiting for their next attempt. */
function retryingPolls({ raw }: WorkflowExecutionDescription): RetryingPoll[] {
  return (
    (raw.pendingActivities ?? [])
      // pollChannel: a trigger watching one package polls with its channel check (after a local try).
      .filter((a) => POLL_ACTIVITIES.has(a.activityType?.name ?? '') && a.lastFailure)
      .map((a) => {
        const details = decodeJson(a.heartbeatDetails?.payloads?.[0]?.data) as {
          feed?: string;
          package?: string;
        };
        const type = a.lastFailure?.applicationFailureInfo?.type ?? 'ERROR';
        const attempt = a.attempt ?? 1;
        const maximumAttempts = a.maximumAttempts ? a.maximumAttempts : null;
        const lastFailure = `${type}: ${a.lastFailure?.message ?? ''}`;
        const next = a.nextAttemptScheduleTime?.seconds;
        return {
          feed: details?.feed ?? null,
          package: details?.package ?? null,
          attempt,
          maximumAttempts,
          lastFailure,
          nextAttemptAt: next ? new Date(Number(next) * 1000).toISOString() : null,
          summary: `retrying: ${lastFailure} (attempt ${attempt}${maximumAttempts ? ` of ${maximumAttempts}` : ''})`,
        };
      })
  );
}

function decodeJson(data: Uint8Array | null | undefined): unknown {
  if (!data) return null;
  try {
    return JSON.parse(Buffer.from(data).toString('utf8'));
  } catch {
    return null;
  }
}

const TriggerSummary = z.object({
  id: z.string(),
  project: z.string(),
  name: z.string(),
  status: z.string().nullable(),
  packages: z.array(z.string()),
  startTime: Timestamp,
});
const PollOutcomeSchema = z.enum(['released', 'no-change', 'error', 'paused']);
/** An evaluation of the trigger (HistoryEntry), with links to the release it made. */
const HistoryEntrySchema = z.object({
  at: Timestamp,
  outcome: PollOutcomeSchema,
  reason: z.string(),
  versions: z.record(z.string(), z.string().nullable()),
  release: z.string().nullable(),
  source: z.string().optional(),
  links: z.object({ release: z.string(), deployments: z.string() }).optional(),
});
const FeedErrorSchema = z.object({ code: z.string(), message: z.string(), at: Timestamp });
const RetryingPollSchema = z.object({
  feed: z.string().nullable(),
  package: z.string().nullable(),
  attempt: z.number().int(),
  maximumAttempts: z.number().int().nullable(),
  lastFailure: z.string(),
  nextAttemptAt: z.string().nullable(),
  summary: z.string(),
});
/** The trigger's state (TriggerState) as `present` shows it; further fields of the state pass as they are. */
const TriggerView = z
  .object({
    id: z.string(),
    status: z.enum(['active', 'paused', 'error', 'retrying']),
    spec: TriggerSpecSchema,
    paused: z.boolean(),
    packages: z
      .record(
        z.string(),
        z
          .object({
            feed: z.string(),
            package: z.string(),
            latest: z.object({ tag: z.string(), digest: z.string().nullable() }).nullable(),
            discovered: z.array(z.string()),
            tagCount: z.number().int(),
            acceptedCount: z.number().int(),
            polledAt: z.string().nullable(),
            rateLimitRemaining: z.number().nullable(),
            error: FeedErrorSchema.nullable(),
            precedence: z.enum(['docker', 'semver']).optional(),
            /** When the package was last checked: by the trigger's poll or its watcher's read. */
            checkedAt: z.string().nullable().optional(),
            /** A package watcher's last read of the package (watched triggers). */
            watcherCheck: z
              .object({
                at: Timestamp,
                error: z.object({ code: z.string(), message: z.string() }).nullable(),
              })
              .optional(),
          })
          .loose(),
      )
      .optional(),
    history: z.array(HistoryEntrySchema),
    lastPoll: z.object({ at: Timestamp, outcome: PollOutcomeSchema, reason: z.string() }).nullable(),
    lastError: FeedErrorSchema.extend({ package: z.string().nullable() }).nullable().optional(),
    lastRelease: z.object({ number: z.string(), at: Timestamp }).nullable(),
    retrying: z.array(RetryingPollSchema),
  })
  .loose();
const triggerSpecExample = { project: 'shop', name: 'web', channel: 'default', intervalSeconds: 60 };
/** What both ways of starting a trigger answer. */
const triggerCreated: RouteSpec['responses'] = {
  201: {
    description: 'Started',
    schema: z.object({ id: z.string(), runId: z.string(), spec: TriggerSpecSchema }),
    example: {
      id: 'trigger/shop/web',
      runId: '01a2243d-7c13-726b-bcaf-06f9dd122812',
      spec: triggerSpecExample,
    },
  },
  400: invalid,
  409: {
    description: 'A trigger of that name runs',
    schema: Problem,
    example: problemExample(409, 'Conflict', 'trigger web already exists in project shop'),
  },
  503: unavailable,
};

/** A signal route: the trigger is told, and the answer does not wait for it to act. */
const signalSpec = (action: string, summary: string) =>
  ({
    method: 'POST',
    path: `/triggers/:project/:name/${action}`,
    access: 'operator',
    temporal: true,
    summary,
    tag: 'triggers',
    params: TriggerParams,
    responses: {
      202: {
        description: 'Signalled',
        schema: z.object({ id: z.string(), accepted: z.literal(action) }),
        example: { id: 'trigger/shop/web', accepted: action },
      },
      404: notFound('trigger'),
      503: unavailable,
    },
  }) satisfies RouteSpec;

/** Triggers: each a workflow, so every route runs on Temporal. */
export const TRIGGER_ROUTES = defineRoutes({
  listProjectTriggers: {
    method: 'GET',
    path: '/projects/:project/triggers',
    access: 'viewer',
    temporal: true,
    summary: "A project's running triggers",
    tag: 'triggers',
    params: ProjectParams,
    responses: {
      200: {
        description: 'Triggers',
        schema: z.object({ triggers: z.array(TriggerSummary) }),
        example: { triggers: [] },
      },
      503: unavailable,
    },
  },
  createProjectTrigger: {
    method: 'POST',
    path: '/projects/:project/triggers',
    access: 'admin',
    temporal: true,
    summary: 'Start a trigger in a project',
    tag: 'triggers',
    params: ProjectParams,
    body: TriggerSpecSchema,
    // `project` may be left out: the path names it (a different one is a 400).
    bodyExample: { project: 'shop', name: 'web', intervalSeconds: 60 },
    responses: triggerCreated,
  },
  createProjectTriggers: {
    method: 'POST',
    path: '/projects/:project/triggers/bulk',
    access: 'admin',
    temporal: true,
    summary: `Start up to ${MAX_BULK_TRIGGERS} triggers in a project at once (what apply -f sends)`,
    tag: 'triggers',
    params: ProjectParams,
    body: BulkTriggersDoc,
    bodyExample: {
      triggers: [
        { project: 'shop', name: 'web', intervalSeconds: 60 },
        { project: 'shop', name: 'api', watch: ['api'] },
      ],
    },
    responses: {
      200: {
        description:
          'Every trigger checked before any started; each started, or already running (then left as it is)',
        schema: BulkTriggersResult,
        example: {
          results: [
            { id: 'trigger/shop/web', name: 'web', created: true },
            { id: 'trigger/shop/api', name: 'api', created: false },
          ],
        },
      },
      400: invalid,
      404: notFound('project, channel or package'),
      503: unavailable,
    },
  },
  listTriggers: {
    method: 'GET',
    path: '/triggers',
    access: 'viewer',
    temporal: true,
    summary: 'Running triggers, optionally of one project',
    tag: 'triggers',
    query: TriggerListQuery,
    responses: {
      200: {
        description: 'Triggers',
        schema: z.object({ triggers: z.array(TriggerSummary) }),
        example: {
          triggers: [
            {
              id: 'trigger/shop/web',
              project: 'shop',
              name: 'web',
              status: 'idle',
              packages: ['docker.io/library/nginx'],
              startTime: '2026-11-28T10:00:00.000Z',
            },
          ],
        },
      },
      503: unavailable,
    },
  },
  createTrigger: {
    method: 'POST',
    path: '/triggers',
    access: 'admin',
    temporal: true,
    summary: 'Start a trigger (the body names its project)',
    tag: 'triggers',
    body: TriggerSpecSchema,
    bodyExample: triggerSpecExample,
    responses: triggerCreated,
  },
  getTrigger: {
    method: 'GET',
    path: '/triggers/:project/:name',
    access: 'viewer',
    temporal: true,
    summary: "A trigger's spec, status, per-package state and last outcome",
    tag: 'triggers',
    params: TriggerParams,
    responses: {
      200: {
        description: 'The trigger',
        schema: TriggerView,
        example: {
          id: 'trigger/shop/web',
          status: 'active',
          spec: triggerSpecExample,
          paused: false,
          packages: {
            web: {
              feed: 'docker.io',
              package: 'library/nginx',
              latest: { tag: '1.27.3', digest: null },
              discovered: ['1.27.3'],
              tagCount: 412,
              acceptedCount: 9,
              polledAt: '2026-11-28T10:00:00.000Z',
              rateLimitRemaining: 97,
              error: null,
            },
          },
          history: [],
          lastPoll: {
            at: '2026-11-28T10:00:00.000Z',
            outcome: 'no-change',
            reason: 'nothing later than 1.27.3',
          },
          lastRelease: { number: '1.4.0', at: '2026-11-28T09:00:00.000Z' },
          retrying: [],
        },
      },
      404: notFound('trigger'),
      503: unavailable,
    },
  },
  changeTrigger: {
    method: 'PATCH',
    path: '/triggers/:project/:name',
    access: 'admin',
    temporal: true,
    summary: "Change a trigger's channel, watched packages or interval",
    tag: 'triggers',
    params: TriggerParams,
    body: ChangeSchema,
    bodyExample: { intervalSeconds: 300 },
    responses: {
      200: {
        description: 'Changed',
        schema: z.object({ id: z.string(), changed: z.boolean(), spec: TriggerSpecSchema }),
        example: {
          id: 'trigger/shop/web',
          changed: true,
          spec: { ...triggerSpecExample, intervalSeconds: 300 },
        },
      },
      400: invalid,
      404: notFound('trigger'),
      503: unavailable,
    },
  },
  deleteTrigger: {
    method: 'DELETE',
    path: '/triggers/:project/:name',
    access: 'admin',
    temporal: true,
    summary: 'Stop and delete a trigger',
    tag: 'triggers',
    params: TriggerParams,
    responses: {
      200: {
        description: 'Deleted',
        schema: z.object({ id: z.string(), deleted: z.boolean() }),
        example: { id: 'trigger/shop/web', deleted: true },
      },
      202: {
        description: 'Cancellation asked; the trigger is still closing',
        schema: z.object({ id: z.string(), deleted: z.boolean() }),
        example: { id: 'trigger/shop/web', deleted: false },
      },
      404: notFound('trigger'),
      503: unavailable,
    },
  },
  getHistory: {
    method: 'GET',
    path: '/triggers/:project/:name/history',
    access: 'viewer',
    temporal: true,
    summary: "A trigger's evaluations, newest first",
    tag: 'triggers',
    params: TriggerParams,
    responses: {
      200: {
        description: 'History',
        schema: z.object({ history: z.array(HistoryEntrySchema) }),
        example: {
          history: [
            {
              at: '2026-11-28T10:00:00.000Z',
              outcome: 'released',
              reason: 'web 1.27.3 is later',
              versions: { web: '1.27.3' },
              release: '1.4.0',
              links: {
                release: '/projects/shop/releases/1.4.0',
                deployments: '/projects/shop/releases/1.4.0/deployments',
              },
            },
          ],
        },
      },
      404: notFound('trigger'),
      503: unavailable,
    },
  },
  pause: signalSpec('pause', 'Pause a trigger (a poll in flight is cancelled)'),
  resume: signalSpec('resume', 'Resume a paused trigger (it polls at once)'),
  poll: signalSpec('poll', 'Poll now, with fresh listings'),
  continueAsNew: signalSpec('continue-as-new', 'Start a fresh run of the trigger, keeping its state'),
});

/** The handlers of TRIGGER_ROUTES, onto trigger workflows: start, query, update, signal, cancel. */
export function triggerHandlers(
  client: Client,
  ledger: Ledger,
  taskQueue: string,
  updateDeadlineMs?: number,
  watches?: PackageWatches,
): Handlers<typeof TRIGGER_ROUTES> {
  async function described(params: unknown) {
    const { project: p, name } = parseOr400(TriggerParams, params);
    return requireDescribed<TriggerWorkflow>(
      client,
      triggerWorkflowId(p, name),
      `trigger ${name} in project ${p}`,
    );
  }
  const running = async (params: unknown): Promise<WorkflowHandle<TriggerWorkflow>> =>
    (await described(params)).handle;

  /** The trigger's channel as it is now: one read of the project and its channel head; 404 when unknown. */
  async function channelOf(spec: Pick<TriggerSpec, 'project' | 'channel'>): Promise<TriggerChannel> {
    const channel = await ledger.channelView(spec.project, spec.channel).catch((err: unknown) => {
      throw problemFor(err, {
        detail: (code, message) =>
          code === FailureCode.PROJECT_NOT_FOUND
            ? `no project ${spec.project}`
            : code === FailureCode.CHANNEL_NOT_FOUND
              ? `project ${spec.project} has no channel "${spec.channel}"`
              : message,
      });
    });
    // Without a known revision the ledger always answers with the view.
    if (!channel) throw new Error(`no view of channel ${spec.channel} in project ${spec.project}`);
    return channel;
  }

  /** The feed/package keys of the packages a trigger watches in its channel; 404 for a package not there. */
  function watchedKeys(spec: Pick<TriggerSpec, 'project' | 'watch'>, channel: TriggerChannel): string[] {
    const refs = channel.packages.filter((p) => spec.watch === undefined || spec.watch.includes(p.name));
    const missing = (spec.watch ?? []).filter((n) => !channel.packages.some((p) => p.name === n));
    if (missing.length > 0)
      throw new HttpProblem(404, 'Not found', `project ${spec.project} has no package ${missing.join(', ')}`);
    return refs.map((r) => watchedPackageKey(r.feed, r.package));
  }

  /**
   * The trigger's channel as it is now, and the feed/package keys of the packages it watches: one read of the
   * project and its channel head. 404 for an unknown project, channel or package.
   */
  async function checkAgainstProject(spec: Pick<TriggerSpec, 'project' | 'channel' | 'watch'>) {
    const channel = await channelOf(spec);
    return { channel, packages: watchedKeys(spec, channel) };
  }

  async function create(body: unknown, res: import('express').Response): Promise<void> {
    const spec = parseOr400(TriggerSpecSchema, body);
    // The channel as it is now goes in with the spec: the first evaluation then checks the revision and polls
    // in one local activity, as every later one does, instead of loading it and polling in two activities.
    const { channel, packages } = await checkAgainstProject(spec);
    const workflowId = triggerWorkflowId(spec.project, spec.name);
    try {
      const handle = await startTrigger(client, taskQueue, { spec, view: viewOf(channel), packages });
      res
        .status(201)
        .location(`/triggers/${spec.project}/${spec.name}`)
        .json({ id: workflowId, runId: handle.firstExecutionRunId, spec });
    } catch (err) {
      throw problemFor(err, {
        alreadyStarted: `trigger ${spec.name} already exists in project ${spec.project}`,
      });
    }
  }

  const list = async (project: string | undefined) => {
    const triggers = await listRunning(
      client,
      'trigger',
      project ? [equals(PROJECT_ATTRIBUTE.name, project)] : [],
    );
    return triggers.map((wf) => {
      const [, p, n] = wf.workflowId.split('/');
      return {
        id: wf.workflowId,
        project: p,
        name: n,
        status: wf.typedSearchAttributes.get(TRIGGER_STATE_ATTRIBUTE) ?? null,
        packages: wf.typedSearchAttributes.get(PACKAGES_ATTRIBUTE) ?? [],
        startTime: wf.startTime.toISOString(),
      };
    });
  };
  const signalRoute =
    (action: TriggerAction): RequestHandler =>
    async (req, res) => {
      const handle = await running(req.params);
      // Releases take packages at their watchers' reads only on account of triggers that are not paused: a
      // pause is recorded before it is sent (a failure answers an error and pauses nothing), a resume after
      // (a failure leaves sharing off until the trigger's next subscription, which writes its state).
      if (action === 'pause') await watches?.note(handle.workflowId, { paused: true });
      await signalTrigger(handle, action);
      if (action === 'resume')
        await watches?.note(handle.workflowId, { paused: false }).catch(() => undefined);
      res.status(202).json({ id: handle.workflowId, accepted: action });
    };

  /**
   * Many triggers of one project in one request: all are checked first (schema, names, channels, watched
   * packages; one read of each channel), and the first bad one is answered with its index before any starts.
   * Then each starts; one already running is reported and left as it is (apply -f compares and changes it).
   * A failure part-way leaves the ones started running: the request can be sent again.
   */
  const createProjectTriggers: RequestHandler = async (req, res) => {
    const { project: p } = parseOr400(ProjectParams, req.params);
    const { triggers: items, firstPoll } = parseOr400(BulkTriggersBody, req.body);
    const names = new Set<string>();
    const specs = items.map((item, i) => {
      const given = item && typeof item === 'object' && !Array.isArray(item) ? item : null;
      if (given && 'project' in given && given.project !== p)
        throw new HttpProblem(
          400,
          'Invalid request',
          `triggers.${i}.project: "${String(given.project).slice(0, 63)}" does not match the path (${p})`,
          [{ field: `triggers.${i}.project`, message: 'does not match the path' }],
        );
      const spec = parseOr400(TriggerSpecSchema, given ? { ...given, project: p } : item, `triggers.${i}`);
      if (names.has(spec.name))
        throw new HttpProblem(
          400,
          'Invalid request',
          `triggers.${i}.name: trigger "${spec.name}" is listed twice`,
          [{ field: `triggers.${i}.name`, message: 'listed twice' }],
        );
      names.add(spec.name);
      return spec;
    });
    const channels = new Map<string, Promise<TriggerChannel>>();
    const checked: Array<{ spec: TriggerSpec; channel: TriggerChannel; packages: string[] }> = [];
    for (const [i, spec] of specs.entries()) {
      let channel = channels.get(spec.channel);
      if (!channel) channels.set(spec.channel, (channel = channelOf(spec)));
      try {
        const found = await channel;
        checked.push({ spec, channel: found, packages: watchedKeys(spec, found) });
      } catch (err) {
        // The item is named: which of a hundred triggers asked for a missing channel or package.
        if (err instanceof HttpProblem && err.status === 404)
          throw new HttpProblem(404, err.title, `triggers.${i}: ${err.message}`);
        throw err;
      }
    }
    const results: Array<{ id: string; name: string; created: boolean }> = [];
    let next = 0;
    const startOne = async ({ spec, channel, packages }: (typeof checked)[number]) => {
      const id = triggerWorkflowId(spec.project, spec.name);
      try {
        await startTrigger(client, taskQueue, {
          spec,
          view: viewOf(channel),
          packages,
          ...(firstPoll === 'slot' ? { firstPoll } : {}),
        });
        return { id, name: spec.name, created: true };
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError)
          return { id, name: spec.name, created: false };
        throw problemFor(err);
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(BULK_STARTS_IN_FLIGHT, checked.length) }, async () => {
        while (next < checked.length) {
          const k = next++;
          results[k] = await startOne(checked[k]);
        }
      }),
    );
    res.json({ results });
  };

  const createTrigger: RequestHandler = (req, res) => create(req.body, res);
  const createProjectTrigger: RequestHandler = async (req, res) => {
    const { project: p } = parseOr400(ProjectParams, req.params);
    const given = req.body && typeof req.body === 'object' && !Array.isArray(req.body) ? req.body : null;
    if (given && 'project' in given && given.project !== p)
      throw new HttpProblem(
        400,
        'Invalid request',
        `project: "${String(given.project).slice(0, 63)}" does not match the path (${p})`,
        [{ field: 'project', message: 'does not match the path' }],
      );
    const body = given ? { ...given, project: p } : req.body;
    await create(body, res);
  };

  const listTriggers: RequestHandler = async (req, res) => {
    const { project: p } = parseOr400(TriggerListQuery, req.query, 'query');
    res.json({ triggers: await list(p) });
  };
  const listProjectTriggers: RequestHandler = async (req, res) => {
    const { project: p } = parseOr400(ProjectParams, req.params);
    res.json({ triggers: await list(p) });
  };

  const getTrigger: RequestHandler = async (req, res) => {
    // One describe proves the trigger runs and shows the polls the server is retrying.
    const { handle, description } = await described(req.params);
    const state = await withWorkerDeadline(client, () => handle.query(stateQuery), updateDeadlineMs);
    const retrying = state.paused ? [] : retryingPolls(description);
    const shown = present(await withWatcherChecks(state, watches));
    res.json({ ...shown, status: retrying.length > 0 ? 'retrying' : shown.status, retrying });
  };

  const getHistory: RequestHandler = async (req, res) => {
    const handle = await running(req.params);
    const { project } = parseOr400(TriggerParams, req.params);
    const history = await withWorkerDeadline(client, () => handle.query(historyQuery), updateDeadlineMs);
    // Each entry that made a release links to it and to its way through the lifecycle.
    res.json({
      history: [...history].reverse().map((entry) =>
        entry.release
          ? {
              ...entry,
              links: {
                release: `/projects/${project}/releases/${encodeURIComponent(entry.release)}`,
                deployments: `/projects/${project}/releases/${encodeURIComponent(entry.release)}/deployments`,
              },
            }
          : entry,
      ),
    });
  };

  const changeTrigger: RequestHandler = async (req, res) => {
    const handle = await running(req.params);
    const change = parseOr400(ChangeSchema, req.body);
    const current = (await withWorkerDeadline(client, () => handle.query(stateQuery), updateDeadlineMs)).spec;
    const next = parseOr400(TriggerSpecSchema, { ...current, ...change });
    await checkAgainstProject(next);
    try {
      const result = await withWorkerDeadline(
        client,
        () =>
          configureTrigger(handle, {
            channel: next.channel,
            watch: next.watch,
            intervalSeconds: next.intervalSeconds,
          }),
        updateDeadlineMs,
      );
      // Its subscriptions name the channel it releases into from now (its next subscription writes it too);
      // recorded on every change, so a change answered with an error is repaired by sending it again.
      await watches?.note(handle.workflowId, { channel: next.channel });
      res.json({ id: handle.workflowId, ...result, spec: next });
    } catch (err) {
      // Whatever its code, a refused change is the caller's to fix.
      throw problemFor(err, { otherwise: { status: 400, title: 'Invalid request' } });
    }
  };

  const deleteTrigger: RequestHandler = async (req, res) => {
    const handle = await running(req.params);
    const closed = await cancelAndWait(handle);
    // A deleted trigger is woken by nobody: kept, its subscriptions had its packages read for ever (they are
    // only forgotten when a change's wake finds it gone). One that is still ending resubscribes if it lives.
    await watches?.forget([handle.workflowId]).catch(() => undefined);
    res.status(closed ? 200 : 202).json({ id: handle.workflowId, deleted: closed });
  };

  const pause: RequestHandler = signalRoute('pause');
  const resume: RequestHandler = signalRoute('resume');
  const poll: RequestHandler = signalRoute('poll');
  const continueAsNew: RequestHandler = signalRoute('continue-as-new');

  return {
    createTrigger,
    createProjectTrigger,
    createProjectTriggers,
    listTriggers,
    listProjectTriggers,
    getTrigger,
    getHistory,
    changeTrigger,
    deleteTrigger,
    pause,
    resume,
    poll,
    continueAsNew,
  };
}
