import { z } from 'zod';
import { defineRoutes } from './route';
import { TenantedDeploymentsSchema } from '../domain/tenant';

/*
 * The console's routes (joined into src/api/routes.ts): sign-in sessions (session.ts), the console's page and
 * assets and the all-projects environments overview (console.ts), and live events (events.ts).
 */

const Problem = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
});
const Role = z.enum(['viewer', 'operator', 'admin']);
const Session = z.object({
  name: z.string(),
  role: Role,
  csrf: z.string(),
  expiresAt: z.iso.datetime({ offset: true }),
  temporalUi: z.object({ url: z.string(), namespace: z.string() }).nullable(),
});
const sessionExample = {
  name: 'alice',
  role: 'operator',
  csrf: 'q7b0S0x4Q2rTtq2dI5wqJ3xQ2zv6J9i3p3Zm0gq5Y6A',
  expiresAt: '2026-11-28T22:00:00.000Z',
  temporalUi: { url: 'http://127.0.0.1:8233', namespace: 'default' },
};
const problem = (description: string, status: number, title: string, detail: string) => ({
  description,
  schema: Problem,
  example: { type: 'about:blank', title, status, detail },
});
const unauthorized = (detail: string) => problem('Not signed in', 401, 'Unauthorized', detail);

const Status = z.enum([
  'scheduled',
  'queued',
  'deploying',
  'retrying',
  'succeeded',
  'failed',
  'superseded',
  'cancelled',
]);
/** What `GET /environments` answers: what is deployed where, for every project. */
/** What one lane shows: an environment's untenanted deployments, or one tenant's there. */
const LaneCell = {
  current: z.object({ release: z.string(), deployedAt: z.string().nullable() }).nullable(),
  latest: z
    .object({
      release: z.string(),
      status: Status,
      queuedAt: z.string(),
      finishedAt: z.string().nullable(),
      error: z.string().nullable(),
    })
    .nullable(),
  inFlight: z.number().int(),
  awaitingApproval: z.object({ release: z.string(), phase: z.string() }).nullable(),
};

export const EnvironmentsOverview = z.object({
  projects: z.array(
    z.object({
      project: z.string(),
      tenantedDeployments: TenantedDeploymentsSchema.describe(
        'How the project deploys: its environments carry `tenants` unless `untenanted`',
      ),
      newestRelease: z
        .object({ number: z.string(), channel: z.string(), createdAt: z.iso.datetime({ offset: true }) })
        .nullable(),
      environments: z.array(
        z.object({
          name: z.string(),
          ...LaneCell,
          tenants: z
            .array(z.object({ tenant: z.string(), ...LaneCell }))
            .optional()
            .describe(
              "A tenanted project's tenants connected to the environment, by name: each tenant's own release there",
            ),
        }),
      ),
    }),
  ),
});

export const CONSOLE_ROUTES = defineRoutes({
  signIn: {
    method: 'POST',
    path: '/session',
    access: 'public',
    summary: 'Console sign-in: exchange a token for a session cookie (HttpOnly, SameSite=Strict)',
    tag: 'console',
    body: z.strictObject({ token: z.string().min(1).max(200) }),
    bodyExample: { token: `ft_${'x'.repeat(43)}` },
    responses: {
      201: {
        description: 'Signed in; the cookie is set. Writes echo `csrf` in the X-CSRF-Token header',
        schema: Session,
        example: sessionExample,
      },
      400: {
        description: 'The request does not validate',
        schema: Problem,
        example: { type: 'about:blank', title: 'Invalid request', status: 400, detail: 'token: required' },
      },
      401: unauthorized('the token is not valid (unknown, revoked or expired)'),
    },
  },
  currentSession: {
    method: 'GET',
    path: '/session',
    access: 'public',
    summary: "The console session's principal and CSRF token",
    tag: 'console',
    responses: {
      200: { description: 'Signed in', schema: Session, example: sessionExample },
      404: problem('No session', 404, 'Not found', 'not signed in: no console session'),
    },
  },
  signOut: {
    method: 'DELETE',
    path: '/session',
    access: 'public',
    summary: 'Console sign-out: ends the session on the server and clears the cookie',
    tag: 'console',
    responses: {
      200: {
        description: 'Signed out (or was not signed in)',
        schema: z.object({ signedOut: z.boolean() }),
        example: { signedOut: true },
      },
      403: {
        description: 'Not from the console (Origin or CSRF token missing)',
        schema: Problem,
        example: {
          type: 'about:blank',
          title: 'Forbidden',
          status: 403,
          detail: "a console write must echo the session's CSRF token in the x-csrf-token header",
        },
      },
    },
  },
  consoleRedirect: {
    method: 'GET',
    path: '/console',
    access: 'public',
    summary: 'Redirects to /console/',
    tag: 'console',
    responses: { 301: { description: 'To /console/' } },
  },
  consolePage: {
    method: 'GET',
    path: '/console/',
    access: 'public',
    summary: 'The web console',
    tag: 'console',
    responses: {
      200: { description: 'The page', mediaType: 'text/html' },
      503: problem('Not built', 503, 'Console not built', 'the console is not built: run `npm run build`'),
    },
  },
  consoleAsset: {
    method: 'GET',
    path: '/console/assets/:file',
    access: 'public',
    summary: "The console's scripts and styles, named by their content's hash",
    tag: 'console',
    params: z.object({ file: z.string() }),
    responses: {
      200: { description: 'The file', mediaType: 'text/javascript' },
      404: problem('No such asset', 404, 'Not found', 'the console has no asset x.js'),
    },
  },
  allEnvironments: {
    method: 'GET',
    path: '/environments',
    access: 'viewer',
    summary: 'What is deployed where, for every project (the dashboard)',
    tag: 'lifecycles',
    responses: {
      200: {
        description: 'Projects by name, each with its environments in order',
        schema: EnvironmentsOverview,
        example: {
          projects: [
            {
              project: 'shop',
              tenantedDeployments: 'untenanted',
              newestRelease: { number: '0.0.2', channel: 'default', createdAt: '2026-11-28T10:00:00.000Z' },
              environments: [
                {
                  name: 'dev',
                  current: { release: '0.0.2', deployedAt: '2026-11-28T10:00:05.000Z' },
                  latest: {
                    release: '0.0.2',
                    status: 'succeeded',
                    queuedAt: '2026-11-28T10:00:01.000Z',
                    finishedAt: '2026-11-28T10:00:05.000Z',
                    error: null,
                  },
                  inFlight: 0,
                  awaitingApproval: null,
                },
              ],
            },
            {
              project: 'saas',
              tenantedDeployments: 'tenanted',
              newestRelease: { number: '1.2.0', channel: 'default', createdAt: '2026-11-28T11:00:00.000Z' },
              environments: [
                {
                  name: 'prod',
                  current: null,
                  latest: null,
                  inFlight: 0,
                  awaitingApproval: null,
                  tenants: [
                    {
                      tenant: 'acme',
                      current: { release: '1.2.0', deployedAt: '2026-11-28T11:05:00.000Z' },
                      latest: {
                        release: '1.2.0',
                        status: 'succeeded',
                        queuedAt: '2026-11-28T11:04:58.000Z',
                        finishedAt: '2026-11-28T11:05:00.000Z',
                        error: null,
                      },
                      inFlight: 0,
                      awaitingApproval: null,
                    },
                    {
                      tenant: 'globex',
                      current: { release: '1.1.0', deployedAt: '2026-11-20T09:00:00.000Z' },
                      latest: {
                        release: '1.1.0',
                        status: 'succeeded',
                        queuedAt: '2026-11-20T08:59:58.000Z',
                        finishedAt: '2026-11-20T09:00:00.000Z',
                        error: null,
                      },
                      inFlight: 0,
                      awaitingApproval: { release: '1.2.0', phase: 'prod' },
                    },
                  ],
                },
              ],
            },
          ],
        },
      },
    },
  },
  events: {
    method: 'GET',
    path: '/events',
    access: 'viewer',
    summary:
      'Server-sent events: a release, deployment, trigger, freeze or tenant changed (names only; read the details)',
    tag: 'console',
    responses: {
      200: { description: 'An event stream; each event names what changed', mediaType: 'text/event-stream' },
    },
  },
});
