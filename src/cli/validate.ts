import { ApiClient, ApiError } from './api-client';
import { readManifest, warningLine } from './apply';
import { parseCommandLine, UsageError } from './usage';

export const VALIDATE_USAGE =
  'usage: feed-triggers validate -f FILE.yaml|- [--strict] [--api URL] (a file of at most 4 MiB)';

/**
 * `feed-triggers validate`: checks a file as `apply` would and changes nothing. Every error of the file is
 * listed at once (schemas, names across projects, channels and packages triggers refer to), then each
 * project is checked by the API without being saved (`PUT …?dryRun=true`): the outbound policy, bound
 * secrets, and feeds that cannot be reached (warnings; errors with `--strict`). Fails when anything is invalid.
 */
export async function runValidate(
  args: string[],
  out: (line: string) => void,
  env: NodeJS.ProcessEnv,
  warn: (line: string) => void,
  stdin?: NodeJS.ReadableStream,
): Promise<void> {
  const { values } = parseCommandLine(
    {
      args,
      allowPositionals: false,
      options: {
        file: { type: 'string', short: 'f' },
        strict: { type: 'boolean' },
        api: { type: 'string' },
      },
    },
    VALIDATE_USAGE,
  );
  if (!values.file) throw new UsageError(`-f FILE is required; ${VALIDATE_USAGE}`);
  const manifest = await readManifest(values.file, stdin);
  const api = ApiClient.fromEnv(values.api, env);
  const query = `?dryRun=true${values.strict ? '&strict=true' : ''}`;
  const results = await Promise.all(
    manifest.projects.map(async ({ spec }) => {
      try {
        const res = await api.expect<{ warnings?: { field: string; message: string }[] }>(
          'PUT',
          `/projects/${spec.name}${query}`,
          [200],
          spec,
        );
        return { name: spec.name, warnings: res.body.warnings ?? [], error: null };
      } catch (err) {
        if (!(err instanceof ApiError) || err.status === 0 || err.status === 401) throw err;
        return { name: spec.name, warnings: [], error: err.message };
      }
    }),
  );
  const invalid = results.filter((r) => r.error !== null);
  for (const r of results) {
    r.warnings.forEach((w) => warn(warningLine(r.name, w)));
    if (r.error === null) out(`project/${r.name} valid`);
  }
  if (invalid.length > 0)
    throw new ApiError(
      400,
      `${invalid.length} of ${results.length} project(s) invalid:\n${invalid.map((r) => r.error).join('\n')}`,
    );
}
