import { metrics } from '../metrics';
import { Client } from '@temporalio/client';
import express, { Router } from 'express';
import { z } from 'zod';
import { PACKAGES_ATTRIBUTE, watchedPackageKey } from '../domain/search-attributes';
import { FeedIdSchema } from '../domain/trigger-schema';
import { pollNowSignal, PollNowRequest } from '../../workflows/messages/trigger';
import { HttpProblem, parseOr400 } from './problem';
import { listRunning, within } from './workflows';
import { DistributionSchema, sameSecret } from '../receivers';

/** A registry batches a few events per notification; bodies and fan-out stay bounded. */
export const WEBHOOK_BODY_LIMIT = 1024 * 1024;
export const MAX_PACKAGES_PER_NOTIFICATION = 100;
const QUERY_BATCH = 25;

/** Registry notifications (CNCF distribution): the receivers' `distribution` payload. */
export const NotificationSchema = DistributionSchema;

export const WebhookQuery = z.object({ feed: FeedIdSchema.optional() }).strict();

/** The content types registries send notifications with. */
const NOTIFICATION_TYPES = ['application/vnd.docker.distribution.events.v1+json', 'application/json'];

/**
 * Every running trigger watching one of the packages (`feed/package` keys) polls now, fresh. One visibility
 * query per batch of packages, not one per package; a trigger that closed since the list was read does
 * not cost the others their signal. Signals to one trigger coalesce into one poll in the workflow.
 */
export async function signalWatchers(
  client: Client,
  keys: readonly string[],
  request?: PollNowRequest,
): Promise<{ signalled: string[]; missed: string[] }> {
  const now = Date.now();
  const ids = new Set<string>();
  const unknown: string[] = [];
  for (const key of keys) {
    const known = watchers.get(key);
    if (known && known.until > now) known.ids.forEach((id) => ids.add(id));
    else unknown.push(key);
  }
  const batches: string[][] = [];
  for (let i = 0; i < unknown.length; i += QUERY_BATCH) batches.push(unknown.slice(i, i + QUERY_BATCH));
  const found = await Promise.all(
    batches.map((batch) => listRunning(client, 'trigger', [within(PACKAGES_ATTRIBUTE.name, batch)])),
  );
  for (const [b, batch] of batches.entries()) {
    for (const t of found[b]) ids.add(t.workflowId);
    // Who watches a package, remembered briefly: a burst of notifications costs one visibility query per
    // package, not one each. Only found watchers are kept (a trigger started meanwhile polls as it starts).
    for (const key of batch) {
      const watching = found[b]
        .filter((t) => (t.typedSearchAttributes?.get(PACKAGES_ATTRIBUTE) ?? []).includes(key))
        .map((t) => t.workflowId);
      if (watching.length === 0) continue;
      if (watchers.size >= 10_000) watchers.clear();
      watchers.set(key, { ids: watching, until: now + WATCHERS_TTL_MS });
    }
  }
  const sorted = [...ids].sort();
  const outcomes = await Promise.allSettled(sorted.map((id) => signalCoalesced(client, id, request)));
  // A trigger that closed is forgotten at once.
  if (outcomes.some((o) => o.status === 'rejected')) for (const key of keys) watchers.delete(key);
  return {
    signalled: sorted.filter((_, i) => outcomes[i].status === 'fulfilled'),
    missed: sorted.filter((_, i) => outcomes[i].status === 'rejected'),
  };
}

/**
 * Signals to one trigger, coalesced: while one is on its way, the notifications that arrive meanwhile are
 * merged into a single next signal, sent once the first is through. A trigger always gets a signal after
 * the latest notification, and a burst costs each trigger about two signal RPCs in flight, not one per
 * notification (the workflow coalesces them into polls the same way).
 */
interface Flight {
  queued?: {
    request: PollNowRequest | undefined;
    waiters: Array<{ resolve(): void; reject(e: unknown): void }>;
  };
}
const flights = new Map<string, Flight>();

function signalCoalesced(client: Client, id: string, request: PollNowRequest | undefined): Promise<void> {
  const flight = flights.get(id);
  if (!flight) {
    const fresh: Flight = {};
    flights.set(id, fresh);
    return drive(client, id, fresh, request);
  }
  return new Promise<void>((resolve, reject) => {
    if (!flight.queued) flight.queued = { request, waiters: [] };
    else flight.queued.request = mergeRequests(flight.queued.request, request);
    flight.queued.waiters.push({ resolve, reject });
  });
}

async function drive(
  client: Client,
  id: string,
  flight: Flight,
  request: PollNowRequest | undefined,
): Promise<void> {
  try {
    const handle = client.workflow.getHandle(id);
    await (request ? handle.signal(pollNowSignal, request) : handle.signal(pollNowSignal));
  } finally {
    const next = flight.queued;
    flight.queued = undefined;
    if (!next) flights.delete(id);
    else
      drive(client, id, flight, next.request).then(
        () => next.waiters.forEach((w) => w.resolve()),
        (err: unknown) => next.waiters.forEach((w) => w.reject(err)),
      );
  }
}

/** Two poll requests as one: their sources and tags together, within the signal's bounds. */
function mergeRequests(
  a: PollNowRequest | undefined,
  b: PollNowRequest | undefined,
): PollNowRequest | undefined {
  if (!a || !b) return a ?? b;
  const sources = [...new Set([...a.source.split(', '), ...b.source.split(', ')])].slice(0, 5);
  const tags = [...(a.tags ?? [])];
  for (const t of b.tags ?? [])
    if (tags.length < 20 && !tags.some((x) => x.key === t.key && x.tag === t.tag)) tags.push(t);
  return { source: sources.join(', '), tags };
}

/** How long a package's watchers are reused for further notifications. */
const WATCHERS_TTL_MS = 2000;
const watchers = new Map<string, { ids: string[]; until: number }>();

/**
 * `POST /webhooks/registry[?feed=ID]`: a registry's push notification makes every trigger watching the
 * pushed repository poll now, so a release follows a push in seconds; polling stays the safety net.
 * Duplicate deliveries are harmless: a poll of an unchanged repository releases nothing.
 */
export function webhookRoutes(client: Client, token: string | null): Router {
  const router = Router();
  router.post(
    '/webhooks/registry',
    // The sender proves itself before its body is read.
    (req, res, next) => {
      res.once('finish', () => {
        const status = res.statusCode;
        const verdict =
          status < 300 ? 'accepted' : status === 401 ? 'unauthorized' : status < 500 ? 'invalid' : 'failed';
        metrics.webhookNotifications.inc({ receiver: 'registry', verdict });
      });
      if (token !== null) {
        const given = /^Bearer (.+)$/.exec(req.get('authorization') ?? '')?.[1] ?? '';
        if (!sameSecret(given, token))
          throw new HttpProblem(401, 'Unauthorized', 'a valid Bearer token is required');
      }
      next();
    },
    express.json({ limit: WEBHOOK_BODY_LIMIT, type: NOTIFICATION_TYPES }),
    async (req, res) => {
      const { feed } = parseOr400(WebhookQuery, req.query, 'query');
      const body = parseOr400(NotificationSchema, req.body);
      const keys = new Set<string>();
      for (const event of body.events) {
        if (event.action !== 'push' || !event.target.tag) continue; // blob pushes and deletions move no tag
        // A request host that is no feed id or registry host names nothing we watch.
        const feedId = feed ?? FeedIdSchema.safeParse(event.request?.host).data;
        if (feedId) keys.add(watchedPackageKey(feedId, event.target.repository));
      }
      if (keys.size > MAX_PACKAGES_PER_NOTIFICATION)
        throw new HttpProblem(
          400,
          'Invalid request',
          `events: ${keys.size} distinct repositories; at most ${MAX_PACKAGES_PER_NOTIFICATION} per notification`,
          [{ field: 'events', message: `at most ${MAX_PACKAGES_PER_NOTIFICATION} distinct repositories` }],
        );
      const all = [...keys];
      const { signalled, missed } = await signalWatchers(client, all);
      res.status(202).json({ packages: all, triggers: signalled, ...(missed.length > 0 ? { missed } : {}) });
    },
  );
  return router;
}
