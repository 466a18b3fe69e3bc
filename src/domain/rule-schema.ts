import { z } from 'zod';
import { ORDER_NAMES, OrderName } from './order';
import { parseRange, RangeSyntaxError } from './range';
import { compileUserRegex } from './user-regex';
import { missingGroups } from './extract-template';

/** A PEM public key is a few hundred bytes (RSA 4096: about 800); anything far larger is not one. */
export const MAX_PEM_LENGTH = 8192;
/** The shape of a PEM public key; the API parses the key itself (src/supply-chain/keys.ts). */
const PEM_PUBLIC_KEY = /^\s*-----BEGIN PUBLIC KEY-----[A-Za-z0-9+/=\s]+-----END PUBLIC KEY-----\s*$/;
/** `os/architecture` or `os/architecture/variant`, as Docker and OCI write platforms (`linux/arm64/v8`). */
export const PLATFORM = /^[a-z0-9]{1,32}\/[a-z0-9_]{1,32}(\/[a-z0-9]{1,16})?$/;

/** A key's name as history and releases show it (`release-2026`). */
const KeyNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a key name is letters, digits, `.`, `_` and `-`, at most 64');

/** A PEM public key written in the rule: public keys are not secrets, so they may sit in the project. */
const PemKeySchema = z
  .string()
  .max(MAX_PEM_LENGTH)
  .regex(PEM_PUBLIC_KEY, 'not a PEM public key (-----BEGIN PUBLIC KEY----- ... -----END PUBLIC KEY-----)');

/**
 * A public key the worker reads from its configuration (`signatureKeys.<name>`, an environment variable or a
 * file): rotated by the operator without editing projects. Only the name enters the project and history.
 */
const SecretKeySchema = z
  .object({
    secret: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a secret name is letters, digits, `.`, `_` and `-`'),
  })
  .strict();

/** A signature key as a rule names it: its PEM, or the name of a configured one. */
export type RuleKey = z.infer<typeof PemKeySchema> | z.infer<typeof SecretKeySchema>;

const userRegex = (what: string) =>
  z
    .string()
    .max(512)
    .superRefine((source, ctx) => {
      try {
        compileUserRegex(source, what);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
      }
    });

/**
 * A field a rule matches (a builder id, a repository, a signer identity): a string is exact (in `ref`, `*` stands for any characters, as git forbids
 * `*` in ref names: `refs/tags/v*`), `{ regex }` an RE2 regex that must match the whole value.
 */
const FieldMatchSchema = (field: string) =>
  z.union([z.string().min(1).max(512), z.object({ regex: userRegex(`${field} regex`) }).strict()]);
export type FieldMatch = string | { regex: string };

/** A channel's version rule. Every field is optional; an empty rule accepts any version. */
export const VersionRuleSchema = z
  .object({
    /** Package references of the project this rule applies to (channel rules only). */
    packages: z.array(z.string().min(1).max(100)).max(100).optional(),
    /** NuGet interval (`[1.0,2.0)`) or npm range (`^1.2`); applies to the ordered value. */
    range: z
      .string()
      .max(256)
      .superRefine((text, ctx) => {
        try {
          parseRange(text);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as RangeSyntaxError).message });
        }
      })
      .optional(),
    /** Octopus pre-release tag regex, tested against `label` or `label+metadata`: `^$` is stable only. */
    tag: userRegex('pre-release tag regex').optional(),
    /** Tags must match this regex; named groups feed `extract`. */
    filter: userRegex('filter regex').optional(),
    /** Template for the value to order, from the filter's groups: `$ts`, `${ts}` or `$1`. */
    extract: z.string().min(1).max(256).optional(),
    order: z.enum(ORDER_NAMES as [OrderName, ...OrderName[]]).default('semver'),
    /** Tags matching any of these are dropped, in addition to the defaults unless those are turned off. */
    exclude: z.array(userRegex('exclusion regex')).max(50).default([]),
    defaultExcludes: z.boolean().default(true),
    /** Follow the digest behind one fixed (mutable) tag: a new digest counts as a later version. */
    trackDigest: z.boolean().default(false),
    /**
     * Image config labels that must match (`org.opencontainers.image.source: ^https://github.com/acme/`).
     * Only these rules make the worker read image configs, and only for the best few candidates.
     */
    labels: z.record(z.string().min(1).max(256), userRegex('label regex')).optional(),
    /**
     * Soak time (Renovate's minimumReleaseAge): an image must have been created at least this many minutes
     * ago, by its config's `created`, before it can be released; a newer one waits for a later poll.
     */
    minAgeMinutes: z.number().int().min(0).max(525_600).default(0),
    /**
     * Cosign signatures an image must carry (docs/supply-chain.md): by any of these PEM public keys (ECDSA
     * P-256, Ed25519, RSA), named as history and releases show them. Unsigned versions are not candidates.
     */
    signatures: z
      .object({
        keys: z
          .record(KeyNameSchema, z.union([PemKeySchema, SecretKeySchema]))
          .refine((keys) => Object.keys(keys).length >= 1, 'name at least one key')
          .refine((keys) => Object.keys(keys).length <= 10, 'at most 10 keys')
          .optional(),
        /**
         * Keyless signers: a certificate chaining to one of the worker's trusted roots (`trustedRoots`), whose
         * identity (its email or URI subject alternative name) and OIDC issuer match.
         */
        keyless: z
          .array(
            z
              .object({
                trustedRoot: z
                  .string()
                  .regex(
                    /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
                    'a trusted root name is letters, digits, `.`, `_` and `-`',
                  ),
                identity: FieldMatchSchema('identity'),
                issuer: FieldMatchSchema('issuer'),
              })
              .strict(),
          )
          .min(1)
          .max(10)
          .optional(),
      })
      .strict()
      .refine((s) => s.keys !== undefined || s.keyless !== undefined, 'name keys or keyless signers')
      .optional(),
    /**
     * An in-toto SLSA v1 provenance attestation the image must carry (docs/supply-chain.md), signed by one of
     * the rule's signature keys, whose builder and source repository (and optionally ref) match these.
     */
    provenance: z
      .object({
        builderId: FieldMatchSchema('builderId'),
        sourceRepository: FieldMatchSchema('sourceRepository'),
        ref: FieldMatchSchema('ref').optional(),
      })
      .strict()
      .optional(),
    /** Platforms an image must have (`linux/amd64`): an index must hold all, a single image be one of them. */
    platforms: z
      .array(z.string().regex(PLATFORM, 'a platform is os/architecture or os/architecture/variant'))
      .min(1)
      .max(16)
      .optional(),
  })
  .strict()
  .superRefine((rule, ctx) => {
    if (rule.extract !== undefined && rule.filter === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['extract'],
        message: 'extract needs a filter regex to take groups from',
      });
    }
    if (rule.provenance !== undefined && rule.signatures === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['provenance'],
        message: 'provenance needs signatures.keys: the attestation must be signed by one of them',
      });
    }
    if (rule.order !== 'semver' && rule.range !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['range'],
        message: `a version range needs order semver, not ${rule.order}`,
      });
    }
    if (rule.order !== 'semver' && rule.tag !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['tag'],
        message: `a pre-release tag regex needs order semver, not ${rule.order}`,
      });
    }
    if (rule.extract !== undefined && rule.filter !== undefined) {
      const missing = missingGroups(rule.filter, rule.extract);
      if (missing.length > 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['extract'],
          message: `extract names groups the filter lacks: ${missing.join(', ')}`,
        });
      }
    }
  });

export type VersionRule = z.infer<typeof VersionRuleSchema>;
export type VersionRuleInput = z.input<typeof VersionRuleSchema>;
