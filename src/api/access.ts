import express, { NextFunction, Request, Response } from 'express';
import { z } from 'zod';
import {
  AccessError,
  AccessRole,
  AccessStore,
  ACCESS_ROLES,
  Principal,
  roleAllows,
  TokenNameSchema,
} from '../db/access';
import { HttpProblem, parseOr400, sendProblem } from './problem';

/** Who may call a route: a role (or any higher one), anyone (`public`), or a sender verified by the route. */
export type RouteAccess = AccessRole | 'public' | 'sender';

export interface RouteRule {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Express's pattern, e.g. `/triggers/:project/:name`. */
  readonly path: string;
  readonly access: RouteAccess;
}

/**
 * Every route of the API and who may call it. Reads are for viewers; pausing, resuming, polling and manual
 * releases for operators; configuration and tokens for admins. A test checks that each route Express
 * serves is here (test/integration/access.test.ts), so a new route cannot ship without a decision.
 */
export const ROUTE_RULES: readonly RouteRule[] = [
  { method: 'GET', path: '/healthz', access: 'public' },
  { method: 'GET', path: '/readyz', access: 'public' },
  { method: 'GET', path: '/metrics', access: 'public' },
  // The API's description holds no data; calls from the docs page still need a token (its Authorize button).
  { method: 'GET', path: '/openapi.json', access: 'public' },
  { method: 'GET', path: '/docs', access: 'public' },
  { method: 'GET', path: '/docs/:asset', access: 'public' },
  { method: 'POST', path: '/webhooks/registry', access: 'sender' },
  { method: 'POST', path: '/hooks/:id', access: 'sender' },
  { method: 'GET', path: '/receivers', access: 'admin' },
  { method: 'POST', path: '/receivers', access: 'admin' },
  { method: 'DELETE', path: '/receivers/:name', access: 'admin' },
  { method: 'GET', path: '/whoami', access: 'viewer' },
  { method: 'POST', path: '/rules/preview', access: 'viewer' },
  { method: 'GET', path: '/projects', access: 'viewer' },
  { method: 'GET', path: '/projects/:project', access: 'viewer' },
  { method: 'PUT', path: '/projects/:project', access: 'admin' },
  { method: 'DELETE', path: '/projects/:project', access: 'admin' },
  { method: 'GET', path: '/projects/:project/revisions', access: 'viewer' },
  { method: 'GET', path: '/projects/:project/releases', access: 'viewer' },
  { method: 'POST', path: '/projects/:project/releases', access: 'operator' },
  { method: 'GET', path: '/projects/:project/releases/:number', access: 'viewer' },
  { method: 'GET', path: '/projects/:project/releases/:number/deployments', access: 'viewer' },
  { method: 'POST', path: '/projects/:project/releases/:number/deployments', access: 'operator' },
  {
    method: 'POST',
    path: '/projects/:project/releases/:number/deployments/:environment/cancel',
    access: 'operator',
  },
  { method: 'POST', path: '/projects/:project/releases/:number/approvals', access: 'operator' },
  { method: 'GET', path: '/projects/:project/environments', access: 'viewer' },
  { method: 'GET', path: '/projects/:project/channels/:channel/preview', access: 'viewer' },
  { method: 'GET', path: '/projects/:project/triggers', access: 'viewer' },
  { method: 'POST', path: '/projects/:project/triggers', access: 'admin' },
  { method: 'GET', path: '/triggers', access: 'viewer' },
  { method: 'POST', path: '/triggers', access: 'admin' },
  { method: 'GET', path: '/triggers/:project/:name', access: 'viewer' },
  { method: 'PATCH', path: '/triggers/:project/:name', access: 'admin' },
  { method: 'DELETE', path: '/triggers/:project/:name', access: 'admin' },
  { method: 'GET', path: '/triggers/:project/:name/history', access: 'viewer' },
  { method: 'POST', path: '/triggers/:project/:name/pause', access: 'operator' },
  { method: 'POST', path: '/triggers/:project/:name/resume', access: 'operator' },
  { method: 'POST', path: '/triggers/:project/:name/poll', access: 'operator' },
  { method: 'POST', path: '/triggers/:project/:name/continue-as-new', access: 'operator' },
  { method: 'GET', path: '/tokens', access: 'admin' },
  { method: 'POST', path: '/tokens', access: 'admin' },
  { method: 'DELETE', path: '/tokens/:name', access: 'admin' },
  { method: 'GET', path: '/audit', access: 'admin' },
];

/** Whether a request path fits a route pattern: the same segments, `:name` standing for any one. */
function fits(pattern: readonly string[], path: string): boolean {
  const segments = path.replace(/\/$/, '').split('/');
  return (
    segments.length === pattern.length &&
    pattern.every((p, i) => (p.startsWith(':') ? segments[i] !== '' : p === segments[i]))
  );
}

const SPLIT = ROUTE_RULES.map((rule) => ({ rule, pattern: rule.path.split('/') }));

/** The rule for a request, or undefined for a path no route serves. */
export function ruleFor(method: string, path: string): RouteRule | undefined {
  const m = method === 'HEAD' ? 'GET' : method;
  return SPLIT.find(({ rule, pattern }) => rule.method === m && fits(pattern, path))?.rule;
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The principal the access check put on the response; undefined on public routes. */
export function principalOf(res: Response): Principal | undefined {
  return res.locals.principal as Principal | undefined;
}

/**
 * Checks every call: a public route passes; any other needs `Authorization: Bearer <token>` (401 without a
 * valid one) whose role covers the route (403 otherwise). Mutating calls are written to the audit log with
 * their outcome, refused ones included. A path no route serves needs a viewer token, so the 404 a
 * stranger gets says nothing about which paths exist.
 */
export function accessControl(store: AccessStore, log: (message: string) => void): express.RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const rule = ruleFor(req.method, req.path);
    if (rule && (rule.access === 'public' || rule.access === 'sender')) return next();
    const need: AccessRole = rule
      ? (rule.access as AccessRole)
      : MUTATING.has(req.method)
        ? 'admin'
        : 'viewer';
    let actor: Principal | null = null;
    // Calls without a valid token are not recorded (a stranger could fill the log); metrics count them.
    if (MUTATING.has(req.method))
      res.once('finish', () => {
        if (!actor) return;
        const status = res.statusCode;
        store
          .recordAudit({
            actor: actor.name,
            role: actor.role,
            method: req.method,
            route: rule?.path ?? '(no route)',
            path: req.path,
            status,
            outcome:
              status === 403 ? 'denied' : status < 400 ? 'succeeded' : status < 500 ? 'refused' : 'failed',
            detail: (res.locals.auditDetail as string | undefined) ?? null,
          })
          .catch((err: Error) => log(`audit log: cannot record ${req.method} ${rule?.path}: ${err.message}`));
      });
    const presented = /^Bearer ([^\s]+)$/i.exec(req.get('authorization') ?? '')?.[1];
    const refuse401 = (detail: string) => {
      res.set('WWW-Authenticate', 'Bearer realm="feed-triggers"');
      sendProblem(res, 401, 'Unauthorized', detail);
    };
    if (!presented) return refuse401('this call needs a token: send "Authorization: Bearer <token>"');
    store.authenticate(presented).then(
      (principal) => {
        if (!principal) return refuse401('the token is not valid (unknown, revoked or expired)');
        actor = principal;
        if (!roleAllows(principal.role, need))
          return sendProblem(
            res,
            403,
            'Forbidden',
            `token ${principal.name} has the ${principal.role} role; ${req.method} ${rule?.path ?? req.path} needs ${need}`,
          );
        res.locals.principal = principal;
        next();
      },
      (err: unknown) => next(err),
    );
  };
}

export const CreateTokenSchema = z.strictObject({
  name: TokenNameSchema,
  role: z.enum(ACCESS_ROLES),
  /** Days until the token stops working; none: until revoked. */
  expiresInDays: z.number().int().min(1).max(3650).optional(),
});

export const AuditQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  before: z
    .string()
    .regex(/^[1-9][0-9]{0,17}$/, 'an audit record id')
    .optional(),
  actor: z.string().max(63).optional(),
});

/** `/whoami`, token administration and the audit log. */
export function accessRoutes(store: AccessStore): express.Router {
  const router = express.Router();
  router.get('/whoami', (_req, res) => {
    const me = principalOf(res)!;
    res.json({
      name: me.name,
      role: me.role,
      // What this token may call, so a client can show or hide actions.
      allowed: ROUTE_RULES.filter(
        (r) => r.access !== 'public' && r.access !== 'sender' && roleAllows(me.role, r.access),
      ).map((r) => `${r.method} ${r.path}`),
    });
  });
  router.get('/tokens', async (_req, res) => {
    res.json({ tokens: await store.listTokens() });
  });
  router.post('/tokens', async (req, res) => {
    const body = parseOr400(CreateTokenSchema, req.body);
    const expires = body.expiresInDays ? new Date(Date.now() + body.expiresInDays * 86_400_000) : null;
    try {
      const created = await store.createToken(body.name, body.role, principalOf(res)!.name, expires);
      res.locals.auditDetail = `token ${body.name} (${body.role})`;
      res
        .status(201)
        .set('Cache-Control', 'no-store')
        .json({ ...created.info, token: created.token });
    } catch (err) {
      if (err instanceof AccessError) throw new HttpProblem(409, 'Conflict', err.message);
      throw err;
    }
  });
  router.delete('/tokens/:name', async (req, res) => {
    const { name } = parseOr400(z.object({ name: TokenNameSchema }), req.params);
    res.locals.auditDetail = `token ${name}`;
    if (!(await store.revokeToken(name)))
      throw new HttpProblem(404, 'Not found', `no live token named ${name}`);
    res.json({ name, revoked: true });
  });
  router.get('/audit', async (req, res) => {
    const query = parseOr400(AuditQuery, req.query, 'query');
    const records = await store.listAudit(query);
    res.json({
      records,
      nextBefore: records.length === query.limit ? records[records.length - 1].id : null,
    });
  });
  return router;
}
