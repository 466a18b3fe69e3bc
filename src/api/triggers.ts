import {
  Client,
  WorkflowExecutionAlreadyStartedError,
  WorkflowHandle,
  WorkflowNotFoundError,
} from '@temporalio/client';
import { Router } from 'express';
import { z } from 'zod';
import {
  PACKAGES_ATTRIBUTE,
  PROJECT_ATTRIBUTE,
  TRIGGER_STATE_ATTRIBUTE,
  watchedPackageKey,
} from '../domain/search-attributes';
import {
  SlugSchema,
  triggerStatus,
  triggerWorkflowId,
  TriggerSpecSchema,
  TriggerState,
} from '../domain/trigger';
import {
  continueAsNewSignal,
  pauseSignal,
  pollNowSignal,
  resumeSignal,
  stateQuery,
  trigger,
} from '../../workflows/trigger';
import { HttpProblem, parseOr400 } from './problem';

const TriggerParamsSchema = z.object({ project: SlugSchema, name: SlugSchema });
const ListQuerySchema = z.object({ project: SlugSchema.optional() }).strict();

/** A trigger as the API shows it: its spec, its status and its state. */
function present(state: TriggerState) {
  return {
    id: triggerWorkflowId(state.spec.project, state.spec.name),
    status: triggerStatus(state),
    ...state,
  };
}

/** Routes that map HTTP onto trigger workflows: start, query, signal, cancel. */
export function triggerRoutes(client: Client, taskQueue: string): Router {
  const router = Router();

  /** The handle of a running trigger, or a 404. */
  async function running(params: unknown): Promise<WorkflowHandle<typeof trigger>> {
    const { project, name } = parseOr400(TriggerParamsSchema, params);
    const handle = client.workflow.getHandle<typeof trigger>(triggerWorkflowId(project, name));
    try {
      const description = await handle.describe();
      if (description.status.name === 'RUNNING') return handle;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    throw new HttpProblem(404, 'Not found', `no trigger ${name} in project ${project}`);
  }

  router.post('/triggers', async (req, res) => {
    const spec = parseOr400(TriggerSpecSchema, req.body);
    const workflowId = triggerWorkflowId(spec.project, spec.name);
    try {
      const handle = await client.workflow.start(trigger, {
        taskQueue,
        workflowId,
        args: [{ spec }],
        workflowIdConflictPolicy: 'FAIL',
        // A deleted trigger's ID may be used again for a new trigger.
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        typedSearchAttributes: [
          { key: PROJECT_ATTRIBUTE, value: spec.project },
          { key: TRIGGER_STATE_ATTRIBUTE, value: 'active' },
          { key: PACKAGES_ATTRIBUTE, value: spec.packages.map((p) => watchedPackageKey(p.feed, p.package)) },
        ],
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
  });

  router.get('/triggers', async (req, res) => {
    const { project } = parseOr400(ListQuerySchema, req.query, 'query');
    const filters = [`WorkflowType = 'trigger'`, `ExecutionStatus = 'Running'`];
    if (project) filters.push(`${PROJECT_ATTRIBUTE.name} = '${project}'`);
    const triggers = [];
    for await (const wf of client.workflow.list({ query: filters.join(' AND ') })) {
      const [, p, n] = wf.workflowId.split('/');
      triggers.push({
        id: wf.workflowId,
        project: p,
        name: n,
        status: wf.typedSearchAttributes.get(TRIGGER_STATE_ATTRIBUTE) ?? null,
        packages: wf.typedSearchAttributes.get(PACKAGES_ATTRIBUTE) ?? [],
        startTime: wf.startTime.toISOString(),
      });
      if (triggers.length >= 1000) break;
    }
    res.json({ triggers });
  });

  router.get('/triggers/:project/:name', async (req, res) => {
    const handle = await running(req.params);
    res.json(present(await handle.query(stateQuery)));
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
    await handle.cancel();
    res.status(202).json({ id: handle.workflowId, accepted: 'delete' });
  });

  return router;
}
