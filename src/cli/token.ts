import path from 'node:path';
import { AccessError, AccessRole, ACCESS_ROLES, TokenInfo, TokenNameSchema } from '../db/access';
import { ApiClient, ApiError } from './api-client';
import { table } from './get';
import { printable, printableJson } from './printable';
import { decimalCount, parseCommandLine, UsageError } from './usage';

export const TOKEN_USAGE =
  'usage: feed-triggers token create NAME --role viewer|operator|admin [--expires-in-days N] | token list | token revoke NAME';

/**
 * Where token commands act: through the API when FEED_TRIGGERS_TOKEN holds an admin token (the call is
 * audited under that token's name), otherwise on the database itself (DATABASE_URL, or the embedded one
 * in FEED_TRIGGERS_DATA_DIR while the service is stopped): how the first admin token is made.
 */
interface TokenBackend {
  create(name: string, role: AccessRole, expiresInDays?: number): Promise<TokenInfo & { token: string }>;
  list(): Promise<TokenInfo[]>;
  revoke(name: string): Promise<boolean>;
  close(): Promise<void>;
}

function viaApi(api: ApiClient): TokenBackend {
  return {
    create: async (name, role, expiresInDays) =>
      (
        await api.expect<TokenInfo & { token: string }>('POST', '/tokens', [201], {
          name,
          role,
          expiresInDays,
        })
      ).body,
    list: async () => (await api.expect<{ tokens: TokenInfo[] }>('GET', '/tokens', [200])).body.tokens,
    revoke: async (name) =>
      (await api.expect('DELETE', `/tokens/${encodeURIComponent(name)}`, [200, 404])).status === 200,
    close: async () => undefined,
  };
}

async function viaDatabase(env: NodeJS.ProcessEnv): Promise<TokenBackend> {
  // Loaded here: the other commands never need the database driver or PGlite.
  const { openDatabase } = await import('../db/open');
  const { openStores } = await import('../db/stores');
  const database = await openDatabase(
    env.DATABASE_URL
      ? { url: env.DATABASE_URL, poolSize: 1 }
      : { dataDir: path.join(path.resolve(env.FEED_TRIGGERS_DATA_DIR ?? '.data'), 'ledger') },
  ).catch((err: Error) => {
    // DatabaseError (the embedded database is in use, a server does not answer) and MigrationError.
    throw new ApiError(0, err.message);
  });
  const { access: store } = openStores(database);
  const by = `cli:${env.USER ?? 'unknown'}`.slice(0, 63);
  return {
    create: async (name, role, expiresInDays) => {
      const expires = expiresInDays ? new Date(Date.now() + expiresInDays * 86_400_000) : null;
      try {
        const { token, info } = await store.createToken(name, role, by, expires);
        return { ...info, token };
      } catch (err) {
        if (err instanceof AccessError) throw new ApiError(409, err.message);
        throw err;
      }
    },
    list: () => store.listTokens(),
    revoke: (name) => store.revokeToken(name),
    close: () => database.close(),
  };
}

/** `feed-triggers token`: create (printing the token once), list and revoke API tokens. */
export async function runToken(
  args: string[],
  out: (line: string) => void,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  const { values, positionals } = parseCommandLine(
    {
      args,
      allowPositionals: true,
      options: {
        role: { type: 'string' },
        'expires-in-days': { type: 'string' },
        api: { type: 'string' },
        output: { type: 'string', short: 'o' },
      },
    },
    TOKEN_USAGE,
  );
  const [action, name, ...extra] = positionals;
  if (extra.length > 0 || !['create', 'list', 'revoke'].includes(action ?? ''))
    throw new UsageError(TOKEN_USAGE);
  if (action !== 'list') {
    if (!name) throw new UsageError(`token ${action} needs a NAME; ${TOKEN_USAGE}`);
    const valid = TokenNameSchema.safeParse(name);
    if (!valid.success) throw new UsageError(`NAME: ${valid.error.issues[0].message}`);
  } else if (name) throw new UsageError(TOKEN_USAGE);
  let role: AccessRole | undefined;
  let expiresInDays: number | undefined;
  if (action === 'create') {
    if (!(ACCESS_ROLES as readonly string[]).includes(values.role ?? ''))
      throw new UsageError(`--role: one of ${ACCESS_ROLES.join(', ')}`);
    role = values.role as AccessRole;
    if (values['expires-in-days'] !== undefined) {
      expiresInDays = decimalCount(values['expires-in-days']);
      if (!Number.isInteger(expiresInDays) || expiresInDays < 1 || expiresInDays > 3650)
        throw new UsageError('--expires-in-days: a whole number from 1 to 3650');
    }
  } else if (values.role !== undefined || values['expires-in-days'] !== undefined)
    throw new UsageError(`--role and --expires-in-days belong to token create; ${TOKEN_USAGE}`);
  const output = values.output ?? 'table';
  if (output !== 'table' && output !== 'json')
    throw new UsageError(`-o: "${output}" is neither table nor json`);

  const backend = env.FEED_TRIGGERS_TOKEN
    ? viaApi(ApiClient.fromEnv(values.api, env))
    : await viaDatabase(env);
  try {
    if (action === 'create') {
      const created = await backend.create(name, role!, expiresInDays);
      if (output === 'json') return out(printableJson(created));
      // The API's answer, as text: nothing in it can drive the terminal.
      out(
        printable(
          `Created token ${created.name} (${created.role}${created.expiresAt ? `, expires ${created.expiresAt}` : ''}).`,
        ),
      );
      out('It is shown once and stored only as a hash; keep it in your secret store:');
      out(printable(String(created.token)));
      return;
    }
    if (action === 'revoke') {
      if (!(await backend.revoke(name))) throw new ApiError(404, `no live token named ${name}`);
      return out(`Revoked token ${name}.`);
    }
    const tokens = await backend.list();
    if (output === 'json') return out(printableJson(tokens));
    out(
      table(
        ['NAME', 'ROLE', 'CREATED', 'BY', 'EXPIRES', 'LAST USED'],
        tokens.map((t) => [
          t.name,
          t.role,
          t.createdAt,
          t.createdBy,
          t.expiresAt ?? '-',
          t.lastUsedAt ?? 'never',
        ]),
      ),
    );
  } finally {
    await backend.close();
  }
}
