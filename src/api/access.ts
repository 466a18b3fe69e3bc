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
import { sameSecret, SessionStore } from '../db/sessions';
import { CONSOLE_ROUTE_RULES, csrfRefusal, sessionCookie } from './session';

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
  ...CONSOLE_ROUTE_RULES,
];

/**
 * How every router of the API matches paths: letter case and a trailing slash count, so `/TOKENS`, `/tokens/`
 * and `/%74okens` are no route at all rather than `/tokens` under another access rule.
 */
export const ROUTING: Readonly<express.RouterOptions> = { caseSensitive: true, strict: true };

/** A router that matches paths as the access check does (ROUTING). */
export function apiRouter(): express.Router {
  return express.Router(ROUTING);
}

/**
 * The rule for a request path, or undefined for a path no route serves: one segment per segment, `:name`
 * standing for any non-empty one, letter case and trailing slashes counting (as ROUTING matches). For
 * documentation and tests; the access check itself asks Express's own matcher (accessControl).
 */
export function ruleFor(method: string, path: string): RouteRule | undefined {
  const m = method === 'HEAD' ? 'GET' : method;
  const segments = path.split('/');
  return SPLIT.find(
    ({ rule, pattern }) =>
      rule.method === m &&
      segments.length === pattern.length &&
      pattern.every((p, i) => (p.startsWith(':') ? segments[i] !== '' : p === segments[i])),
  )?.rule;
}

const SPLIT = ROUTE_RULES.map((rule) => ({ rule, pattern: rule.path.split('/') }));

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The principal the access check put on the response; undefined on public routes. */
export function principalOf(res: Response): Principal | undefined {
  return res.locals.principal as Principal | undefined;
}

/** The rule of the route that serves a request, once the access check has run; undefined: no route. */
export function matchedRule(res: Response): RouteRule | undefined {
  return (res.locals.matched as Matched[] | undefined)?.[0]?.rule;
}

/** A rule whose pattern Express matched for this request, with the parameters it decoded. */
interface Matched {
  readonly rule: RouteRule;
  readonly params: Readonly<Record<string, string>>;
}

/** The role a request needs when several rules match it: the highest; null when none needs a role. */
function roleNeeded(matched: readonly Matched[]): AccessRole | null {
  let need: AccessRole | null = null;
  for (const { rule } of matched)
    if (rule.access !== 'public' && rule.access !== 'sender' && (!need || roleAllows(rule.access, need)))
      need = rule.access;
  return need;
}

/**
 * Checks every call, from the routes Express itself matches (ROUTING, the same matcher as the routes): a
 * public route passes; any other needs `Authorization: Bearer <token>` (401 without a valid one) whose role
 * covers the route (403 otherwise). A path no route serves is a 404 for a valid token and a 401 for anyone
 * else, answered here: it never reaches a router that might match it more loosely. Mutating calls are written
 * to the audit log with their outcome, refused ones included (refusals counted per token, route and minute).
 * A path parameter holding NUL is a 400 naming it: PostgreSQL cannot store one.
 */
export function accessControl(
  store: AccessStore,
  log: (message: string) => void,
  sessions?: SessionStore,
): express.Router {
  const router = apiRouter();
  for (const rule of ROUTE_RULES)
    router[rule.method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete'](
      rule.path,
      function ruleMatched(req: Request, res: Response, next: NextFunction) {
        const matched = (res.locals.matched ??= []) as Matched[];
        matched.push({ rule, params: { ...(req.params as Record<string, string>) } });
        next();
      },
    );
  const decide = (error: unknown, req: Request, res: Response, next: NextFunction) => {
    const matched = (res.locals.matched ?? []) as Matched[];
    const rule = matched[0]?.rule;
    const passed = () => {
      if (error) return next(error);
      for (const { params } of matched)
        for (const [name, value] of Object.entries(params))
          if (value.includes('\u0000'))
            return sendProblem(res, 400, 'Invalid request', `${name}: must not contain NUL (%00)`, [
              { field: name, message: 'must not contain NUL (%00)' },
            ]);
      // Leave this router: the routes after it run the request.
      next('router');
    };
    const need = error ? null : roleNeeded(matched);
    if (!error && rule && !need) return passed();
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
          .catch((err: Error) =>
            log(`audit log: cannot record ${req.method} ${rule?.path ?? '(no route)'}: ${err.message}`),
          );
      });
    const presented = /^Bearer ([^\s]+)$/i.exec(req.get('authorization') ?? '')?.[1];
    const refuse401 = (detail: string) => {
      res.set('WWW-Authenticate', 'Bearer realm="feed-triggers"');
      sendProblem(res, 401, 'Unauthorized', detail);
    };
    const cookie = presented ? undefined : sessions && sessionCookie(req);
    if (!presented && !cookie)
      return refuse401('this call needs a token: send "Authorization: Bearer <token>"');
    const authenticated: Promise<Principal | null | undefined> = presented
      ? store.authenticate(presented)
      : sessions!.find(cookie!).then((session) => {
          if (!session || !MUTATING.has(req.method)) return session?.principal ?? null;
          // A console's write must come from the console: its origin, with the session's CSRF token echoed.
          const refusal = csrfRefusal(req, (given) => sameSecret(given, session.csrf));
          if (refusal) {
            actor = session.principal;
            sendProblem(res, 403, 'Forbidden', refusal);
            return undefined;
          }
          return session.principal;
        });
    authenticated.then(
      (principal) => {
        if (principal === undefined) return;
        if (!principal)
          return refuse401(
            presented
              ? 'the token is not valid (unknown, revoked or expired)'
              : 'the console session has ended (signed out, expired, or its token was revoked): sign in again',
          );
        actor = principal;
        // A stranger learns nothing about which paths exist: only a valid token gets the 404 (or a 400 for
        // a path parameter that does not decode).
        if (!error && !need)
          return sendProblem(res, 404, 'Not found', `no route for ${req.method} ${req.path}`);
        if (need && !roleAllows(principal.role, need))
          return sendProblem(
            res,
            403,
            'Forbidden',
            `token ${principal.name} has the ${principal.role} role; ${req.method} ${rule!.path} needs ${need}`,
          );
        res.locals.principal = principal;
        passed();
      },
      (err: unknown) => next(err),
    );
  };
  router.use((req: Request, res: Response, next: NextFunction) => decide(undefined, req, res, next));
  // A path parameter Express cannot decode (`%E0%A4%A`) is a 400, after the caller's token is checked.
  router.use((err: unknown, req: Request, res: Response, next: NextFunction) => decide(err, req, res, next));
  return router;
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
  const router = apiRouter();
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
