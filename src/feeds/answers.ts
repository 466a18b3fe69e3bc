import { z } from 'zod';
import { FeedError } from './errors';

/**
 * What registries, token services and chart repositories answer, as zod schemas: the fields we use are
 * checked, the rest passes through. A malformed answer becomes a BAD_RESPONSE FeedError naming what was
 * wrong, never a crash or a silent `undefined`.
 */
export const TagPageSchema = z.object({
  // Registries answer `"tags": null` for a repository whose tags were all deleted.
  tags: z.array(z.string()).nullish(),
});

export const DigestSchema = z.string().regex(/^sha256:[0-9a-f]{64}$/);

export const ManifestSchema = z.object({
  mediaType: z.string().optional(),
  /** An image index / manifest list. */
  manifests: z
    .array(
      z.object({
        digest: z.string().optional(),
        platform: z.object({ os: z.string().optional(), architecture: z.string().optional() }).optional(),
      }),
    )
    .optional(),
  config: z.object({ digest: z.unknown() }).optional(),
});
export type ManifestBody = z.infer<typeof ManifestSchema>;

export const ImageConfigSchema = z.object({
  created: z.unknown().optional(),
  config: z.object({ Labels: z.record(z.string(), z.unknown()).nullish() }).nullish(),
});

export const TokenAnswerSchema = z
  .object({
    token: z.string().min(1).optional(),
    access_token: z.string().min(1).optional(),
    expires_in: z.number().optional(),
  })
  .refine((t) => t.token !== undefined || t.access_token !== undefined, 'no token or access_token');

export const AcrExchangeSchema = z.object({ refresh_token: z.string().min(1) });

export const RegistryErrorSchema = z.object({
  errors: z.array(z.object({ code: z.string().optional(), message: z.string() })).min(1),
});

export const HelmIndexSchema = z.object({
  entries: z.record(z.string(), z.unknown()),
});

export const ChartEntrySchema = z.object({
  version: z.string(),
  digest: z.string().optional(),
  urls: z.array(z.unknown()).optional(),
});

/** Parses a JSON body against a schema; BAD_RESPONSE naming `what` and the first problem otherwise. */
export function parseAnswer<S extends z.ZodType>(body: Buffer | string, schema: S, what: string): z.infer<S> {
  let json: unknown;
  try {
    json = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch {
    throw new FeedError('BAD_RESPONSE', `${what} is not JSON`);
  }
  return checkAnswer(json, schema, what);
}

/** Checks a parsed value against a schema; BAD_RESPONSE naming `what` and the first problem otherwise. */
export function checkAnswer<S extends z.ZodType>(value: unknown, schema: S, what: string): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const at = issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
  throw new FeedError('BAD_RESPONSE', `${what} is malformed${at}: ${issue.message}`);
}
