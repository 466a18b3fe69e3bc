import { Client, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure, UpdateDefinition } from '@temporalio/common';
import { RequestHandler, Router } from 'express';
import { z } from 'zod';
import { Ledger } from '../db/ledger';
import { DeploymentRefusal } from '../db/deployments';
import { planFor } from '../domain/deployment';
import { FailureCode } from '../domain/failures';
import { approvalRefusal, deployRefusal, phaseStates, Refusal } from '../domain/lifecycle';
import { SlugSchema } from '../domain/trigger-schema';
import { nudgeEnvironmentQueue, tellDeploymentEnded, updateRelease } from '../../workflows/contracts/client';
import { releaseWorkflowId } from '../../workflows/contracts/ids';
import { decideUpdate, deployUpdate } from '../../workflows/contracts/release';
import { apiRouter, principalOf } from './access';
import { HttpProblem, parseOr400 } from './problem';
import { withWorkerDeadline } from './workflows';
import { ProjectParams, ReleaseParams } from './projects';

export const DeployBody = z
  .object({
    environment: SlugSchema,
    /** Deploy over a newer release already in the environment: a deliberate rollback. */
    force: z.boolean().default(false),
  })
  .strict();
export const DecisionBody = z
  .object({
    phase: SlugSchema,
    decision: z.enum(['approve', 'reject']),
    comment: z.string().min(1).max(1000),
  })
  .strict();
export const DeploymentParams = ReleaseParams.extend({ environment: SlugSchema });

/**
 * Promotion by people, and where releases are deployed. A request is checked against the ledger first (409
 * or 422, with the reason, and nothing started or signalled), then goes to the release's workflow as an
 * update whose validators check again. A release whose workflow has ended is started again with the
 * request (update-with-start).
 */
export function lifecycleRoutes(
  client: Client,
  ledger: Ledger,
  taskQueue: string,
  temporal: RequestHandler,
  updateDeadlineMs?: number,
): Router {
  const router = apiRouter();
  const store = ledger.deployments;

  const releaseOf = async (name: string, number: string) => {
    const project = await ledger.getProject(name);
    if (!project) throw new HttpProblem(404, 'Not found', `no project ${name}`);
    const stored = await ledger.getRelease(project.id, number);
    if (!stored) throw new HttpProblem(404, 'Not found', `project ${name} has no release ${number}`);
    return { project, stored };
  };

  /** A refusal as the answer: 409 (conflict) or 422 (the lifecycle does not allow it). */
  const refused = (refusal: Refusal): HttpProblem =>
    refusal.status === 409
      ? new HttpProblem(409, 'Conflict', refusal.message)
      : new HttpProblem(422, 'Not allowed by the lifecycle', refusal.message);

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

  const asProblem = (err: unknown): unknown => {
    if (!(err instanceof WorkflowUpdateFailedError)) return err;
    const cause = err.cause;
    if (cause instanceof ApplicationFailure) {
      if (cause.type === FailureCode.CONFLICT) return new HttpProblem(409, 'Conflict', cause.message);
      if (cause.type === FailureCode.NOT_ALLOWED)
        return new HttpProblem(422, 'Not allowed by the lifecycle', cause.message);
    }
    return err;
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
      throw asProblem(err);
    }
  }

  router.get('/projects/:project/environments', async (req, res) => {
    const { project: name } = parseOr400(ProjectParams, req.params);
    const project = await ledger.getProject(name);
    if (!project) throw new HttpProblem(404, 'Not found', `no project ${name}`);
    res.json({ project: name, environments: await store.environments(project.id, project.spec) });
  });

  router.get('/projects/:project/releases/:number/deployments', async (req, res) => {
    const { project: name, number } = parseOr400(ReleaseParams, req.params);
    const { project, stored } = await releaseOf(name, number);
    const plan = planFor(project.spec, stored.channel);
    const lifecycle = await store.lifecycle(stored.id);
    const { deployments, approvals } = await store.ofRelease(stored.id);
    res.json({
      project: name,
      release: number,
      lifecycle:
        plan && lifecycle ? { name: plan.name, phases: phaseStates(plan, lifecycle.progress) } : null,
      deployments,
      approvals,
    });
  });

  router.post('/projects/:project/releases/:number/deployments', temporal, async (req, res) => {
    const { project: name, number } = parseOr400(ReleaseParams, req.params);
    const body = parseOr400(DeployBody, req.body ?? {});
    const { project, stored } = await releaseOf(name, number);
    if (!project.spec.environments.some((e) => e.name === body.environment))
      throw new HttpProblem(404, 'Not found', `project ${name} has no environment ${body.environment}`);
    const { plan, progress } = await lifecycleOf(stored);
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
    const deployment = await update(name, stored, deployUpdate, {
      environment: body.environment,
      force: body.force,
      requestedBy: principalOf(res)?.name ?? 'anonymous',
    });
    res.status(202).json(deployment);
  });

  router.post('/projects/:project/releases/:number/approvals', temporal, async (req, res) => {
    const { project: name, number } = parseOr400(ReleaseParams, req.params);
    const body = parseOr400(DecisionBody, req.body ?? {});
    const { stored } = await releaseOf(name, number);
    const { plan, progress } = await lifecycleOf(stored);
    const refusal = approvalRefusal(plan, progress, body.phase);
    if (refusal) throw refused(refusal);
    const approval = await update(name, stored, decideUpdate, {
      phase: body.phase,
      decision: body.decision === 'approve' ? 'approved' : 'rejected',
      by: principalOf(res)?.name ?? 'anonymous',
      comment: body.comment,
    });
    res.status(201).json(approval);
  });

  router.post(
    '/projects/:project/releases/:number/deployments/:environment/cancel',
    temporal,
    async (req, res) => {
      const { project: name, number, environment } = parseOr400(DeploymentParams, req.params);
      const { stored } = await releaseOf(name, number);
      let deployment;
      try {
        deployment = await store.cancel(stored.id, environment);
      } catch (err) {
        if (err instanceof DeploymentRefusal)
          throw new HttpProblem(err.status, err.status === 404 ? 'Not found' : 'Conflict', err.message);
        throw err;
      }
      // The release reads its deployments again (it may be waiting on this one); an ended one has nothing to do.
      await tellDeploymentEnded(client, releaseWorkflowId(name, number), {
        environment,
        status: 'cancelled',
      }).catch(() => undefined);
      // A queue waiting to retry the cancelled deployment moves on now rather than at its next attempt.
      await nudgeEnvironmentQueue(client, name, environment).catch(() => undefined);
      res.json(deployment);
    },
  );

  return router;
}
