import express, { NextFunction, Request, RequestHandler, Response } from 'express';
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
import {
  apiRouter,
  defineRoutes,
  Handlers,
  invalid,
  notFound,
  Problem,
  problemExample,
  RouteRule,
  Timestamp,
} from './route';
import { sameSecret, SessionStore } from '../db/sessions';
import { csrfRefusal, sessionCookie } from './session';

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
  rules: readonly RouteRule[],
  store: AccessStore,
  log: (message: string) => void,
  sessions?: SessionStore,
): express.Router {
  const router = apiRouter();
  for (const rule of rules)
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

export const TokenParams = z.object({ name: TokenNameSchema });

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

/** `/whoami`, token administration and the audit log. */
export const ACCESS_ROUTES = defineRoutes({
  whoami: {
    method: 'GET',
    path: '/whoami',
    access: 'viewer',
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
  listTokens: {
    method: 'GET',
    path: '/tokens',
    access: 'admin',
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
  createToken: {
    method: 'POST',
    path: '/tokens',
    access: 'admin',
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
  revokeToken: {
    method: 'DELETE',
    path: '/tokens/:name',
    access: 'admin',
    summary: 'Revoke a token (at once on this API process, within 10 s on others)',
    tag: 'access',
    params: TokenParams,
    responses: {
      200: {
        description: 'Revoked',
        schema: z.object({ name: z.string(), revoked: z.literal(true) }),
        example: { name: 'ci-deployer', revoked: true },
      },
      404: notFound('live token'),
    },
  },
  listAudit: {
    method: 'GET',
    path: '/audit',
    access: 'admin',
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
});

/** The handlers of ACCESS_ROUTES; `/whoami` lists the routes of `rules` the caller's role may call. */
export function accessHandlers(
  store: AccessStore,
  rules: readonly RouteRule[],
): Handlers<typeof ACCESS_ROUTES> {
  const whoami: RequestHandler = (_req, res) => {
    const me = principalOf(res)!;
    res.json({
      name: me.name,
      role: me.role,
      // What this token may call, so a client can show or hide actions.
      allowed: rules
        .filter((r) => r.access !== 'public' && r.access !== 'sender' && roleAllows(me.role, r.access))
        .map((r) => `${r.method} ${r.path}`),
    });
  };
  const listTokens: RequestHandler = async (_req, res) => {
    res.json({ tokens: await store.listTokens() });
  };
  const createToken: RequestHandler = async (req, res) => {
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
  };
  const revokeToken: RequestHandler = async (req, res) => {
    const { name } = parseOr400(TokenParams, req.params);
    res.locals.auditDetail = `token ${name}`;
    if (!(await store.revokeToken(name)))
      throw new HttpProblem(404, 'Not found', `no live token named ${name}`);
    res.json({ name, revoked: true });
  };
  const listAudit: RequestHandler = async (req, res) => {
    const query = parseOr400(AuditQuery, req.query, 'query');
    const records = await store.listAudit(query);
    res.json({
      records,
      nextBefore: records.length === query.limit ? records[records.length - 1].id : null,
    });
  };

  return { whoami, listTokens, createToken, revokeToken, listAudit };
}
