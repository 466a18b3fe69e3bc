import {
  Client,
  WorkflowExecutionAlreadyStartedError,
  WorkflowExecutionDescription,
  WorkflowHandle,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { Router } from 'express';
import { apiRouter } from './access';
import { z } from 'zod';
import { Ledger, LedgerError } from '../db/ledger';
import { FailureCode } from '../domain/failures';
import {
  CHANNEL_ATTRIBUTE,
  PACKAGES_ATTRIBUTE,
  PROJECT_ATTRIBUTE,
  TRIGGER_STATE_ATTRIBUTE,
  watchedPackageKey,
} from '../domain/search-attributes';
import { triggerStatus, triggerWorkflowId, TriggerSpec, TriggerState } from '../domain/trigger';
import { SlugSchema, TriggerDescriptionSchema, TriggerSpecSchema } from '../domain/trigger-schema';
import type { trigger } from '../../workflows/trigger';
import {
  configureTriggerUpdate,
  continueAsNewSignal,
  historyQuery,
  pauseSignal,
  pollNowSignal,
  resumeSignal,
  stateQuery,
} from '../../workflows/messages/trigger';
import { HttpProblem, parseOr400 } from './problem';
import { triggerSummary } from '../domain/ui-text';
import { cancelAndWait, equals, listRunning, requireDescribed, withWorkerDeadline } from './workflows';

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

/** Routes that map HTTP onto trigger workflows: start, query, update, signal, cancel. */
export function triggerRoutes(
  client: Client,
  ledger: Ledger,
  taskQueue: string,
  updateDeadlineMs?: number,
): Router {
  const router = apiRouter();

  async function described(params: unknown) {
    const { project: p, name } = parseOr400(TriggerParams, params);
    return requireDescribed<typeof trigger>(
      client,
      triggerWorkflowId(p, name),
      `trigger ${name} in project ${p}`,
    );
  }
  const running = async (params: unknown): Promise<WorkflowHandle<typeof trigger>> =>
    (await described(params)).handle;

  /**
   * The trigger's channel as it is now, and the feed/package keys of the packages it watches: one read of the
   * project and its channel head. 404 for an unknown project, channel or package.
   */
  async function checkAgainstProject(spec: Pick<TriggerSpec, 'project' | 'channel' | 'watch'>) {
    const channel = await ledger.channelView(spec.project, spec.channel).catch((err: unknown) => {
      if (err instanceof LedgerError && err.code === FailureCode.PROJECT_NOT_FOUND)
        throw new HttpProblem(404, 'Not found', `no project ${spec.project}`);
      if (err instanceof LedgerError && err.code === FailureCode.CHANNEL_NOT_FOUND)
        throw new HttpProblem(404, 'Not found', `project ${spec.project} has no channel "${spec.channel}"`);
      throw err;
    });
    // Without a known revision the ledger always answers with the view.
    if (!channel) throw new Error(`no view of channel ${spec.channel} in project ${spec.project}`);
    const refs = channel.packages.filter((p) => spec.watch === undefined || spec.watch.includes(p.name));
    const missing = (spec.watch ?? []).filter((n) => !channel.packages.some((p) => p.name === n));
    if (missing.length > 0)
      throw new HttpProblem(404, 'Not found', `project ${spec.project} has no package ${missing.join(', ')}`);
    return { channel, packages: refs.map((r) => watchedPackageKey(r.feed, r.package)) };
  }

  async function create(body: unknown, res: import('express').Response): Promise<void> {
    const spec = parseOr400(TriggerSpecSchema, body);
    // The channel as it is now goes in with the spec: the first evaluation then checks the revision and polls
    // in one local activity, as every later one does, instead of loading it and polling in two activities.
    const { channel, packages } = await checkAgainstProject(spec);
    const workflowId = triggerWorkflowId(spec.project, spec.name);
    const view = {
      revision: channel.revision,
      packages: channel.packages,
      rules: channel.rules,
      lastRelease: channel.lastRelease,
    };
    try {
      const handle = await client.workflow.start<typeof trigger>('trigger', {
        taskQueue,
        workflowId,
        args: [{ spec, view }],
        workflowIdConflictPolicy: 'FAIL',
        // A deleted trigger's ID may be used again for a new trigger.
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        typedSearchAttributes: [
          { key: PROJECT_ATTRIBUTE, value: spec.project },
          { key: CHANNEL_ATTRIBUTE, value: spec.channel },
          { key: TRIGGER_STATE_ATTRIBUTE, value: 'active' },
          { key: PACKAGES_ATTRIBUTE, value: packages },
        ],
        // The UI's list says what the trigger is; its current details (set by the workflow) say how it goes.
        staticSummary: triggerSummary(spec),
        staticDetails: `Watches ${packages.join(', ')}`,
      });
      res
        .status(201)
        .location(`/triggers/${spec.project}/${spec.name}`)
        .json({ id: workflowId, runId: handle.firstExecutionRunId, spec });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        throw new HttpProblem(
          409,
          'Conflict',
          `trigger ${spec.name} already exists in project ${spec.project}`,
        );
      }
      throw err;
    }
  }

  router.post('/triggers', (req, res) => create(req.body, res));
  router.post('/projects/:project/triggers', async (req, res) => {
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
  });

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
  router.get('/triggers', async (req, res) => {
    const { project: p } = parseOr400(TriggerListQuery, req.query, 'query');
    res.json({ triggers: await list(p) });
  });
  router.get('/projects/:project/triggers', async (req, res) => {
    const { project: p } = parseOr400(ProjectParams, req.params);
    res.json({ triggers: await list(p) });
  });

  router.get('/triggers/:project/:name', async (req, res) => {
    // One describe proves the trigger runs and shows the polls the server is retrying.
    const { handle, description } = await described(req.params);
    const state = await withWorkerDeadline(client, () => handle.query(stateQuery), updateDeadlineMs);
    const retrying = state.paused ? [] : retryingPolls(description);
    const shown = present(state);
    res.json({ ...shown, status: retrying.length > 0 ? 'retrying' : shown.status, retrying });
  });

  router.get('/triggers/:project/:name/history', async (req, res) => {
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
  });

  router.patch('/triggers/:project/:name', async (req, res) => {
    const handle = await running(req.params);
    const change = parseOr400(ChangeSchema, req.body);
    const current = (await withWorkerDeadline(client, () => handle.query(stateQuery), updateDeadlineMs)).spec;
    const next = parseOr400(TriggerSpecSchema, { ...current, ...change });
    await checkAgainstProject(next);
    try {
      const result = await withWorkerDeadline(
        client,
        () =>
          handle.executeUpdate(configureTriggerUpdate, {
            args: [{ channel: next.channel, watch: next.watch, intervalSeconds: next.intervalSeconds }],
          }),
        updateDeadlineMs,
      );
      res.json({ id: handle.workflowId, ...result, spec: next });
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError)
        throw new HttpProblem(400, 'Invalid request', err.cause?.message ?? err.message);
      throw err;
    }
  });

  const signals = {
    pause: pauseSignal,
    resume: resumeSignal,
    poll: pollNowSignal,
    'continue-as-new': continueAsNewSignal,
  } as const;
  for (const [action, signal] of Object.entries(signals)) {
    router.post(`/triggers/:project/:name/${action}`, async (req, res) => {
      const handle = await running(req.params);
      await handle.signal(signal);
      res.status(202).json({ id: handle.workflowId, accepted: action });
    });
  }

  router.delete('/triggers/:project/:name', async (req, res) => {
    const handle = await running(req.params);
    const closed = await cancelAndWait(handle);
    res.status(closed ? 200 : 202).json({ id: handle.workflowId, deleted: closed });
  });

  return router;
}
