import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { FeedIdSchema, RepositorySchema } from '../domain/trigger-schema';
import { JwksCache, oidcRefusal } from './oidc';
import { RECEIVER_VERIFICATION, ReceiverSpec, ReceiverType } from './spec';

/**
 * Registry webhook receivers: each type is one sender's notification format and the way that sender can
 * prove itself. A receiver is reached at `/hooks/<id>`, the id derived from a random token of its own;
 * verification comes on top of that URL for the senders that can sign or carry a header.
 */

/** A pushed tag a notification names: the registry host it came from (when the payload says) and where. */
export interface Push {
  readonly host: string | null;
  readonly repository: string;
  readonly tag: string;
}

/** What a notification asks for: pushes, or nothing (an event that moves no tag) with the reason. */
export type Parsed =
  | { readonly kind: 'pushes'; readonly pushes: readonly Push[] }
  | { readonly kind: 'ignored'; readonly reason: string }
  | { readonly kind: 'ping' };

export class PayloadError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

const Tag = z.string().min(1).max(128);
const Host = z.string().min(1).max(255);

/** CNCF distribution (and ACR) notifications: `events[]` with action, target.repository/tag, request.host. */
export const DistributionSchema = z.object({
  events: z
    .array(
      z
        .object({
          action: z.string().max(64),
          target: z.object({ repository: RepositorySchema, tag: Tag.optional() }).loose(),
          request: z.object({ host: Host.optional() }).loose().optional(),
        })
        .loose(),
    )
    .max(1000),
});

/** Docker Hub's repository webhook. */
const DockerHubSchema = z
  .object({
    callback_url: z.string().max(2048).optional(),
    push_data: z.object({ tag: Tag }).loose(),
    repository: z.object({ repo_name: RepositorySchema }).loose(),
  })
  .loose();

/** GitHub's `package` and `registry_package` events for GHCR containers. */
const GitHubPackageSchema = z
  .object({
    name: z.string().min(1).max(255),
    namespace: z.string().min(1).max(255).optional(),
    owner: z
      .object({ login: z.string().max(255) })
      .loose()
      .optional(),
    package_type: z.string().max(64).optional(),
    ecosystem: z.string().max(64).optional(),
    package_version: z
      .object({
        container_metadata: z
          .object({
            tag: z
              .object({ name: z.string().max(128) })
              .loose()
              .optional(),
          })
          .loose()
          .nullable()
          .optional(),
      })
      .loose()
      .nullable()
      .optional(),
    registry: z
      .object({ url: z.string().max(2048).optional() })
      .loose()
      .nullable()
      .optional(),
  })
  .loose();
const GitHubSchema = z
  .object({
    action: z.string().max(64),
    package: GitHubPackageSchema.optional(),
    registry_package: GitHubPackageSchema.optional(),
  })
  .loose();

/** Harbor's `PUSH_ARTIFACT` (and every other event type, ignored). */
const HarborSchema = z
  .object({
    type: z.string().max(64),
    event_data: z
      .object({
        resources: z
          .array(
            z
              .object({ tag: z.string().max(128).optional(), resource_url: z.string().max(2048).optional() })
              .loose(),
          )
          .max(1000)
          .optional(),
        repository: z.object({ repo_full_name: RepositorySchema }).loose(),
      })
      .loose(),
  })
  .loose();

/** Quay's repository push notification. */
const QuaySchema = z
  .object({
    repository: RepositorySchema,
    docker_url: z.string().max(2048).optional(),
    updated_tags: z.array(Tag).max(1000),
  })
  .loose();

/** A Pub/Sub push of an Artifact Registry notification; `message.data` is base64 JSON. */
const PubSubPushSchema = z
  .object({
    message: z.object({ data: z.string().max(700_000) }).loose(),
    subscription: z.string().max(1024).optional(),
  })
  .loose();
const GarMessageSchema = z
  .object({
    action: z.string().max(64),
    digest: z.string().max(2048).optional(),
    tag: z.string().max(2048).optional(),
  })
  .loose();

/** An EventBridge "ECR Image Action" event. */
const EcrSchema = z
  .object({
    'detail-type': z.string().max(128),
    source: z.string().max(128),
    account: z.string().regex(/^\d{12}$/, 'a 12-digit AWS account'),
    region: z.string().regex(/^[a-z0-9-]{1,32}$/, 'an AWS region'),
    detail: z
      .object({
        result: z.string().max(32),
        'action-type': z.string().max(32),
        'repository-name': RepositorySchema,
        'image-tag': z.string().max(128).optional(),
      })
      .loose(),
  })
  .loose();

/** Any CI system: one tag, signed. */
const GenericSchema = z.object({ feed: FeedIdSchema, package: RepositorySchema, tag: Tag }).strict();

function parseWith<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue.path.map(String).join('.') || '(body)';
  throw new PayloadError(field, `${field}: ${issue.message}`);
}

/** `host/repo:tag` or `host/repo@digest`: the host and repository (the tag separately). */
function splitReference(reference: string): { host: string; repository: string; tag: string | null } | null {
  const slash = reference.indexOf('/');
  if (slash < 1) return null;
  const host = reference.slice(0, slash);
  let rest = reference.slice(slash + 1).split('@')[0];
  let tag: string | null = null;
  const colon = rest.lastIndexOf(':');
  if (colon > 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  return RepositorySchema.safeParse(rest).success && Host.safeParse(host).success
    ? { host, repository: rest, tag }
    : null;
}

const pushes = (list: Push[]): Parsed =>
  list.length > 0 ? { kind: 'pushes', pushes: list } : { kind: 'ignored', reason: 'no event moved a tag' };

/** Reads a notification of a type; throws PayloadError (a 400) for a body that is not that type's. */
export function parseNotification(
  type: ReceiverType,
  body: unknown,
  headers: Readonly<Record<string, string | undefined>>,
): Parsed {
  switch (type) {
    case 'distribution': {
      const { events } = parseWith(DistributionSchema, body);
      return pushes(
        events
          .filter((e) => e.action === 'push' && e.target.tag)
          .map((e) => ({
            host: e.request?.host ?? null,
            repository: e.target.repository,
            tag: e.target.tag!,
          })),
      );
    }
    case 'dockerhub': {
      const hook = parseWith(DockerHubSchema, body);
      return pushes([{ host: 'docker.io', repository: hook.repository.repo_name, tag: hook.push_data.tag }]);
    }
    case 'github': {
      const event = headers['x-github-event'];
      if (event === 'ping') return { kind: 'ping' };
      if (event !== 'package' && event !== 'registry_package')
        return { kind: 'ignored', reason: `GitHub event ${String(event).slice(0, 40)} moves no package` };
      const hook = parseWith(GitHubSchema, body);
      const pkg = hook.package ?? hook.registry_package;
      if (!pkg) throw new PayloadError(event, `${event}: required`);
      if (hook.action !== 'published' && hook.action !== 'updated')
        return { kind: 'ignored', reason: `${event} ${hook.action.slice(0, 40)} moves no tag` };
      const kind = (pkg.package_type ?? pkg.ecosystem ?? '').toLowerCase();
      if (kind !== 'container' && kind !== 'docker')
        return { kind: 'ignored', reason: `a ${kind || 'non-container'} package` };
      const tag = pkg.package_version?.container_metadata?.tag?.name;
      if (!tag) return { kind: 'ignored', reason: 'the version has no tag' };
      const owner = pkg.namespace ?? pkg.owner?.login;
      const repository = `${owner ? `${owner}/` : ''}${pkg.name}`.toLowerCase();
      if (!RepositorySchema.safeParse(repository).success)
        throw new PayloadError('package.name', 'package.name: not a repository name');
      return pushes([{ host: 'ghcr.io', repository, tag }]);
    }
    case 'harbor': {
      const hook = parseWith(HarborSchema, body);
      if (hook.type !== 'PUSH_ARTIFACT')
        return { kind: 'ignored', reason: `Harbor event ${hook.type} moves no tag` };
      const repository = hook.event_data.repository.repo_full_name;
      return pushes(
        (hook.event_data.resources ?? [])
          .filter((r) => r.tag)
          .map((r) => ({
            host: r.resource_url ? (splitReference(r.resource_url)?.host ?? null) : null,
            repository,
            tag: r.tag!,
          })),
      );
    }
    case 'quay': {
      const hook = parseWith(QuaySchema, body);
      const host = hook.docker_url ? (splitReference(hook.docker_url)?.host ?? null) : 'quay.io';
      return pushes(hook.updated_tags.map((tag) => ({ host, repository: hook.repository, tag })));
    }
    case 'gar': {
      const push = parseWith(PubSubPushSchema, body);
      let message: unknown;
      try {
        message = JSON.parse(Buffer.from(push.message.data, 'base64').toString('utf8'));
      } catch {
        throw new PayloadError('message.data', 'message.data: not base64 JSON');
      }
      const gar = parseWith(GarMessageSchema, message);
      if (gar.action !== 'INSERT')
        return { kind: 'ignored', reason: `Artifact Registry action ${gar.action} moves no tag` };
      if (!gar.tag) return { kind: 'ignored', reason: 'an untagged push (digest only)' };
      const ref = splitReference(gar.tag);
      if (!ref || !ref.tag) throw new PayloadError('message.data.tag', 'message.data.tag: not HOST/PATH:TAG');
      return pushes([{ host: ref.host, repository: ref.repository, tag: ref.tag }]);
    }
    case 'ecr': {
      const event = parseWith(EcrSchema, body);
      if (event['detail-type'] !== 'ECR Image Action' || event.source !== 'aws.ecr')
        return { kind: 'ignored', reason: `${event['detail-type'].slice(0, 60)} is not an ECR image action` };
      const d = event.detail;
      if (d['action-type'] !== 'PUSH' || d.result !== 'SUCCESS')
        return { kind: 'ignored', reason: `ECR ${d['action-type']} ${d.result} moves no tag` };
      if (!d['image-tag']) return { kind: 'ignored', reason: 'an untagged push (digest only)' };
      return pushes([
        {
          host: `${event.account}.dkr.ecr.${event.region}.amazonaws.com`,
          repository: d['repository-name'],
          tag: d['image-tag'],
        },
      ]);
    }
    case 'generic-hmac': {
      const hook = parseWith(GenericSchema, body);
      return pushes([{ host: hook.feed, repository: hook.package, tag: hook.tag }]);
    }
  }
}

/** How long a verified notification is remembered: the same one again within it is a replay, ignored. */
export const REPLAY_WINDOW_MS = 10 * 60_000;

const sha256 = (value: string | Buffer) => createHash('sha256').update(value).digest('hex');

/**
 * JSON text of a parsed value with its object keys sorted and no insignificant whitespace, so the same
 * notification re-sent with other spacing or key order reads the same. Built with its own stack: a body's
 * nesting is the sender's choice, and recursion over it could overflow.
 */
export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  const todo: unknown[] = [value];
  while (todo.length > 0) {
    const next = todo.pop();
    if (next instanceof JsonText) out.push(next.text);
    else if (Array.isArray(next)) {
      out.push('[');
      todo.push(new JsonText(']'));
      for (let i = next.length - 1; i >= 0; i--) todo.push(next[i], ...(i > 0 ? [COMMA] : []));
    } else if (next !== null && typeof next === 'object') {
      const keys = Object.keys(next).sort();
      out.push('{');
      todo.push(new JsonText('}'));
      for (let i = keys.length - 1; i >= 0; i--)
        todo.push(
          (next as Record<string, unknown>)[keys[i]],
          new JsonText(`${i > 0 ? ',' : ''}${JSON.stringify(keys[i])}:`),
        );
    } else if (typeof next === 'number' && !Number.isFinite(next))
      // JSON.stringify writes 1e400 (Infinity) as null: a body holding null would read as the same one.
      out.push(String(next));
    else out.push(JSON.stringify(next) ?? 'null');
  }
  return out.join('');
}

/** Text canonicalJson emits as it is (brackets, commas, keys), never a value of the body. */
class JsonText {
  constructor(readonly text: string) {}
}
const COMMA = new JsonText(',');

/** A sender's delivery or event id we keep: a string, not empty, of a sane length. */
const isDeliveryId = (id: unknown): id is string =>
  typeof id === 'string' && id.length > 0 && id.length <= 256;
const idKeys = (ids: readonly unknown[]) => ids.filter(isDeliveryId).map((id) => `delivery:${sha256(id)}`);

/**
 * The delivery keys of a CNCF distribution notification envelope (a `distribution` receiver's, and the
 * older `/webhooks/registry` path's): the ids of the events that move a tag, as one set (the registry's
 * notifier sends a batch again under the same ids when it retries; a key per id would make a batch holding
 * one event seen before and one new a replay, and drop the new push), and, when the sender proved itself
 * with a header, the body in canonical form (the header does not sign the bytes, so re-spacing them must
 * not make a new one).
 */
export function distributionDeliveryKeys(body: unknown, authenticated: boolean): string[] {
  const events = (body as { events?: unknown }).events;
  const ids = Array.isArray(events)
    ? events
        .filter(
          (e: { action?: unknown; target?: { tag?: unknown } }) => e?.action === 'push' && e.target?.tag,
        )
        .map((e: { id?: unknown }) => e.id)
    : [];
  const named = [...new Set(ids.filter(isDeliveryId))].sort();
  // One id is keyed as it was before batches had a key of their own, so no event is taken twice across an upgrade.
  const batch = named.length === 1 ? named[0] : JSON.stringify(named);
  return [
    ...(named.length > 0 ? [`delivery:${sha256(batch)}`] : []),
    ...(authenticated ? [`json:${sha256(canonicalJson(body))}`] : []),
  ];
}

/** Receiver types whose proof signs the body's bytes: a replay is the same bytes, not the same JSON. */
const SIGNS_BODY: ReadonlySet<ReceiverType> = new Set(['github', 'generic-hmac']);

/**
 * What identifies one delivery of a verified notification, so that a replay is acted on once: the sender's
 * delivery id where it gives one (GitHub's X-GitHub-Delivery, a Pub/Sub message id, a distribution event's
 * id), and the body where the sender proves it with a secret or a token (a verified body replayed, even
 * under a new delivery id, is as valid as the original): the signed bytes where a signature covers them,
 * else the body's canonical JSON, since a header proves nothing about spacing or key order. Unsigned senders
 * (Docker Hub, Quay) have only their URL: anyone holding it can send anything, and the same tag pushed twice
 * is the same body.
 */
export function deliveryKeys(
  spec: ReceiverSpec,
  raw: Buffer,
  headers: Readonly<Record<string, string | undefined>>,
  body: unknown,
): string[] {
  const verified = RECEIVER_VERIFICATION[spec.type].secret === 'required' || spec.oidc !== undefined;
  if (spec.type === 'distribution') return distributionDeliveryKeys(body, verified);
  const ids: unknown[] = [];
  if (spec.type === 'github') ids.push(headers['x-github-delivery']);
  if (spec.type === 'gar') {
    const message = (body as { message?: { messageId?: unknown; message_id?: unknown } }).message;
    ids.push(message?.messageId ?? message?.message_id);
  }
  const keys = idKeys(ids);
  if (verified)
    keys.push(SIGNS_BODY.has(spec.type) ? `body:${sha256(raw)}` : `json:${sha256(canonicalJson(body))}`);
  return keys;
}

/** Constant-time comparison of a presented secret with the expected one. */
export function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  // Compared at the expected length whatever was given, so the time says nothing about how close it was.
  return timingSafeEqual(a.length === b.length ? a : b, b) && a.length === b.length;
}

const hmacHex = (secret: string, raw: Buffer) => createHmac('sha256', secret).update(raw).digest('hex');

/**
 * Why the sender did not prove itself the way its type allows, or null when it did (the URL token was
 * checked before). The reason is for the operator's log, never for the sender.
 */
export async function senderRefusal(
  spec: ReceiverSpec,
  secret: string | null,
  raw: Buffer,
  headers: Readonly<Record<string, string | undefined>>,
  jwks: JwksCache,
): Promise<string | null> {
  const check = (ok: boolean, what: string) => (ok ? null : what);
  switch (spec.type) {
    case 'dockerhub':
    case 'quay':
      return null;
    case 'gar':
      return spec.oidc ? oidcRefusal(spec.oidc, headers.authorization, jwks) : null;
    case 'distribution':
    case 'harbor': {
      const given = headers.authorization ?? '';
      return check(
        secret !== null && (sameSecret(given, secret) || sameSecret(given, `Bearer ${secret}`)),
        'the Authorization header does not match',
      );
    }
    case 'ecr':
      return check(
        secret !== null && sameSecret(headers['x-api-key'] ?? '', secret),
        'the x-api-key header does not match',
      );
    case 'github':
      return check(
        secret !== null && sameSecret(headers['x-hub-signature-256'] ?? '', `sha256=${hmacHex(secret, raw)}`),
        'X-Hub-Signature-256 does not match',
      );
    case 'generic-hmac':
      return check(
        secret !== null && sameSecret(headers['x-signature-256'] ?? '', `sha256=${hmacHex(secret, raw)}`),
        'X-Signature-256 does not match',
      );
  }
}
