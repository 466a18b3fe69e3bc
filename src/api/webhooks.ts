import { timingSafeEqual } from 'node:crypto';
import { Client } from '@temporalio/client';
import express, { Router } from 'express';
import { z } from 'zod';
import { PACKAGES_ATTRIBUTE, watchedPackageKey } from '../domain/search-attributes';
import { FeedIdSchema, RepositorySchema } from '../domain/trigger';
import { pollNowSignal } from '../../workflows/trigger';
import { HttpProblem, parseOr400 } from './problem';
import { listRunning } from './workflows';

/** Registry notifications (CNCF distribution): only what we use is checked; the rest passes through. */
const NotificationSchema = z.object({
  events: z
    .array(
      z
        .object({
          action: z.string(),
          target: z
            .object({ repository: RepositorySchema, tag: z.string().max(128).optional() })
            .passthrough(),
          request: z
            .object({ host: z.string().max(255).optional() })
            .passthrough()
            .optional(),
        })
        .passthrough(),
    )
    .max(1000),
});

const WebhookQuery = z.object({ feed: FeedIdSchema.optional() }).strict();

/** The content types registries send notifications with. */
const NOTIFICATION_TYPES = ['application/vnd.docker.distribution.events.v1+json', 'application/json'];

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * `POST /webhooks/registry[?feed=ID]`: a registry's push notification makes every trigger watching the
 * pushed repository poll now, so a release follows a push in seconds; polling stays the safety net.
 * Duplicate deliveries are harmless: a poll of an unchanged repository releases nothing.
 */
export function webhookRoutes(client: Client, token: string | null): Router {
  const router = Router();
  router.post(
    '/webhooks/registry',
    express.json({ limit: '1mb', type: NOTIFICATION_TYPES }),
    async (req, res) => {
      if (token !== null) {
        const given = /^Bearer (.+)$/.exec(req.get('authorization') ?? '')?.[1] ?? '';
        if (!sameSecret(given, token))
          throw new HttpProblem(401, 'Unauthorized', 'a valid Bearer token is required');
      }
      const { feed } = parseOr400(WebhookQuery, req.query, 'query');
      const body = parseOr400(NotificationSchema, req.body);
      const keys = new Set<string>();
      for (const event of body.events) {
        if (event.action !== 'push' || !event.target.tag) continue; // blob pushes and deletions move no tag
        const feedId = feed ?? event.request?.host;
        if (feedId) keys.add(watchedPackageKey(feedId, event.target.repository));
      }
      const signalled: string[] = [];
      for (const key of keys) {
        const triggers = await listRunning(client, 'trigger', [
          `${PACKAGES_ATTRIBUTE.name} = '${key.replace(/'/g, "\\'")}'`,
        ]);
        await Promise.all(
          triggers.map(async (t) => {
            await client.workflow.getHandle(t.workflowId).signal(pollNowSignal);
            signalled.push(t.workflowId);
          }),
        );
      }
      res.status(202).json({ packages: [...keys], triggers: signalled.sort() });
    },
  );
  return router;
}
