import { Client } from '@temporalio/client';
import { RequestHandler } from 'express';
import { z } from 'zod';
import { FreezeLimit, FreezeStore } from '../db/freezes';
import { FreezeSpecSchema, WEEKDAYS } from '../domain/freeze';
import { SlugSchema } from '../domain/trigger-schema';
import { nudgeEnvironmentQueues } from '../../workflows/contracts/client';
import { principalOf } from './access';
import { HttpProblem, parseNamedOr400, parseOr400 } from './problem';
import { defineRoutes, Handlers, invalid, notFound, Problem, problemExample } from './route';

export const FreezeParams = z.object({ name: SlugSchema });

const FreezeSpecDoc = z.object({
  name: z.string(),
  description: z.string().optional(),
  timeZone: z.string().describe('IANA time zone whose wall clock the times are read on'),
  start: z.string().optional().describe('YYYY-MM-DDTHH:MM[:SS] on the time zone’s clock (one-off freezes)'),
  end: z.string().optional(),
  recurring: z
    .object({
      every: z.enum(['daily', 'weekly', 'monthly']),
      days: z.array(z.enum(WEEKDAYS)).optional(),
      dayOfMonth: z.number().int().optional(),
      from: z.string(),
      until: z.string(),
    })
    .optional(),
  projects: z.array(z.string()).optional().describe('Absent: every project'),
  environments: z.array(z.string()).optional().describe('Absent: every environment'),
  tenants: z
    .array(z.string())
    .optional()
    .describe("Absent: every deployment; given: those tenants' deployments only"),
});
const FreezeInfo = z.object({
  spec: FreezeSpecDoc,
  createdBy: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  active: z.boolean().describe('A window of it holds deployments now'),
  window: z
    .object({ start: z.string(), end: z.string() })
    .nullable()
    .describe('The window in force or the next one (null once a one-off freeze is over)'),
});
const specExample = {
  name: 'holidays',
  description: 'No deployments to production over the holidays',
  timeZone: 'Europe/Berlin',
  start: '2026-12-24T00:00',
  end: '2027-01-02T00:00',
  environments: ['prod'],
};
const infoExample = {
  spec: specExample,
  createdBy: 'release-manager',
  createdAt: '2026-12-01T09:00:00.000Z',
  updatedAt: '2026-12-01T09:00:00.000Z',
  active: false,
  window: { start: '2026-12-23T23:00:00.000Z', end: '2027-01-01T23:00:00.000Z' },
};

/** Deployment freezes: admins define them; anyone may read them. */
export const FREEZE_ROUTES = defineRoutes({
  listFreezes: {
    method: 'GET',
    path: '/freezes',
    access: 'viewer',
    summary: 'Deployment freezes, each with the window in force or the next one',
    tag: 'freezes',
    responses: {
      200: {
        description: 'Every freeze, by name',
        schema: z.object({ freezes: z.array(FreezeInfo) }),
        example: { freezes: [infoExample] },
      },
    },
  },
  getFreeze: {
    method: 'GET',
    path: '/freezes/:name',
    access: 'viewer',
    summary: 'One deployment freeze',
    tag: 'freezes',
    params: FreezeParams,
    responses: {
      200: { description: 'The freeze', schema: FreezeInfo, example: infoExample },
      404: notFound('freeze'),
    },
  },
  saveFreeze: {
    method: 'PUT',
    path: '/freezes/:name',
    access: 'admin',
    summary:
      'Create or replace a freeze: one window (start, end) or a recurring one (daily, weekly on days, monthly) in a time zone, over some projects and environments',
    tag: 'freezes',
    params: FreezeParams,
    body: FreezeSpecSchema,
    bodyExample: specExample,
    responses: {
      200: {
        description: 'Replaced, or unchanged',
        schema: z.object({ created: z.boolean(), changed: z.boolean(), freeze: FreezeInfo }),
        example: { created: false, changed: true, freeze: infoExample },
      },
      201: {
        description: 'Created',
        schema: z.object({ created: z.boolean(), changed: z.boolean(), freeze: FreezeInfo }),
        example: { created: true, changed: true, freeze: infoExample },
      },
      400: invalid,
      409: {
        description: 'As many freezes as are kept exist already',
        schema: Problem,
        example: problemExample(409, 'Conflict', 'there are 200 freezes already, the most kept'),
      },
    },
  },
  deleteFreeze: {
    method: 'DELETE',
    path: '/freezes/:name',
    access: 'admin',
    summary: 'Delete a freeze: deployments it held go now',
    tag: 'freezes',
    params: FreezeParams,
    responses: {
      200: {
        description: 'Deleted',
        schema: z.object({ deleted: z.string() }),
        example: { deleted: 'holidays' },
      },
      404: notFound('freeze'),
    },
  },
});

/**
 * Freezes are checked by the environment queues before each deployment, so a change is enforced without
 * telling anyone; the queues holding a deployment are woken anyway, to read the change now rather than
 * at the end of the hold they computed.
 */
export function freezeHandlers(
  client: Client,
  store: FreezeStore,
  log: (message: string) => void,
): Handlers<typeof FREEZE_ROUTES> {
  const wakeQueues = (projects?: readonly string[]) =>
    nudgeEnvironmentQueues(client, projects).catch((err: Error) =>
      log(`freezes changed; the environment queues will see it when their holds end: ${err.message}`),
    );

  const listFreezes: RequestHandler = async (_req, res) => {
    res.json({ freezes: await store.list() });
  };

  const getFreeze: RequestHandler = async (req, res) => {
    const { name } = parseOr400(FreezeParams, req.params);
    const found = await store.get(name);
    if (!found) throw new HttpProblem(404, 'Not found', `no freeze ${name}`);
    res.json(found);
  };

  const saveFreeze: RequestHandler = async (req, res) => {
    const { name } = parseOr400(FreezeParams, req.params);
    const spec = parseNamedOr400(FreezeSpecSchema, name, req.body);
    const before = await store.get(name);
    let result;
    try {
      result = await store.save(spec, principalOf(res)?.name ?? 'anonymous');
    } catch (err) {
      if (err instanceof FreezeLimit) throw new HttpProblem(409, 'Conflict', err.message);
      throw err;
    }
    res.locals.auditDetail = `freeze ${name} ${result.created ? 'created' : result.changed ? 'changed' : 'unchanged'}`;
    // Not awaited: the change is in force already, and a Temporal that does not answer must not hold the answer.
    if (result.changed)
      void wakeQueues(before ? scopeOf(before.spec.projects, spec.projects) : spec.projects);
    res.status(result.created ? 201 : 200).json({ ...result, freeze: await store.get(name) });
  };

  const deleteFreeze: RequestHandler = async (req, res) => {
    const { name } = parseOr400(FreezeParams, req.params);
    const found = await store.get(name);
    if (!found || !(await store.delete(name))) throw new HttpProblem(404, 'Not found', `no freeze ${name}`);
    res.locals.auditDetail = `freeze ${name} deleted`;
    void wakeQueues(found.spec.projects);
    res.json({ deleted: name });
  };

  return { listFreezes, getFreeze, saveFreeze, deleteFreeze };
}

/** The projects whose queues a change concerns: both scopes; undefined (every project) if either is. */
function scopeOf(before: readonly string[] | undefined, after: readonly string[] | undefined) {
  if (!before || !after) return undefined;
  return [...new Set([...before, ...after])];
}
