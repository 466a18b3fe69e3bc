import type { PackageWatches } from '../db/package-watches';
import { Client, WorkflowNotFoundError } from '@temporalio/client';
import { RequestHandler } from 'express';
import { z } from 'zod';
import { ProjectSpec, ProjectSpecSchema } from '../domain/project';
import { keyErrors } from '../supply-chain/keys';
import { tenantPathErrors } from '../targets/git/tenant-paths';
import { SlugSchema } from '../domain/trigger-schema';
import { pollTriggerNow, runChannelPreview, runManualRelease } from '../../workflows/contracts/client';
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
import { problemFor } from './failure-problems';
import {
  defineRoutes,
  Handlers,
  invalid,
  notFound,
  Problem,
  problemExample,
  Timestamp,
  unavailable,
} from './route';

export const ProjectParams = z.object({ project: SlugSchema });
export const ReleaseParams = z.object({ project: SlugSchema, number: z.string().min(1).max(200) });
export const ChannelParams = z.object({ project: SlugSchema, channel: SlugSchema });
/** An opaque page position: the ledger id below which the next page starts. */
/** A page's cursor: the id after which the next page starts, opaque to clients. */
export const CursorSchema = z
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
export const encodeCursor = (id: number) => Buffer.from(String(id)).toString('base64url');

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
  /** Names of the configured signature keys; absent: key references are checked by the worker only. */
  readonly signatureKeys?: ReadonlySet<string>;
  /** Names of the configured trusted roots (keyless signers); absent: checked by the worker only. */
  readonly trustedRoots?: ReadonlySet<string>;
  readonly outbound: OutboundPolicy;
  readonly feeds: ReadonlyMap<string, Feed>;
  /** Triggers subscribed to package watchers: woken when their project changes (they poll only hourly). */
  readonly watches?: PackageWatches;
}

/** How old a listing the poll after a project change may take: the registry did not change, the project did. */
const PROJECT_CHANGE_LISTING_AGE_MS = 60_000;

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
function invalidProject(errors: FieldError[], status: 400 | 422 = 400): HttpProblem {
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  const title = status === 400 ? 'Invalid project' : 'Project refused';
  return new HttpProblem(status, title, `${errors[0].field}: ${errors[0].message}${more}`, errors);
}

/** A refusal from a short workflow (manual release, preview): a code of no meaning to HTTP is a 422. */
const refusal = (err: unknown): unknown =>
  problemFor(err, { otherwise: { status: 422, title: 'Release refused' } });

const ReleasedPackage = z.object({
  name: z.string(),
  feed: z.string(),
  package: z.string(),
  tag: z.string(),
  digest: z.string().nullable(),
  precedence: z.enum(['docker', 'semver']).optional(),
});
const Delivery = z.object({
  status: z.enum(['pending', 'delivered', 'failed', 'superseded', 'cancelled']),
  attempts: z.number().int(),
  lastError: z.string().nullable(),
  deliveredAt: Timestamp.nullable(),
});
const Release = z.object({
  number: z.string(),
  channel: z.string(),
  createdAt: Timestamp,
  packages: z.array(ReleasedPackage),
  reason: z.string(),
  source: z.union([
    z.object({ kind: z.literal('trigger'), trigger: z.string() }),
    z.object({ kind: z.literal('manual') }),
  ]),
  key: z.string(),
  deliveries: z.record(z.string(), Delivery),
  /** One release only: notes rendered from the channel's template when it was recorded (docs/release-notes.md); null without one. */
  notes: z.string().nullable().optional(),
  /** One release only: what signature and platform rules verified of its images (docs/supply-chain.md). */
  verified: z
    .array(
      z.object({
        package: z.string(),
        digest: z.string(),
        key: z.object({ name: z.string(), fingerprint: z.string() }).nullable(),
        /** The digest of the SLSA provenance attestation verified, where the rule asks for provenance. */
        attestation: z.string().optional(),
        reason: z.string(),
        verifiedAt: Timestamp,
      }),
    )
    .optional(),
});
const releaseExample = {
  number: '1.4.0',
  channel: 'default',
  createdAt: '2026-11-28T10:00:00.000Z',
  packages: [
    {
      name: 'web',
      feed: 'docker.io',
      package: 'library/nginx',
      tag: '1.27.3',
      digest: 'sha256:0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0',
    },
  ],
  reason: 'web 1.27.3 is later than 1.27.2',
  source: { kind: 'trigger', trigger: 'web' },
  key: 'trigger/shop/web/42',
  deliveries: {
    hook: { status: 'delivered', attempts: 1, lastError: null, deliveredAt: '2026-11-28T10:00:01.000Z' },
  },
};
const projectSpecExample = {
  name: 'shop',
  packages: [{ name: 'web', feed: 'docker.io', package: 'library/nginx' }],
  channels: [{ name: 'default', rules: [{ range: '[1.27,2.0)', tag: '^$' }] }],
};
/** A package of a channel preview: its rule over the feed's tags (each list capped at 100). */
const PackagePreview = z.object({
  selected: z.string().nullable(),
  accepted: z.array(z.string()),
  acceptedCount: z.number().int(),
  rejected: z.array(z.object({ tag: z.string(), reason: z.string() })),
  rejectedCount: z.number().int(),
  /** Tags signature, provenance or platform rules refused, with why (also in `rejected`). */
  skipped: z.array(z.object({ tag: z.string(), reason: z.string() })).optional(),
  /** Accepted tags beyond the best 10, which a poll would verify only if those above them fail. */
  unverifiedCount: z.number().int().optional(),
});
const ProjectView = z.object({
  name: z.string(),
  spec: ProjectSpecSchema,
  revision: z.number().int(),
  configRevision: z.number().int(),
  releaseCount: z.number().int(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
/**
 * Projects, their releases and channel previews. Configuration and releases are read from and written to
 * the ledger, so they answer with no worker and while Temporal is down; only what runs on Temporal
 * (deleting, which cancels workflows; manual releases; previews) waits on its health.
 */
export const PROJECT_ROUTES = defineRoutes({
  listProjects: {
    method: 'GET',
    path: '/projects',
    access: 'viewer',
    summary: 'Projects',
    tag: 'projects',
    responses: {
      200: {
        description: 'Projects by name',
        schema: z.object({
          projects: z.array(
            z.object({
              name: z.string(),
              revision: z.number().int(),
              createdAt: Timestamp,
              updatedAt: Timestamp,
            }),
          ),
        }),
        example: {
          projects: [
            {
              name: 'shop',
              revision: 3,
              createdAt: '2026-11-28T10:00:00.000Z',
              updatedAt: '2026-11-28T10:00:00.000Z',
            },
          ],
        },
      },
    },
  },
  getProject: {
    method: 'GET',
    path: '/projects/:project',
    access: 'viewer',
    summary: 'A project: its configuration and revision',
    tag: 'projects',
    params: ProjectParams,
    responses: {
      200: {
        description: 'The project',
        schema: ProjectView,
        example: {
          name: 'shop',
          spec: projectSpecExample,
          revision: 3,
          configRevision: 1,
          releaseCount: 2,
          createdAt: '2026-11-28T10:00:00.000Z',
          updatedAt: '2026-11-28T10:00:00.000Z',
        },
      },
      404: notFound('project'),
    },
  },
  saveProject: {
    method: 'PUT',
    path: '/projects/:project',
    access: 'admin',
    summary:
      'Create or replace a project (packages, channels with version rules, versioning, destinations); `warnings` name feeds that cannot be reached (errors with strict=true; dryRun=true saves nothing)',
    tag: 'projects',
    params: ProjectParams,
    query: SaveQuery,
    body: ProjectSpecSchema,
    bodyExample: projectSpecExample,
    responses: {
      200: {
        description: 'Replaced (or unchanged), or checked and not saved (dryRun)',
        schema: z.object({
          name: z.string(),
          created: z.boolean().optional(),
          changed: z.boolean().optional(),
          revision: z.number().int().optional(),
          configRevision: z.number().int().optional(),
          dryRun: z.literal(true).optional(),
          valid: z.literal(true).optional(),
          warnings: z.array(z.object({ field: z.string(), message: z.string() })),
          spec: ProjectSpecSchema,
        }),
        example: {
          name: 'shop',
          created: false,
          changed: true,
          revision: 4,
          configRevision: 2,
          warnings: [
            {
              field: 'packages.0.feed',
              message:
                'feed dockerhub.io cannot be reached: https://dockerhub.io could not be reached: ENOTFOUND dockerhub.io (the name does not resolve)',
            },
          ],
          spec: projectSpecExample,
        },
      },
      201: {
        description: 'Created',
        schema: z.object({ name: z.string(), created: z.literal(true) }).loose(),
        example: {
          name: 'shop',
          created: true,
          changed: true,
          revision: 1,
          configRevision: 1,
          spec: projectSpecExample,
        },
      },
      400: invalid,
      422: {
        description:
          "A Git file's path that a connected tenant's name fills into a path Git refuses (`.{tenant}/x` with tenant `git`)",
        schema: Problem,
        example: {
          ...problemExample(
            422,
            'Project refused',
            'environments.0.targets.0.files.0.path: for tenant git in environment "dev" the path is ".git/x": a path into .git is refused',
          ),
          errors: [
            {
              field: 'environments.0.targets.0.files.0.path',
              message:
                'for tenant git in environment "dev" the path is ".git/x": a path into .git is refused',
            },
          ],
        },
      },
      413: {
        description: 'The project is larger than the cap',
        schema: Problem,
        example: problemExample(413, 'Payload too large', 'a project is at most 65536 bytes of JSON'),
      },
    },
  },
  deleteProject: {
    method: 'DELETE',
    path: '/projects/:project',
    access: 'admin',
    temporal: true,
    summary: 'Delete a project and stop its triggers; its releases stay unless purge=true',
    tag: 'projects',
    params: ProjectParams,
    query: DeleteQuery,
    responses: {
      200: {
        description: 'Deleted',
        schema: z.object({
          name: z.string(),
          deleted: z.literal(true),
          purged: z.boolean(),
          releases: z.number().int(),
          triggersDeleted: z.array(z.string()),
          cancelled: z.array(z.string()),
        }),
        example: {
          name: 'shop',
          deleted: true,
          purged: false,
          releases: 2,
          triggersDeleted: ['trigger/shop/web'],
          cancelled: [],
        },
      },
      404: notFound('project'),
      503: unavailable,
    },
  },
  listRevisions: {
    method: 'GET',
    path: '/projects/:project/revisions',
    access: 'viewer',
    summary: "A project's configuration revisions",
    tag: 'projects',
    params: ProjectParams,
    responses: {
      200: {
        description: 'Revisions, oldest first',
        schema: z.object({
          name: z.string(),
          revisions: z.array(
            z.object({
              configRevision: z.number().int(),
              spec: ProjectSpecSchema,
              createdAt: Timestamp,
            }),
          ),
        }),
        example: {
          name: 'shop',
          revisions: [{ configRevision: 1, spec: projectSpecExample, createdAt: '2026-11-28T10:00:00.000Z' }],
        },
      },
      404: notFound('project'),
    },
  },
  listReleases: {
    method: 'GET',
    path: '/projects/:project/releases',
    access: 'viewer',
    summary: "A project's releases, newest first, filtered and paged",
    tag: 'releases',
    params: ProjectParams,
    query: ReleaseListQuery,
    responses: {
      200: {
        description: 'A page; `nextCursor` asks for the next',
        schema: z.object({
          releases: z.array(Release),
          limit: z.number().int(),
          nextCursor: z.string().nullable(),
        }),
        example: { releases: [releaseExample], limit: 20, nextCursor: null },
      },
      400: invalid,
      404: notFound('project'),
    },
  },
  createRelease: {
    method: 'POST',
    path: '/projects/:project/releases',
    access: 'operator',
    temporal: true,
    summary: 'Create a release by hand: pinned versions, the rest the latest that pass the channel rules',
    tag: 'releases',
    params: ProjectParams,
    body: ManualReleaseBody,
    bodyExample: { channel: 'default', versions: { web: '1.27.3' } },
    responses: {
      201: {
        description: 'Created',
        schema: Release,
        example: { ...releaseExample, source: { kind: 'manual' } },
      },
      400: invalid,
      404: notFound('project'),
      409: {
        description: 'Those versions are already released in the channel',
        schema: Problem,
        example: problemExample(409, 'Conflict', 'these versions are already release 1.4.0'),
      },
      503: unavailable,
    },
  },
  getRelease: {
    method: 'GET',
    path: '/projects/:project/releases/:number',
    access: 'viewer',
    summary: 'One release, with each delivery',
    tag: 'releases',
    params: ReleaseParams,
    responses: {
      200: {
        description: 'The release',
        schema: Release,
        example: { ...releaseExample, notes: 'shop 1.4.0\n- web 1.27.3 (was 1.27.2)\n' },
      },
      404: notFound('release'),
    },
  },
  previewChannel: {
    method: 'GET',
    path: '/projects/:project/channels/:channel/preview',
    access: 'viewer',
    temporal: true,
    summary:
      'What a release of the channel would hold now (reads the feeds, and verifies signature, provenance and platform rules as a poll does)',
    tag: 'releases',
    params: ChannelParams,
    responses: {
      200: {
        description: 'Per package, the version a release would take',
        schema: z.object({
          project: z.string(),
          channel: z.string(),
          packages: z.record(z.string(), z.union([PackagePreview, z.object({ error: z.string() })])),
        }),
        example: {
          project: 'shop',
          channel: 'default',
          packages: {
            web: {
              selected: '1.27.3',
              accepted: ['1.27.3'],
              acceptedCount: 1,
              rejected: [{ tag: '2.0.0', reason: 'out of range' }],
              rejectedCount: 1,
            },
          },
        },
      },
      404: notFound('project'),
      503: unavailable,
    },
  },
});

/**
 * The handlers of PROJECT_ROUTES.
 */
export function projectHandlers(
  client: Client,
  ledger: Ledger,
  taskQueue: string,
  guard: SaveGuard,
): Handlers<typeof PROJECT_ROUTES> {
  const probe = new FeedProbe(new HttpClient({ policy: guard.outbound }));
  const requireProject = async (name: string) => {
    const project = await ledger.getProject(name);
    if (!project) throw new HttpProblem(404, 'Not found', `no project ${name}`);
    return project;
  };

  /**
   * A trigger subscribed to package watchers sees a project change (rules, a manual release) only when woken:
   * wake the project's watched triggers. Best effort: a trigger not woken sees it at its safety poll.
   */
  const wakeWatched = async (project: string, source: string) => {
    if (!guard.watches) return;
    const triggers = await guard.watches.subscribedIn(project).catch(() => []);
    const listedAt = Date.now() - PROJECT_CHANGE_LISTING_AGE_MS;
    await Promise.all(
      triggers.map((id) => pollTriggerNow(client, id, { source, listedAt }).catch(() => undefined)),
    );
  };

  /** Connections to tenants that do not exist, each naming its field. */
  const tenantErrors = async (spec: ProjectSpec) => {
    const connections = spec.tenants ?? [];
    const missing = new Set(await ledger.tenants.missing(connections.map((c) => c.tenant)));
    return connections.flatMap((c, i) =>
      missing.has(c.tenant)
        ? [
            {
              field: `tenants.${i}.tenant`,
              message: `no tenant named "${c.tenant}" (PUT /tenants/${c.tenant} first)`,
            },
          ]
        : [],
    );
  };

  const saveProject: RequestHandler = async (req, res) => {
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
    const errors = [
      ...outboundErrors(spec, guard),
      ...keyErrors(spec, { keys: guard.signatureKeys, roots: guard.trustedRoots }),
      ...(await tenantErrors(spec)),
    ];
    if (spec.name !== name)
      errors.unshift({ field: 'name', message: `"${spec.name}" does not match the path (${name})` });
    const warnings = await feedWarnings(spec, guard, probe, new Set(errors.map((e) => e.field)));
    if (query.strict === 'true') errors.push(...warnings);
    // A template that only a connected tenant's name completes into a path Git refuses: the spec is well
    // formed, and what it asks cannot be done (422); with other errors it is one more of them.
    const tenantPaths = tenantPathErrors(spec).map(({ field, message }) => ({ field, message }));
    if (errors.length > 0) throw invalidProject([...errors, ...tenantPaths]);
    if (tenantPaths.length > 0) throw invalidProject(tenantPaths, 422);
    if (query.dryRun === 'true') return void res.json({ name, dryRun: true, valid: true, warnings, spec });
    const result = await ledger.saveProject(spec);
    if (result.changed) await wakeWatched(name, 'project change');
    res.status(result.created ? 201 : 200).json({
      name,
      created: result.created,
      changed: result.changed,
      revision: result.revision,
      configRevision: result.configRevision,
      warnings,
      spec,
    });
  };

  const listProjects: RequestHandler = async (_req, res) => {
    res.json({ projects: await ledger.listProjects() });
  };

  const getProject: RequestHandler = async (req, res) => {
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
  };

  const listRevisions: RequestHandler = async (req, res) => {
    const { project: name } = parseOr400(ProjectParams, req.params);
    const revisions = await ledger.projectRevisions(name);
    if (!revisions) throw new HttpProblem(404, 'Not found', `no project ${name}`);
    res.json({ name, revisions });
  };

  /**
   * Cancels the project's triggers and what is still in flight (releases being handed off, destination
   * queues), then deletes it in the ledger: its releases stay, marked deleted, unless `purge=true`.
   */
  const deleteProject: RequestHandler = async (req, res) => {
    const { project: name } = parseOr400(ProjectParams, req.params);
    const { purge } = parseOr400(DeleteQuery, req.query, 'query');
    await requireProject(name);
    const triggers = await listRunning(client, 'trigger', [equals(PROJECT_ATTRIBUTE.name, name)]);
    await Promise.all(triggers.map((t) => cancelAndWait(client.workflow.getHandle(t.workflowId))));
    // Its triggers are gone: kept, their subscriptions had the watchers read their packages for ever. A
    // failure here leaves rows a wake drops when it finds the trigger gone; it does not fail the delete.
    await guard.watches?.forget(await guard.watches.subscribedIn(name)).catch(() => undefined);
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
  };

  const listReleases: RequestHandler = async (req, res) => {
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
  };

  const getRelease: RequestHandler = async (req, res) => {
    const { project: name, number } = parseOr400(ReleaseParams, req.params);
    const project = await requireProject(name);
    const release = await ledger.getRelease(project.id, number);
    if (!release) throw new HttpProblem(404, 'Not found', `project ${name} has no release ${number}`);
    const digests = release.packages.flatMap((p) => (p.digest ? [p.digest] : []));
    const verdicts = await ledger.verdicts.passedFor(digests);
    const verified = release.packages.flatMap((p) =>
      verdicts
        .filter((v) => v.digest === p.digest)
        .map((v) => ({
          package: p.name,
          digest: v.digest,
          key: v.key,
          ...(v.attestation ? { attestation: v.attestation } : {}),
          reason: v.reason,
          verifiedAt: v.at,
        })),
    );
    res.json({
      ...publicRelease(release),
      notes: release.notes,
      ...(verified.length > 0 ? { verified } : {}),
    });
  };

  const createRelease: RequestHandler = async (req, res) => {
    const { project: name } = parseOr400(ProjectParams, req.params);
    const body = parseOr400(ManualReleaseBody, req.body ?? {});
    await requireProject(name);
    try {
      const result = await runManualRelease(client, taskQueue, {
        project: name,
        channel: body.channel,
        versions: body.versions,
      });
      if (result.outcome === 'created') {
        // A manual release moves the channel: watched triggers judge their packages against it now.
        await wakeWatched(name, 'manual release');
        return void res.status(201).json(result.release);
      }
      throw new HttpProblem(409, 'Conflict', result.reason);
    } catch (err) {
      throw refusal(err);
    }
  };

  const previewChannel: RequestHandler = async (req, res) => {
    const { project: name, channel } = parseOr400(ChannelParams, req.params);
    await requireProject(name);
    try {
      const packages = await runChannelPreview(client, taskQueue, { project: name, channel });
      res.json({ project: name, channel, packages });
    } catch (err) {
      throw refusal(err);
    }
  };

  return {
    saveProject,
    listProjects,
    getProject,
    listRevisions,
    deleteProject,
    listReleases,
    getRelease,
    createRelease,
    previewChannel,
  };
}
