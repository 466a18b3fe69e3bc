import { Level, LOG_LEVELS } from '../observability/log';
import { ConfiguredReceiver, ReceiverSpecSchema } from '../receivers/spec';
import { closeSync, constants, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import path from 'node:path';
import { parseYamlText } from '../domain/yaml-depth';
import { z } from 'zod';
import { FeedIdSchema } from '../domain/trigger-schema';
import { NamedSecret } from './secrets';
import { parsePublicKey } from '../supply-chain/keys';
import { parseTrustedRoot, TrustedRootMaterial } from '../supply-chain/keyless';
import { checkOutboundUrl, OutboundPolicy } from '../net/outbound';
import {
  DEFAULT_MAX_INDEX_BYTES,
  DEFAULT_MAX_PAGES,
  DEFAULT_MAX_TAGS,
  DEFAULT_PAGE_SIZE,
  ECR_MAX_PAGE_SIZE,
  Feed,
  FeedAuth,
  implicitFeed,
  isLoopback,
  pageSizeFor,
  registryApiHost,
} from '../feeds/feed';

/** The worker's memory budget when FEED_TRIGGERS_WORKER_MEMORY is not set. */
export const DEFAULT_WORKER_MEMORY_MIB = 2048;

/**
 * The one home of configuration: environment variables for the process, and an optional YAML file
 * (FEED_TRIGGERS_CONFIG) for feeds and their credentials. Read once at start, validated, documented in
 * docs/configuration.md. Secret values are never written in the file itself: they are references to an
 * environment variable or a file.
 */
export class ConfigError extends Error {
  readonly code = 'INVALID_CONFIG';
}

/** A URL prefix a secret may be sent to: `https://ci.example.com/hooks/`. */
const SendToSchema = z
  .string()
  .max(2048)
  .refine((u) => {
    try {
      const url = new URL(u);
      return (
        (url.protocol === 'https:' || url.protocol === 'http:') && url.username === '' && url.search === ''
      );
    } catch {
      return false;
    }
  }, 'a URL prefix such as https://ci.example.com/hooks/');

const SecretRefSchema = z.union([
  z.object({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name') }).strict(),
  z.object({ file: z.string().min(1) }).strict(),
]);
export type SecretRef = z.infer<typeof SecretRefSchema>;

const NamedSecretSchema = z.union([
  z
    .object({
      env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name'),
      sendTo: z.array(SendToSchema).min(1, 'list the URL prefixes this secret may be sent to').max(20),
    })
    .strict(),
  z
    .object({
      file: z.string().min(1),
      sendTo: z.array(SendToSchema).min(1, 'list the URL prefixes this secret may be sent to').max(20),
    })
    .strict(),
]);

const AuthConfigSchema = z.union([
  z
    .object({ basic: z.object({ username: z.string().min(1).max(256), password: SecretRefSchema }).strict() })
    .strict(),
  z.object({ refreshToken: SecretRefSchema }).strict(),
  z
    .object({
      acr: z.object({ accessToken: SecretRefSchema, tenant: z.string().min(1).max(128).optional() }).strict(),
    })
    .strict(),
  z
    .object({
      ecr: z
        .object({
          region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region such as us-east-1'),
          accessKeyId: SecretRefSchema.optional(),
          secretAccessKey: SecretRefSchema.optional(),
          endpoint: z.string().url().optional(),
        })
        .strict()
        .refine((e) => (e.accessKeyId === undefined) === (e.secretAccessKey === undefined), {
          message:
            'accessKeyId and secretAccessKey go together (or leave both out for the AWS default chain)',
        }),
    })
    .strict(),
]);

const HttpUrlSchema = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//.test(u), 'must start with http:// or https://')
  .transform((u) => u.replace(/\/+$/, ''));

const HostnameSchema = z
  .string()
  .max(253)
  .regex(/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/, 'a host name such as auth.example.com');

const FeedConfigSchema = z.discriminatedUnion('type', [
  z
    .object({
      id: FeedIdSchema,
      type: z.literal('oci'),
      url: HttpUrlSchema,
      auth: AuthConfigSchema.optional(),
      pageSize: z.number().int().min(1).max(10_000).default(DEFAULT_PAGE_SIZE),
      maxTags: z.number().int().min(1).max(10_000_000).default(DEFAULT_MAX_TAGS),
      maxPages: z.number().int().min(1).max(100_000).default(DEFAULT_MAX_PAGES),
      /** Token realm hosts outside the registry's own domain that may receive its credentials. */
      tokenRealmHosts: z.array(HostnameSchema).max(20).default([]),
    })
    .strict(),
  z
    .object({
      id: FeedIdSchema,
      type: z.literal('helm'),
      /** `https://charts.example.com` (index.yaml) or `oci://registry.example.com/charts`. */
      url: z
        .string()
        .min(1)
        .max(2048)
        .refine((u) => /^(https?|oci):\/\/[^/]+/.test(u), 'must start with http://, https:// or oci://')
        .transform((u) => u.replace(/\/+$/, '')),
      auth: AuthConfigSchema.optional(),
      pageSize: z.number().int().min(1).max(10_000).default(DEFAULT_PAGE_SIZE),
      maxTags: z.number().int().min(1).max(10_000_000).default(DEFAULT_MAX_TAGS),
      maxPages: z.number().int().min(1).max(100_000).default(DEFAULT_MAX_PAGES),
      tokenRealmHosts: z.array(HostnameSchema).max(20).default([]),
      maxIndexBytes: z
        .number()
        .int()
        .min(1024)
        .max(1024 * 1024 * 1024)
        .default(DEFAULT_MAX_INDEX_BYTES),
    })
    .strict(),
]);
type FeedConfig = z.infer<typeof FeedConfigSchema>;

const FileSchema = z
  .object({
    feeds: z
      .array(
        z.preprocess(
          (f) => (f && typeof f === 'object' && !('type' in f) ? { ...f, type: 'oci' } : f),
          FeedConfigSchema,
        ),
      )
      .max(1000)
      .default([]),
    /** How long a worker reuses a tag listing for other triggers on the same package. */
    pollCacheSeconds: z.number().min(0).max(3600).default(30),
    /**
     * Which addresses the worker may reach besides public ones. Link-local and metadata addresses never.
     * Default: both allowed when the API listens on loopback (a developer's machine), else both refused.
     */
    outbound: z
      .object({ allowPrivateNetworks: z.boolean().optional(), allowLoopback: z.boolean().optional() })
      .strict()
      .default({}),
    /** Bearer token that registry notifications to /webhooks/registry must carry. */
    webhookToken: SecretRefSchema.optional(),
    /**
     * Named secrets that project destinations refer to (`apiKey: { secret: octopus }`), each bound to the
     * URL prefixes it may be sent to.
     */
    secrets: z.record(FeedIdSchema, NamedSecretSchema).default({}),
    /**
     * Named secrets webhook receivers verify senders with (`secret: { secret: github-hook }`): they are
     * only ever compared with what arrives, never sent.
     */
    receiverSecrets: z.record(FeedIdSchema, SecretRefSchema).default({}),
    /**
     * Named PEM public keys that signature rules refer to (`keys: { release: { secret: release-key } }`): read
     * from the environment or a file, so an operator rotates them without editing projects. Never sent.
     */
    signatureKeys: z.record(FeedIdSchema, SecretRefSchema).default({}),
    /**
     * Named Sigstore trusted roots (`trusted_root.json`, a file or an environment variable) that keyless
     * signature rules refer to (`keyless: [{ trustedRoot: corp, identity, issuer }]`): the operator's own
     * Fulcio or CA, since Sigstore's public roots cannot be fetched on every network.
     */
    trustedRoots: z.record(FeedIdSchema, SecretRefSchema).default({}),
    /**
     * Where Docker Hub receivers answer a push's `callback_url` instead of https://registry.hub.docker.com
     * (a stand-in for tests or a mirror): an origin, `http(s)://host[:port]`. Callbacks still go only to
     * Docker Hub's path shape, `/u/<namespace>/<repository>/hook/<id>/`.
     */
    dockerHubCallbackOrigin: z
      .url({ protocol: /^https?$/ })
      .max(2048)
      .refine(
        (u) => URL.parse(u)?.origin === u.replace(/\/$/, ''),
        'an origin: http(s)://host[:port], no path',
      )
      .optional(),
    /**
     * Receivers defined here rather than through the API: their URL token comes from a secret reference
     * (at least 32 characters), so the URL is known before the service starts.
     */
    receivers: z
      .array(
        z
          .object({
            name: z.string(),
            type: z.string(),
            secret: z.unknown().optional(),
            feed: z.string().optional(),
            oidc: z.unknown().optional(),
            urlToken: SecretRefSchema,
          })
          .strict(),
      )
      .max(100)
      .default([]),
  })
  .strict();

/**
 * A whole number from the environment: plain decimal digits only. Number() would also take `0x1F90`, `1e3`,
 * ` 80 ` and `8080.0`, and a blank value as 0; a typo must be an error naming the variable, not a port.
 */
const decimal = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,9}$/, 'plain decimal digits (such as 8080)')
    .transform(Number)
    .pipe(z.number().min(min).max(max));

const PortSchema = decimal(0, 65535);

const EnvSchema = z.object({
  TEMPORAL_ADDRESS: z.string().min(1).optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  TEMPORAL_TLS: z.enum(['true', 'false']).optional(),
  TEMPORAL_PORT: PortSchema.default(7233),
  TEMPORAL_UI_PORT: PortSchema.optional(),
  TEMPORAL_METRICS_PORT: PortSchema.optional(),
  TEMPORAL_HTTP_PORT: PortSchema.optional(),
  TEMPORAL_CLI_PATH: z.string().min(1).optional(),
  FEED_TRIGGERS_TASK_QUEUE: z.string().min(1).default('feed-triggers'),
  /** trace, debug, info (default), warn, error or fatal. */
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  FEED_TRIGGERS_API_HOST: z.string().min(1).default('127.0.0.1'),
  FEED_TRIGGERS_API_PORT: PortSchema.default(8080),
  /** Seconds a connection may stay silent while none of its requests is being answered. */
  FEED_TRIGGERS_API_IDLE_SECONDS: decimal(1, 600).default(5),
  FEED_TRIGGERS_DATA_DIR: z.string().min(1).default('.data'),
  FEED_TRIGGERS_CONFIG: z.string().min(1).optional(),
  /** The worker's memory budget, its RSS with everything cached: `2048` (MiB), `768MiB`, `2GiB`. */
  FEED_TRIGGERS_WORKER_MEMORY: z
    .string()
    .regex(/^\d{1,7}(\s*(MiB|MB|M|GiB|GB|G))?$/i, 'a size such as 1024, 768MiB or 2GiB')
    .transform((v) => {
      const n = Number(/^\d+/.exec(v)![0]);
      return /g/i.test(v) ? n * 1024 : n;
    })
    .refine((mib) => mib >= 128 && mib <= 1024 * 1024, 'between 128MiB and 1TiB')
    .default(DEFAULT_WORKER_MEMORY_MIB),
  /**
   * Package watchers: how many share the watched packages; 0 runs none. On by default: with them 2,000 idle
   * triggers cost the Temporal server 6 % of a core instead of 29 % (docs/operations.md).
   */
  FEED_TRIGGERS_WATCHER_SHARDS: z.coerce.number().int().min(0).max(1024).default(32),
  /** `postgres://user:password@host:5432/db`: the ledger on a PostgreSQL server instead of the embedded one. */
  DATABASE_URL: z
    .string()
    .max(4096)
    .refine(
      (u) => /^postgres(ql)?:\/\/[^/]/.test(u),
      'a PostgreSQL URL such as postgres://user@host:5432/feed_triggers',
    )
    .optional(),
});

/** What `--help` of a role says about one variable it reads. */
interface EnvironmentDoc {
  readonly default: string;
  readonly meaning: string;
  /** Read only to run the embedded dev server (`serve` without TEMPORAL_ADDRESS). */
  readonly devServer?: true;
  /** Read by the roles that run a worker (`serve`, `worker`). */
  readonly worker?: true;
}

/**
 * Every variable the service reads, documented once: a variable of EnvSchema without a line here does not
 * compile. The roles' `--help` is printed from this table.
 */
export const ENVIRONMENT: Readonly<
  Record<keyof z.input<typeof EnvSchema> | 'FEED_TRIGGERS_ROLE', EnvironmentDoc>
> = {
  TEMPORAL_ADDRESS: {
    default: 'unset: embedded dev server',
    meaning: 'a Temporal server or Temporal Cloud endpoint',
  },
  TEMPORAL_NAMESPACE: { default: 'default', meaning: 'the Temporal namespace' },
  TEMPORAL_API_KEY: { default: 'unset', meaning: 'API key for TEMPORAL_ADDRESS (implies TLS)' },
  TEMPORAL_TLS: { default: 'false', meaning: 'true: TLS to TEMPORAL_ADDRESS' },
  TEMPORAL_PORT: { default: '7233', meaning: "the embedded dev server's gRPC port", devServer: true },
  TEMPORAL_HTTP_PORT: {
    default: 'TEMPORAL_PORT + 10 (7243)',
    meaning: "the embedded dev server's HTTP API port",
    devServer: true,
  },
  TEMPORAL_UI_PORT: {
    default: 'TEMPORAL_PORT + 1000 (8233)',
    meaning: 'the Temporal Web UI port',
    devServer: true,
  },
  TEMPORAL_METRICS_PORT: {
    default: 'TEMPORAL_PORT + 1001 (8234)',
    meaning: "the embedded dev server's /metrics port",
    devServer: true,
  },
  TEMPORAL_CLI_PATH: {
    default: 'PATH, then the cache',
    meaning: 'the Temporal CLI that runs the dev server',
    devServer: true,
  },
  FEED_TRIGGERS_ROLE: { default: 'serve', meaning: 'the role when none is given as an argument' },
  FEED_TRIGGERS_TASK_QUEUE: { default: 'feed-triggers', meaning: 'the task queue of the workers' },
  FEED_TRIGGERS_API_HOST: {
    default: '127.0.0.1',
    meaning: 'where the API (a worker: its health endpoint) listens',
  },
  FEED_TRIGGERS_API_PORT: { default: '8080', meaning: 'the port of the API (a worker: its health endpoint)' },
  FEED_TRIGGERS_API_IDLE_SECONDS: {
    default: '5',
    meaning: 'a connection silent this long while none of its requests is answered is closed',
  },
  FEED_TRIGGERS_DATA_DIR: { default: '.data', meaning: "the embedded ledger's and dev server's files" },
  FEED_TRIGGERS_CONFIG: { default: 'unset', meaning: 'a YAML file: feeds, credentials, secrets, receivers' },
  FEED_TRIGGERS_WORKER_MEMORY: {
    default: '2048 (MiB)',
    meaning: "the worker's memory budget (768MiB, 2GiB): its RSS stays within it; sizes its workflow cache",
    worker: true,
  },
  FEED_TRIGGERS_WATCHER_SHARDS: {
    default: '32',
    meaning: 'package watchers (0: off): poll each package once for all its triggers',
    worker: true,
  },
  DATABASE_URL: {
    default: 'unset: embedded ledger',
    meaning: 'PostgreSQL for the ledger: postgres://user@host:5432/db',
  },
  LOG_LEVEL: { default: 'info', meaning: 'trace, debug, info, warn, error or fatal' },
};

/** The variables a role reads, one a line: `NAME  meaning (default: ...)`. */
export function environmentHelp(role: 'serve' | 'worker' | 'api'): string {
  const rows = Object.entries(ENVIRONMENT).filter(
    ([, doc]) => (role === 'serve' || !doc.devServer) && (role !== 'api' || !doc.worker),
  );
  const width = Math.max(...rows.map(([name]) => name.length));
  return rows
    .map(([name, doc]) => `  ${name.padEnd(width)}  ${doc.meaning} (default: ${doc.default})`)
    .join('\n');
}

export interface TemporalSettings {
  /** Unset: start an embedded dev server. */
  readonly address: string | null;
  readonly namespace: string;
  readonly apiKey: string | null;
  readonly tls: boolean;
  /** The embedded dev server's ports (0: any free one): gRPC frontend, Web UI, /metrics, HTTP API. */
  readonly devServerPort: number;
  readonly uiPort: number;
  readonly metricsPort: number;
  readonly httpPort: number;
  readonly cliPath: string | null;
}

export interface Config {
  readonly temporal: TemporalSettings;
  readonly taskQueue: string;
  readonly api: { readonly host: string; readonly port: number; readonly idleTimeoutMs: number };
  readonly dataDir: string;
  readonly logLevel: Level;
  /** A PostgreSQL server for the ledger; null: the embedded database under dataDir. */
  readonly databaseUrl: string | null;
  /** MiB the worker may spend on its workflow cache and the rest of its process. */
  readonly workerMemoryMiB: number;
  /** Package watchers sharing the watched packages (docs/architecture.md); 0: none, triggers poll alone. */
  readonly watcherShards: number;
  readonly pollCacheMs: number;
  readonly feeds: ReadonlyMap<string, Feed>;
  /** Secret values by name with where they may be sent, for destinations; never sent to workflows. */
  readonly secrets: ReadonlyMap<string, NamedSecret>;
  readonly webhookToken: string | null;
  /** Values of the named receiver secrets (`receiverSecrets` in the file). */
  readonly receiverSecrets: ReadonlyMap<string, string>;
  /** PEM public keys by name (`signatureKeys` in the file), each checked to be a key cosign signs with. */
  readonly signatureKeys: ReadonlyMap<string, string>;
  /** Sigstore trusted roots by name (`trustedRoots` in the file), parsed. */
  readonly trustedRoots: ReadonlyMap<string, TrustedRootMaterial>;
  /** Receivers defined in the file, with their URL tokens. */
  readonly receivers: readonly ConfiguredReceiver[];
  /** A stand-in origin for Docker Hub's callbacks (`dockerHubCallbackOrigin`); null: Docker Hub only. */
  readonly dockerHubCallbackOrigin: string | null;
  /** Where feeds, token realms, destinations and redirects may lead. */
  readonly outbound: OutboundPolicy;
}

function describe(error: z.ZodError, where: string): string {
  const issue = error.issues[0];
  const field = issue.path.length > 0 ? issue.path.join('.') : '(root)';
  return `${where}: ${field}: ${issue.message}`;
}

function readSecret(ref: SecretRef, env: NodeJS.ProcessEnv, field: string, baseDir: string): string {
  if ('env' in ref) {
    const value = env[ref.env];
    if (value === undefined || value === '')
      throw new ConfigError(`${field}: environment variable ${ref.env} is not set`);
    return value;
  }
  const file = path.resolve(baseDir, ref.file);
  return readBoundedFile(file, field).trim();
}

/** A secret file longer than this is refused unread: the largest secret, a Sigstore trusted root, is ~10 KB. */
export const MAX_SECRET_FILE_BYTES = 1024 * 1024;

/**
 * A secret file's text, read only when it is a regular file of at most MAX_SECRET_FILE_BYTES: a device
 * (`/dev/zero`, `/dev/random`) never ends and a named pipe blocks until written, so reading either whole
 * hung the start until memory ran out. Opened without blocking, so a pipe is seen before it is waited on.
 */
function readBoundedFile(file: string, field: string): string {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    throw new ConfigError(`${field}: cannot read secret file ${file}`);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new ConfigError(`${field}: secret file ${file} is not a regular file`);
    if (stat.size > MAX_SECRET_FILE_BYTES)
      throw new ConfigError(`${field}: secret file ${file} is larger than ${MAX_SECRET_FILE_BYTES} bytes`);
    // The size is checked again on what is read: the file may grow between the stat and the read.
    const buffer = Buffer.alloc(MAX_SECRET_FILE_BYTES + 1);
    let length = 0;
    for (let n = -1; n !== 0 && length < buffer.length; length += n)
      n = readSync(fd, buffer, length, buffer.length - length, null);
    if (length > MAX_SECRET_FILE_BYTES)
      throw new ConfigError(`${field}: secret file ${file} is larger than ${MAX_SECRET_FILE_BYTES} bytes`);
    return buffer.toString('utf8', 0, length);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`${field}: cannot read secret file ${file}`);
  } finally {
    closeSync(fd);
  }
}

/** Reads and validates the configuration once; throws ConfigError naming the offending field. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable (`TEMPORAL_ADDRESS=`) means unset, as shells and compose files use it.
  const set = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsedEnv = EnvSchema.safeParse(set);
  if (!parsedEnv.success) throw new ConfigError(describe(parsedEnv.error, 'environment'));
  const e = parsedEnv.data;

  let file: z.infer<typeof FileSchema> = FileSchema.parse({});
  let baseDir = process.cwd();
  let where = 'configuration';
  if (e.FEED_TRIGGERS_CONFIG) {
    const configPath = path.resolve(e.FEED_TRIGGERS_CONFIG);
    baseDir = path.dirname(configPath);
    where = configPath;
    let raw: unknown;
    try {
      const text = readFileSync(configPath, 'utf8');
      raw = parseYamlText(text);
    } catch (err) {
      throw new ConfigError(`${configPath}: ${(err as Error).message.split('\n')[0]}`);
    }
    const parsed = FileSchema.safeParse(raw ?? {});
    if (!parsed.success) throw new ConfigError(describe(parsed.error, configPath));
    file = parsed.data;
  }

  const feeds = new Map<string, Feed>();
  file.feeds.forEach((f, i) => {
    if (feeds.has(f.id)) throw new ConfigError(`feeds.${i}.id: feed "${f.id}" is defined twice`);
    const secret = (ref: SecretRef, field: string) =>
      readSecret(ref, env, `feeds.${i}.auth.${field}`, baseDir);
    feeds.set(f.id, toFeed(f, resolveAuth(f.auth, secret)));
  });

  const secrets = new Map<string, NamedSecret>();
  for (const [name, { sendTo, ...ref }] of Object.entries(file.secrets))
    secrets.set(name, { value: readSecret(ref, env, `secrets.${name}`, baseDir), sendTo });

  const localApi = isLoopback(e.FEED_TRIGGERS_API_HOST) || e.FEED_TRIGGERS_API_HOST === '::1';
  const outbound: OutboundPolicy = {
    allowPrivateNetworks: file.outbound.allowPrivateNetworks ?? localApi,
    allowLoopback: file.outbound.allowLoopback ?? localApi,
    trustedHosts: new Set([...feeds.values()].map((f) => new URL(f.url).hostname.toLowerCase())),
  };

  return {
    outbound,
    secrets,
    webhookToken: file.webhookToken ? readSecret(file.webhookToken, env, 'webhookToken', baseDir) : null,
    receivers: file.receivers.map((r, i) => {
      const { urlToken, ...rest } = r;
      const spec = ReceiverSpecSchema.safeParse(rest);
      if (!spec.success) {
        const issue = spec.error.issues[0];
        throw new ConfigError(
          `${where}: receivers.${i}.${issue.path.map(String).join('.')}: ${issue.message}`,
        );
      }
      if (spec.data.secret && !(spec.data.secret.secret in file.receiverSecrets))
        throw new ConfigError(`${where}: receivers.${i}.secret.secret: not in receiverSecrets`);
      if (spec.data.oidc?.jwksUrl)
        try {
          checkOutboundUrl(new URL(spec.data.oidc.jwksUrl), outbound);
        } catch (err) {
          throw new ConfigError(`${where}: receivers.${i}.oidc.jwksUrl: ${(err as Error).message}`);
        }
      const token = readSecret(urlToken, env, `receivers.${i}.urlToken`, baseDir);
      if (!/^[A-Za-z0-9_-]{32,128}$/.test(token))
        throw new ConfigError(`${where}: receivers.${i}.urlToken: 32 to 128 letters, digits, "-" or "_"`);
      return { spec: spec.data, token };
    }),
    dockerHubCallbackOrigin: file.dockerHubCallbackOrigin
      ? new URL(file.dockerHubCallbackOrigin).origin
      : null,
    receiverSecrets: new Map(
      Object.entries(file.receiverSecrets).map(([name, ref]) => [
        name,
        readSecret(ref, env, `receiverSecrets.${name}`, baseDir),
      ]),
    ),
    signatureKeys: new Map(
      Object.entries(file.signatureKeys).map(([name, ref]) => {
        const field = `signatureKeys.${name}`;
        const pem = readSecret(ref, env, field, baseDir);
        try {
          parsePublicKey(name, pem);
        } catch (err) {
          throw new ConfigError(`${field}: ${(err as Error).message.replace(`key ${name}: `, '')}`);
        }
        return [name, pem];
      }),
    ),
    trustedRoots: new Map(
      Object.entries(file.trustedRoots).map(([name, ref]) => {
        const field = `trustedRoots.${name}`;
        try {
          return [name, parseTrustedRoot(name, readSecret(ref, env, field, baseDir))];
        } catch (err) {
          if (err instanceof ConfigError) throw err;
          throw new ConfigError(`${field}: ${(err as Error).message}`);
        }
      }),
    ),
    temporal: {
      address: e.TEMPORAL_ADDRESS ?? null,
      namespace: e.TEMPORAL_NAMESPACE,
      apiKey: e.TEMPORAL_API_KEY ?? null,
      tls: e.TEMPORAL_TLS === 'true' || (e.TEMPORAL_TLS === undefined && e.TEMPORAL_API_KEY !== undefined),
      ...devServerPorts(e),
      cliPath: e.TEMPORAL_CLI_PATH ?? null,
    },
    taskQueue: e.FEED_TRIGGERS_TASK_QUEUE,
    api: {
      host: e.FEED_TRIGGERS_API_HOST,
      port: e.FEED_TRIGGERS_API_PORT,
      idleTimeoutMs: e.FEED_TRIGGERS_API_IDLE_SECONDS * 1000,
    },
    dataDir: path.resolve(e.FEED_TRIGGERS_DATA_DIR),
    logLevel: e.LOG_LEVEL,
    databaseUrl: e.DATABASE_URL ?? null,
    workerMemoryMiB: e.FEED_TRIGGERS_WORKER_MEMORY,
    watcherShards: e.FEED_TRIGGERS_WATCHER_SHARDS,
    pollCacheMs: file.pollCacheSeconds * 1000,
    feeds,
  };
}

/** API hosts whose port the embedded dev server (on 127.0.0.1) would clash with. */
const SHARES_DEV_SERVER_ADDRESS = new Set(['127.0.0.1', 'localhost', '0.0.0.0', '::']);

/**
 * The embedded dev server's ports. Those not set follow TEMPORAL_PORT (as the Temporal CLI puts its UI at
 * port + 1000), so moving one variable moves a second instance's server out of the first one's way:
 * 7233 gRPC, 7243 HTTP API, 8233 Web UI, 8234 /metrics by default.
 */
function devServerPorts(
  e: z.infer<typeof EnvSchema>,
): Pick<TemporalSettings, 'devServerPort' | 'uiPort' | 'metricsPort' | 'httpPort'> {
  const base = e.TEMPORAL_PORT;
  const follow = (variable: string, given: number | undefined, offset: number) => {
    if (given !== undefined) return given;
    if (base === 0) return 0;
    if (base + offset > 65535)
      throw new ConfigError(
        `environment: ${variable}: TEMPORAL_PORT + ${offset} is past 65535; set ${variable} to a port`,
      );
    return base + offset;
  };
  const ports = {
    devServerPort: base,
    httpPort: follow('TEMPORAL_HTTP_PORT', e.TEMPORAL_HTTP_PORT, 10),
    uiPort: follow('TEMPORAL_UI_PORT', e.TEMPORAL_UI_PORT, 1000),
    metricsPort: follow('TEMPORAL_METRICS_PORT', e.TEMPORAL_METRICS_PORT, 1001),
  };
  const named: Array<[string, number]> = [
    ['TEMPORAL_PORT', ports.devServerPort],
    ['TEMPORAL_HTTP_PORT', ports.httpPort],
    ['TEMPORAL_UI_PORT', ports.uiPort],
    ['TEMPORAL_METRICS_PORT', ports.metricsPort],
    // The API binds beside the dev server: on its loopback address, or on every address, the same port clashes
    // (checkPortsFree binds and releases each port in turn, so it cannot see two claims of one port).
    ...(SHARES_DEV_SERVER_ADDRESS.has(e.FEED_TRIGGERS_API_HOST)
      ? [['FEED_TRIGGERS_API_PORT', e.FEED_TRIGGERS_API_PORT] as [string, number]]
      : []),
  ];
  if (!e.TEMPORAL_ADDRESS)
    for (const [i, [variable, port]] of named.entries()) {
      const twin = named.slice(0, i).find(([, other]) => port !== 0 && other === port);
      if (twin)
        throw new ConfigError(
          `environment: ${variable}: ${port} is also ${twin[0]}; each needs its own port`,
        );
    }
  return ports;
}

type AuthConfig = z.infer<typeof AuthConfigSchema>;

function resolveAuth(
  auth: AuthConfig | undefined,
  secret: (ref: SecretRef, field: string) => string,
): FeedAuth {
  if (auth === undefined) return { kind: 'anonymous' };
  if ('basic' in auth)
    return {
      kind: 'basic',
      username: auth.basic.username,
      password: secret(auth.basic.password, 'basic.password'),
    };
  if ('refreshToken' in auth)
    return { kind: 'refresh-token', refreshToken: secret(auth.refreshToken, 'refreshToken') };
  if ('acr' in auth)
    return {
      kind: 'acr-exchange',
      accessToken: secret(auth.acr.accessToken, 'acr.accessToken'),
      tenant: auth.acr.tenant ?? null,
    };
  const e = auth.ecr;
  return {
    kind: 'ecr',
    region: e.region,
    accessKeyId: e.accessKeyId ? secret(e.accessKeyId, 'ecr.accessKeyId') : null,
    secretAccessKey: e.secretAccessKey ? secret(e.secretAccessKey, 'ecr.secretAccessKey') : null,
    endpoint: e.endpoint ?? null,
  };
}

function toFeed(f: FeedConfig, auth: FeedAuth): Feed {
  if (f.type === 'helm' && !f.url.startsWith('oci://')) {
    return { id: f.id, type: 'helm', url: f.url, auth, maxTags: f.maxTags, maxIndexBytes: f.maxIndexBytes };
  }
  let url = f.url;
  let repositoryPrefix = '';
  if (f.type === 'helm') {
    // oci://host[/path]: the registry API on host, charts under path.
    const rest = f.url.slice('oci://'.length);
    const slash = rest.indexOf('/');
    const host = slash === -1 ? rest : rest.slice(0, slash);
    repositoryPrefix = slash === -1 ? '' : rest.slice(slash + 1);
    url = `${isLoopback(host) ? 'http' : 'https'}://${registryApiHost(host)}`;
  }
  return {
    id: f.id,
    type: 'oci',
    url,
    auth,
    // ECR caps pages at 1000, whatever its host looks like (VPC endpoints, tests).
    pageSize: auth.kind === 'ecr' ? Math.min(f.pageSize, ECR_MAX_PAGE_SIZE) : pageSizeFor(url, f.pageSize),
    maxTags: f.maxTags,
    helm: f.type === 'helm',
    repositoryPrefix,
    tokenRealmHosts: f.tokenRealmHosts,
    maxPages: f.maxPages,
  };
}

/** The feed for an id: a configured one, or an anonymous feed for a bare registry host. */
export function resolveFeed(feeds: ReadonlyMap<string, Feed>, id: string): Feed | null {
  const configured = feeds.get(id);
  if (configured) return configured;
  // A bare host has a dot or a port, as Docker decides whether a name's first part is a registry.
  return /[.:]/.test(id) || id === 'localhost' ? implicitFeed(id) : null;
}
