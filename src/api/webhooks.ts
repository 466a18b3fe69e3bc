import { metrics, notificationVerdict } from '../observability/metrics';
import { Client } from '@temporalio/client';
import express, { RequestHandler, Response } from 'express';
import { z } from 'zod';
import { watchedPackageKey } from '../domain/trigger';
import { FeedIdSchema } from '../domain/trigger-schema';
import { pollTriggerNow } from '../../workflows/contracts/client';
import { PACKAGES_ATTRIBUTE } from '../../workflows/contracts/search-attributes';
import type { PollNowRequest } from '../../workflows/contracts/trigger';
import { HttpProblem, parseOr400 } from './problem';
import { listRunning, within } from './workflows';
import { defineRoutes, Handlers, invalid, Problem, problemExample } from './route';
import {
  DistributionSchema,
  distributionDeliveryKeys,
  REPLAY_WINDOW_MS,
  sameSecret,
} from '../receivers/notifications';
import { NOTIFICATIONS_KEPT, type ReceiverStore } from '../db/receivers';

/** A registry batches a few events per notification; bodies and fan-out stay bounded. */
export const WEBHOOK_BODY_LIMIT = 1024 * 1024;
export const MAX_PACKAGES_PER_NOTIFICATION = 100;
const QUERY_BATCH = 25;

/** Registry notifications (CNCF distribution): the receivers' `distribution` payload. */
export const NotificationSchema = DistributionSchema;

export const WebhookQuery = z.object({ feed: FeedIdSchema.optional() }).strict();

/**
 * Where the admin page finds what `/webhooks/registry` answered: its notifications are kept beside the
 * receivers', under this name, which no receiver can take (receiver names are slugs).
 */
export const REGISTRY_ENDPOINT = '/webhooks/registry';

/** A list of notifications with their verdicts, as the admin page shows a receiver's or the endpoint's. */
export const NotificationListSchema = z.array(
  z.object({
    receivedAt: z.string(),
    verdict: z.enum(['accepted', 'ignored', 'unauthorized', 'invalid', 'failed']),
    status: z.number().int(),
    reason: z.string(),
  }),
);

/** The content types registries send notifications with. */
const NOTIFICATION_TYPES = ['application/vnd.docker.distribution.events.v1+json', 'application/json'];

/** How long an answer waits for Temporal to take its signals; slower ones go on in the background. */
export const SIGNAL_WAIT_MS = 100;

/**
 * Every running trigger watching one of the packages (`feed/package` keys) polls now, fresh. One visibility
 * query per batch of packages, not one per package; a trigger that closed since the list was read does
 * not cost the others their signal. Signals to one trigger coalesce into one poll in the workflow.
 *
 * The answer waits for the signals at most `waitMs`, and not at all for one merged into a signal already
 * waiting its turn: a registry's notification is a hint and the sender should not queue behind a loaded
 * Temporal server. `triggers` are those told to poll, `pending` those of them whose signal was still on
 * its way when the answer left (delivered in the background, with the coalescing below), `missed` those
 * whose signal failed (a trigger that closed).
 */
export async function signalWatchers(
  client: Client,
  keys: readonly string[],
  request?: PollNowRequest,
  waitMs = SIGNAL_WAIT_MS,
): Promise<{ signalled: string[]; pending: string[]; missed: string[]; deferred: string[] }> {
  const now = Date.now();
  const ids = new Set<string>();
  const unknown: string[] = [];
  const stale: string[] = [];
  for (const key of keys) {
    const known = watchers.get(key);
    if (known && known.until + WATCHERS_STALE_MS > now) {
      known.ids.forEach((id) => ids.add(id));
      if (known.until <= now) stale.push(key);
    } else unknown.push(key);
  }
  // A package not seen lately: its watchers are looked up (one query shared by every notification
  // naming it meanwhile). A lookup slower than LOOKUP_WAIT_MS finishes behind the answer, which names
  // the package as deferred: its watchers are signalled when the lookup comes back.
  const lookup = lookUpShared(client, unknown);
  let lookupTimer: NodeJS.Timeout | undefined;
  const found = await Promise.race([
    lookup,
    new Promise<null>((resolve) => {
      lookupTimer = setTimeout(() => resolve(null), LOOKUP_WAIT_MS);
    }),
  ]);
  clearTimeout(lookupTimer);
  const deferred = found === null ? [...unknown] : [];
  if (found === null)
    void lookup.then(
      (late) => {
        for (const lateIds of late.values())
          for (const id of lateIds)
            if (!ids.has(id)) signalCoalesced(client, id, request).sent.catch(() => undefined);
      },
      () => undefined,
    );
  else for (const foundIds of found.values()) foundIds.forEach((id) => ids.add(id));
  if (stale.length > 0) void refreshWatchers(client, stale, new Set(ids), request);
  const sorted = [...ids].sort();
  const settled = sorted.map((id) => {
    const { sent, merged } = signalCoalesced(client, id, request);
    const outcome = sent.then(
      () => 'signalled' as const,
      () => {
        // A trigger that closed is forgotten at once.
        for (const key of keys) watchers.delete(key);
        return 'missed' as const;
      },
    );
    // Merged into a signal that waits behind one on its way: the trigger polls after both, and the
    // answer does not queue behind them (in a burst, most notifications are these).
    return merged ? Promise.resolve('pending' as const) : outcome;
  });
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<'pending'>((resolve) => {
    timer = setTimeout(() => resolve('pending'), waitMs);
  });
  const outcomes = await Promise.all(settled.map((s) => Promise.race([s, waited])));
  clearTimeout(timer);
  const told = sorted.filter((_, i) => outcomes[i] !== 'missed');
  return {
    signalled: told,
    pending: sorted.filter((_, i) => outcomes[i] === 'pending'),
    missed: sorted.filter((_, i) => outcomes[i] === 'missed'),
    deferred,
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

function signalCoalesced(
  client: Client,
  id: string,
  request: PollNowRequest | undefined,
): { sent: Promise<void>; merged: boolean } {
  const flight = flights.get(id);
  if (!flight) {
    const fresh: Flight = {};
    flights.set(id, fresh);
    return { sent: drive(client, id, fresh, request), merged: false };
  }
  const sent = new Promise<void>((resolve, reject) => {
    if (!flight.queued) flight.queued = { request, waiters: [] };
    else flight.queued.request = mergeRequests(flight.queued.request, request);
    flight.queued.waiters.push({ resolve, reject });
  });
  return { sent, merged: true };
}

async function drive(
  client: Client,
  id: string,
  flight: Flight,
  request: PollNowRequest | undefined,
): Promise<void> {
  try {
    await pollTriggerNow(client, id, request);
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

/**
 * Who watches a package, remembered: a burst of notifications costs one visibility query per package every
 * 2 s, not one each. After that the list is still used, for up to 30 s more, while it is read again in the
 * background; a watcher the new read finds that the old list lacked (a trigger started since) is signalled
 * then. So no answer waits on a visibility query for a package it has seen lately.
 */
const WATCHERS_TTL_MS = 2000;
const WATCHERS_STALE_MS = 30_000;
const watchers = new Map<string, { ids: string[]; until: number }>();
const refreshing = new Set<string>();
/** How long an answer waits for a package's watchers to be looked up. */
const LOOKUP_WAIT_MS = 2000;
/** Lookups on their way, by key: notifications naming a package meanwhile share its one query. */
const lookingUp = new Map<string, Promise<string[]>>();

async function lookUpShared(client: Client, keys: readonly string[]): Promise<Map<string, string[]>> {
  const fresh = keys.filter((k) => !lookingUp.has(k));
  if (fresh.length > 0) {
    const query = lookUpWatchers(client, fresh);
    for (const key of fresh) {
      const one = query.then((m) => m.get(key) ?? []);
      lookingUp.set(key, one);
      const forget = () => {
        if (lookingUp.get(key) === one) lookingUp.delete(key);
      };
      one.then(forget, forget);
    }
  }
  // Taken before any await: a finished lookup leaves the map.
  const pending = keys.map((key) => [key, lookingUp.get(key)!] as const);
  const out = new Map<string, string[]>();
  for (const [key, one] of pending) out.set(key, await one);
  return out;
}

/** The running triggers watching each key: one visibility query per batch of keys; found ones remembered. */
async function lookUpWatchers(client: Client, keys: readonly string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  const batches: string[][] = [];
  for (let i = 0; i < keys.length; i += QUERY_BATCH) batches.push(keys.slice(i, i + QUERY_BATCH));
  const found = await Promise.all(
    batches.map((batch) => listRunning(client, 'trigger', [within(PACKAGES_ATTRIBUTE.name, batch)])),
  );
  const now = Date.now();
  for (const [b, batch] of batches.entries())
    for (const key of batch) {
      const watching = found[b]
        .filter((t) => (t.typedSearchAttributes?.get(PACKAGES_ATTRIBUTE) ?? []).includes(key))
        .map((t) => t.workflowId);
      out.set(key, watching);
      // Only found watchers are kept (a trigger started meanwhile polls as it starts).
      if (watching.length === 0) continue;
      if (watchers.size >= 10_000) watchers.clear();
      watchers.set(key, { ids: watching, until: now + WATCHERS_TTL_MS });
    }
  return out;
}

/** Reads stale keys' watchers again, once at a time per key; signals the new ones the last answer missed. */
async function refreshWatchers(
  client: Client,
  keys: readonly string[],
  told: ReadonlySet<string>,
  request: PollNowRequest | undefined,
): Promise<void> {
  const mine = keys.filter((k) => !refreshing.has(k));
  if (mine.length === 0) return;
  mine.forEach((k) => refreshing.add(k));
  try {
    const found = await lookUpWatchers(client, mine);
    for (const [key, ids] of found) {
      if (ids.length === 0) watchers.delete(key);
      for (const id of ids)
        if (!told.has(id)) signalCoalesced(client, id, request).sent.catch(() => undefined);
    }
  } catch {
    // The next notification reads them again.
  } finally {
    mine.forEach((k) => refreshing.delete(k));
  }
}

/** Where verified notifications are remembered for the replay window: the ledger's, shared by API processes. */
export type DeliveryRecords = Pick<ReceiverStore, 'firstDelivery' | 'forgetDelivery'>;

/** What signalWatchers answers. */
export type Signals = Awaited<ReturnType<typeof signalWatchers>>;

/**
 * signalWatchers for one delivery of a notification, once: null when one of its `delivery` keys was acted on
 * within the replay window (a replay, to acknowledge and ignore). It is recorded as acted on only once every
 * watcher was told: a notification whose signal failed, whose watchers are still being looked up (deferred),
 * or that found none yet must count when it comes again, or a burst of identical notifications (one per
 * pushed tag) could leave a trigger unpolled.
 */
/** Why a notification was answered as it was: what the handler noted, else the problem's detail. */
export function verdictReason(res: Response): string {
  if (typeof res.locals.reason === 'string') return res.locals.reason;
  if (typeof res.locals.problemDetail === 'string') return res.locals.problemDetail;
  return '';
}

/** What a notification acted on did, for the admin page's list. */
export function signalledReason(keys: readonly string[], signalled: number, deferred: number): string {
  return (
    `${keys.length} package(s): ${keys.join(', ')}; ${signalled} trigger(s) told to poll` +
    (deferred > 0 ? `, ${deferred} deferred` : '')
  );
}

export async function signalOnce(
  client: Client,
  records: DeliveryRecords,
  sender: string,
  delivery: readonly string[],
  keys: readonly string[],
  request: PollNowRequest,
): Promise<Signals | null> {
  if (!(await records.firstDelivery(sender, delivery, REPLAY_WINDOW_MS))) return null;
  const forget = () => records.forgetDelivery(sender, delivery).catch(() => undefined);
  let signals: Signals;
  try {
    signals = await signalWatchers(client, keys, request);
  } catch (err) {
    await forget();
    throw err;
  }
  if (signals.deferred.length > 0 || signals.missed.length > 0 || signals.signalled.length === 0)
    await forget();
  return signals;
}

export const WEBHOOK_ROUTES = defineRoutes({
  registryNotification: {
    method: 'POST',
    path: '/webhooks/registry',
    access: 'sender',
    temporal: true,
    summary: 'A registry push notification (CNCF distribution format): watching triggers poll now',
    tag: 'webhooks',
    query: WebhookQuery,
    body: NotificationSchema,
    bodyExample: { events: [{ action: 'push', target: { repository: 'library/nginx', tag: '1.27.3' } }] },
    responses: {
      202: {
        description:
          'The triggers watching the pushed packages were told to poll; `pending`: those whose signal was still on its way to Temporal when the answer left (it waits at most 100 ms); `missed`: those whose signal failed; `deferred`: packages whose watchers were still being looked up after 2 s (they are signalled when the lookup returns); `ignored`: a notification acted on before (the same set of push event ids again, or with a token configured the same body within 10 minutes), told to nobody',
        schema: z.object({
          packages: z.array(z.string()),
          triggers: z.array(z.string()),
          ignored: z.string().optional(),
          pending: z.array(z.string()).optional(),
          missed: z.array(z.string()).optional(),
          deferred: z.array(z.string()).optional(),
        }),
        example: { packages: ['docker.io/library/nginx'], triggers: ['trigger/shop/web'] },
      },
      400: invalid,
      401: {
        description: 'The sender did not prove itself',
        schema: Problem,
        example: problemExample(401, 'Unauthorized', 'a valid Bearer token is required'),
      },
    },
  },
  registryNotifications: {
    method: 'GET',
    path: '/webhooks/registry/notifications',
    access: 'admin',
    summary:
      'What `/webhooks/registry` last answered, newest first, with the verdicts (never a body or header); with a token configured, only senders that proved themselves are kept',
    tag: 'webhooks',
    responses: {
      200: {
        description: `The endpoint's last notifications (at most ${NOTIFICATIONS_KEPT})`,
        schema: z.object({ notifications: NotificationListSchema }),
        example: {
          notifications: [
            {
              receivedAt: '2026-11-28T10:00:00.000Z',
              verdict: 'accepted',
              status: 202,
              reason: '1 package(s): docker.io/library/nginx; 2 trigger(s) told to poll',
            },
          ],
        },
      },
    },
  },
});

/**
 * `POST /webhooks/registry[?feed=ID]`: a registry's push notification makes every trigger watching the
 * pushed repository poll now, so a release follows a push in seconds; polling stays the safety net.
 * A notification acted on before (the same set of push event ids again, or with a token configured, the
 * same body within the replay window, whatever its spacing or key order) is acknowledged and ignored, as
 * on `/hooks/<id>`.
 */
export function webhookHandlers(
  client: Client,
  token: string | null,
  records: DeliveryRecords & Pick<ReceiverStore, 'recordNotification' | 'notifications'>,
  log: (line: string) => void,
): Handlers<typeof WEBHOOK_ROUTES> {
  const registryNotification: RequestHandler[] = [
    // The sender proves itself before its body is read.
    (req, res, next) => {
      res.once('finish', () => {
        const verdict = notificationVerdict(res.statusCode, res.locals.ignored === true);
        metrics.webhookNotifications.inc({ receiver: 'registry', verdict });
        // Kept for the admin page unless the sender failed to prove itself: with a token, a stranger's
        // requests would otherwise push the registry's own out of the kept few.
        if (token !== null && res.statusCode === 401) return;
        records
          .recordNotification(REGISTRY_ENDPOINT, verdict, res.statusCode, verdictReason(res))
          .catch((err: Error) => log(`${REGISTRY_ENDPOINT}: cannot record a notification: ${err.message}`));
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
      // The tags pushed, so each trigger keeps polling for them until it sees them (see WantedTag).
      const tags: { key: string; tag: string }[] = [];
      for (const event of body.events) {
        if (event.action !== 'push' || !event.target.tag) continue; // blob pushes and deletions move no tag
        // A request host that is no feed id or registry host names nothing we watch.
        const feedId = feed ?? FeedIdSchema.safeParse(event.request?.host).data;
        if (!feedId) continue;
        const key = watchedPackageKey(feedId, event.target.repository);
        keys.add(key);
        const tag = event.target.tag;
        if (tags.length < 20 && !tags.some((t) => t.key === key && t.tag === tag)) tags.push({ key, tag });
      }
      if (keys.size > MAX_PACKAGES_PER_NOTIFICATION)
        throw new HttpProblem(
          400,
          'Invalid request',
          `events: ${keys.size} distinct repositories; at most ${MAX_PACKAGES_PER_NOTIFICATION} per notification`,
          [{ field: 'events', message: `at most ${MAX_PACKAGES_PER_NOTIFICATION} distinct repositories` }],
        );
      // Pulls, deletions and blob pushes are taken (202) and counted as ignored, not as accepted pushes.
      res.locals.ignored = keys.size === 0;
      if (keys.size === 0) res.locals.reason = 'no tag pushed to a repository of a known feed';
      const all = [...keys];
      const request = { source: 'webhook registry', tags };
      // Remembered per feed the query names: the same body for another feed is another notification.
      const sender = `/webhooks/registry${feed ? `?feed=${feed}` : ''}`;
      const delivery = keys.size > 0 ? distributionDeliveryKeys(req.body, token !== null) : [];
      const signals = await signalOnce(client, records, sender, delivery, all, request);
      if (signals === null) {
        res.locals.ignored = true;
        res.locals.reason = 'a replayed notification';
        return void res.status(202).json({ packages: all, triggers: [], ignored: 'a replayed notification' });
      }
      const { signalled, pending, missed, deferred } = signals;
      if (keys.size > 0) res.locals.reason = signalledReason(all, signalled.length, deferred.length);
      res.status(202).json({
        packages: all,
        triggers: signalled,
        ...(pending.length > 0 ? { pending } : {}),
        ...(missed.length > 0 ? { missed } : {}),
        ...(deferred.length > 0 ? { deferred } : {}),
      });
    },
  ];

  const registryNotifications: RequestHandler = async (_req, res) => {
    res.json({ notifications: await records.notifications(REGISTRY_ENDPOINT) });
  };

  return { registryNotification, registryNotifications };
}
