import { Client } from '@temporalio/client';
import express, { NextFunction, Request, Response } from 'express';
import { HttpProblem, sendProblem } from './problem';
import { SecretBindings } from '../secrets';
import { OutboundPolicy, PERMISSIVE_OUTBOUND } from '../feeds/outbound';
import { Feed } from '../feeds/feed';
import { projectRoutes } from './projects';
import { ruleRoutes } from './rules';
import { triggerRoutes } from './triggers';
import { webhookRoutes } from './webhooks';

export interface AppOptions {
  readonly client: Client;
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
}

/** Request bodies: a project is at most 64 KiB; a rule preview's tag list is the largest body. */
export const API_BODY_LIMIT = 4 * 1024 * 1024;

/** The HTTP API: thin routes onto Temporal; errors as application/problem+json. */
export function createApp(options: AppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // Registry notifications bring their own content type and body parser; mount before the JSON default.
  app.use(webhookRoutes(options.client, options.webhookToken ?? null));
  app.use(express.json({ limit: API_BODY_LIMIT, type: ['application/json', 'application/*+json'] }));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.use(ruleRoutes());
  app.use(
    projectRoutes(options.client, options.taskQueue, options.updateDeadlineMs, {
      secretBindings: options.secretBindings ?? new Map(),
      outbound: options.outbound ?? PERMISSIVE_OUTBOUND,
      feeds: options.feeds ?? new Map(),
    }),
  );
  app.use(triggerRoutes(options.client, options.taskQueue, options.updateDeadlineMs));

  app.use((req: Request, res: Response) => {
    sendProblem(res, 404, 'Not found', `no route for ${req.method} ${req.path}`);
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof HttpProblem) return sendProblem(res, err.status, err.title, err.message, err.errors);
    const e = err as { type?: string; status?: number; message?: string; limit?: unknown };
    if (e?.type === 'entity.parse.failed')
      return sendProblem(res, 400, 'Invalid request', 'the body is not valid JSON', [
        { field: '(body)', message: 'not valid JSON' },
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
    options.log?.(`API error: ${e?.message ?? String(err)}`);
    sendProblem(res, 500, 'Internal error', 'the request failed; see the service log');
  });
  return app;
}
