import { z } from 'zod';
import { DOCKER_HUB, normaliseRegistry, normaliseRepository } from './reference';
import { DEFAULT_INTERVAL_SECONDS, MAX_INTERVAL_SECONDS, MIN_INTERVAL_SECONDS } from './interval';

/** Lower-case names safe in workflow IDs and URLs. */
export const SlugSchema = z
  .string()
  .min(1)
  .max(63)
  .regex(
    /^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$/,
    'use lower-case letters, digits, ".", "_" and "-", starting and ending with a letter or digit',
  );

/** A feed is a configured feed id or a registry host (`docker.io`, `ghcr.io`, `127.0.0.1:5000`). */
export const FeedIdSchema = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?(:\d{1,5})?$/, 'a feed id or a registry host[:port]');

/** A repository path in a registry (OCI distribution name grammar, lower case). */
export const RepositorySchema = z
  .string()
  .min(1)
  .max(255)
  .regex(
    /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/,
    'a repository path such as "library/nginx"',
  );

/** A named use of a package: `web` = `docker.io` + `library/nginx`. */
export const PackageRefSchema = z
  .object({
    name: SlugSchema,
    feed: FeedIdSchema,
    package: RepositorySchema,
  })
  .strict()
  // Docker's normalisation: index.docker.io is docker.io, and `nginx` there is `library/nginx`.
  .transform((ref) => {
    const feed = normaliseRegistry(ref.feed) === DOCKER_HUB ? DOCKER_HUB : ref.feed;
    return { ...ref, feed, package: normaliseRepository(feed, ref.package) };
  });
export type PackageRef = z.infer<typeof PackageRefSchema>;

/** A trigger watches some package references of a project for one channel. */
/** A trigger's description: free text, one paragraph. */
export const TriggerDescriptionSchema = z.string().max(1000);

export const TriggerSpecSchema = z
  .object({
    project: SlugSchema,
    name: SlugSchema,
    channel: SlugSchema.default('default'),
    /** What the trigger is for, for the people who read it (console, API); never interpreted. */
    description: TriggerDescriptionSchema.optional(),
    /** The package references whose new versions start a release; all of the project's when left out. */
    watch: z.array(SlugSchema).min(1).max(50).optional(),
    intervalSeconds: z
      .number()
      .int()
      .min(MIN_INTERVAL_SECONDS)
      .max(MAX_INTERVAL_SECONDS)
      .default(DEFAULT_INTERVAL_SECONDS),
  })
  .strict()
  .superRefine((spec, ctx) => {
    const seen = new Set<string>();
    spec.watch?.forEach((name, i) => {
      if (seen.has(name))
        ctx.addIssue({ code: 'custom', path: ['watch', i], message: `"${name}" is listed twice` });
      seen.add(name);
    });
  });
export type TriggerSpec = z.infer<typeof TriggerSpecSchema>;
export type TriggerSpecInput = z.input<typeof TriggerSpecSchema>;
