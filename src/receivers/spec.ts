/**
 * Receivers as they are configured: their types, what each verifies, and their OIDC settings. Apart from the
 * verification code (notifications.ts, oidc.ts), so the ledger's schema and store can name them without
 * depending on it.
 */
import { RECEIVER_TYPES, ReceiverType } from '../domain/receiver-types';
import { createPublicKey, KeyObject } from 'node:crypto';
import { z } from 'zod';
import { FeedIdSchema, SlugSchema } from '../domain/trigger-schema';
import { isLoopback } from '../feeds/feed';

/** Google's issuers for the ID tokens Pub/Sub push attaches. */
export const GOOGLE_ISSUERS = ['https://accounts.google.com', 'accounts.google.com'];

const Base64Url = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[A-Za-z0-9_-]+$/, 'base64url');

/** One RSA signing key, as a JWKS (`https://www.googleapis.com/oauth2/v3/certs`) lists it. */
const JwkSchema = z
  .object({
    kty: z.literal('RSA'),
    kid: z.string().min(1).max(256).optional(),
    n: Base64Url(1400),
    e: Base64Url(16),
    alg: z.literal('RS256').optional(),
    use: z.literal('sig').optional(),
  })
  .loose()
  .superRefine((jwk, ctx) => {
    const key = publicKeyOf(jwk);
    const bits = key?.asymmetricKeyDetails?.modulusLength ?? 0;
    if (!key) ctx.addIssue({ code: 'custom', message: 'not a usable RSA public key' });
    else if (bits < 2048)
      ctx.addIssue({ code: 'custom', message: `an RSA key of ${bits} bits; at least 2048` });
  });

export const JwksSchema = z
  .object({ keys: z.array(JwkSchema).min(1).max(20) })
  .loose()
  .superRefine((jwks, ctx) => {
    const kids = jwks.keys.map((k) => k.kid);
    if (jwks.keys.length > 1 && kids.some((k) => !k))
      ctx.addIssue({ code: 'custom', path: ['keys'], message: 'with several keys, each needs a kid' });
    if (new Set(kids).size !== kids.length)
      ctx.addIssue({ code: 'custom', path: ['keys'], message: 'kids must be distinct' });
  });

export const OidcSchema = z
  .object({
    /** The audience the push subscription puts in its tokens (by default, the push endpoint's URL). */
    audience: z.string().min(1).max(2048),
    /** The service account the subscription signs as: the token's `email`, which Google must have verified. */
    serviceAccountEmail: z
      .string()
      .max(254)
      .regex(/^[^@\s]+@[^@\s]+$/, 'an email address')
      .optional(),
    issuers: z.array(z.string().min(1).max(256)).min(1).max(4).default(GOOGLE_ISSUERS),
    /** The signer's public keys: a JWKS document (`{ "keys": [...] }`), as the issuer's JWKS URL serves it. */
    jwks: JwksSchema.optional(),
    /** Or where the signer publishes them: https (http only on loopback), read through the outbound policy. */
    jwksUrl: z
      .url({ protocol: /^https?$/ })
      .max(2048)
      .refine((u) => u.startsWith('https:') || isLoopback(new URL(u).host), 'https (http only on loopback)')
      .optional(),
  })
  .strict()
  .superRefine((oidc, ctx) => {
    if ((oidc.jwks === undefined) === (oidc.jwksUrl === undefined))
      ctx.addIssue({ code: 'custom', path: ['jwks'], message: 'give the keys either as jwks or as jwksUrl' });
  });
export type OidcConfig = z.infer<typeof OidcSchema>;
export type Jwks = z.infer<typeof JwksSchema>;

export type Jwk = z.infer<typeof JwkSchema>;

/** The RSA public key a JWK describes, or null when it describes none. */
export function publicKeyOf(jwk: Jwk): KeyObject | null {
  try {
    return createPublicKey({ key: { kty: 'RSA', n: jwk.n, e: jwk.e }, format: 'jwk' });
  } catch {
    return null;
  }
}

export { RECEIVER_TYPES };
export type { ReceiverType };

/** How each type is verified beyond its unguessable URL, and whether it needs a secret for it. */
export const RECEIVER_VERIFICATION: Readonly<
  Record<ReceiverType, { secret: 'required' | 'none'; how: string }>
> = {
  distribution: {
    secret: 'required',
    how: 'the Authorization header the registry sends (its endpoint headers)',
  },
  dockerhub: { secret: 'none', how: 'the URL token only (Docker Hub cannot sign or add headers)' },
  github: { secret: 'required', how: 'X-Hub-Signature-256: HMAC-SHA256 of the raw body' },
  harbor: { secret: 'required', how: "the Authorization header (the webhook's Auth Header)" },
  quay: { secret: 'none', how: 'the URL token only (Quay cannot sign or add headers)' },
  gar: {
    secret: 'none',
    how: "the URL token, and the push's OIDC token (signature, audience, issuer, expiry) when oidc is configured",
  },
  ecr: { secret: 'required', how: "the API destination's API key header (x-api-key)" },
  'generic-hmac': { secret: 'required', how: 'X-Signature-256: sha256=HMAC-SHA256 of the raw body' },
};

export const ReceiverSpecSchema = z
  .object({
    name: SlugSchema,
    type: z.enum(RECEIVER_TYPES),
    /** A name from the configuration's `receiverSecrets`: the value never leaves the service's configuration. */
    secret: z.object({ secret: SlugSchema }).strict().optional(),
    /** The feed whose packages the notifications name; otherwise the registry host in the payload. */
    feed: FeedIdSchema.optional(),
    /** gar: the OIDC token Pub/Sub push attaches, checked against these public keys. */
    oidc: OidcSchema.optional(),
  })
  .strict()
  .superRefine((spec, ctx) => {
    if (spec.oidc && spec.type !== 'gar')
      ctx.addIssue({
        code: 'custom',
        path: ['oidc'],
        message: `a ${spec.type} receiver cannot verify an OIDC token (only gar: Pub/Sub push)`,
      });
    const needs = RECEIVER_VERIFICATION[spec.type].secret;
    if (needs === 'required' && !spec.secret)
      ctx.addIssue({
        code: 'custom',
        path: ['secret'],
        message: `a ${spec.type} receiver verifies ${RECEIVER_VERIFICATION[spec.type].how}: name its secret`,
      });
    if (needs === 'none' && spec.secret)
      ctx.addIssue({
        code: 'custom',
        path: ['secret'],
        message: `a ${spec.type} receiver cannot verify a secret: ${RECEIVER_VERIFICATION[spec.type].how}`,
      });
  });
export type ReceiverSpec = z.infer<typeof ReceiverSpecSchema>;

/** A receiver defined in the configuration file, with the token of its URL. */
export interface ConfiguredReceiver {
  readonly spec: ReceiverSpec;
  readonly token: string;
}
