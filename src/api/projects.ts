import { Client, WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { RequestHandler, Router } from 'express';
import { apiRouter } from './access';
import { z } from 'zod';
import { ProjectSpec, ProjectSpecSchema } from '../domain/project';
import { NOT_FOUND_CODES } from '../domain/failures';
import { SlugSchema } from '../domain/trigger-schema';
import { runChannelPreview, runManualRelease } from '../../workflows/contracts/client';
import { destinationWorkflowId, releaseWorkflowId } from '../../workflows/contracts/ids';
import { PROJECT_ATTRIBUTE } from '../../workflows/contracts/search-attributes';
import { Ledger, publicRelease } from '../db/ledger';
import { FieldError, HttpProblem, parseOr400 } from './problem';
import { jsonBytes, MAX_PROJECT_SPEC_BYTES } from '../domain/size';
import { secretUses, targetUses } from '../domain/destination-urls';
import { secretRefusal, SecretBindings } from '../config/secrets';
import { checkOutboundUrl, OutboundPolicy } from '../net/outbound';
import { Feed } from '../feeds/feed';
import { HttpClient } from '../net/http';
import { FeedProbe } from '../feeds/reachability';
import { resolveFeed } from '../config';
import { cancelAndWait, equals, listRunning } from './workflows';

export const ProjectParams = z.object({ project: SlugSchema });
export const ReleaseParams = z.object({ project: SlugSchema, number: z.string().min(1).max(200) });
export const ChannelParams = z.object({ project: SlugSchema, channel: SlugSchema });
/** An opaque page position: the ledger id below which the next page starts. */
const CursorSchema = z
  .string()
  .max(64)
  .transform((c, ctx) => {
    const id = /^[A-Za-z0-9_-]+$/.test(c) ? Number(Buffer.from(c, 'base64url').toString('utf8')) : NaN;
    if (!Number.isSafeInteger(id) || id < 1) {
      ctx.addIssue({ code: 'custom', message: 'not a cursor from a previous page' });
      return z.NEVER;
    }
    return id;
  });
const encodeCursor = (id: number) => Buffer.from(String(id)).toString('base64url');

export const ReleaseListQuery = z
  .object({
    channel: SlugSchema.optional(),
    /** A package reference's name (`web`) or a feed package (`library/nginx`). */
    package: z.string().min(1).max(256).optional(),
    /** A tag of any package, or of `package` when given. */
    version: z.string().min(1).max(128).optional(),
    createdSince: z.iso.datetime({ offset: true }).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: CursorSchema.optional(),
  })
  .strict();
export const DeleteQuery = z.object({ purge: z.enum(['true', 'false']).default('false') }).strict();
export const SaveQuery = z
  .object({
    /** Refuse (400) what would otherwise be a warning: a feed that cannot be reached or is not configured. */
    strict: z.enum(['true', 'false']).default('false'),
    /** Check everything, save nothing (`feed-triggers validate`). */
    dryRun: z.enum(['true', 'false']).default('false'),
  })
  .strict();
export const ManualReleaseBody = z
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
function outboundErrors(spec: ProjectSpec, guard: SaveGuard): FieldError[] {
  const errors: FieldError[] = [];
  const targets = targetUses(spec.environments);
  for (const use of [...secretUses(spec.destinations), ...targets.secrets]) {
    const refusal = secretRefusal(use.secret, use.url, guard.secretBindings);
    if (refusal) errors.push({ field: use.field, message: refusal });
  }
  const urls = [
    ...spec.destinations.map((d, i) =>
      d.type === 'webhook'
        ? { url: d.url, field: `destinations.${i}.url` }
        : { url: d.serverUrl, field: `destinations.${i}.serverUrl` },
    ),
    ...targets.urls,
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
  return errors;
}

/**
 * What may be wrong with the project's feeds, found before anything polls them: a feed id that is neither
 * configured nor a registry host, and a feed that does not answer (`ENOTFOUND dockerhub.io`). Warnings, since
 * the API may see another network than the worker; `strict` makes them errors.
 */
async function feedWarnings(
  spec: ProjectSpec,
  guard: SaveGuard,
  probe: FeedProbe,
  /** Fields already refused (a feed the outbound policy forbids is not probed). */
  refused: ReadonlySet<string>,
): Promise<FieldError[]> {
  const warnings = await Promise.all(
    spec.packages.map(async (p, i): Promise<FieldError | null> => {
      const field = `packages.${i}.feed`;
      if (refused.has(field)) return null;
      const feed = resolveFeed(guard.feeds, p.feed);
      if (!feed)
        return {
          field,
          message: `feed "${p.feed}" is not configured (the configuration file's feeds) and is not a registry host such as docker.io`,
        };
      const reason = await probe.reason(feed);
      return reason === null ? null : { field, message: `feed ${p.feed} cannot be reached: ${reason}` };
    }),
  );
  return warnings.filter((w): w is FieldError => w !== null);
}

/** A 400 listing every field error (the detail names the first and how many more there are). */
function invalidProject(errors: FieldError[]): HttpProblem {
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  return new HttpProblem(400, 'Invalid project', `${errors[0].field}: ${errors[0].message}${more}`, errors);
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

/**
 * Routes for projects, their releases and channel previews. Configuration and releases are read from and
 * written to the ledger, so they answer with no worker and while Temporal is down; only what runs on
 * Temporal (deleting, which cancels workflows; manual releases; previews) passes `temporal` first.
 */
export function projectRoutes(
  client: Client,
  ledger: Ledger,
  taskQueue: string,
  temporal: RequestHandler,
  guard: SaveGuard,
): Router {
  const router = apiRouter();
  const probe = new FeedProbe(new HttpClient({ policy: guard.outbound }));
  const requireProject = async (name: string) => {
    const project = await ledger.getProject(name);
    if (!project) throw new HttpProblem(404, 'Not found', `no project ${name}`);
    return project;
  };

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
    const query = parseOr400(SaveQuery, req.query, 'query');
    const spec = parseOr400(ProjectSpecSchema, body);
    // Every check runs before anything is saved, and every error found is answered at once.
    const errors = outboundErrors(spec, guard);
    if (spec.name !== name)
      errors.unshift({ field: 'name', message: `"${spec.name}" does not match the path (${name})` });
    const warnings = await feedWarnings(spec, guard, probe, new Set(errors.map((e) => e.field)));
    if (query.strict === 'true') errors.push(...warnings);
    if (errors.length > 0) throw invalidProject(errors);
    if (query.dryRun === 'true') return void res.json({ name, dryRun: true, valid: true, warnings, spec });
    const result = await ledger.saveProject(spec);
    res.status(result.created ? 201 : 200).json({
      name,
      created: result.created,
      changed: result.changed,
      revision: result.revision,
      configRevision: result.configRevision,
      warnings,
      spec,
    });
  });

  router.get('/projects', async (_req, res) => {
    res.json({ projects: await ledger.listProjects() });
  });

  router.get('/projects/:project', async (req, res) => {
    const { project: name } = parseOr400(ProjectParams, req.params);
    const project = await requireProject(name);
    res.json({
      name,
      spec: project.spec,
      revision: project.revision,
      configRevision: project.configRevision,
      releaseCount: await ledger.releaseCount(project.id),
      createdAt: project.createdAt,
      updatedAt: project.updatedAt,
    });
  });

  router.get('/projects/:project/revisions', async (req, res) => {
    const { project: name } = parseOr400(ProjectParams, req.params);
    const revisions = await ledger.projectRevisions(name);
    if (!revisions) throw new HttpProblem(404, 'Not found', `no project ${name}`);
    res.json({ name, revisions });
  });

  /**
   * Cancels the project's triggers and what is still in flight (releases being handed off, destination
   * queues), then deletes it in the ledger: its releases stay, marked deleted, unless `purge=true`.
   */
  router.delete('/projects/:project', temporal, async (req, res) => {
    const { project: name } = parseOr400(ProjectParams, req.params);
    const { purge } = parseOr400(DeleteQuery, req.query, 'query');
    await requireProject(name);
    const triggers = await listRunning(client, 'trigger', [equals(PROJECT_ATTRIBUTE.name, name)]);
    await Promise.all(triggers.map((t) => cancelAndWait(client.workflow.getHandle(t.workflowId))));
    const deleted = await ledger.deleteProject(name, purge === 'true');
    if (!deleted) throw new HttpProblem(404, 'Not found', `no project ${name}`);
    const inFlight = [
      ...deleted.inFlight.map((n) => releaseWorkflowId(name, n)),
      ...deleted.destinations.map((d) => destinationWorkflowId(name, d)),
    ];
    await Promise.all(
      inFlight.map(async (id) => {
        try {
          await cancelAndWait(client.workflow.getHandle(id));
        } catch (err) {
          if (!(err instanceof WorkflowNotFoundError)) throw err; // never started, or already closed
        }
      }),
    );
    res.json({
      name,
      deleted: true,
      purged: purge === 'true',
      releases: deleted.releases,
      triggersDeleted: triggers.map((t) => t.workflowId),
      cancelled: inFlight,
    });
  });

  router.get('/projects/:project/releases', async (req, res) => {
    const { project: name } = parseOr400(ProjectParams, req.params);
    const query = parseOr400(ReleaseListQuery, req.query, 'query');
    const page = await ledger.listReleases(name, {
      channel: query.channel,
      package: query.package,
      version: query.version,
      createdSince: query.createdSince ? new Date(query.createdSince) : undefined,
      limit: query.limit,
      cursor: query.cursor,
    });
    if (!page) throw new HttpProblem(404, 'Not found', `no project ${name}`);
    res.json({
      releases: page.releases.map(publicRelease),
      limit: query.limit,
      nextCursor: page.nextCursor === null ? null : encodeCursor(page.nextCursor),
    });
  });

  router.get('/projects/:project/releases/:number', async (req, res) => {
    const { project: name, number } = parseOr400(ReleaseParams, req.params);
    const project = await requireProject(name);
    const release = await ledger.getRelease(project.id, number);
    if (!release) throw new HttpProblem(404, 'Not found', `project ${name} has no release ${number}`);
    res.json(publicRelease(release));
  });

  router.post('/projects/:project/releases', temporal, async (req, res) => {
    const { project: name } = parseOr400(ProjectParams, req.params);
    const body = parseOr400(ManualReleaseBody, req.body ?? {});
    await requireProject(name);
    try {
      const result = await runManualRelease(client, taskQueue, {
        project: name,
        channel: body.channel,
        versions: body.versions,
      });
      if (result.outcome === 'created') return void res.status(201).json(result.release);
      throw new HttpProblem(409, 'Conflict', result.reason);
    } catch (err) {
      throw refusal(err) ?? err;
    }
  });

  router.get('/projects/:project/channels/:channel/preview', temporal, async (req, res) => {
    const { project: name, channel } = parseOr400(ChannelParams, req.params);
    await requireProject(name);
    try {
      const packages = await runChannelPreview(client, taskQueue, { project: name, channel });
      res.json({ project: name, channel, packages });
    } catch (err) {
      throw refusal(err) ?? err;
    }
  });

  return router;
}
