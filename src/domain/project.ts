import { z } from 'zod';
import { movedPackages, versionSetKey } from './decision';
import {
  checkTemplate,
  DEFAULT_VERSION_TEMPLATE,
  donorReleaseNumber,
  highestNumber,
  renderReleaseNumber,
  uniqueReleaseNumber,
} from './release-number';
import { VersionRule, VersionRuleSchema } from './rule';
import {
  clip,
  jsonBytes,
  MAX_LEDGER_KEY_BYTES,
  MAX_LEDGER_RELEASE_BYTES,
  MAX_PROJECT_SPEC_BYTES,
  newestWithin,
} from './size';
import { PackageRefSchema, ReleasedPackage, SlugSchema, TriggerChannelView } from './trigger';

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

export const WebhookDestinationSchema = z
  .object({
    name: SlugSchema,
    type: z.literal('webhook'),
    url: HttpUrl,
    /** Send a CloudEvents 1.0 structured-mode envelope instead of the plain release JSON. */
    cloudEvents: z.boolean().default(false),
    /** HMAC-SHA256 of the body with this secret goes in `X-Feed-Triggers-Signature: sha256=<hex>`. */
    signingSecret: SecretUseSchema.optional(),
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

/** The workflow ID of a project's ledger. */
export function projectWorkflowId(project: string): string {
  return `project/${project}`;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface Delivery {
  status: DeliveryStatus;
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
  /** The idempotency key the release was created with; destinations receive it too. */
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

export interface ProjectState {
  spec: ProjectSpec;
  /** Grows with every configuration change and release, so triggers can skip unchanged views. */
  revision: number;
  /** Oldest first; the newest MAX_RELEASES_KEPT stay. */
  releases: ProjectRelease[];
  /** Idempotency keys of recent releases, to answer retries after continue-as-new. */
  keys: Record<string, string>;
  runs: number;
}

export const MAX_RELEASES_KEPT = 1000;
const MAX_KEYS_KEPT = 5000;

export class ReleaseRequestError extends Error {
  readonly code = 'INVALID_RELEASE_REQUEST';
}

/** The project's release ledger: configuration, numbering and the never-twice rules, free of Temporal. */
export class ReleaseLedger {
  constructor(readonly state: ProjectState) {}

  static initial(spec: ProjectSpec): ProjectState {
    return { spec, revision: 1, releases: [], keys: {}, runs: 1 };
  }

  /** Replaces the configuration; returns false when it is unchanged. */
  configure(spec: ProjectSpec): boolean {
    if (JSON.stringify(spec) === JSON.stringify(this.state.spec)) return false;
    this.state.spec = spec;
    this.state.revision += 1;
    return true;
  }

  channel(name: string): Channel | undefined {
    return this.state.spec.channels.find((c) => c.name === name);
  }

  channelView(channel: string): ChannelView | null {
    const c = this.channel(channel);
    if (!c) return null;
    const last = this.lastInChannel(channel);
    return {
      project: this.state.spec.name,
      channel,
      revision: this.state.revision,
      packages: this.state.spec.packages,
      rules: c.rules,
      lastRelease: last ? { number: last.number, packages: last.packages } : null,
    };
  }

  lastInChannel(channel: string): ProjectRelease | null {
    for (let i = this.state.releases.length - 1; i >= 0; i--)
      if (this.state.releases[i].channel === channel) return this.state.releases[i];
    return null;
  }

  /** Throws ReleaseRequestError when a request does not fit the configuration (checked before anything is recorded). */
  validate(req: CreateReleaseRequest): void {
    const channel = this.channel(req.channel);
    if (!channel)
      throw new ReleaseRequestError(`project ${this.state.spec.name} has no channel "${req.channel}"`);
    const expected = this.state.spec.packages.map((p) => p.name).sort();
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
  }

  /** Records a release unless it is a retry, an already-released version set or (for triggers) not later. */
  create(req: CreateReleaseRequest, now: Date): CreateReleaseResult {
    const known = this.state.keys[req.key];
    if (known !== undefined) {
      return {
        outcome: 'duplicate',
        release: this.get(known),
        reason: `idempotency key already used by release ${known}`,
      };
    }
    const setKey = versionSetKey(req.packages);
    const same = this.state.releases.find(
      (r) => r.channel === req.channel && versionSetKey(r.packages) === setKey,
    );
    if (same)
      return {
        outcome: 'already-released',
        release: same,
        reason: `release ${same.number} already holds these versions`,
      };
    const previous = this.lastInChannel(req.channel);
    const channel = this.channel(req.channel) as Channel;
    const moved = movedPackages(channel.rules, req.packages, previous, req.watched);
    if (req.requireLater && previous && moved.length === 0) {
      return {
        outcome: 'not-later',
        release: null,
        reason: `no watched package is later than in release ${previous.number}`,
      };
    }
    const number = this.nextNumber(req, now);
    const deliveries: Record<string, Delivery> = {};
    for (const d of this.state.spec.destinations)
      deliveries[d.name] = { status: 'pending', attempts: 0, lastError: null, deliveredAt: null };
    const release: ProjectRelease = {
      number,
      channel: req.channel,
      createdAt: now.toISOString(),
      packages: req.packages,
      reason: clip(req.reason),
      source: req.source,
      key: req.key,
      deliveries,
    };
    this.state.releases.push(release);
    // The newest releases stay, by count and by bytes, so the ledger always fits a continue-as-new payload.
    const kept = Math.min(MAX_RELEASES_KEPT, newestWithin(this.state.releases, MAX_LEDGER_RELEASE_BYTES));
    if (this.state.releases.length > kept) this.state.releases.splice(0, this.state.releases.length - kept);
    this.state.keys[req.key] = number;
    const keys = Object.entries(this.state.keys);
    const keptKeys = Math.min(MAX_KEYS_KEPT, newestWithin(keys, MAX_LEDGER_KEY_BYTES));
    if (keys.length > keptKeys)
      for (const [k] of keys.slice(0, keys.length - keptKeys)) delete this.state.keys[k];
    this.state.revision += 1;
    return { outcome: 'created', release, reason: req.reason };
  }

  private nextNumber(req: CreateReleaseRequest, now: Date): string {
    const taken = new Set(this.state.releases.map((r) => r.number));
    const versioning = this.state.spec.versioning;
    if ('donorPackage' in versioning) {
      const donor = req.packages.find((p) => p.name === versioning.donorPackage) as ReleasedPackage;
      return uniqueReleaseNumber(donorReleaseNumber(donor.tag), (n) => taken.has(n));
    }
    const rendered = renderReleaseNumber(versioning.template, {
      lastInProject: highestNumber(taken),
      lastInChannel: highestNumber(
        this.state.releases.filter((r) => r.channel === req.channel).map((r) => r.number),
      ),
      channelName: req.channel,
      now,
    });
    return uniqueReleaseNumber(rendered, (n) => taken.has(n));
  }

  get(number: string): ProjectRelease | null {
    return this.state.releases.find((r) => r.number === number) ?? null;
  }

  /** Newest first, optionally for one channel, `limit` from an offset. */
  list(options: { channel?: string; limit: number; offset: number }): {
    releases: ProjectRelease[];
    total: number;
  } {
    const all = this.state.releases
      .filter((r) => options.channel === undefined || r.channel === options.channel)
      .reverse();
    return { releases: all.slice(options.offset, options.offset + options.limit), total: all.length };
  }

  /** Records a delivery attempt's outcome for one destination of a release. */
  recordDelivery(
    number: string,
    destination: string,
    update: { status: DeliveryStatus; attempts: number; error: string | null; at: string },
  ): void {
    const release = this.get(number);
    const delivery = release?.deliveries[destination];
    if (!delivery) return;
    if (delivery.status === 'delivered') return; // a late report of an earlier attempt changes nothing
    delivery.status = update.status;
    delivery.attempts = Math.max(delivery.attempts, update.attempts);
    delivery.lastError = update.error === null ? null : clip(update.error);
    if (update.status === 'delivered') delivery.deliveredAt = update.at;
  }
}
