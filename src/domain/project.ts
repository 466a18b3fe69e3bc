import { z } from 'zod';
import {
  checkTemplate,
  DEFAULT_VERSION_TEMPLATE,
  donorReleaseNumber,
  renderReleaseNumber,
} from './release-number';
import { VersionRule } from './rule';
import { VersionRuleSchema } from './rule-schema';
import { jsonBytes, MAX_PROJECT_SPEC_BYTES } from './size';
import { ReleasedPackage, TriggerChannelView } from './trigger';
import { PackageRefSchema, SlugSchema } from './trigger-schema';

/** A name the worker resolves to a secret value from its configuration; the value never enters workflows. */
export const SecretUseSchema = z.object({ secret: SlugSchema }).strict();

const HttpUrl = z
  .string()
  .max(2048)
  .url()
  .refine((u) => /^https?:\/\//.test(u), 'must start with http:// or https://')
  .refine(
    (u) => !/^https?:\/\/[^/?#]*@/.test(u),
    'credentials in a URL are not allowed; use a signing secret or an API key from the configuration',
  );

/**
 * How a destination takes a channel's releases: `every` release strictly in order, or only the `latest`
 * (an older release still waiting when a newer one exists is skipped as superseded). Either way a
 * destination never receives an older release of a channel after a newer one.
 */
export const DeliveryOrderSchema = z.enum(['every', 'latest']).default('latest');
export type DeliveryOrder = z.infer<typeof DeliveryOrderSchema>;

export const WebhookDestinationSchema = z
  .object({
    name: SlugSchema,
    type: z.literal('webhook'),
    url: HttpUrl,
    /** Send a CloudEvents 1.0 structured-mode envelope instead of the plain release JSON. */
    cloudEvents: z.boolean().default(false),
    /** HMAC-SHA256 of the body with this secret goes in `X-Feed-Triggers-Signature: sha256=<hex>`. */
    signingSecret: SecretUseSchema.optional(),
    order: DeliveryOrderSchema,
  })
  .strict();

export const OctopusDestinationSchema = z
  .object({
    name: SlugSchema,
    type: z.literal('octopus'),
    serverUrl: HttpUrl,
    spaceId: z.string().regex(/^Spaces-\d+$/, 'an Octopus space id such as Spaces-1'),
    projectId: z.string().regex(/^Projects-\d+$/, 'an Octopus project id such as Projects-1'),
    channelId: z
      .string()
      .regex(/^Channels-\d+$/, 'an Octopus channel id such as Channels-1')
      .optional(),
    apiKey: SecretUseSchema,
    order: DeliveryOrderSchema,
    /** Which deployment step and package reference each package feeds; by default both are the package's name. */
    steps: z
      .record(
        SlugSchema,
        z
          .object({
            actionName: z.string().min(1).max(200),
            packageReferenceName: z.string().max(200).default(''),
          })
          .strict(),
      )
      .default({}),
  })
  .strict();

export const DestinationSchema = z.discriminatedUnion('type', [
  WebhookDestinationSchema,
  OctopusDestinationSchema,
]);
export type Destination = z.infer<typeof DestinationSchema>;

export const ChannelSchema = z
  .object({
    name: SlugSchema,
    rules: z.array(VersionRuleSchema).max(50).default([]),
  })
  .strict();
export type Channel = z.infer<typeof ChannelSchema>;

export const VersioningSchema = z.union([
  z.object({ template: z.string().min(1).max(256) }).strict(),
  z.object({ donorPackage: SlugSchema }).strict(),
]);

/** Checks that a channel's rules name existing packages, one rule per package, one rule without packages at most. */
export function checkRules(
  rules: readonly VersionRule[],
  names: ReadonlySet<string>,
  ctx: z.RefinementCtx,
  path: (string | number)[],
): void {
  const ruled = new Set<string>();
  let general = false;
  rules.forEach((rule, i) => {
    if (rule.packages === undefined) {
      if (general)
        ctx.addIssue({
          code: 'custom',
          path: [...path, i, 'packages'],
          message: 'only one rule may leave out packages',
        });
      general = true;
    }
    rule.packages?.forEach((name, j) => {
      if (!names.has(name))
        ctx.addIssue({
          code: 'custom',
          path: [...path, i, 'packages', j],
          message: `no package named "${name}"`,
        });
      else if (ruled.has(name))
        ctx.addIssue({
          code: 'custom',
          path: [...path, i, 'packages', j],
          message: `package "${name}" already has a rule`,
        });
      ruled.add(name);
    });
  });
}

function checkUnique(
  items: readonly { name: string }[],
  what: string,
  ctx: z.RefinementCtx,
  path: string,
): void {
  const seen = new Set<string>();
  items.forEach((item, i) => {
    if (seen.has(item.name))
      ctx.addIssue({
        code: 'custom',
        path: [path, i, 'name'],
        message: `${what} "${item.name}" is defined twice`,
      });
    seen.add(item.name);
  });
}

/** A project: its package references, channels with version rules, release versioning and destinations. */
export const ProjectSpecSchema = z
  .object({
    name: SlugSchema,
    packages: z.array(PackageRefSchema).min(1).max(50),
    channels: z
      .array(ChannelSchema)
      .min(1)
      .max(50)
      .default([{ name: 'default', rules: [] }]),
    versioning: VersioningSchema.default({ template: DEFAULT_VERSION_TEMPLATE }),
    destinations: z.array(DestinationSchema).max(20).default([]),
  })
  .strict()
  .superRefine((spec, ctx) => {
    const bytes = jsonBytes(spec);
    if (bytes > MAX_PROJECT_SPEC_BYTES) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: `the project is ${bytes} bytes as JSON; at most ${MAX_PROJECT_SPEC_BYTES} are allowed`,
      });
      return;
    }
    checkUnique(spec.packages, 'package', ctx, 'packages');
    checkUnique(spec.channels, 'channel', ctx, 'channels');
    checkUnique(spec.destinations, 'destination', ctx, 'destinations');
    const names = new Set(spec.packages.map((p) => p.name));
    spec.channels.forEach((channel, i) => checkRules(channel.rules, names, ctx, ['channels', i, 'rules']));
    if ('donorPackage' in spec.versioning && !names.has(spec.versioning.donorPackage)) {
      ctx.addIssue({
        code: 'custom',
        path: ['versioning', 'donorPackage'],
        message: `no package named "${spec.versioning.donorPackage}"`,
      });
    }
    if ('template' in spec.versioning) {
      try {
        checkTemplate(spec.versioning.template);
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['versioning', 'template'], message: (err as Error).message });
      }
    }
    spec.destinations.forEach((d, i) => {
      if (d.type !== 'octopus') return;
      for (const name of Object.keys(d.steps)) {
        if (!names.has(name))
          ctx.addIssue({
            code: 'custom',
            path: ['destinations', i, 'steps', name],
            message: `no package named "${name}"`,
          });
      }
    });
  });
export type ProjectSpec = z.infer<typeof ProjectSpecSchema>;
export type ProjectSpecInput = z.input<typeof ProjectSpecSchema>;

export { destinationWorkflowId, releaseWorkflowId, TERMINAL_DELIVERY } from './delivery';
export type { DeliveryStatus } from './delivery';
import type { DeliveryStatus } from './delivery';

export interface Delivery {
  status: DeliveryStatus;
  /** Requests really sent to the destination, counted before each is sent (true across crashes). */
  attempts: number;
  lastError: string | null;
  deliveredAt: string | null;
}

export type ReleaseSource =
  { readonly kind: 'trigger'; readonly trigger: string } | { readonly kind: 'manual' };

export interface ProjectRelease {
  readonly number: string;
  readonly channel: string;
  readonly createdAt: string;
  readonly packages: readonly ReleasedPackage[];
  readonly reason: string;
  readonly source: ReleaseSource;
  /** The idempotency key the release was created with. */
  readonly key: string;
  readonly deliveries: Record<string, Delivery>;
}

export interface CreateReleaseRequest {
  readonly channel: string;
  /** Every package of the project with its chosen version. */
  readonly packages: readonly ReleasedPackage[];
  /** Packages whose later version justifies a release (a trigger's watched packages). */
  readonly watched: readonly string[];
  /** Refuse unless a watched package is later than in the channel's previous release (triggers); manual releases may pin any versions. */
  readonly requireLater: boolean;
  readonly reason: string;
  readonly source: ReleaseSource;
  readonly key: string;
}

export type CreateReleaseOutcome = 'created' | 'duplicate' | 'already-released' | 'not-later';

export interface CreateReleaseResult {
  readonly outcome: CreateReleaseOutcome;
  readonly release: ProjectRelease | null;
  readonly reason: string;
}

/** What a trigger needs of its channel each poll. */
export interface ChannelView extends TriggerChannelView {
  readonly project: string;
  readonly channel: string;
}

export class ReleaseRequestError extends Error {
  readonly code = 'INVALID_RELEASE_REQUEST';
}

/** Throws ReleaseRequestError when a request does not fit the configuration (checked before anything is recorded). */
export function validateReleaseRequest(spec: ProjectSpec, req: CreateReleaseRequest): Channel {
  const channel = spec.channels.find((c) => c.name === req.channel);
  if (!channel) throw new ReleaseRequestError(`project ${spec.name} has no channel "${req.channel}"`);
  const expected = spec.packages.map((p) => p.name).sort();
  const given = req.packages.map((p) => p.name).sort();
  if (JSON.stringify(expected) !== JSON.stringify(given)) {
    throw new ReleaseRequestError(
      `a release must hold every package of the project (${expected.join(', ')}), not ${given.join(', ')}`,
    );
  }
  for (const name of req.watched)
    if (!expected.includes(name)) throw new ReleaseRequestError(`no package named "${name}"`);
  if (req.key.length === 0 || req.key.length > 200)
    throw new ReleaseRequestError('an idempotency key needs 1 to 200 characters');
  return channel;
}

/**
 * The number a new release asks for, before uniqueness (a `-1`, `-2`… suffix is added when taken): from
 * the donor package's tag, or the template with the project's and the channel's highest numbers.
 */
export function proposedReleaseNumber(
  spec: ProjectSpec,
  req: CreateReleaseRequest,
  highest: { readonly inProject: string | null; readonly inChannel: string | null },
  now: Date,
): string {
  const versioning = spec.versioning;
  if ('donorPackage' in versioning) {
    const donor = req.packages.find((p) => p.name === versioning.donorPackage) as ReleasedPackage;
    return donorReleaseNumber(donor.tag);
  }
  return renderReleaseNumber(versioning.template, {
    lastInProject: highest.inProject,
    lastInChannel: highest.inChannel,
    channelName: req.channel,
    now,
  });
}
