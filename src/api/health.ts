import { Client } from '@temporalio/client';
import express, { NextFunction, Request, Response } from 'express';
import { z } from 'zod';
import { Database } from '../db/open';
import { metrics, scrape } from '../observability/metrics';
import { matchedRule } from './access';
import { defineRoutes, Handlers, mountRoutes, Problem, problemExample } from './route';
import { TemporalHealth } from './temporal-health';

/** `/metrics`, `/healthz` and `/readyz`: for every role, and served by every process that listens. */
export const HEALTH_ROUTES = defineRoutes({
  healthz: {
    method: 'GET',
    path: '/healthz',
    access: 'public',
    summary: 'The process answers',
    tag: 'health',
    responses: {
      200: { description: 'Alive', schema: z.object({ status: z.literal('ok') }), example: { status: 'ok' } },
    },
  },
  readyz: {
    method: 'GET',
    path: '/readyz',
    access: 'public',
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
});

/** Registered before the access check, so it is answered (and counted) apart from the API's routes. */
export const METRICS_ROUTES = defineRoutes({
  metrics: {
    method: 'GET',
    path: '/metrics',
    access: 'public',
    summary: "Prometheus metrics: this process's and the Temporal SDK's",
    tag: 'health',
    responses: { 200: { description: 'Prometheus text exposition format', mediaType: 'text/plain' } },
  },
});

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
  const handlers: Handlers<typeof METRICS_ROUTES> = {
    metrics: async (_req, res) => {
      res.type('text/plain; version=0.0.4; charset=utf-8').send(await scrape());
    },
  };
  mountRoutes(app, METRICS_ROUTES, handlers);
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
  const health = given ?? new TemporalHealth(client).start();
  app.locals.temporalHealth = health;
  const handlers: Handlers<typeof HEALTH_ROUTES> = {
    healthz: (_req, res) => {
      res.json({ status: 'ok' });
    },
    readyz: async (_req, res) => {
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
    },
  };
  mountRoutes(app, HEALTH_ROUTES, handlers);
  return health;
}
