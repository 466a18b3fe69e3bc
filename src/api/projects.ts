import { randomUUID } from 'node:crypto';
import {
  Client,
  WithStartWorkflowOperation,
  WorkflowFailedError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Router } from 'express';
import { z } from 'zod';
import { ProjectSpec, ProjectSpecSchema, projectWorkflowId } from '../domain/project';
import { NOT_FOUND_CODES } from '../domain/failures';
import { PROJECT_ATTRIBUTE } from '../domain/search-attributes';
import { SlugSchema } from '../domain/trigger';
import type { channelPreview, manualRelease } from '../../workflows/manual-release';
import type { project } from '../../workflows/project';
import {
  configQuery,
  configureUpdate,
  deleteProjectSignal,
  releaseQuery,
  releasesQuery,
} from '../../workflows/messages/project';
import { FieldError, HttpProblem, parseOr400 } from './problem';
import { jsonBytes, MAX_PROJECT_SPEC_BYTES } from '../domain/size';
import { secretUses } from '../domain/destination-urls';
import { secretRefusal, SecretBindings } from '../secrets';
import { checkOutboundUrl, OutboundPolicy } from '../feeds/outbound';
import { Feed } from '../feeds/feed';
import { resolveFeed } from '../config';
import {
  cancelAndWait,
  equals,
  listRunning,
  requireRunning,
  runningHandle,
  withWorkerDeadline,
} from './workflows';

const ProjectParams = z.object({ project: SlugSchema });
const ReleaseParams = z.object({ project: SlugSchema, number: z.string().min(1).max(200) });
const ChannelParams = z.object({ project: SlugSchema, channel: SlugSchema });
const ReleaseListQuery = z
  .object({
    channel: SlugSchema.optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
  })
  .strict();
const ManualReleaseBody = z
  .object({
    channel: SlugSchema.default('default'),
    /** Pinned tags by package name; the rest take their latest rule-passing version. */
    versions: z.record(SlugSchema, z.string().min(1).max(128)).default({}),
  })
  .strict();

/** What a project is checked against on save, besides its schema: where the worker may send what. */
export interface SaveGuard {
  readonly secretBindings: SecretBindings;
  readonly outbound: OutboundPolicy;
  readonly feeds: ReadonlyMap<string, Feed>;
}

/**
 * Refuses, with 400 naming each field, destinations and feeds the worker would refuse: secrets used toward
 * URLs they are not bound to, and URLs the outbound policy forbids.
 */
function checkReachable(spec: ProjectSpec, guard: SaveGuard): void {
  const errors: FieldError[] = [];
  for (const use of secretUses(spec.destinations)) {
    const refusal = secretRefusal(use.secret, use.url, guard.secretBindings);
    if (refusal) errors.push({ field: use.field, message: refusal });
  }
  const urls = [
    ...spec.destinations.map((d, i) =>
      d.type === 'webhook'
        ? { url: d.url, field: `destinations.${i}.url` }
        : { url: d.serverUrl, field: `destinations.${i}.serverUrl` },
    ),
    ...spec.packages.flatMap((p, i) => {
      const feed = resolveFeed(guard.feeds, p.feed);
      return feed && !guard.feeds.has(p.feed) ? [{ url: feed.url, field: `packages.${i}.feed` }] : [];
    }),
  ];
  for (const { url, field } of urls) {
    try {
      checkOutboundUrl(new URL(url), guard.outbound);
    } catch (err) {
      errors.push({ field, message: (err as Error).message });
    }
  }
  if (errors.length > 0)
    throw new HttpProblem(400, 'Invalid project', `${errors[0].field}: ${errors[0].message}`, errors);
}

/** HTTP status for a refusal from a short workflow (manual release, preview). */
function refusal(err: unknown): HttpProblem | null {
  if (!(err instanceof WorkflowFailedError)) return null;
  let cause: unknown = err.cause;
  while (cause && !(cause instanceof ApplicationFailure) && (cause as { cause?: unknown }).cause)
    cause = (cause as { cause?: unknown }).cause;
  if (!(cause instanceof ApplicationFailure)) return null;
  const notFound = NOT_FOUND_CODES.has(cause.type ?? '');
  return new HttpProblem(notFound ? 404 : 422, notFound ? 'Not found' : 'Release refused', cause.message);
}

/** Routes for projects, their releases and channel previews. */
export function projectRoutes(
  client: Client,
  taskQueue: string,
  updateDeadlineMs: number | undefined,
  guard: SaveGuard,
): Router {
  const router = Router();
  const projectHandle = (name: string) =>
    requireRunning<typeof project>(client, projectWorkflowId(name), `project ${name}`);

  router.put('/projects/:project', async (req, res) => {
    const { project: name } = parseOr400(ProjectParams, req.params);
    const body =
      req.body && typeof req.body === 'object' && !Array.isArray(req.body) ? { name, ...req.body } : req.body;
    // The cap is checked before the schema, so an oversized body costs no validation work.
    const bytes = jsonBytes(body);
    if (bytes > MAX_PROJECT_SPEC_BYTES)
      throw new HttpProblem(
        400,
        'Invalid project',
        `the project is ${bytes} bytes as JSON; at most ${MAX_PROJECT_SPEC_BYTES} are allowed`,
        [{ field: '(body)', message: `at most ${MAX_PROJECT_SPEC_BYTES} bytes` }],
      );
    const spec = parseOr400(ProjectSpecSchema, body);
    checkReachable(spec, guard);
    if (spec.name !== name)
      throw new HttpProblem(
        400,
        'Invalid request',
        `name: "${spec.name}" does not match the path (${name})`,
        [{ field: 'name', message: 'does not match the path' }],
      );
    const existed = (await runningHandle(client, projectWorkflowId(name))) !== null;
    const start = new WithStartWorkflowOperation<typeof project>('project', {
      workflowId: projectWorkflowId(name),
      taskQueue,
      args: [{ spec }],
      workflowIdConflictPolicy: 'USE_EXISTING',
      typedSearchAttributes: [{ key: PROJECT_ATTRIBUTE, value: name }],
    });
    try {
      const result = await withWorkerDeadline(
        client,
        () =>
          client.workflow.executeUpdateWithStart(configureUpdate, {
            args: [spec],
            startWorkflowOperation: start,
          }),
        updateDeadlineMs,
      );
      res.status(existed ? 200 : 201).json({
        name,
        created: !existed,
        changed: !existed || result.changed,
        revision: result.revision,
        spec,
      });
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) {
        const message = err.cause?.message ?? err.message;
        throw new HttpProblem(400, 'Invalid project', message, [{ field: message.split(':')[0], message }]);
      }
      throw err;
    }
  });

  router.get('/projects', async (_req, res) => {
    const projects = await listRunning(client, 'project');
    res.json({
      projects: projects.map((p) => ({
        name: p.workflowId.replace(/^project\//, ''),
        id: p.workflowId,
        startTime: p.startTime.toISOString(),
      })),
    });
  });

  router.get('/projects/:project', async (req, res) => {
    const { project: name } = parseOr400(ProjectParams, req.params);
    const handle = await projectHandle(name);
    res.json({
      name,
      ...(await withWorkerDeadline(client, () => handle.query(configQuery), updateDeadlineMs)),
    });
  });

  router.delete('/projects/:project', async (req, res) => {
    const { project: name } = parseOr400(ProjectParams, req.params);
    const handle = await projectHandle(name);
    const triggers = await listRunning(client, 'trigger', [equals(PROJECT_ATTRIBUTE.name, name)]);
    await Promise.all(triggers.map((t) => cancelAndWait(client.workflow.getHandle(t.workflowId))));
    await handle.signal(deleteProjectSignal);
    res.status(202).json({ name, accepted: 'delete', triggersDeleted: triggers.map((t) => t.workflowId) });
  });

  router.get('/projects/:project/releases', async (req, res) => {
    const { project: name } = parseOr400(ProjectParams, req.params);
    const query = parseOr400(ReleaseListQuery, req.query, 'query');
    const handle = await projectHandle(name);
    const page = await withWorkerDeadline(client, () => handle.query(releasesQuery, query), updateDeadlineMs);
    res.json({ ...page, limit: query.limit, offset: query.offset });
  });

  router.get('/projects/:project/releases/:number', async (req, res) => {
    const { project: name, number } = parseOr400(ReleaseParams, req.params);
    const handle = await projectHandle(name);
    const release = await withWorkerDeadline(
      client,
      () => handle.query(releaseQuery, number),
      updateDeadlineMs,
    );
    if (!release) throw new HttpProblem(404, 'Not found', `project ${name} has no release ${number}`);
    res.json(release);
  });

  router.post('/projects/:project/releases', async (req, res) => {
    const { project: name } = parseOr400(ProjectParams, req.params);
    const body = parseOr400(ManualReleaseBody, req.body ?? {});
    await projectHandle(name);
    try {
      const result = await client.workflow.execute<typeof manualRelease>('manualRelease', {
        taskQueue,
        workflowId: `manual-release/${name}/${randomUUID()}`,
        args: [{ project: name, channel: body.channel, versions: body.versions }],
        workflowExecutionTimeout: '5 minutes',
      });
      if (result.outcome === 'created') return void res.status(201).json(result.release);
      throw new HttpProblem(409, 'Conflict', result.reason);
    } catch (err) {
      throw refusal(err) ?? err;
    }
  });

  router.get('/projects/:project/channels/:channel/preview', async (req, res) => {
    const { project: name, channel } = parseOr400(ChannelParams, req.params);
    await projectHandle(name);
    try {
      const packages = await client.workflow.execute<typeof channelPreview>('channelPreview', {
        taskQueue,
        workflowId: `channel-preview/${name}/${channel}/${randomUUID()}`,
        args: [{ project: name, channel }],
        workflowExecutionTimeout: '2 minutes',
      });
      res.json({ project: name, channel, packages });
    } catch (err) {
      throw refusal(err) ?? err;
    }
  });

  return router;
}
