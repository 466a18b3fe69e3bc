import { Client } from '@temporalio/client';
import { UpdateDefinition } from '@temporalio/common';
import { RequestHandler, Response } from 'express';
import { z } from 'zod';
import { Ledger } from '../db/ledger';
import { DeploymentRefusal } from '../db/deployments';
import { DeploymentSchedule, FreezeOverride, planFor } from '../domain/deployment';
import { clip } from '../domain/size';
import { FailureCode } from '../domain/failures';
import {
  approvalRefusal,
  deployRefusal,
  lanePlan,
  laneProgress,
  LifecyclePlan,
  phaseStates,
  Refusal,
  ReleaseProgress,
} from '../domain/lifecycle';
import { freezeHold } from '../domain/freeze';
import { laneText } from '../domain/lane';
import { ProjectSpec, tenantedMode } from '../domain/project';
import {
  MAX_TENANTS,
  selectTenants,
  TenantNameSchema,
  TenantSelectionError,
  TenantTagSchema,
} from '../domain/tenant';
import { SlugSchema } from '../domain/trigger-schema';
import { nudgeEnvironmentQueue, tellDeploymentEnded, updateRelease } from '../../workflows/contracts/client';
import { releaseWorkflowId } from '../../workflows/contracts/ids';
import { decideUpdate, deployTenantsUpdate, deployUpdate } from '../../workflows/contracts/release';
import { principalOf } from './access';
import { HttpProblem, parseOr400 } from './problem';
import { withWorkerDeadline } from './workflows';
import { CursorSchema, encodeCursor, ProjectParams, ReleaseParams } from './projects';
import { FAILURE_ANSWERS, problemFor } from './failure-problems';
import {
  defineRoutes,
  Handlers,
  invalid,
  notFound,
  Problem,
  problemExample,
  ResponseDoc,
  Timestamp,
  unavailable,
} from './route';

export const DeployBody = z
  .object({
    environment: SlugSchema,
    /** Deploy over a newer release already in the environment: a deliberate rollback. */
    force: z.boolean().default(false),
    /** Deploy through the freeze that holds the environment (admins only), saying why: audited. */
    overrideFreeze: z.strictObject({ reason: z.string().trim().min(1).max(500) }).optional(),
    /** Deploy at this time: `scheduled` until then, held by a timer. */
    deployAt: Timestamp.optional(),
    /** Cancelled if it has not started by then (a freeze or a queue ahead of it can delay it). */
    deployAtExpiry: Timestamp.optional(),
    /** Deploy for these tenants (a tenanted project), each connected to the environment. */
    tenants: z.array(TenantNameSchema).min(1).max(MAX_TENANTS).optional(),
    /** Deploy for the connected tenants with these tags (one of each tag set named: Octopus's filter). */
    tenantTags: z.array(TenantTagSchema).min(1).max(50).optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.deployAt && b.deployAtExpiry && Date.parse(b.deployAtExpiry) <= Date.parse(b.deployAt))
      ctx.addIssue({ code: 'custom', path: ['deployAtExpiry'], message: 'must be after deployAt' });
  });

/** How far ahead a deployment may be scheduled. */
const MAX_SCHEDULE_DAYS = 366;
/** A `deployAt` this little in the past is now (clocks differ); more is a mistake. */
const PAST_TOLERANCE_MS = 60_000;
export const DecisionBody = z
  .object({
    phase: SlugSchema,
    /** Decide for one tenant; absent: for every tenant (and the untenanted deployments). */
    tenant: TenantNameSchema.optional(),
    decision: z.enum(['approve', 'reject']),
    comment: z.string().min(1).max(1000),
  })
  .strict();
export const DeploymentParams = ReleaseParams.extend({ environment: SlugSchema });
export const EnvironmentParams = ProjectParams.extend({ environment: SlugSchema });
export const CancelQuery = z
  .object({ tenant: TenantNameSchema.optional().describe('The tenant whose deployment is cancelled') })
  .strict();
export const EnvironmentHistoryQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: CursorSchema.optional(),
    tenant: TenantNameSchema.optional().describe("Only this tenant's deployments (absent: every deployment)"),
  })
  .strict();

const DeploymentStatusSchema = z.enum([
  'scheduled',
  'queued',
  'deploying',
  'retrying',
  'succeeded',
  'failed',
  'superseded',
  'cancelled',
]);
const Deployment = z.object({
  id: z.number().int(),
  release: z.string(),
  environment: z.string(),
  tenant: z.string().optional().describe('The tenant deployed to; absent for an untenanted deployment'),
  status: DeploymentStatusSchema,
  forced: z.boolean(),
  requestedBy: z.string(),
  queuedAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  attempts: z
    .number()
    .int()
    .describe('Requests that left for the targets (a crash before sending counts none)'),
  error: z.string().nullable().describe('Why it failed, or (retrying) the last attempt’s error'),
  nextAttemptAt: z.string().nullable().describe('When a retrying deployment is tried next'),
  targets: z.record(
    z.string(),
    z.object({
      type: z.string(),
      detail: z.string(),
      status: z.enum(['succeeded', 'failed', 'retrying']).optional(),
    }),
  ),
  freezeOverride: z
    .object({ freeze: z.string(), reason: z.string(), by: z.string() })
    .nullable()
    .describe('Sent through a freeze by an admin: which freeze, why, by whom'),
  deployAt: z.string().nullable().describe('When a scheduled deployment joins the queue'),
  deployAtExpiry: z.string().nullable().describe('Cancelled if it has not started by then'),
});
const deploymentExample = {
  id: 41,
  release: '1.4.0',
  environment: 'test',
  status: 'succeeded',
  forced: false,
  requestedBy: 'lifecycle',
  queuedAt: '2026-11-28T10:00:01.000Z',
  startedAt: '2026-11-28T10:00:01.200Z',
  finishedAt: '2026-11-28T10:00:02.900Z',
  attempts: 1,
  error: null,
  nextAttemptAt: null,
  targets: { gitops: { type: 'git', detail: 'pushed 3f2a9c1e to main', status: 'succeeded' } },
  freezeOverride: null,
  deployAt: null,
  deployAtExpiry: null,
};
const Approval = z.object({
  phase: z.string(),
  tenant: z.string().optional().describe('The tenant decided for; absent: every tenant'),
  decision: z.enum(['approved', 'rejected']),
  by: z.string(),
  comment: z.string(),
  decidedAt: z.string(),
});
const approvalExample = {
  phase: 'prod',
  decision: 'approved',
  by: 'release-manager',
  comment: 'QA signed off',
  decidedAt: '2026-11-28T11:00:00.000Z',
};
const PhaseView = z.object({
  name: z.string(),
  state: z.enum(['locked', 'awaiting-approval', 'rejected', 'open', 'complete']),
  succeeded: z.number().int(),
  needed: z.number().int(),
});
/** One environment's release and queue: the untenanted deployments', or a tenant's. */
const LaneView = {
  current: z
    .object({
      release: z.string(),
      deployment: z.number().int(),
      deployedAt: z.string().nullable(),
    })
    .nullable(),
  inFlight: z.array(Deployment),
  latest: Deployment.nullable(),
  freeze: z
    .object({ name: z.string(), until: z.string() })
    .nullable()
    .describe('The freeze holding deployments here now, and when it ends'),
};
const lifecycleRefused = (example: string): ResponseDoc => ({
  description: 'The lifecycle does not allow it (yet); the reason says why, and nothing changed',
  schema: Problem,
  example: problemExample(422, 'Not allowed by the lifecycle', example),
});

/** Promotion by people, and where releases are deployed. */
export const LIFECYCLE_ROUTES = defineRoutes({
  listDeployments: {
    method: 'GET',
    path: '/projects/:project/releases/:number/deployments',
    access: 'viewer',
    summary: "A release's way through its lifecycle: each phase's state, its deployments and approvals",
    tag: 'lifecycles',
    params: ReleaseParams,
    responses: {
      200: {
        description:
          'Phases (null when the release follows no lifecycle), deployments newest first, approvals',
        schema: z.object({
          project: z.string(),
          release: z.string(),
          lifecycle: z
            .object({
              name: z.string(),
              phases: z
                .array(PhaseView)
                .describe('The untenanted deployments’ way (a tenanted project: see tenants)'),
              tenants: z
                .array(z.object({ tenant: z.string(), phases: z.array(PhaseView) }))
                .optional()
                .describe('A tenanted project: each tenant’s own way through the phases'),
            })
            .nullable(),
          deployments: z.array(Deployment),
          approvals: z.array(Approval),
        }),
        example: {
          project: 'shop',
          release: '1.4.0',
          lifecycle: {
            name: 'standard',
            phases: [
              { name: 'dev', state: 'complete', succeeded: 1, needed: 1 },
              { name: 'test', state: 'complete', succeeded: 1, needed: 1 },
              { name: 'prod', state: 'awaiting-approval', succeeded: 0, needed: 1 },
            ],
          },
          deployments: [deploymentExample],
          approvals: [],
        },
      },
      404: notFound('release'),
    },
  },
  deploy: {
    method: 'POST',
    path: '/projects/:project/releases/:number/deployments',
    access: 'operator',
    temporal: true,
    summary:
      'Deploy the release to an environment (a redeploy, or with force a rollback over a newer release), now or at `deployAt`',
    tag: 'lifecycles',
    params: ReleaseParams,
    body: DeployBody,
    bodyExample: { environment: 'prod' },
    responses: {
      202: {
        description:
          'Queued (or the deployment already queued or running); with tenants or tenantTags, one deployment per tenant',
        schema: z.union([Deployment, z.object({ deployments: z.array(Deployment) })]),
        example: {
          ...deploymentExample,
          environment: 'prod',
          status: 'queued',
          requestedBy: 'release-manager',
          startedAt: null,
          finishedAt: null,
          attempts: 0,
          targets: {},
        },
      },
      400: invalid,
      404: notFound('release or environment'),
      409: {
        description: 'A deployment of the release to that environment is already queued or running',
        schema: Problem,
        example: problemExample(
          409,
          'Conflict',
          'deployment 42 of this release to "prod" is already deploying',
        ),
      },
      403: {
        description: 'Overriding a freeze needs the admin role',
        schema: Problem,
        example: problemExample(
          403,
          'Forbidden',
          'overriding freeze "holidays" needs the admin role; token ci has the operator role',
        ),
      },
      422: lifecycleRefused(
        'freeze "holidays" holds deployments of shop to "prod" until 2027-01-01T23:00:00.000Z; an admin may deploy anyway with "overrideFreeze": { "reason": "…" }',
      ),
      503: unavailable,
    },
  },
  cancelDeployment: {
    method: 'POST',
    path: '/projects/:project/releases/:number/deployments/:environment/cancel',
    access: 'operator',
    temporal: true,
    summary:
      "Cancel the release's queued or scheduled deployment to an environment (a tenant's, with ?tenant=)",
    tag: 'lifecycles',
    params: DeploymentParams,
    query: CancelQuery,
    responses: {
      200: {
        description: 'Cancelled',
        schema: Deployment,
        example: { ...deploymentExample, status: 'cancelled', error: 'cancelled by a person', attempts: 0 },
      },
      404: notFound('queued deployment'),
      409: {
        description: 'It is already deploying',
        schema: Problem,
        example: problemExample(
          409,
          'Conflict',
          'deployment 42 is already deploying; it can no longer be cancelled',
        ),
      },
      503: unavailable,
    },
  },
  decide: {
    method: 'POST',
    path: '/projects/:project/releases/:number/approvals',
    access: 'operator',
    temporal: true,
    summary: 'Approve or reject a phase that asks for an approval (by the calling token, with a comment)',
    tag: 'lifecycles',
    params: ReleaseParams,
    body: DecisionBody,
    bodyExample: { phase: 'prod', decision: 'approve', comment: 'QA signed off' },
    responses: {
      201: { description: 'Recorded', schema: Approval, example: approvalExample },
      400: invalid,
      404: notFound('release'),
      409: {
        description: 'The phase was already decided',
        schema: Problem,
        example: problemExample(409, 'Conflict', 'phase "prod" was already approved by release-manager'),
      },
      422: lifecycleRefused(
        'phase "prod" is not open yet: phase "test" needs 1 successful deployment(s) of this release (test), and has 0',
      ),
      503: unavailable,
    },
  },
  listEnvironments: {
    method: 'GET',
    path: '/projects/:project/environments',
    access: 'viewer',
    summary: 'Which release is deployed where, and what is queued (the dashboard)',
    tag: 'lifecycles',
    params: ProjectParams,
    responses: {
      200: {
        description: "Each environment's current release and deployments in flight",
        schema: z.object({
          project: z.string(),
          environments: z.array(
            z.object({
              name: z.string(),
              targets: z.array(z.object({ name: z.string(), type: z.string() })),
              ...LaneView,
              tenants: z
                .array(z.object({ tenant: z.string(), ...LaneView }))
                .optional()
                .describe(
                  'A tenanted project: each tenant connected to the environment, its release and queue',
                ),
            }),
          ),
        }),
        example: {
          project: 'shop',
          environments: [
            {
              name: 'test',
              targets: [{ name: 'gitops', type: 'git' }],
              current: { release: '1.4.0', deployment: 41, deployedAt: '2026-11-28T10:00:02.900Z' },
              inFlight: [],
              latest: deploymentExample,
              freeze: null,
            },
          ],
        },
      },
      404: notFound('project'),
    },
  },
  environmentHistory: {
    method: 'GET',
    path: '/projects/:project/environments/:environment/deployments',
    access: 'viewer',
    summary: "An environment's deployments over time, newest first, paged",
    tag: 'lifecycles',
    params: EnvironmentParams,
    query: EnvironmentHistoryQuery,
    responses: {
      200: {
        description: 'A page; `nextCursor` asks for the next (older) one',
        schema: z.object({
          project: z.string(),
          environment: z.string(),
          deployments: z.array(Deployment),
          limit: z.number().int(),
          nextCursor: z.string().nullable(),
        }),
        example: {
          project: 'shop',
          environment: 'test',
          deployments: [deploymentExample],
          limit: 20,
          nextCursor: null,
        },
      },
      400: invalid,
      404: notFound('project or environment'),
    },
  },
});

/**
 * Promotion by people, and where releases are deployed. A request is checked against the ledger first (409
 * or 422, with the reason, and nothing started or signalled), then goes to the release's workflow as an
 * update whose validators check again. A release whose workflow has ended is started again with the
 * request (update-with-start).
 */
export function lifecycleHandlers(
  client: Client,
  ledger: Ledger,
  taskQueue: string,
  updateDeadlineMs?: number,
): Handlers<typeof LIFECYCLE_ROUTES> {
  const store = ledger.deployments;

  const releaseOf = async (name: string, number: string) => {
    const project = await ledger.getProject(name);
    if (!project) throw new HttpProblem(404, 'Not found', `no project ${name}`);
    const stored = await ledger.getRelease(project.id, number);
    if (!stored) throw new HttpProblem(404, 'Not found', `project ${name} has no release ${number}`);
    return { project, stored };
  };

  /** A refusal as the answer: 409 (conflict) or 422 (the lifecycle does not allow it). */
  const refused = (refusal: Refusal): HttpProblem => {
    const { status, title } =
      FAILURE_ANSWERS[refusal.status === 409 ? FailureCode.CONFLICT : FailureCode.NOT_ALLOWED]!;
    return new HttpProblem(status, title, refusal.message);
  };

  /**
   * What the release's workflow would refuse, decided from the ledger before any workflow is started or
   * told anything: a refused request must not start the release's automatic phases as a side effect.
   */
  const lifecycleOf = async (stored: { id: number }) => {
    const lifecycle = await store.lifecycle(stored.id);
    if (!lifecycle?.plan)
      throw refused({
        status: 422,
        message: 'this release follows no lifecycle: neither its channel nor its project names one',
      });
    return { plan: lifecycle.plan, progress: lifecycle.progress };
  };

  /** Runs an update on the release's workflow, starting the workflow when it has ended. */
  async function update<Ret, Arg>(
    name: string,
    stored: Awaited<ReturnType<typeof releaseOf>>['stored'],
    def: UpdateDefinition<Ret, [Arg]>,
    arg: Arg,
  ): Promise<Ret> {
    try {
      // Bounded: with no worker running, the caller hears 503 instead of waiting on the SDK's retries.
      return await withWorkerDeadline(
        client,
        () => updateRelease(client, taskQueue, name, stored, def, arg),
        updateDeadlineMs,
      );
    } catch (err) {
      throw problemFor(err);
    }
  }

  const listEnvironments: RequestHandler = async (req, res) => {
    const { project: name } = parseOr400(ProjectParams, req.params);
    const project = await ledger.getProject(name);
    if (!project) throw new HttpProblem(404, 'Not found', `no project ${name}`);
    const environments = await store.environments(project.id, project.spec);
    const now = Date.now();
    // Read once: a project with 1,000 tenants in five environments read every freeze 5,005 times at once.
    const freezes = await ledger.freezes.specs();
    const freeze = (environment: string, tenant?: string) => {
      const hold = freezeHold(freezes, name, environment, now, tenant);
      return hold && { name: hold.freeze, until: new Date(hold.until).toISOString() };
    };
    res.json({
      project: name,
      environments: environments.map((e) => ({
        ...e,
        freeze: freeze(e.name),
        ...(e.tenants ? { tenants: e.tenants.map((t) => ({ ...t, freeze: freeze(e.name, t.tenant) })) } : {}),
      })),
    });
  };

  const environmentHistory: RequestHandler = async (req, res) => {
    const { project: name, environment } = parseOr400(EnvironmentParams, req.params);
    const query = parseOr400(EnvironmentHistoryQuery, req.query, 'query');
    const project = await ledger.getProject(name);
    if (!project) throw new HttpProblem(404, 'Not found', `no project ${name}`);
    if (!project.spec.environments.some((e) => e.name === environment))
      throw new HttpProblem(404, 'Not found', `project ${name} has no environment ${environment}`);
    const page = await store.history(project.id, environment, query.limit, query.cursor, query.tenant);
    res.json({
      project: name,
      environment,
      deployments: page.deployments,
      limit: query.limit,
      nextCursor: page.nextCursor === null ? null : encodeCursor(page.nextCursor),
    });
  };

  const listDeployments: RequestHandler = async (req, res) => {
    const { project: name, number } = parseOr400(ReleaseParams, req.params);
    const { project, stored } = await releaseOf(name, number);
    const plan = planFor(project.spec, stored.channel);
    // Deployments first: the lifecycle's phases are derived from deployments read afterwards, and states only
    // move forward, so a phase is never shown behind a deployment listed in the same answer.
    const { deployments, approvals } = await store.ofRelease(stored.id);
    const lifecycle = await store.lifecycle(stored.id);
    res.json({
      project: name,
      release: number,
      lifecycle:
        plan && lifecycle
          ? {
              name: plan.name,
              phases: phaseStates(lanePlan(plan), laneProgress(lifecycle.progress)),
              ...(plan.tenants
                ? {
                    tenants: Object.keys(plan.tenants)
                      .sort()
                      .map((tenant) => ({
                        tenant,
                        phases: phaseStates(lanePlan(plan, tenant), laneProgress(lifecycle.progress, tenant)),
                      })),
                  }
                : {}),
            }
          : null,
      deployments,
      approvals,
    });
  };

  /**
   * A freeze holding the environment refuses a person's deployment (422, naming it), unless an admin sends
   * it through with a reason: then the override is recorded on the deployment and in the audit log.
   */
  const freezeCheck = async (
    res: Response,
    project: string,
    number: string,
    body: z.infer<typeof DeployBody>,
    tenant?: string,
  ): Promise<FreezeOverride | null> => {
    // A scheduled deployment meets the freeze of its time, and waits for its end like an automatic one.
    const at = body.deployAt ? new Date(body.deployAt) : new Date();
    const hold = await ledger.freezes.holding(project, body.environment, at, tenant);
    if (!hold) return null;
    const until = new Date(hold.until).toISOString();
    if (!body.overrideFreeze && body.deployAt) return null;
    if (!body.overrideFreeze)
      throw refused({
        status: 422,
        message:
          `freeze "${hold.freeze}" holds deployments of ${project} to ${laneText(body.environment, tenant)} until ${until}; ` +
          'an admin may deploy anyway with "overrideFreeze": { "reason": "…" }',
      });
    const principal = principalOf(res);
    if (principal?.role !== 'admin')
      throw new HttpProblem(
        403,
        'Forbidden',
        `overriding freeze "${hold.freeze}" needs the admin role; token ${principal?.name ?? '(none)'} has the ${principal?.role ?? 'no'} role`,
      );
    const reason = body.overrideFreeze.reason;
    res.locals.auditDetail = clip(
      `freeze ${hold.freeze} overridden: ${project} ${number} to ${body.environment}${tenant ? ` for tenant ${tenant}` : ''}: ${reason}`,
      500,
    );
    return { freeze: hold.freeze, reason, by: principal.name };
  };

  /** The request's times, checked against the clock: not in the past, not more than a year ahead. */
  const scheduleOf = (body: z.infer<typeof DeployBody>): DeploymentSchedule | null => {
    if (!body.deployAt && !body.deployAtExpiry) return null;
    const now = Date.now();
    const bad = (field: string, message: string) =>
      new HttpProblem(400, 'Invalid request', `${field}: ${message}`, [{ field, message }]);
    if (body.deployAt && Date.parse(body.deployAt) < now - PAST_TOLERANCE_MS)
      throw bad('deployAt', 'is in the past');
    if (body.deployAt && Date.parse(body.deployAt) > now + MAX_SCHEDULE_DAYS * 86_400_000)
      throw bad('deployAt', `is more than ${MAX_SCHEDULE_DAYS} days ahead`);
    if (body.deployAtExpiry && Date.parse(body.deployAtExpiry) <= now)
      throw bad('deployAtExpiry', 'is in the past');
    return {
      ...(body.deployAt ? { deployAt: new Date(body.deployAt).toISOString() } : {}),
      ...(body.deployAtExpiry ? { deployAtExpiry: new Date(body.deployAtExpiry).toISOString() } : {}),
    };
  };

  const deploy: RequestHandler = async (req, res) => {
    const { project: name, number } = parseOr400(ReleaseParams, req.params);
    const body = parseOr400(DeployBody, req.body ?? {});
    const { project, stored } = await releaseOf(name, number);
    if (!project.spec.environments.some((e) => e.name === body.environment))
      throw new HttpProblem(404, 'Not found', `project ${name} has no environment ${body.environment}`);
    const { plan, progress } = await lifecycleOf(stored);
    const tenants = await tenantsOf(project.spec, body);
    if (tenants.length > 0) return deployTenants(res, project, stored, body, tenants, plan, progress);
    const refusal = deployRefusal(plan, progress, body.environment);
    if (refusal) throw refused(refusal);
    if (!body.force) {
      // The environment's queue would supersede it later: say so now, as every other refusal does.
      const newer = await store.newerIn(project.id, stored.id, body.environment);
      if (newer)
        throw refused({
          status: 422,
          message:
            `release ${newer.number} is ${newer.status === 'succeeded' ? 'deployed' : newer.status} in ` +
            `"${body.environment}"; deploying the older release ${number} there is a rollback: ask with "force": true`,
        });
    }
    const schedule = scheduleOf(body);
    const freezeOverride = await freezeCheck(res, name, number, body);
    const deployment = await update(name, stored, deployUpdate, {
      environment: body.environment,
      force: body.force,
      requestedBy: principalOf(res)?.name ?? 'anonymous',
      ...(freezeOverride ? { freezeOverride } : {}),
      ...(schedule ? { schedule } : {}),
    });
    res.status(202).json(deployment);
  };

  /**
   * The tenants a request names (by name or by tag), checked against the project: empty for an untenanted
   * request. A project without tenants refuses tenants; a bad selection is a 422 naming the field.
   */
  const tenantsOf = async (spec: ProjectSpec, body: z.infer<typeof DeployBody>): Promise<string[]> => {
    if (!body.tenants && !body.tenantTags) return [];
    const field = body.tenants ? 'tenants' : 'tenantTags';
    const fail = (at: string, message: string) =>
      new HttpProblem(422, 'Not allowed by the lifecycle', `${at}: ${message}`, [{ field: at, message }]);
    if (tenantedMode(spec) === 'untenanted')
      throw fail(
        field,
        `project ${spec.name} deploys without tenants (its tenantedDeployments is untenanted)`,
      );
    try {
      return selectTenants(
        spec.tenants ?? [],
        body.tenantTags ? await ledger.tenants.specs() : [],
        body.environment,
        body,
      );
    } catch (err) {
      if (err instanceof TenantSelectionError) throw fail(err.field, err.message);
      throw err;
    }
  };

  /**
   * A deployment for each tenant, checked first for every one of them (the lifecycle of each tenant, a newer
   * release there, a freeze): one refusal refuses the request, and nothing is queued.
   */
  async function deployTenants(
    res: Response,
    project: { id: number; spec: ProjectSpec },
    stored: Awaited<ReturnType<typeof releaseOf>>['stored'],
    body: z.infer<typeof DeployBody>,
    tenants: string[],
    plan: LifecyclePlan,
    progress: ReleaseProgress,
  ): Promise<void> {
    const name = project.spec.name;
    let freezeOverride: FreezeOverride | null = null;
    for (const tenant of tenants) {
      const refusal = deployRefusal(plan, progress, body.environment, tenant);
      if (refusal) throw refused(refusal);
      if (!body.force) {
        const newer = await store.newerIn(project.id, stored.id, body.environment, tenant);
        if (newer)
          throw refused({
            status: 422,
            message:
              `release ${newer.number} is ${newer.status === 'succeeded' ? 'deployed' : newer.status} in ` +
              `${laneText(body.environment, tenant)}; deploying the older release ${stored.number} there is a rollback: ask with "force": true`,
          });
      }
      freezeOverride = (await freezeCheck(res, name, stored.number, body, tenant)) ?? freezeOverride;
    }
    const schedule = scheduleOf(body);
    const deployments = await update(name, stored, deployTenantsUpdate, {
      environment: body.environment,
      tenants,
      force: body.force,
      requestedBy: principalOf(res)?.name ?? 'anonymous',
      ...(freezeOverride ? { freezeOverride } : {}),
      ...(schedule ? { schedule } : {}),
    });
    res.status(202).json({ deployments });
  }

  const decide: RequestHandler = async (req, res) => {
    const { project: name, number } = parseOr400(ReleaseParams, req.params);
    const body = parseOr400(DecisionBody, req.body ?? {});
    const { stored } = await releaseOf(name, number);
    const { plan, progress } = await lifecycleOf(stored);
    const refusal = approvalRefusal(plan, progress, body.phase, body.tenant);
    if (refusal) throw refused(refusal);
    const approval = await update(name, stored, decideUpdate, {
      phase: body.phase,
      ...(body.tenant ? { tenant: body.tenant } : {}),
      decision: body.decision === 'approve' ? 'approved' : 'rejected',
      by: principalOf(res)?.name ?? 'anonymous',
      comment: body.comment,
    });
    res.status(201).json(approval);
  };

  const cancelDeployment: RequestHandler = async (req, res) => {
    const { project: name, number, environment } = parseOr400(DeploymentParams, req.params);
    const { tenant } = parseOr400(CancelQuery, req.query, 'query');
    const { stored } = await releaseOf(name, number);
    let deployment;
    try {
      deployment = await store.cancel(stored.id, environment, new Date(), tenant ?? '');
    } catch (err) {
      if (err instanceof DeploymentRefusal)
        throw new HttpProblem(err.status, err.status === 404 ? 'Not found' : 'Conflict', err.message);
      throw err;
    }
    // The release reads its deployments again (it may be waiting on this one); an ended one has nothing to do.
    await tellDeploymentEnded(client, releaseWorkflowId(name, number), {
      environment,
      ...(tenant ? { tenant } : {}),
      status: 'cancelled',
    }).catch(() => undefined);
    // A queue waiting to retry the cancelled deployment moves on now rather than at its next attempt.
    await nudgeEnvironmentQueue(client, name, environment, tenant).catch(() => undefined);
    res.json(deployment);
  };

  return { listEnvironments, environmentHistory, listDeployments, deploy, decide, cancelDeployment };
}
