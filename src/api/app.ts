import { Client } from '@temporalio/client';
import express, { NextFunction, Request, Response } from 'express';
import { HttpProblem, sendProblem } from './problem';
import { JsonTooDeepError, refuseDeepJson, refuseNul } from './body-guards';
import { isTemporalUnreachable, TemporalHealth } from './temporal-health';
import { SecretBindings } from '../secrets';
import { OutboundPolicy, PERMISSIVE_OUTBOUND } from '../feeds/outbound';
import { Feed } from '../feeds/feed';
import { projectRoutes } from './projects';
import { lifecycleRoutes } from './lifecycles';
import { ruleRoutes } from './rules';
import { triggerRoutes } from './triggers';
import { webhookRoutes } from './webhooks';
import { Ledger } from '../db/ledger';
import { Database } from '../db/open';
import { AccessStore } from '../db/access';
import { accessControl, accessRoutes, matchedRule } from './access';
import { metrics, scrape } from '../metrics';
import { docsRoutes } from './docs';
import { receiverRoutes } from './receivers';
import { ReceiverStore } from '../db/receivers';
import { ConfiguredReceiver } from '../receivers';
import { SessionStore } from '../db/sessions';
import { sessionRoutes } from './session';
import { consoleRoutes } from './console';
import { announceTriggerChanges, ChangeHub, eventRoutes } from './events';

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
  /** The worker's outbound policy, so a destination or feed it would refuse is refused on save. */
  readonly outbound?: OutboundPolicy;
  /** Configured feeds, so a package's feed resolves to the URL the worker would reach. */
  readonly feeds?: ReadonlyMap<string, Feed>;
  /** Receivers defined in the configuration file. */
  readonly configReceivers?: readonly ConfiguredReceiver[];
  /** Values of the configured receiver secrets (receiverSecrets), by name. */
  readonly receiverSecrets?: ReadonlyMap<string, string>;
  /** A stand-in origin for Docker Hub's callbacks; by default Docker Hub's own only. */
  readonly dockerHubCallbackOrigin?: string | null;
  /** API tokens and the audit log; by default on the ledger's database. */
  readonly access?: AccessStore;
  /** The Temporal Web UI (its address and the namespace), which the console links to; none: no links. */
  readonly temporalUi?: { readonly url: string; readonly namespace: string } | null;
  /** Shared Temporal health probe; one is started for the app when not given. */
  readonly health?: TemporalHealth;
}

/** Connection failures of the ledger's database (node-postgres and PostgreSQL's own codes). */
function isDatabaseUnreachable(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return (
    [
      'ECONNREFUSED',
      'ECONNRESET',
      'ETIMEDOUT',
      'EPIPE',
      '57P01',
      '57P02',
      '57P03',
      '08000',
      '08001',
      '08003',
      '08006',
    ].includes(e?.code ?? '') ||
    /Connection terminated|connection timeout|Client has encountered a connection error/i.test(
      e?.message ?? '',
    )
  );
}

/** Request bodies: a project is at most 64 KiB; a rule preview's tag list is the largest body. */
export const API_BODY_LIMIT = 4 * 1024 * 1024;

/**
 * Counts every request by route pattern and status, and serves `/metrics` (Prometheus text: this process's
 * metrics and the Temporal SDK's), for every role. Registered first, so refused calls are counted too.
 */
export function metricsRoutes(app: express.Express): void {
  app.use((req: Request, res: Response, next: NextFunction) => {
    const started = performance.now();
    res.once('finish', () => {
      const route = matchedRule(res)?.path ?? '(no route)';
      const method = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'].includes(req.method)
        ? req.method
        : 'OTHER';
      metrics.apiRequests.inc({ method, route, status: String(res.statusCode) });
      metrics.apiDuration.observe({ method, route }, (performance.now() - started) / 1000);
    });
    next();
  });
  app.get('/metrics', async (_req, res) => {
    res.type('text/plain; version=0.0.4; charset=utf-8').send(await scrape());
  });
}

/**
 * `/healthz` (the process answers) and `/readyz` (Temporal and the ledger database answer), for every role.
 * Returns the Temporal probe, stopped with the server (src/api/listen.ts).
 */
export function healthRoutes(
  app: express.Express,
  client: Client,
  database?: Pick<Database, 'ping'>,
  given?: TemporalHealth,
): TemporalHealth {
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  const health = given ?? new TemporalHealth(client).start();
  app.locals.temporalHealth = health;
  app.get('/readyz', async (_req, res) => {
    const { up, error } = health.status;
    const databaseUp = database ? await database.ping() : true;
    if (up && databaseUp) return void res.json({ status: 'ready', temporal: 'up', database: 'up' });
    const problems = [
      ...(up ? [] : [`the Temporal server does not answer: ${error ?? 'no answer'}`]),
      ...(databaseUp ? [] : ['the ledger database does not answer']),
    ];
    res
      .status(503)
      .type('application/problem+json')
      .json({
        type: 'about:blank',
        title: 'Not ready',
        status: 503,
        detail: problems.join('; '),
        temporal: up ? 'up' : 'down',
        database: databaseUp ? 'up' : 'down',
      });
  });
  return health;
}

/** The HTTP API: thin routes onto Temporal; errors as application/problem+json. */
export function createApp(options: AppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // The access check and every router match paths alike (ROUTING): `/TOKENS` is not `/tokens`.
  app.set('case sensitive routing', true);
  app.set('strict routing', true);
  const access = options.access ?? new AccessStore(options.ledger.db);
  const log = options.log ?? (() => undefined);
  metricsRoutes(app);
  // Every call is checked before its body is read: a stranger's body is never parsed.
  const sessions = new SessionStore(options.ledger.db);
  app.use(accessControl(access, log, sessions));
  // Registry notifications bring their own content type, limit and parser (after their sender is checked).
  const json = express.json({
    limit: API_BODY_LIMIT,
    type: ['application/json', 'application/*+json'],
    verify: refuseDeepJson,
  });
  app.use((req: Request, res: Response, next: NextFunction) =>
    req.path.startsWith('/webhooks/') || req.path.startsWith('/hooks/') ? next() : json(req, res, next),
  );
  app.use(refuseNul);

  const health = healthRoutes(app, options.client, options.database, options.health);
  app.use(accessRoutes(access));
  app.use(docsRoutes());
  app.use(sessionRoutes(sessions, access, log, options.temporalUi ?? null));
  app.use(consoleRoutes(options.ledger));
  // One LISTEN connection per API process, fanned out to its event streams (src/api/events.ts).
  const changes = new ChangeHub(options.ledger.db, log);
  app.locals.changeHub = changes;
  void changes.start(options.database ?? {});
  app.use(eventRoutes(changes));
  app.use(announceTriggerChanges(changes, log));
  app.use(ruleRoutes());
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
  // Projects and releases live in the ledger: reads and configuration need no Temporal.
  app.use(
    projectRoutes(options.client, options.ledger, options.taskQueue, temporal, {
      secretBindings: options.secretBindings ?? new Map(),
      outbound: options.outbound ?? PERMISSIVE_OUTBOUND,
      feeds: options.feeds ?? new Map(),
    }),
  );
  app.use(
    lifecycleRoutes(options.client, options.ledger, options.taskQueue, temporal, options.updateDeadlineMs),
  );
  app.use(temporal);
  app.use(webhookRoutes(options.client, options.webhookToken ?? null));
  app.use(
    receiverRoutes({
      client: options.client,
      store: new ReceiverStore(options.ledger.db, options.configReceivers),
      secrets: options.receiverSecrets ?? new Map(),
      dockerHubCallbackOrigin: options.dockerHubCallbackOrigin ?? null,
      feeds: options.feeds ?? new Map(),
      outbound: options.outbound ?? PERMISSIVE_OUTBOUND,
      log,
    }),
  );
  app.use(triggerRoutes(options.client, options.ledger, options.taskQueue, options.updateDeadlineMs));

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
    if (isDatabaseUnreachable(err))
      return sendProblem(
        res,
        503,
        'Service unavailable',
        'the ledger database does not answer; try again shortly',
      );
    if (isTemporalUnreachable(err))
      return sendProblem(
        res,
        503,
        'Service unavailable',
        'the Temporal server does not answer; try again shortly',
      );
    const code = (e as { cause?: { code?: unknown } } | undefined)?.cause?.code;
    options.log?.(
      `API error: ${e?.message ?? String(err)}${code !== undefined ? ` (code ${String(code)})` : ''}`,
    );
    sendProblem(res, 500, 'Internal error', 'the request failed; see the service log');
  });
  return app;
}
