import type { PackageWatches } from '../db/package-watches';
import { Client } from '@temporalio/client';
import express, { NextFunction, Request, Response } from 'express';
import { HttpProblem, sendProblem } from './problem';
import { JsonTooDeepError, refuseDeepJson, refuseUnstorable } from './body-guards';
import { TemporalHealth } from './temporal-health';
import { SecretBindings } from '../config/secrets';
import { OutboundPolicy, PERMISSIVE_OUTBOUND } from '../net/outbound';
import { Feed } from '../feeds/feed';
import { PROJECT_ROUTES, projectHandlers } from './projects';
import { lifecycleHandlers, LIFECYCLE_ROUTES } from './lifecycles';
import { freezeHandlers, FREEZE_ROUTES } from './freezes';
import { tenantHandlers, TENANT_ROUTES } from './tenants';
import { ruleHandlers, RULE_ROUTES } from './rules';
import { triggerHandlers, TRIGGER_ROUTES } from './triggers';
import { webhookHandlers, WEBHOOK_ROUTES } from './webhooks';
import { Ledger } from '../db/ledger';
import { Database } from '../db/open';
import { AccessStore } from '../db/access';
import { accessControl, accessHandlers, ACCESS_ROUTES } from './access';
import { docsHandlers, DOCS_ROUTES } from './docs';
import { receiverHandlers, RECEIVER_ROUTES } from './receivers';
import { ReceiverStore } from '../db/receivers';
import { healthRoutes, metricsRoutes } from './health';
import { mountRoutes } from './route';
import { ROUTE_RULES } from './routes';
import { openApiDocument } from './openapi';
import { unreachableProblem } from './failure-problems';

import { SessionStore } from '../db/sessions';
import { OverviewStore } from '../db/overview';
import { ChangeStore } from '../db/changes';
import { sessionHandlers } from './session';
import { consoleHandlers } from './console';
import { announcingWrites, ChangeHub, eventHandlers, globalChange, triggerChange } from './events';
import { CONSOLE_ROUTES } from './console-docs';

export { healthRoutes, metricsRoutes };

export interface AppOptions {
  readonly client: Client;
  /** Projects, releases and deliveries: reads need neither Temporal nor a worker. */
  readonly ledger: Ledger;
  /** The ledger's database, for /readyz. */
  readonly database?: Pick<Database, 'ping'> & Partial<Pick<Database, 'listen'>>;
  readonly taskQueue: string;
  readonly log?: (message: string) => void;
  /** How long updates wait for a worker before the API answers 503. */
  readonly updateDeadlineMs?: number;
  /** Bearer token registry notifications must carry; null accepts any (the API binds to loopback by default). */
  readonly webhookToken?: string | null;
  /** Which secrets may go where (names and URL prefixes, no values): projects are checked on save. */
  readonly secretBindings?: SecretBindings;
  /** Names of the configured signature keys (`signatureKeys`): a rule naming another is refused on save. */
  readonly signatureKeys?: ReadonlySet<string>;
  /** Names of the configured Sigstore trusted roots (`trustedRoots`), for keyless signers. */
  readonly trustedRoots?: ReadonlySet<string>;
  /** The worker's outbound policy, so a destination or feed it would refuse is refused on save. */
  readonly outbound?: OutboundPolicy;
  /** Configured feeds, so a package's feed resolves to the URL the worker would reach. */
  readonly feeds?: ReadonlyMap<string, Feed>;
  /** Registry receivers, with those of the configuration file. */
  readonly receivers: ReceiverStore;
  /** Console sessions. */
  readonly sessions: SessionStore;
  /** What is deployed where, for the console's dashboard. */
  readonly overview: OverviewStore;
  /** What package watchers last read (a watched trigger's state shows it); absent: triggers show their own polls. */
  readonly watches?: PackageWatches;
  /** Where changes are announced to every API process. */
  readonly changes: ChangeStore;
  /** Values of the configured receiver secrets (receiverSecrets), by name. */
  readonly receiverSecrets?: ReadonlyMap<string, string>;
  /** A stand-in origin for Docker Hub's callbacks; by default Docker Hub's own only. */
  readonly dockerHubCallbackOrigin?: string | null;
  /** API tokens and the audit log. */
  readonly access: AccessStore;
  /** The Temporal Web UI (its address and the namespace), which the console links to; none: no links. */
  readonly temporalUi?: { readonly url: string; readonly namespace: string } | null;
  /** Shared Temporal health probe; one is started for the app when not given. */
  readonly health?: TemporalHealth;
}

/** Request bodies: a project is at most 64 KiB; a rule preview's tag list is the largest body. */
export const API_BODY_LIMIT = 4 * 1024 * 1024;

/** The HTTP API: thin routes onto Temporal; errors as application/problem+json. */
export function createApp(options: AppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // The access check and every router match paths alike (ROUTING): `/TOKENS` is not `/tokens`.
  app.set('case sensitive routing', true);
  app.set('strict routing', true);
  const access = options.access;
  const log = options.log ?? (() => undefined);
  metricsRoutes(app);
  // Every call is checked before its body is read: a stranger's body is never parsed.
  const sessions = options.sessions;
  app.use(accessControl(ROUTE_RULES, access, log, sessions));
  // Registry notifications bring their own content type, limit and parser (after their sender is checked).
  const json = express.json({
    limit: API_BODY_LIMIT,
    type: ['application/json', 'application/*+json'],
    verify: refuseDeepJson,
  });
  app.use((req: Request, res: Response, next: NextFunction) =>
    req.path.startsWith('/webhooks/') || req.path.startsWith('/hooks/') ? next() : json(req, res, next),
  );
  app.use(refuseUnstorable);

  const health = healthRoutes(app, options.client, options.database, options.health);
  // One LISTEN connection per API process, fanned out to its event streams (src/api/events.ts); trigger
  // changes made through the API are announced on it once they succeed.
  const changes = new ChangeHub(options.changes, log);
  app.locals.changeHub = changes;
  void changes.start(options.database ?? {});
  // Routes that need Temporal: while it does not answer, say so at once (503) instead of letting a request
  // hang in the SDK's retries, and release requests already waiting when it stops answering.
  const temporal = (req: Request, res: Response, next: NextFunction) => {
    health.require();
    const cancel = health.whenDown((problem) => {
      if (!res.headersSent) sendProblem(res, problem.status, problem.title, problem.message);
    });
    res.once('close', cancel);
    next();
  };
  const feeds = options.feeds ?? new Map();
  const outbound = options.outbound ?? PERMISSIVE_OUTBOUND;
  // Every table of src/api/routes.ts but health and metrics (mounted above, and in health-only processes).
  mountRoutes(app, DOCS_ROUTES, docsHandlers(openApiDocument));
  mountRoutes(app, CONSOLE_ROUTES, {
    ...sessionHandlers(sessions, access, log, options.temporalUi ?? null),
    ...consoleHandlers(options.overview),
    ...eventHandlers(changes),
  });
  // Both notification paths remember what they acted on in one place, for the replay window.
  const receivers = options.receivers;
  mountRoutes(
    app,
    WEBHOOK_ROUTES,
    webhookHandlers(options.client, options.webhookToken ?? null, receivers, log),
    temporal,
  );
  mountRoutes(
    app,
    RECEIVER_ROUTES,
    receiverHandlers({
      client: options.client,
      store: options.receivers,
      secrets: options.receiverSecrets ?? new Map(),
      dockerHubCallbackOrigin: options.dockerHubCallbackOrigin ?? null,
      feeds,
      outbound,
      log,
    }),
    temporal,
  );
  mountRoutes(app, ACCESS_ROUTES, accessHandlers(access, ROUTE_RULES));
  mountRoutes(app, RULE_ROUTES, ruleHandlers());
  // Projects and releases live in the ledger: reads and configuration need no Temporal.
  mountRoutes(
    app,
    PROJECT_ROUTES,
    projectHandlers(options.client, options.ledger, options.taskQueue, {
      secretBindings: options.secretBindings ?? new Map(),
      signatureKeys: options.signatureKeys,
      trustedRoots: options.trustedRoots,
      outbound,
      feeds,
      watches: options.watches,
    }),
    temporal,
  );
  mountRoutes(
    app,
    FREEZE_ROUTES,
    announcingWrites(
      FREEZE_ROUTES,
      freezeHandlers(options.client, options.ledger.freezes, log),
      changes,
      log,
      globalChange('freezes'),
    ),
  );
  mountRoutes(
    app,
    TENANT_ROUTES,
    announcingWrites(
      TENANT_ROUTES,
      tenantHandlers(options.ledger.tenants),
      changes,
      log,
      globalChange('tenants'),
    ),
  );
  mountRoutes(
    app,
    LIFECYCLE_ROUTES,
    lifecycleHandlers(options.client, options.ledger, options.taskQueue, options.updateDeadlineMs),
    temporal,
  );
  mountRoutes(
    app,
    TRIGGER_ROUTES,
    announcingWrites(
      TRIGGER_ROUTES,
      triggerHandlers(
        options.client,
        options.ledger,
        options.taskQueue,
        options.updateDeadlineMs,
        options.watches,
      ),
      changes,
      log,
      triggerChange,
    ),
    temporal,
  );

  app.use((req: Request, res: Response) => {
    sendProblem(res, 404, 'Not found', `no route for ${req.method} ${req.path}`);
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) return; // already answered (503 when Temporal stopped answering mid-request)
    if (err instanceof HttpProblem) return sendProblem(res, err.status, err.title, err.message, err.errors);
    const e = err as { type?: string; status?: number; message?: string; limit?: unknown };
    if (e?.type === 'entity.parse.failed')
      return sendProblem(res, 400, 'Invalid request', 'the body is not valid JSON', [
        { field: '(body)', message: 'not valid JSON' },
      ]);
    if (err instanceof JsonTooDeepError)
      return sendProblem(res, 400, 'Invalid request', err.message, [
        { field: '(body)', message: err.message },
      ]);
    if (e?.type === 'entity.too.large')
      return sendProblem(
        res,
        413,
        'Payload too large',
        `the body is larger than this endpoint's limit of ${typeof e.limit === 'number' ? e.limit : API_BODY_LIMIT} bytes`,
      );
    if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500)
      return sendProblem(res, e.status, 'Bad request', e.message ?? 'bad request');
    const unreachable = unreachableProblem(err);
    if (unreachable) return sendProblem(res, unreachable.status, unreachable.title, unreachable.message);
    const code = (e as { cause?: { code?: unknown } } | undefined)?.cause?.code;
    options.log?.(
      `API error: ${e?.message ?? String(err)}${code !== undefined ? ` (code ${String(code)})` : ''}`,
    );
    sendProblem(res, 500, 'Internal error', 'the request failed; see the service log');
  });
  return app;
}
