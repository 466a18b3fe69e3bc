import { z } from 'zod';
import { MAX_NOTES_TEMPLATE_LENGTH, NotesTemplateError } from './notes-template';
import { checkReleaseNotesTemplate } from './release-notes';
import { RetentionPolicySchema } from './retention';
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
import {
  MAX_TENANTS,
  TenantConnection,
  TenantConnectionSchema,
  TenantedDeployments,
  TenantedDeploymentsSchema,
  TenantNameSchema,
} from './tenant';

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

/** A webhook as an environment's deployment target: the release and the environment, POSTed. */
export const WebhookTargetSchema = WebhookDestinationSchema.omit({ order: true });

/**
 * Octopus Deploy as a target: the release is created there (once) and deployed to `environmentId`; a
 * tenant's deployment goes to the Octopus tenant of the same name, or the one `tenants` maps it to.
 */
export const OctopusTargetSchema = OctopusDestinationSchema.omit({ order: true }).extend({
  environmentId: z.string().regex(/^Environments-\d+$/, 'an Octopus environment id such as Environments-1'),
  /** Our tenant → Octopus's tenant id, for Octopus tenants whose names are not our slugs ("ACME Corp."). */
  tenants: z
    .record(TenantNameSchema, z.string().regex(/^Tenants-\d+$/, 'an Octopus tenant id such as Tenants-1'))
    .refine((m) => Object.keys(m).length <= MAX_TENANTS, `at most ${MAX_TENANTS} tenants`)
    .optional(),
});

/** A path with its placeholders filled by a letter: what it looks like whatever the names put in. */
function withoutPlaceholders(path: string): string {
  return path.replaceAll('{environment}', 'e').replaceAll('{tenant}', 't');
}

/**
 * A relative path inside the repository: no leading "/", no "..", and `.git` in no part and in no case
 * (`./.git/HEAD`, `a/.GIT/x`, `.git.`): Git's own files are never targets.
 */
export function insideRepository(path: string): boolean {
  return (
    !path.startsWith('/') &&
    !path.split('/').includes('..') &&
    !path.split('/').some((part) => /^\.git[. ]*$/i.test(part))
  );
}

/** Where in a file the version goes: a Kustomize image entry, a Helm values key, or any YAML path. */
export const GitFileSchema = z
  .object({
    /** `{environment}` and `{tenant}` are replaced (`overlays/{environment}/{tenant}/kustomization.yaml`). */
    path: z
      .string()
      .min(1)
      .max(512)
      .refine(
        (p) => /^[A-Za-z0-9._/-]+$/.test(withoutPlaceholders(p)),
        'a relative path of letters, digits, ".", "_", "-" and "/" (and {environment}, {tenant})',
      )
      .refine((p) => insideRepository(withoutPlaceholders(p)), {
        message: 'a path inside the repository (no leading "/", no "..", not under .git)',
      }),
    /** `kustomize`: the `images:` entry named like the package's image; `yaml`: the value at `field`. */
    format: z.enum(['kustomize', 'yaml']),
    /** The project's package whose version is written. */
    package: SlugSchema,
    /** For `yaml`: a dotted path such as `image.tag` (a Helm values file) or `spec.template.image`. */
    field: z
      .string()
      .max(256)
      .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'a dotted path such as image.tag')
      .optional(),
    /** For `kustomize`: the `images:` entry's `name` (the image as the manifests name it); the package's repository by default. */
    image: z
      .string()
      .min(1)
      .max(512)
      .regex(/^[A-Za-z0-9._:/-]+$/, 'an image name such as registry.example.com/shop/web')
      .optional(),
    /** Write the tag (default), or the digest (kustomize's `digest`, or the field's value). */
    use: z.enum(['tag', 'digest']).default('tag'),
  })
  .strict()
  .refine((f) => f.format !== 'yaml' || f.field !== undefined, {
    message: 'a yaml file needs the field to write, such as image.tag',
    path: ['field'],
  });

/** GitOps write-back: the release's versions committed into files of a Git repository, then pushed. */
const SshUrl = z
  .string()
  .max(2048)
  .regex(
    /^ssh:\/\/[A-Za-z0-9_][A-Za-z0-9._-]*@[A-Za-z0-9][A-Za-z0-9.-]*(:\d{1,5})?\/[A-Za-z0-9._/~-]+$/,
    'an ssh:// URL such as ssh://git@git.example.com/team/deploy.git',
  );

export const GitTargetSchema = z
  .object({
    name: SlugSchema,
    type: z.literal('git'),
    /**
     * The repository: `https://…` (credentials from `credentials`, never from the URL) or
     * `ssh://user@host[:port]/path` (a key from `sshKey`, the host's key pinned in `knownHosts`).
     */
    url: z.union([HttpUrl, SshUrl]),
    branch: z
      .string()
      .min(1)
      .max(200)
      .regex(/^[A-Za-z0-9._/-]+$/, 'a branch name of letters, digits, ".", "_", "-" and "/"')
      .refine(
        (b) => !b.startsWith('-') && !b.includes('..') && !b.endsWith('.lock'),
        'not a valid branch name',
      )
      .default('main'),
    files: z.array(GitFileSchema).min(1).max(20),
    /** An HTTPS token (sent as Basic with user `x-access-token`), as a secret reference. */
    credentials: SecretUseSchema.optional(),
    /** For ssh:// URLs: the private key (OpenSSH format), as a secret reference. */
    sshKey: SecretUseSchema.optional(),
    /** For ssh:// URLs: the server's host key lines (`[host]:port ssh-ed25519 AAAA…`); no other key is accepted. */
    knownHosts: z
      .string()
      .min(1)
      .max(8192)
      .regex(/^[^\0]*$/, 'text without NUL bytes')
      .optional(),
    author: z
      .object({
        name: z
          .string()
          .min(1)
          .max(100)
          .regex(/^[^<>\p{Cc}]+$/u, 'no <, >, line breaks or control characters'),
        email: z
          .string()
          .min(3)
          .max(200)
          .regex(/^[^<>\s@\p{Cc}]+@[^<>\s@\p{Cc}]+$/u, 'an e-mail address'),
      })
      .strict()
      .default({ name: 'feed-triggers', email: 'feed-triggers@localhost' }),
    /** `{project}`, `{release}`, `{environment}`, `{tenant}` and `{packages}` are replaced. */
    message: z.string().min(1).max(1000).default('Deploy {project} {release} to {environment}\n\n{packages}'),
  })
  .strict()
  .superRefine((t, ctx) => {
    const ssh = t.url.startsWith('ssh://');
    if (ssh && (!t.sshKey || !t.knownHosts))
      ctx.addIssue({
        code: 'custom',
        path: [t.sshKey ? 'knownHosts' : 'sshKey'],
        message:
          'an ssh:// repository needs sshKey and knownHosts (the server key is pinned, never trusted on first use)',
      });
    if (ssh && t.credentials)
      ctx.addIssue({
        code: 'custom',
        path: ['credentials'],
        message: 'an ssh:// repository uses sshKey, not a token',
      });
    if (!ssh && (t.sshKey || t.knownHosts))
      ctx.addIssue({
        code: 'custom',
        path: [t.sshKey ? 'sshKey' : 'knownHosts'],
        message: 'only for ssh:// repositories',
      });
  });

export const TargetSchema = z.discriminatedUnion('type', [
  WebhookTargetSchema,
  OctopusTargetSchema,
  GitTargetSchema,
]);
export type Target = z.infer<typeof TargetSchema>;
export type GitTarget = z.infer<typeof GitTargetSchema>;

/** An environment (`dev`, `test`, `prod`): a deployment there sends the release to each of its targets. */
export const EnvironmentSchema = z
  .object({
    name: SlugSchema,
    targets: z.array(TargetSchema).max(10).default([]),
    /**
     * How long a deployment whose target is down keeps retrying. Without it: until it succeeds, a newer
     * release supersedes it or a person cancels it. A target's refusal (4xx, a bad file, a refused push)
     * fails it at once either way.
     */
    retry: z
      .object({
        deadlineMinutes: z
          .number()
          .int()
          .min(1)
          .max(7 * 24 * 60),
      })
      .strict()
      .optional(),
  })
  .strict();
export type Environment = z.infer<typeof EnvironmentSchema>;

/** One phase of a lifecycle (Octopus's semantics: a phase opens when the one before it is complete). */
export const PhaseSchema = z
  .object({
    name: SlugSchema,
    environments: z.array(SlugSchema).min(1).max(20),
    /** Deploy to every environment of the phase as soon as the release enters it (and any approval is given). */
    automatic: z.boolean().default(false),
    /** How many of the phase's environments must succeed before the next phase opens (all by default). */
    minimumEnvironments: z.number().int().min(1).max(20).optional(),
    /** A named caller must approve the release before anything deploys in this phase. */
    approval: z.boolean().default(false),
  })
  .strict();
export type Phase = z.infer<typeof PhaseSchema>;

export const LifecycleSchema = z
  .object({
    name: SlugSchema,
    phases: z.array(PhaseSchema).min(1).max(20),
  })
  .strict();
export type Lifecycle = z.infer<typeof LifecycleSchema>;

export const ChannelSchema = z
  .object({
    name: SlugSchema,
    rules: z.array(VersionRuleSchema).max(50).default([]),
    /** The lifecycle this channel's releases follow (the project's `lifecycle` otherwise). */
    lifecycle: SlugSchema.optional(),
    /** How many of this channel's releases are kept (the project's `retention` otherwise). */
    retention: RetentionPolicySchema.optional(),
    /** A template each release's notes are rendered from when it is recorded (docs/release-notes.md). */
    releaseNotes: z.string().max(MAX_NOTES_TEMPLATE_LENGTH).optional(),
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
  ...path: (string | number)[]
): void {
  const seen = new Set<string>();
  items.forEach((item, i) => {
    if (seen.has(item.name))
      ctx.addIssue({
        code: 'custom',
        path: [...path, i, 'name'],
        message: `${what} "${item.name}" is defined twice`,
      });
    seen.add(item.name);
  });
}

/** Lifecycles name existing environments, each once; channels and the project name existing lifecycles. */
function checkLifecycles(
  spec: {
    environments: Environment[];
    lifecycles: Lifecycle[];
    lifecycle?: string;
    channels: Channel[];
  },
  packages: ReadonlySet<string>,
  ctx: z.RefinementCtx,
): void {
  checkUnique(spec.environments, 'environment', ctx, 'environments');
  checkUnique(spec.lifecycles, 'lifecycle', ctx, 'lifecycles');
  const environments = new Set(spec.environments.map((e) => e.name));
  spec.environments.forEach((env, i) => {
    checkUnique(env.targets, 'target', ctx, 'environments', i, 'targets');
    env.targets.forEach((t, j) => {
      if (t.type === 'git')
        t.files.forEach((f, k) => {
          if (!packages.has(f.package))
            ctx.addIssue({
              code: 'custom',
              path: ['environments', i, 'targets', j, 'files', k, 'package'],
              message: `no package named "${f.package}"`,
            });
        });
    });
  });
  spec.lifecycles.forEach((lifecycle, i) => {
    checkUnique(lifecycle.phases, 'phase', ctx, 'lifecycles', i, 'phases');
    const seen = new Set<string>();
    lifecycle.phases.forEach((phase, j) => {
      phase.environments.forEach((env, k) => {
        const path = ['lifecycles', i, 'phases', j, 'environments', k];
        if (!environments.has(env))
          ctx.addIssue({ code: 'custom', path, message: `no environment named "${env}"` });
        else if (seen.has(env))
          ctx.addIssue({
            code: 'custom',
            path,
            message: `environment "${env}" is already in a phase of this lifecycle`,
          });
        seen.add(env);
      });
      if (phase.minimumEnvironments !== undefined && phase.minimumEnvironments > phase.environments.length)
        ctx.addIssue({
          code: 'custom',
          path: ['lifecycles', i, 'phases', j, 'minimumEnvironments'],
          message: `the phase has ${phase.environments.length} environment(s); it cannot need ${phase.minimumEnvironments}`,
        });
    });
  });
  const lifecycles = new Set(spec.lifecycles.map((l) => l.name));
  if (spec.lifecycle !== undefined && !lifecycles.has(spec.lifecycle))
    ctx.addIssue({ code: 'custom', path: ['lifecycle'], message: `no lifecycle named "${spec.lifecycle}"` });
  spec.channels.forEach((channel, i) => {
    if (channel.lifecycle !== undefined && !lifecycles.has(channel.lifecycle))
      ctx.addIssue({
        code: 'custom',
        path: ['channels', i, 'lifecycle'],
        message: `no lifecycle named "${channel.lifecycle}"`,
      });
  });
}

/** Connections name existing environments, each tenant once; only a tenanted project connects tenants. */
function checkTenants(
  spec: {
    environments: Environment[];
    tenantedDeployments?: TenantedDeployments;
    tenants?: TenantConnection[];
  },
  ctx: z.RefinementCtx,
): void {
  const connections = spec.tenants ?? [];
  if (connections.length > 0 && (spec.tenantedDeployments ?? 'untenanted') === 'untenanted')
    ctx.addIssue({
      code: 'custom',
      path: ['tenantedDeployments'],
      message: 'a project that connects tenants deploys "tenanted" or "tenantedOrUntenanted"',
    });
  const environments = new Set(spec.environments.map((e) => e.name));
  const seen = new Set<string>();
  connections.forEach((c, i) => {
    if (seen.has(c.tenant))
      ctx.addIssue({
        code: 'custom',
        path: ['tenants', i, 'tenant'],
        message: `tenant "${c.tenant}" is connected twice`,
      });
    seen.add(c.tenant);
    c.environments.forEach((env, j) => {
      if (!environments.has(env))
        ctx.addIssue({
          code: 'custom',
          path: ['tenants', i, 'environments', j],
          message: `no environment named "${env}"`,
        });
    });
  });
}

/** Whether deployments of the project go to tenants (only, or beside the untenanted ones). */
export function tenantedMode(spec: Pick<ProjectSpec, 'tenantedDeployments'>): TenantedDeployments {
  return spec.tenantedDeployments ?? 'untenanted';
}

/** The lifecycle a channel's releases follow, if any. */
export function lifecycleOf(spec: ProjectSpec, channel: string): Lifecycle | null {
  const name = spec.channels.find((c) => c.name === channel)?.lifecycle ?? spec.lifecycle;
  return (name !== undefined && spec.lifecycles.find((l) => l.name === name)) || null;
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
    environments: z.array(EnvironmentSchema).max(20).default([]),
    lifecycles: z.array(LifecycleSchema).max(20).default([]),
    /** The lifecycle of channels that name none; without one, releases are only recorded and delivered. */
    lifecycle: SlugSchema.optional(),
    /** How many releases each channel keeps (a channel's own `retention` wins); absent: all of them. */
    retention: RetentionPolicySchema.optional(),
    /** Deploy without tenants (absent: the default), only to tenants, or both (docs/tenants.md). */
    tenantedDeployments: TenantedDeploymentsSchema.optional(),
    /** The tenants this project deploys to, each connected to some of its environments. */
    tenants: z.array(TenantConnectionSchema).max(MAX_TENANTS).optional(),
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
    spec.channels.forEach((channel, i) => {
      checkRules(channel.rules, names, ctx, ['channels', i, 'rules']);
      if (channel.releaseNotes === undefined) return;
      try {
        checkReleaseNotesTemplate(channel.releaseNotes);
      } catch (err) {
        if (!(err instanceof NotesTemplateError)) throw err;
        ctx.addIssue({ code: 'custom', path: ['channels', i, 'releaseNotes'], message: err.message });
      }
    });
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
    checkLifecycles(spec, names, ctx);
    checkTenants(spec, ctx);
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

export { TERMINAL_DELIVERY } from './delivery';
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
  /** The registry notifications the trigger's evaluation answered (`webhook hub`), when one prompted it. */
  readonly notification?: string;
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
