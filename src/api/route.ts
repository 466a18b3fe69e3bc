import express, { RequestHandler } from 'express';
import { z } from 'zod';
import type { AccessRole } from '../db/access';

/*
 * How a route of the API is declared: once, in the file of its handler.
 *
 * Each router file exports its routes as a table (`defineRoutes`): method, path, who may call it, the zod
 * schemas it validates with, its answers and a summary, keyed by an operation name. Beside it, a function
 * that takes the service's dependencies (client, ledger, stores) returns one handler per key; `Handlers`
 * makes the compiler refuse a route without a handler and a handler without a route. The table is split
 * from the handlers because it is data the service needs before it has any dependency: the access check,
 * the metric labels, `/whoami` and the OpenAPI document are all built from it (src/api/routes.ts), and a
 * test or the docs must not have to connect to Temporal or a database to read it. The handlers stay
 * closures over their dependencies, as they were when each file built an Express router.
 */

/** Who may call a route: a role (or any higher one), anyone (`public`), or a sender verified by the route. */
export type RouteAccess = AccessRole | 'public' | 'sender';

export type RouteMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One documented answer of a route. */
export interface ResponseDoc {
  readonly description: string;
  /** The body's schema: JSON, or a problem document for 4xx and 5xx. */
  readonly schema?: z.ZodType;
  /** A body the schema accepts (a test checks it does). */
  readonly example?: unknown;
  /** Not JSON: the media type served. */
  readonly mediaType?: string;
}

/** A route of the API: everything but its handler. */
export interface RouteSpec {
  readonly method: RouteMethod;
  /** Express's pattern, e.g. `/triggers/:project/:name`. */
  readonly path: string;
  readonly access: RouteAccess;
  readonly summary: string;
  /** The OpenAPI tag it is listed under. */
  readonly tag: string;
  readonly params?: z.ZodType;
  readonly query?: z.ZodType;
  readonly body?: z.ZodType;
  readonly bodyExample?: unknown;
  readonly responses: Readonly<Record<number, ResponseDoc>>;
  /**
   * It runs on Temporal: while Temporal does not answer it is a 503 at once, before anything else of the
   * route runs, rather than a request hanging in the SDK's retries.
   */
  readonly temporal?: boolean;
}

/** What the access check needs of a route. */
export type RouteRule = Pick<RouteSpec, 'method' | 'path' | 'access'>;

/** A file's routes by operation name. */
export type Routes = Readonly<Record<string, RouteSpec>>;

/** The handlers of a file's routes: one (or a chain) per route, no more and no fewer. */
export type Handlers<R extends Routes> = {
  readonly [K in keyof R]: RequestHandler | readonly RequestHandler[];
};

/** A file's route table, typed by its keys so `Handlers` can require one handler for each. */
export function defineRoutes<R extends Routes>(routes: R): R {
  return routes;
}

/**
 * How every router of the API matches paths: letter case and a trailing slash count, so `/TOKENS`, `/tokens/`
 * and `/%74okens` are no route at all rather than `/tokens` under another access rule.
 */
export const ROUTING: Readonly<express.RouterOptions> = { caseSensitive: true, strict: true };

/** A router that matches paths as the access check does (ROUTING). */
export function apiRouter(): express.Router {
  return express.Router(ROUTING);
}

/** Something routes can be added to: the app or a router. */
type Mountable = Pick<express.Router, 'get' | 'post' | 'put' | 'patch' | 'delete'>;

/**
 * Adds a file's routes in table order, each with its handler; a route that runs on Temporal passes `temporal`
 * first (none given: no gate, as in a process that serves health checks only).
 */
export function mountRoutes<R extends Routes>(
  target: Mountable,
  routes: R,
  handlers: Handlers<R>,
  temporal?: RequestHandler,
): void {
  for (const key of Object.keys(routes) as (keyof R & string)[]) {
    const spec = routes[key];
    const handler = handlers[key];
    const chain = [
      ...(spec.temporal && temporal ? [temporal] : []),
      ...(Array.isArray(handler) ? handler : [handler as RequestHandler]),
    ];
    target[spec.method.toLowerCase() as Lowercase<RouteMethod>](spec.path, ...chain);
  }
}

// Pieces many routes' documentation shares.

/** An RFC 9457 problem document, as sendProblem writes it. */
export const Problem = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
});

export const problemExample = (status: number, title: string, detail: string) => ({
  type: 'about:blank',
  title,
  status,
  detail,
});

export const Timestamp = z.iso.datetime({ offset: true });

/** A 404 for a thing the path names. */
export const notFound = (what: string): ResponseDoc => ({
  description: `No such ${what}`,
  schema: Problem,
  example: problemExample(404, 'Not found', `no ${what} shop`),
});

/** A 400 naming each field that does not validate. */
export const invalid: ResponseDoc = {
  description: 'The request does not validate; `errors` names each field',
  schema: Problem,
  example: {
    ...problemExample(400, 'Invalid request', 'packages.0.feed: required'),
    errors: [{ field: 'packages.0.feed', message: 'required' }],
  },
};

/** A 503 while Temporal, a worker or the database does not answer. */
export const unavailable: ResponseDoc = {
  description: 'Temporal, a worker or the database does not answer; try again',
  schema: Problem,
  example: problemExample(
    503,
    'Service unavailable',
    'the Temporal server does not answer; try again shortly',
  ),
};
