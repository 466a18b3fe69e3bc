import { ACCESS_ROUTES } from './access';
import { CONSOLE_ROUTES } from './console-docs';
import { DOCS_ROUTES } from './docs';
import { HEALTH_ROUTES, METRICS_ROUTES } from './health';
import { FREEZE_ROUTES } from './freezes';
import { LIFECYCLE_ROUTES } from './lifecycles';
import { PROJECT_ROUTES } from './projects';
import { RECEIVER_ROUTES } from './receivers';
import { RouteRule, RouteSpec } from './route';
import { RULE_ROUTES } from './rules';
import { TENANT_ROUTES } from './tenants';
import { TRIGGER_ROUTES } from './triggers';
import { WEBHOOK_ROUTES } from './webhooks';

/**
 * Every route of the API, from the tables beside their handlers (src/api/route.ts). The access check, the
 * metrics' route label, `/whoami` and the OpenAPI document are built from this list, and app.ts mounts the
 * same tables: a route cannot be served without a decision on who may call it, nor documented without
 * being served (test/integration/access.test.ts and api-edges.test.ts check both against Express itself).
 */
export const ROUTES: readonly RouteSpec[] = [
  HEALTH_ROUTES,
  METRICS_ROUTES,
  DOCS_ROUTES,
  WEBHOOK_ROUTES,
  RECEIVER_ROUTES,
  ACCESS_ROUTES,
  RULE_ROUTES,
  PROJECT_ROUTES,
  LIFECYCLE_ROUTES,
  FREEZE_ROUTES,
  TENANT_ROUTES,
  TRIGGER_ROUTES,
  CONSOLE_ROUTES,
].flatMap((table) => Object.values(table));

/**
 * Every route and who may call it. Reads are for viewers; pausing, resuming, polling and manual releases for
 * operators; configuration and tokens for admins.
 */
export const ROUTE_RULES: readonly RouteRule[] = ROUTES.map(({ method, path, access }) => ({
  method,
  path,
  access,
}));

/**
 * The route for a request path, or undefined for a path no route serves: one segment per segment, `:name`
 * standing for any non-empty one, letter case and trailing slashes counting (as ROUTING matches). For
 * documentation and tests; the access check itself asks Express's own matcher (accessControl).
 */
export function routeFor(method: string, path: string): RouteSpec | undefined {
  const m = method === 'HEAD' ? 'GET' : method;
  const segments = path.split('/');
  return SPLIT.find(
    ({ route, pattern }) =>
      route.method === m &&
      segments.length === pattern.length &&
      pattern.every((p, i) => (p.startsWith(':') ? segments[i] !== '' : p === segments[i])),
  )?.route;
}

const SPLIT = ROUTES.map((route) => ({ route, pattern: route.path.split('/') }));
