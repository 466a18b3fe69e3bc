import { DecisionBody, DeployBody, DeploymentParams } from './lifecycles';
import { z } from 'zod';
import { ProjectSpecSchema } from '../domain/project';
import { TriggerSpecSchema } from '../domain/trigger-schema';
import { ACCESS_ROLES } from '../db/access';
import { AuditQuery, CreateTokenSchema, ROUTE_RULES, RouteRule } from './access';
import {
  ChannelParams,
  DeleteQuery,
  SaveQuery,
  ManualReleaseBody,
  ProjectParams,
  ReleaseListQuery,
  ReleaseParams,
} from './projects';
import { PreviewRequestSchema } from './rules';
import { ChangeSchema, TriggerListQuery, TriggerParams } from './triggers';
import { NotificationSchema, WebhookQuery } from './webhooks';
import { HookParams, ReceiverParams } from './receivers';
import { RECEIVER_TYPES, ReceiverSpecSchema } from '../receivers';
import { CONSOLE_ROUTE_DOCS } from './console-docs';

/*
 * The API's OpenAPI 3.1 description. Requests are described by the zod schemas the routes validate with
 * (zod's own JSON Schema output, draft 2020-12: OpenAPI 3.1's dialect); responses by the schemas below,
 * which a test checks against real answers and against every example given here.
 */

const Problem = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
});
const problemExample = (status: number, title: string, detail: string) => ({
  type: 'about:blank',
  title,
  status,
  detail,
});

const Timestamp = z.iso.datetime({ offset: true });
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
const ProjectView = z.object({
  name: z.string(),
  spec: z.record(z.string(), z.unknown()),
  revision: z.number().int(),
  configRevision: z.number().int(),
  releaseCount: z.number().int(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
const TriggerSummary = z.object({
  id: z.string(),
  project: z.string(),
  name: z.string(),
  status: z.string().nullable(),
  packages: z.array(z.string()),
  startTime: Timestamp,
});
const TriggerView = z
  .object({
    id: z.string(),
    status: z.string(),
    spec: z.record(z.string(), z.unknown()),
    paused: z.boolean(),
    history: z.array(z.record(z.string(), z.unknown())),
    lastPoll: z.object({ at: Timestamp, outcome: z.string(), reason: z.string() }).nullable(),
    lastRelease: z.object({ number: z.string(), at: Timestamp }).nullable(),
    retrying: z.array(z.record(z.string(), z.unknown())),
  })
  .loose();
const triggerSpecExample = { project: 'shop', name: 'web', channel: 'default', intervalSeconds: 60 };
const Token = z.object({
  name: z.string(),
  role: z.enum(ACCESS_ROLES),
  createdBy: z.string(),
  createdAt: Timestamp,
  expiresAt: Timestamp.nullable(),
  lastUsedAt: Timestamp.nullable(),
});
const tokenExample = {
  name: 'ci-deployer',
  role: 'operator',
  createdBy: 'alice',
  createdAt: '2026-11-28T10:00:00.000Z',
  expiresAt: null,
  lastUsedAt: '2026-11-28T11:00:00.000Z',
};
const AuditRecord = z.object({
  id: z.string(),
  at: Timestamp,
  actor: z.string(),
  role: z.enum(ACCESS_ROLES).nullable(),
  method: z.string(),
  route: z.string(),
  path: z.string(),
  status: z.number().int(),
  outcome: z.enum(['succeeded', 'refused', 'denied', 'failed']),
  detail: z.string().nullable(),
  /** Refusals of one token, route and status within a minute are one record with their count. */
  count: z.number().int().min(1),
});
const ReceiverInfo = z.object({
  spec: z.object({
    name: z.string(),
    type: z.enum(RECEIVER_TYPES),
    secret: z.object({ secret: z.string() }).optional(),
    feed: z.string().optional(),
  }),
  createdBy: z.string(),
  createdAt: Timestamp,
});
const receiverExample = {
  spec: { name: 'ghcr', type: 'github', secret: { secret: 'github-hook' }, feed: 'ghcr' },
  createdBy: 'alice',
  createdAt: '2026-11-28T10:00:00.000Z',
};
const Preview = z.object({
  selected: z.string().nullable(),
  accepted: z.array(z.string()),
  rejected: z.array(z.object({ tag: z.string(), reason: z.string() })),
});

interface Response {
  readonly description: string;
  readonly schema?: z.ZodType;
  readonly example?: unknown;
  /** Not JSON: the media type served. */
  readonly mediaType?: string;
}

export interface RouteDoc {
  readonly summary: string;
  readonly tag: string;
  readonly params?: z.ZodType;
  readonly query?: z.ZodType;
  readonly body?: z.ZodType;
  readonly bodyExample?: unknown;
  readonly responses: Readonly<Record<number, Response>>;
}

const notFound = (what: string): Response => ({
  description: `No such ${what}`,
  schema: Problem,
  example: problemExample(404, 'Not found', `no ${what} shop`),
});
const invalid: Response = {
  description: 'The request does not validate; `errors` names each field',
  schema: Problem,
  example: {
    ...problemExample(400, 'Invalid request', 'packages.0.feed: required'),
    errors: [{ field: 'packages.0.feed', message: 'required' }],
  },
};
const unavailable: Response = {
  description: 'Temporal, a worker or the database does not answer; try again',
  schema: Problem,
  example: problemExample(
    503,
    'Service unavailable',
    'the Temporal server does not answer; try again shortly',
  ),
};

/** What both ways of starting a trigger answer. */
const triggerCreated: RouteDoc['responses'] = {
  201: {
    description: 'Started',
    schema: z.object({ id: z.string(), runId: z.string(), spec: z.record(z.string(), z.unknown()) }),
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

const DeploymentStatusSchema = z.enum([
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
};
const Approval = z.object({
  phase: z.string(),
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
const lifecycleRefused = (example: string): Response => ({
  description: 'The lifecycle does not allow it (yet); the reason says why, and nothing changed',
  schema: Problem,
  example: problemExample(422, 'Not allowed by the lifecycle', example),
});

/** What each route takes and answers, by `METHOD /path` as in the access rules. */
export const ROUTE_DOCS: Readonly<Record<string, RouteDoc>> = {
  ...CONSOLE_ROUTE_DOCS,
  'GET /healthz': {
    summary: 'The process answers',
    tag: 'health',
    responses: {
      200: { description: 'Alive', schema: z.object({ status: z.literal('ok') }), example: { status: 'ok' } },
    },
  },
  'GET /readyz': {
    summary: 'Temporal and the ledger database answer',
    tag: 'health',
    responses: {
      200: {
        description: 'Ready',
        schema: z.object({
          status: z.literal('ready'),
          temporal: z.literal('up'),
          database: z.literal('up'),
        }),
        example: { status: 'ready', temporal: 'up', database: 'up' },
      },
      503: {
        description: 'Not ready, saying which dependency is down',
        schema: Problem.extend({ temporal: z.enum(['up', 'down']), database: z.enum(['up', 'down']) }),
        example: {
          ...problemExample(503, 'Not ready', 'the ledger database does not answer'),
          temporal: 'up',
          database: 'down',
        },
      },
    },
  },
  'GET /metrics': {
    summary: "Prometheus metrics: this process's and the Temporal SDK's",
    tag: 'health',
    responses: { 200: { description: 'Prometheus text exposition format', mediaType: 'text/plain' } },
  },
  'GET /openapi.json': {
    summary: 'This description',
    tag: 'health',
    responses: { 200: { description: 'OpenAPI 3.1 document' } },
  },
  'GET /docs': {
    summary: 'A browsable page of this description',
    tag: 'health',
    responses: { 200: { description: 'HTML', mediaType: 'text/html' } },
  },
  'GET /docs/:asset': {
    summary: "The docs page's script, style sheet and icon",
    tag: 'health',
    params: z.object({ asset: z.string() }),
    responses: { 200: { description: 'The file' }, 404: notFound('asset') },
  },
  'POST /webhooks/registry': {
    summary: 'A registry push notification (CNCF distribution format): watching triggers poll now',
    tag: 'webhooks',
    query: WebhookQuery,
    body: NotificationSchema,
    bodyExample: { events: [{ action: 'push', target: { repository: 'library/nginx', tag: '1.27.3' } }] },
    responses: {
      202: {
        description:
          'The triggers watching the pushed packages were told to poll; `pending`: those whose signal was still on its way to Temporal when the answer left (it waits at most 100 ms); `missed`: those whose signal failed; `deferred`: packages whose watchers were still being looked up after 2 s (they are signalled when the lookup returns)',
        schema: z.object({
          packages: z.array(z.string()),
          triggers: z.array(z.string()),
          pending: z.array(z.string()).optional(),
          missed: z.array(z.string()).optional(),
          deferred: z.array(z.string()).optional(),
        }),
        example: { packages: ['docker.io/library/nginx'], triggers: ['trigger/shop/web'] },
      },
      400: invalid,
      401: {
        description: 'The sender did not prove itself',
        schema: Problem,
        example: problemExample(401, 'Unauthorized', 'a valid Bearer token is required'),
      },
    },
  },
  'POST /hooks/:id': {
    summary:
      "A registry's push notification to one receiver (its type's payload; verified as its sender allows)",
    tag: 'webhooks',
    params: HookParams,
    body: z.record(z.string(), z.unknown()),
    bodyExample: { events: [{ action: 'push', target: { repository: 'library/nginx', tag: '1.27.3' } }] },
    responses: {
      200: {
        description: "A sender's ping (GitHub) answered",
        schema: z.object({ receiver: z.string(), pong: z.literal(true) }),
        example: { receiver: 'ghcr', pong: true },
      },
      202: {
        description:
          'Accepted: the triggers watching the pushed packages were told to poll (or the event moves no tag); `pending`: those whose signal was still on its way to Temporal when the answer left (it waits at most 100 ms); `missed`: those whose signal failed; `deferred`: packages whose watchers were still being looked up after 2 s (they are signalled when the lookup returns)',
        schema: z.object({
          receiver: z.string(),
          packages: z.array(z.string()).optional(),
          triggers: z.array(z.string()),
          pending: z.array(z.string()).optional(),
          missed: z.array(z.string()).optional(),
          deferred: z.array(z.string()).optional(),
          ignored: z.string().optional(),
        }),
        example: { receiver: 'ghcr', packages: ['ghcr.io/acme/web'], triggers: ['trigger/shop/web'] },
      },
      400: invalid,
      401: {
        description: 'Not verified (unknown URL, bad signature or header): nothing was signalled',
        schema: Problem,
        example: problemExample(401, 'Unauthorized', 'the notification could not be verified'),
      },
      413: {
        description: 'Larger than 1 MiB',
        schema: Problem,
        example: problemExample(
          413,
          'Payload too large',
          "the body is larger than this endpoint's limit of 1048576 bytes",
        ),
      },
    },
  },
  'GET /receivers': {
    summary: 'Webhook receivers (never their URL tokens)',
    tag: 'webhooks',
    responses: {
      200: {
        description: 'Receivers by name',
        schema: z.object({ receivers: z.array(ReceiverInfo) }),
        example: { receivers: [receiverExample] },
      },
    },
  },
  'POST /receivers': {
    summary: 'Create a receiver; its URL (with its token) is in this answer only',
    tag: 'webhooks',
    body: ReceiverSpecSchema,
    bodyExample: { name: 'ghcr', type: 'github', secret: { secret: 'github-hook' }, feed: 'ghcr' },
    responses: {
      201: {
        description: 'Created',
        schema: ReceiverInfo.extend({ url: z.string(), verifies: z.string() }),
        example: {
          ...receiverExample,
          url: `/hooks/${'x'.repeat(43)}`,
          verifies: 'X-Hub-Signature-256: HMAC-SHA256 of the raw body',
        },
      },
      400: invalid,
      409: {
        description: 'A receiver has that name',
        schema: Problem,
        example: problemExample(409, 'Conflict', 'a receiver named ghcr exists; delete it first'),
      },
    },
  },
  'DELETE /receivers/:name': {
    summary: 'Delete a receiver: its URL stops working at once',
    tag: 'webhooks',
    params: ReceiverParams,
    responses: {
      200: {
        description: 'Deleted',
        schema: z.object({ name: z.string(), deleted: z.literal(true) }),
        example: { name: 'ghcr', deleted: true },
      },
      404: notFound('receiver'),
      409: {
        description: 'The receiver is defined in the configuration file',
        schema: Problem,
        example: problemExample(
          409,
          'Conflict',
          'receiver ghcr is defined in the configuration file; remove it there',
        ),
      },
    },
  },
  'GET /whoami': {
    summary: "The calling token's name and role, and the routes it may call",
    tag: 'access',
    responses: {
      200: {
        description: 'The caller',
        schema: z.object({ name: z.string(), role: z.enum(ACCESS_ROLES), allowed: z.array(z.string()) }),
        example: {
          name: 'ci-deployer',
          role: 'operator',
          allowed: ['GET /projects', 'POST /triggers/:project/:name/poll'],
        },
      },
    },
  },
  'GET /tokens': {
    summary: 'Live API tokens (never their values)',
    tag: 'access',
    responses: {
      200: {
        description: 'Tokens by name',
        schema: z.object({ tokens: z.array(Token) }),
        example: { tokens: [tokenExample] },
      },
    },
  },
  'POST /tokens': {
    summary: 'Create a token; its value is in this answer only',
    tag: 'access',
    body: CreateTokenSchema,
    bodyExample: { name: 'ci-deployer', role: 'operator', expiresInDays: 90 },
    responses: {
      201: {
        description: 'Created',
        schema: Token.extend({ token: z.string() }),
        example: { ...tokenExample, lastUsedAt: null, token: `ft_${'x'.repeat(43)}` },
      },
      400: invalid,
      409: {
        description: 'A live token has that name',
        schema: Problem,
        example: problemExample(409, 'Conflict', 'a token named ci-deployer already exists; revoke it first'),
      },
    },
  },
  'DELETE /tokens/:name': {
    summary: 'Revoke a token (at once on this API process, within 10 s on others)',
    tag: 'access',
    params: z.object({ name: z.string() }),
    responses: {
      200: {
        description: 'Revoked',
        schema: z.object({ name: z.string(), revoked: z.literal(true) }),
        example: { name: 'ci-deployer', revoked: true },
      },
      404: notFound('live token'),
    },
  },
  'GET /audit': {
    summary: 'The audit log of mutating calls, newest first',
    tag: 'access',
    query: AuditQuery,
    responses: {
      200: {
        description: 'A page of records; `nextBefore` asks for the next',
        schema: z.object({ records: z.array(AuditRecord), nextBefore: z.string().nullable() }),
        example: {
          records: [
            {
              id: '42',
              at: '2026-11-28T10:00:00.000Z',
              actor: 'alice',
              role: 'admin',
              method: 'PUT',
              route: '/projects/:project',
              path: '/projects/shop',
              status: 200,
              outcome: 'succeeded',
              detail: null,
              count: 1,
            },
            {
              id: '41',
              at: '2026-11-28T09:59:10.000Z',
              actor: 'dashboard',
              role: 'viewer',
              method: 'DELETE',
              route: '/projects/:project',
              path: '/projects/shop',
              status: 403,
              outcome: 'denied',
              detail: null,
              count: 37,
            },
          ],
          nextBefore: null,
        },
      },
      400: invalid,
    },
  },
  'POST /rules/preview': {
    summary: 'Which tags a version rule accepts and why the others are rejected (no feed is read)',
    tag: 'rules',
    body: PreviewRequestSchema,
    bodyExample: { rule: { range: '[1.0,2.0)', tag: '^$' }, tags: ['1.0.0', '1.2.0', '2.0.0', '1.3.0-rc.1'] },
    responses: {
      200: {
        description: 'The selected tag, the accepted ones best first, and the rejected ones with reasons',
        schema: Preview,
        example: {
          selected: '1.2.0',
          accepted: ['1.2.0', '1.0.0'],
          rejected: [
            { tag: '2.0.0', reason: 'out of range' },
            { tag: '1.3.0-rc.1', reason: 'pre-release tag does not match' },
          ],
        },
      },
      400: invalid,
    },
  },
  'GET /projects': {
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
  'GET /projects/:project': {
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
  'PUT /projects/:project': {
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
          spec: z.record(z.string(), z.unknown()),
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
      413: {
        description: 'The project is larger than the cap',
        schema: Problem,
        example: problemExample(413, 'Payload too large', 'a project is at most 65536 bytes of JSON'),
      },
    },
  },
  'DELETE /projects/:project': {
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
  'GET /projects/:project/revisions': {
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
              spec: z.record(z.string(), z.unknown()),
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
  'GET /projects/:project/releases': {
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
  'POST /projects/:project/releases': {
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
  'GET /projects/:project/releases/:number': {
    summary: 'One release, with each delivery',
    tag: 'releases',
    params: ReleaseParams,
    responses: {
      200: { description: 'The release', schema: Release, example: releaseExample },
      404: notFound('release'),
    },
  },
  'GET /projects/:project/releases/:number/deployments': {
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
              phases: z.array(
                z.object({
                  name: z.string(),
                  state: z.enum(['locked', 'awaiting-approval', 'rejected', 'open', 'complete']),
                  succeeded: z.number().int(),
                  needed: z.number().int(),
                }),
              ),
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
  'POST /projects/:project/releases/:number/deployments': {
    summary:
      'Deploy the release to an environment (a redeploy, or with force a rollback over a newer release)',
    tag: 'lifecycles',
    params: ReleaseParams,
    body: DeployBody,
    bodyExample: { environment: 'prod' },
    responses: {
      202: {
        description: 'Queued (or the deployment already queued or running)',
        schema: Deployment,
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
      422: lifecycleRefused('phase "prod" needs an approval before anything deploys in it'),
      503: unavailable,
    },
  },
  'POST /projects/:project/releases/:number/deployments/:environment/cancel': {
    summary: "Cancel the release's queued deployment to an environment",
    tag: 'lifecycles',
    params: DeploymentParams,
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
  'POST /projects/:project/releases/:number/approvals': {
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
  'GET /projects/:project/environments': {
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
              current: z
                .object({
                  release: z.string(),
                  deployment: z.number().int(),
                  deployedAt: z.string().nullable(),
                })
                .nullable(),
              inFlight: z.array(Deployment),
              latest: Deployment.nullable(),
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
            },
          ],
        },
      },
      404: notFound('project'),
    },
  },
  'GET /projects/:project/channels/:channel/preview': {
    summary: 'What a release of the channel would hold now (reads the feeds)',
    tag: 'releases',
    params: ChannelParams,
    responses: {
      200: {
        description: 'Per package, the version a release would take',
        schema: z.object({
          project: z.string(),
          channel: z.string(),
          packages: z.record(z.string(), z.unknown()),
        }),
        example: {
          project: 'shop',
          channel: 'default',
          packages: { web: { selected: '1.27.3', accepted: ['1.27.3'] } },
        },
      },
      404: notFound('project'),
      503: unavailable,
    },
  },
  'GET /triggers': {
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
  'GET /projects/:project/triggers': {
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
  'POST /triggers': {
    summary: 'Start a trigger (the body names its project)',
    tag: 'triggers',
    body: TriggerSpecSchema,
    bodyExample: triggerSpecExample,
    responses: triggerCreated,
  },
  'POST /projects/:project/triggers': {
    summary: 'Start a trigger in a project',
    tag: 'triggers',
    params: ProjectParams,
    body: TriggerSpecSchema,
    // `project` may be left out: the path names it (a different one is a 400).
    bodyExample: { project: 'shop', name: 'web', intervalSeconds: 60 },
    responses: triggerCreated,
  },
  'GET /triggers/:project/:name': {
    summary: "A trigger's spec, status, per-package state and last outcome",
    tag: 'triggers',
    params: TriggerParams,
    responses: {
      200: {
        description: 'The trigger',
        schema: TriggerView,
        example: {
          id: 'trigger/shop/web',
          status: 'idle',
          spec: triggerSpecExample,
          paused: false,
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
  'PATCH /triggers/:project/:name': {
    summary: "Change a trigger's channel, watched packages or interval",
    tag: 'triggers',
    params: TriggerParams,
    body: ChangeSchema,
    bodyExample: { intervalSeconds: 300 },
    responses: {
      200: {
        description: 'Changed',
        schema: z.object({ id: z.string(), changed: z.boolean(), spec: z.record(z.string(), z.unknown()) }),
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
  'DELETE /triggers/:project/:name': {
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
  'GET /triggers/:project/:name/history': {
    summary: "A trigger's evaluations, newest first",
    tag: 'triggers',
    params: TriggerParams,
    responses: {
      200: {
        description: 'History',
        schema: z.object({ history: z.array(z.record(z.string(), z.unknown())) }),
        example: {
          history: [
            {
              at: '2026-11-28T10:00:00.000Z',
              outcome: 'released',
              reason: 'web 1.27.3 is later',
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
  ...Object.fromEntries(
    (['pause', 'resume', 'poll', 'continue-as-new'] as const).map((action) => [
      `POST /triggers/:project/:name/${action}`,
      {
        summary: {
          pause: 'Pause a trigger (a poll in flight is cancelled)',
          resume: 'Resume a paused trigger (it polls at once)',
          poll: 'Poll now, with fresh listings',
          'continue-as-new': 'Start a fresh run of the trigger, keeping its state',
        }[action],
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
      } satisfies RouteDoc,
    ]),
  ),
};

/** `/triggers/:project/:name` → `/triggers/{project}/{name}`. */
const openApiPath = (path: string) => path.replace(/:([a-z]+)/gi, '{$1}');

/** A schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect, so the `$schema` line is left out). */
function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}

/** Path or query parameters from an object schema, one per key. */
function parameters(where: 'path' | 'query', schema: z.ZodType | undefined): unknown[] {
  if (!schema) return [];
  const json = jsonSchema(schema) as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || (json.required ?? []).includes(name),
    schema: property,
  }));
}

const SECURITY: Record<RouteRule['access'], unknown[] | undefined> = {
  public: [],
  sender: [{ senderToken: [] }, {}],
  viewer: [{ bearer: [] }],
  operator: [{ bearer: [] }],
  admin: [{ bearer: [] }],
};

/** The OpenAPI 3.1 document, built once per process. */
export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const rule of ROUTE_RULES) {
    const doc = ROUTE_DOCS[`${rule.method} ${rule.path}`];
    if (!doc) throw new Error(`no documentation for ${rule.method} ${rule.path}`);
    const responses: Record<string, unknown> = {};
    for (const [status, r] of Object.entries(doc.responses))
      responses[status] = {
        description: r.description,
        ...(r.schema || r.mediaType
          ? {
              content: {
                [r.mediaType ?? (Number(status) >= 400 ? 'application/problem+json' : 'application/json')]: {
                  ...(r.schema ? { schema: jsonSchema(r.schema) } : {}),
                  ...(r.example !== undefined ? { example: r.example } : {}),
                },
              },
            }
          : {}),
      };
    if (rule.access !== 'public' && rule.access !== 'sender') {
      responses['401'] ??= {
        description: 'No valid token',
        content: { 'application/problem+json': { schema: jsonSchema(Problem) } },
      };
      responses['403'] ??= {
        description: `The token's role is below ${rule.access}`,
        content: { 'application/problem+json': { schema: jsonSchema(Problem) } },
      };
    }
    paths[openApiPath(rule.path)] ??= {};
    paths[openApiPath(rule.path)][rule.method.toLowerCase()] = {
      summary: doc.summary,
      tags: [doc.tag],
      operationId: `${rule.method.toLowerCase()}${rule.path.replace(/[/:-]+(\w)/g, (_m, c: string) => c.toUpperCase())}`,
      'x-feed-triggers-role': rule.access,
      security: SECURITY[rule.access],
      parameters: [...parameters('path', doc.params), ...parameters('query', doc.query)],
      ...(doc.body
        ? {
            requestBody: {
              required: true,
              content: {
                'application/json': {
                  schema: jsonSchema(doc.body),
                  ...(doc.bodyExample !== undefined ? { example: doc.bodyExample } : {}),
                },
              },
            },
          }
        : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'feed-triggers',
      version: '0.1.0',
      description:
        'Pull-based continuous delivery: triggers watch registries and chart repositories and create releases. ' +
        'Every call but health, metrics, this description and registry notifications needs ' +
        '`Authorization: Bearer <token>`; `x-feed-triggers-role` names the least role a route needs ' +
        '(viewer < operator < admin).',
    },
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An API token (feed-triggers token create)' },
        senderToken: {
          type: 'http',
          scheme: 'bearer',
          description: 'The webhook token of the configuration (webhookToken), when one is set',
        },
      },
    },
  };
}
