import { Client } from '@temporalio/client';
import express, { NextFunction, Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { Feed } from '../feeds/feed';
import { checkOutboundUrl, OutboundPolicy } from '../net/outbound';
import { metrics, notificationVerdict } from '../observability/metrics';
import { RECEIVER_TYPES } from '../receivers/spec';
import {
  parseNotification,
  PayloadError,
  Push,
  deliveryKeys,
  senderRefusal,
} from '../receivers/notifications';
import { RECEIVER_VERIFICATION, ReceiverSpec, ReceiverSpecSchema } from '../receivers/spec';
import { JwksCache, JwksUnavailable } from '../receivers/oidc';
import { watchedPackageKey } from '../domain/trigger';
import { SlugSchema } from '../domain/trigger-schema';
import { NOTIFICATIONS_KEPT, ReceiverConflict, ReceiverStore } from '../db/receivers';
import { principalOf } from './access';
import { HttpProblem, parseOr400, sendProblem } from './problem';
import { defineRoutes, Handlers, invalid, notFound, Problem, problemExample, Timestamp } from './route';
import {
  MAX_PACKAGES_PER_NOTIFICATION,
  NotificationListSchema,
  signalledReason,
  signalOnce,
  verdictReason,
  WEBHOOK_BODY_LIMIT,
} from './webhooks';

export interface ReceiverOptions {
  readonly client: Client;
  readonly store: ReceiverStore;
  /** Values of the configured receiver secrets, by name. */
  readonly secrets: ReadonlyMap<string, string>;
  readonly feeds: ReadonlyMap<string, Feed>;
  readonly outbound: OutboundPolicy;
  /** A stand-in origin Docker Hub callbacks may go to (configured); null: Docker Hub's own only. */
  readonly dockerHubCallbackOrigin?: string | null;
  readonly log: (message: string) => void;
}

export const ReceiverParams = z.object({ name: SlugSchema });
export const HookParams = z.object({ id: z.string().max(64) });

/** Docker Hub's registry hosts are one registry. */
const DOCKER_HUB = new Set([
  'docker.io',
  'index.docker.io',
  'registry-1.docker.io',
  'registry.hub.docker.com',
]);

/**
 * The watched packages (`feed/package` keys) a push names, each with the tag as that feed lists it: the
 * receiver's feed when it has one; else the registry host in the payload and every configured feed at that
 * host (a project may name `ghcr` or `ghcr.io`). A feed rooted under a path (`oci://host/charts`) names its
 * packages without it, and a Helm chart feed in an OCI registry reads a tag's `_` as the version's `+`.
 */
export function keysOf(
  push: Push,
  feedOfReceiver: string | undefined,
  feeds: ReadonlyMap<string, Feed>,
): { key: string; tag: string }[] {
  const host = push.host?.toLowerCase() ?? null;
  const hub = host !== null && DOCKER_HUB.has(host);
  const repository = hub && !push.repository.includes('/') ? `library/${push.repository}` : push.repository;
  const of = (id: string) => {
    const feed = feeds.get(id);
    if (feed?.type !== 'oci') return { key: watchedPackageKey(id, repository), tag: push.tag };
    const prefix = feed.repositoryPrefix ? `${feed.repositoryPrefix}/` : '';
    const pkg = prefix && repository.startsWith(prefix) ? repository.slice(prefix.length) : repository;
    return { key: watchedPackageKey(id, pkg), tag: feed.helm ? push.tag.replaceAll('_', '+') : push.tag };
  };
  if (feedOfReceiver) return [of(feedOfReceiver)];
  if (host === null) return [];
  const ids = new Set<string>(hub ? ['docker.io'] : [host]);
  for (const feed of feeds.values()) {
    const feedHost = new URL(feed.url).host.toLowerCase();
    if (feedHost === host || (hub && DOCKER_HUB.has(feedHost))) ids.add(feed.id);
  }
  return [...ids].map(of);
}

const REFUSED = 'the notification could not be verified';
/** Unknown URL, failed signature, missing secret: one answer that tells a guesser nothing. */
const refuse = (res: Response) => sendProblem(res, 401, 'Unauthorized', REFUSED);

/** Header values by lower-case name, single-valued. */
function headersOf(req: Request): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(req.headers))
    out[name] = Array.isArray(value) ? value[0] : value;
  return out;
}

const ReceiverInfo = z.object({
  spec: z.object({
    name: z.string(),
    type: z.enum(RECEIVER_TYPES),
    secret: z.object({ secret: z.string() }).optional(),
    feed: z.string().optional(),
  }),
  createdBy: z.string(),
  createdAt: Timestamp,
});
const receiverExample = {
  spec: { name: 'ghcr', type: 'github', secret: { secret: 'github-hook' }, feed: 'ghcr' },
  createdBy: 'alice',
  createdAt: '2026-11-28T10:00:00.000Z',
};

/** Receivers are kept where triggers are told to poll: every route here waits on Temporal's health. */
export const RECEIVER_ROUTES = defineRoutes({
  hook: {
    method: 'POST',
    path: '/hooks/:id',
    access: 'sender',
    temporal: true,
    summary:
      "A registry's push notification to one receiver (its type's payload; verified as its sender allows)",
    tag: 'webhooks',
    params: HookParams,
    body: z.record(z.string(), z.unknown()),
    bodyExample: { events: [{ action: 'push', target: { repository: 'library/nginx', tag: '1.27.3' } }] },
    responses: {
      200: {
        description: "A sender's ping (GitHub) answered",
        schema: z.object({ receiver: z.string(), pong: z.literal(true) }),
        example: { receiver: 'ghcr', pong: true },
      },
      202: {
        description:
          'Accepted: the triggers watching the pushed packages were told to poll (or the event moves no tag); `pending`: those whose signal was still on its way to Temporal when the answer left (it waits at most 100 ms); `missed`: those whose signal failed; `deferred`: packages whose watchers were still being looked up after 2 s (they are signalled when the lookup returns)',
        schema: z.object({
          receiver: z.string(),
          packages: z.array(z.string()).optional(),
          triggers: z.array(z.string()),
          pending: z.array(z.string()).optional(),
          missed: z.array(z.string()).optional(),
          deferred: z.array(z.string()).optional(),
          ignored: z.string().optional(),
        }),
        example: { receiver: 'ghcr', packages: ['ghcr.io/acme/web'], triggers: ['trigger/shop/web'] },
      },
      400: invalid,
      401: {
        description: 'Not verified (unknown URL, bad signature or header): nothing was signalled',
        schema: Problem,
        example: problemExample(401, 'Unauthorized', 'the notification could not be verified'),
      },
      413: {
        description: 'Larger than 1 MiB',
        schema: Problem,
        example: problemExample(
          413,
          'Payload too large',
          "the body is larger than this endpoint's limit of 1048576 bytes",
        ),
      },
    },
  },
  listReceivers: {
    method: 'GET',
    path: '/receivers',
    access: 'admin',
    temporal: true,
    summary: 'Webhook receivers (never their URL tokens)',
    tag: 'webhooks',
    responses: {
      200: {
        description: 'Receivers by name',
        schema: z.object({ receivers: z.array(ReceiverInfo) }),
        example: { receivers: [receiverExample] },
      },
    },
  },
  createReceiver: {
    method: 'POST',
    path: '/receivers',
    access: 'admin',
    temporal: true,
    summary: 'Create a receiver; its URL (with its token) is in this answer only',
    tag: 'webhooks',
    body: ReceiverSpecSchema,
    bodyExample: { name: 'ghcr', type: 'github', secret: { secret: 'github-hook' }, feed: 'ghcr' },
    responses: {
      201: {
        description: 'Created',
        schema: ReceiverInfo.extend({ url: z.string(), verifies: z.string() }),
        example: {
          ...receiverExample,
          url: `/hooks/${'x'.repeat(43)}`,
          verifies: 'X-Hub-Signature-256: HMAC-SHA256 of the raw body',
        },
      },
      400: invalid,
      409: {
        description: 'A receiver has that name',
        schema: Problem,
        example: problemExample(409, 'Conflict', 'a receiver named ghcr exists; delete it first'),
      },
    },
  },
  receiverNotifications: {
    method: 'GET',
    path: '/receivers/:name/notifications',
    access: 'admin',
    summary: "A receiver's last notifications, newest first, with their verdicts (never a body or header)",
    tag: 'webhooks',
    params: ReceiverParams,
    responses: {
      200: {
        description: `The receiver's last notifications (at most ${NOTIFICATIONS_KEPT})`,
        schema: z.object({
          receiver: z.string(),
          notifications: NotificationListSchema,
        }),
        example: {
          receiver: 'ghcr',
          notifications: [
            {
              receivedAt: '2026-11-28T10:00:00.000Z',
              verdict: 'ignored',
              status: 202,
              reason: 'a replayed notification',
            },
          ],
        },
      },
      400: invalid,
      404: notFound('receiver'),
    },
  },
  deleteReceiver: {
    method: 'DELETE',
    path: '/receivers/:name',
    access: 'admin',
    temporal: true,
    summary: 'Delete a receiver: its URL stops working at once',
    tag: 'webhooks',
    params: ReceiverParams,
    responses: {
      200: {
        description: 'Deleted',
        schema: z.object({ name: z.string(), deleted: z.literal(true) }),
        example: { name: 'ghcr', deleted: true },
      },
      404: notFound('receiver'),
      409: {
        description: 'The receiver is defined in the configuration file',
        schema: Problem,
        example: problemExample(
          409,
          'Conflict',
          'receiver ghcr is defined in the configuration file; remove it there',
        ),
      },
    },
  },
});

/**
 * `/receivers` (admins create, list and delete them) and `POST /hooks/:id`, where each receiver's sender
 * posts: verified by the URL's token and, where the sender can, a signature or header; parsed with the
 * sender's own payload schema; answered 202 with the triggers told to poll, without waiting on registries.
 */
export function receiverHandlers(options: ReceiverOptions): Handlers<typeof RECEIVER_ROUTES> {
  const { store } = options;
  const jwks = new JwksCache(options.outbound);
  const createReceiver: RequestHandler = async (req, res) => {
    const spec = parseOr400(ReceiverSpecSchema, req.body);
    if (spec.oidc?.jwksUrl)
      try {
        checkOutboundUrl(new URL(spec.oidc.jwksUrl), options.outbound);
      } catch (err) {
        throw new HttpProblem(400, 'Invalid request', `oidc.jwksUrl: ${(err as Error).message}`, [
          { field: 'oidc.jwksUrl', message: (err as Error).message },
        ]);
      }
    if (spec.secret && !options.secrets.has(spec.secret.secret))
      throw new HttpProblem(
        400,
        'Invalid request',
        `secret.secret: no receiver secret named ${spec.secret.secret} in the configuration (receiverSecrets)`,
        [{ field: 'secret.secret', message: 'not in the configuration' }],
      );
    try {
      const { token, info } = await store.create(spec, principalOf(res)?.name ?? 'unknown');
      res.locals.auditDetail = `receiver ${spec.name} (${spec.type})`;
      res
        .status(201)
        .set('Cache-Control', 'no-store')
        .json({ ...info, url: `/hooks/${token}`, verifies: RECEIVER_VERIFICATION[spec.type].how });
    } catch (err) {
      if (err instanceof ReceiverConflict) throw new HttpProblem(409, 'Conflict', err.message);
      throw err;
    }
  };
  const listReceivers: RequestHandler = async (_req, res) => {
    res.json({ receivers: await store.list() });
  };
  const deleteReceiver: RequestHandler = async (req, res) => {
    const { name } = parseOr400(ReceiverParams, req.params);
    res.locals.auditDetail = `receiver ${name}`;
    let deleted: boolean;
    try {
      deleted = await store.delete(name);
    } catch (err) {
      if (err instanceof ReceiverConflict) throw new HttpProblem(409, 'Conflict', err.message);
      throw err;
    }
    if (!deleted) throw new HttpProblem(404, 'Not found', `no receiver named ${name}`);
    res.json({ name, deleted: true });
  };
  const receiverNotifications: RequestHandler = async (req, res) => {
    const { name } = parseOr400(ReceiverParams, req.params);
    if (!(await store.list()).some((r) => r.spec.name === name))
      throw new HttpProblem(404, 'Not found', `no receiver named ${name}`);
    res.json({ receiver: name, notifications: await store.notifications(name) });
  };
  const hook: RequestHandler[] = [
    // The receiver is looked up before the body is read: an unknown URL is answered at once, and its body
    // is discarded as it arrives (Node's http server), never buffered.
    async (req: Request, res: Response, next: NextFunction) => {
      res.locals.receiver = 'unknown';
      res.once('finish', () => {
        const status = res.statusCode;
        // A notification acknowledged but not acted on (a pull, a replay) is `ignored`, not `accepted`.
        const verdict = notificationVerdict(status, res.locals.ignored === true);
        metrics.webhookNotifications.inc({ receiver: String(res.locals.receiver), verdict });
        // Kept for the admin page only for a known receiver: an unknown URL would let anyone write here.
        const known = res.locals.spec as ReceiverSpec | undefined;
        if (known)
          store
            .recordNotification(known.name, verdict, status, verdictReason(res))
            .catch((err: Error) =>
              options.log(`receiver ${known.name}: cannot record a notification: ${err.message}`),
            );
      });
      const spec = await store.byToken(String(req.params.id));
      if (!spec) {
        res.set('Connection', 'close');
        return refuse(res);
      }
      res.locals.receiver = spec.name;
      res.locals.spec = spec;
      next();
    },
    express.raw({ type: () => true, limit: WEBHOOK_BODY_LIMIT }),
    async (req: Request, res: Response) => {
      const spec = res.locals.spec as ReceiverSpec;
      const secret = spec.secret ? (options.secrets.get(spec.secret.secret) ?? null) : null;
      if (spec.secret && secret === null) {
        options.log(`receiver ${spec.name}: its secret ${spec.secret.secret} is not in the configuration`);
        res.locals.reason = `its secret ${spec.secret.secret} is not in the configuration`;
        return refuse(res);
      }
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const headers = headersOf(req);
      let refusal: string | null;
      try {
        refusal = await senderRefusal(spec, secret, raw, headers, jwks);
      } catch (err) {
        if (!(err instanceof JwksUnavailable)) throw err;
        options.log(`receiver ${spec.name}: ${err.message}`);
        // The sender retries (Pub/Sub push retries until acknowledged): nothing is lost.
        throw new HttpProblem(503, 'Service unavailable', 'the notification cannot be verified now; retry');
      }
      if (refusal !== null) {
        // For the operator, without the sender's values: a misconfigured audience shows here.
        options.log(`receiver ${spec.name}: refused a notification: ${refusal}`);
        res.locals.reason = refusal;
        return refuse(res);
      }
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        throw new HttpProblem(400, 'Invalid request', 'the body is not valid JSON', [
          { field: '(body)', message: 'not valid JSON' },
        ]);
      }
      let parsed;
      try {
        parsed = parseNotification(spec.type, body, headers);
      } catch (err) {
        if (err instanceof PayloadError)
          throw new HttpProblem(400, 'Invalid request', err.message, [
            { field: err.field, message: err.message },
          ]);
        throw err;
      }
      if (parsed.kind === 'ping') {
        res.locals.reason = 'a ping';
        return void res.json({ receiver: spec.name, pong: true });
      }
      if (parsed.kind === 'ignored') {
        res.locals.ignored = true;
        res.locals.reason = parsed.reason;
        return void res.status(202).json({ receiver: spec.name, ignored: parsed.reason, triggers: [] });
      }
      const tags: { key: string; tag: string }[] = [];
      const keys = new Set<string>();
      for (const push of parsed.pushes)
        for (const { key, tag } of keysOf(push, spec.feed, options.feeds)) {
          keys.add(key);
          if (tags.length < 20 && !tags.some((t) => t.key === key && t.tag === tag)) tags.push({ key, tag });
        }
      if (keys.size > MAX_PACKAGES_PER_NOTIFICATION)
        throw new HttpProblem(
          400,
          'Invalid request',
          `the notification names ${keys.size} packages; at most ${MAX_PACKAGES_PER_NOTIFICATION}`,
        );
      // A notification acted on before (the same delivery id, or the same signed body within the window) is
      // acknowledged and ignored: a captured notification cannot make triggers poll again and again.
      const delivery = deliveryKeys(spec, raw, headers, body);
      const request = { source: `webhook ${spec.name}`, tags };
      const signals = await signalOnce(options.client, store, spec.name, delivery, [...keys], request);
      if (signals === null) {
        res.locals.ignored = true;
        res.locals.reason = 'a replayed notification';
        return void res
          .status(202)
          .json({ receiver: spec.name, ignored: 'a replayed notification', triggers: [] });
      }
      const { signalled, pending, missed, deferred } = signals;
      res.locals.reason = signalledReason([...keys], signalled.length, deferred.length);
      res.status(202).json({
        receiver: spec.name,
        packages: [...keys],
        triggers: signalled,
        ...(pending.length > 0 ? { pending } : {}),
        ...(missed.length > 0 ? { missed } : {}),
        ...(deferred.length > 0 ? { deferred } : {}),
      });
      if (spec.type === 'dockerhub') callBack(body, signalled.length, options);
    },
  ];

  return { createReceiver, listReceivers, receiverNotifications, deleteReceiver, hook };
}

/** Where Docker Hub's callbacks go: its documented `callback_url` origin. */
export const DOCKER_HUB_CALLBACK_ORIGIN = 'https://registry.hub.docker.com';
/** Docker Hub's callback path: `/u/<namespace>/<repository>/hook/<id>/`. */
const DOCKER_HUB_CALLBACK_PATH =
  /^\/u\/[a-z0-9][a-z0-9._-]{0,254}\/[a-z0-9][a-z0-9._-]{0,254}\/hook\/[A-Za-z0-9]{1,128}\/?$/;

/**
 * The URL a Docker Hub payload's `callback_url` may be answered at, or null: Docker Hub's own origin (or the
 * configured stand-in's) and its callback path shape, nothing else, so a payload cannot make this service
 * post to an address or path of the sender's choosing.
 */
export function dockerHubCallbackTarget(callbackUrl: unknown, standIn: string | null): URL | null {
  if (typeof callbackUrl !== 'string' || callbackUrl.length > 2048) return null;
  let target: URL;
  try {
    target = new URL(callbackUrl);
  } catch {
    return null;
  }
  const origins = [DOCKER_HUB_CALLBACK_ORIGIN, ...(standIn ? [new URL(standIn).origin] : [])];
  if (!origins.includes(target.origin)) return null;
  if (target.username || target.password || target.search || target.hash) return null;
  return DOCKER_HUB_CALLBACK_PATH.test(target.pathname) ? target : null;
}

/** Docker Hub asks for the outcome at `callback_url`: sent after the answer, never awaited by the sender. */
function callBack(body: unknown, triggers: number, options: ReceiverOptions): void {
  const url = (body as { callback_url?: unknown }).callback_url;
  if (url === undefined) return;
  const target = dockerHubCallbackTarget(url, options.dockerHubCallbackOrigin ?? null);
  if (!target) return options.log("Docker Hub callback: callback_url is not Docker Hub's; not called");
  void fetch(target, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      state: 'success',
      description: `${triggers} trigger(s) told to poll`,
      context: 'feed-triggers',
      target_url: '',
    }),
    redirect: 'manual',
    signal: AbortSignal.timeout(10_000),
  }).catch((err: Error) => options.log(`Docker Hub callback: ${err.message}`));
}
