import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { parseYamlText } from '../domain/yaml-depth';
import { z } from 'zod';
import { ReceiverSpec, ReceiverSpecSchema } from '../receivers/spec';
import { ProjectSpecSchema } from '../domain/project';
import { FreezeSpec, FreezeSpecSchema } from '../domain/freeze';
import { MAX_FREEZES } from '../db/freezes';
import { MAX_TENANTS, TenantSpec, TenantSpecSchema } from '../domain/tenant';
import { TriggerSpec } from '../domain/trigger';
import { SlugSchema, TriggerDescriptionSchema, TriggerSpecSchema } from '../domain/trigger-schema';
import { ApiClient, ApiError } from './api-client';
import { printable } from './printable';
import { decimalCount, parseCommandLine, UsageError } from './usage';

export const APPLY_USAGE =
  'usage: feed-triggers apply -f FILE.yaml|- [--prune] [--strict] [--concurrency N] [--api URL] (a file of at most 4 MiB)';

const ManifestTriggerSchema = z
  .object({
    name: SlugSchema,
    channel: SlugSchema.default('default'),
    description: TriggerDescriptionSchema.optional(),
    watch: z.array(SlugSchema).min(1).max(50).optional(),
    intervalSeconds: z.number().int().optional(),
  })
  .strict();

/** A declarative file: projects, each with the triggers it should have. */
export const ManifestSchema = z
  .object({
    projects: z
      .array(
        z
          // Triggers are checked in the transform, so a bad trigger does not hide the project's own errors.
          .object({ triggers: z.array(z.unknown()).max(100).default([]) })
          .passthrough()
          .transform((p, ctx) => {
            const { triggers, ...rest } = p;
            // Everything is checked, whatever fails first: one run lists every error of the file.
            const spec = ProjectSpecSchema.safeParse(rest);
            if (!spec.success)
              for (const issue of spec.error.issues)
                ctx.addIssue({ ...issue, code: 'custom', message: issue.message } as never);
            const project = typeof rest.name === 'string' ? rest.name : 'project';
            const parsedTriggers = triggers.map((raw, i) => {
              const t = ManifestTriggerSchema.safeParse(raw);
              if (!t.success) {
                for (const issue of t.error.issues)
                  ctx.addIssue({
                    code: 'custom',
                    path: ['triggers', i, ...issue.path],
                    message: issue.message,
                  });
                return undefined;
              }
              const parsed = TriggerSpecSchema.safeParse({ project, ...t.data });
              for (const issue of parsed.error?.issues ?? [])
                ctx.addIssue({
                  code: 'custom',
                  path: ['triggers', i, ...issue.path],
                  message: issue.message,
                });
              return parsed.data;
            });
            const names = new Set<string>();
            parsedTriggers.forEach((t, i) => {
              if (t && names.has(t.name))
                ctx.addIssue({
                  code: 'custom',
                  path: ['triggers', i, 'name'],
                  message: `trigger "${t.name}" is listed twice`,
                });
              if (t) names.add(t.name);
              if (!t || !spec.success) return;
              // What the API would refuse with a 404 once the project is saved, found before anything is.
              if (!spec.data.channels.some((c) => c.name === t.channel))
                ctx.addIssue({
                  code: 'custom',
                  path: ['triggers', i, 'channel'],
                  message: `no channel named "${t.channel}"`,
                });
              t.watch?.forEach((w, j) => {
                if (!spec.data.packages.some((pkg) => pkg.name === w))
                  ctx.addIssue({
                    code: 'custom',
                    path: ['triggers', i, 'watch', j],
                    message: `no package named "${w}"`,
                  });
              });
            });
            if (!spec.success) return z.NEVER;
            return { spec: spec.data, triggers: parsedTriggers as TriggerSpec[] };
          }),
      )
      .max(500)
      .default([]),
    /** Webhook receivers: created when missing (their URL printed once), replaced when changed. */
    receivers: z.array(ReceiverSpecSchema).max(100).default([]),
    /** Deployment freezes: created or replaced by name; with --prune, others are deleted. */
    freezes: z.array(FreezeSpecSchema).max(MAX_FREEZES).default([]),
    /** Tenants: created or replaced by name before the projects that connect them; with --prune, others are deleted. */
    tenants: z.array(TenantSpecSchema).max(MAX_TENANTS).default([]),
  })
  .strict();
export type Manifest = z.infer<typeof ManifestSchema>;

/**
 * The largest file `apply -f` reads: 4 MiB holds 500 projects with their triggers many times over. Parsing
 * an 18 MB file takes 29 s and 1.9 GB, so the size is checked before a byte is parsed.
 */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

const tooLarge = (file: string, size: number | null) =>
  new UsageError(
    size === null
      ? `${file}: larger than ${MAX_MANIFEST_BYTES} bytes (4 MiB), the most apply reads: split it into several files`
      : `${file}: ${size} bytes; apply reads at most ${MAX_MANIFEST_BYTES} bytes (4 MiB): split it into several files`,
  );

/** A file's text, refused before it is read when larger than MAX_MANIFEST_BYTES (a pipe: once it passes it). */
function readBounded(file: string): string {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new UsageError(`${file}: ${printable((err as Error).message.split('\n')[0])}`);
  }
  try {
    const stat = fstatSync(fd);
    if (stat.isFile() && stat.size > MAX_MANIFEST_BYTES) throw tooLarge(file, stat.size);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(64 * 1024);
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      total += n;
      if (total > MAX_MANIFEST_BYTES) throw tooLarge(file, null);
      chunks.push(chunk.subarray(0, n));
    }
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** Standard input's text, refused as soon as it passes MAX_MANIFEST_BYTES (`apply -f -`). */
async function readStdinBounded(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stdin) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    total += bytes.length;
    if (total > MAX_MANIFEST_BYTES) throw tooLarge('(stdin)', null);
    chunks.push(bytes);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads and validates a manifest file (`-`: standard input); errors name the file and the field. */
export async function readManifest(file: string, stdin?: NodeJS.ReadableStream): Promise<Manifest> {
  const text = file === '-' && stdin ? await readStdinBounded(stdin) : readBounded(file);
  let raw: unknown;
  try {
    // Checked first: the parser composes nested collections recursively (100,000 `[` overflowed the stack).
    raw = parseYamlText(text);
  } catch (err) {
    throw new UsageError(`${file}: ${printable((err as Error).message.split('\n')[0])}`);
  }
  const parsed = ManifestSchema.safeParse(raw ?? {});
  if (!parsed.success)
    // A line per error, each naming the file and the field; the file's keys, quoted in them, as text (a
    // manifest under review is anyone's, and its keys may hold ESC or U+202E).
    throw new UsageError(
      parsed.error.issues
        .map(
          (issue) => `${file}: ${printable(issue.path.join('.')) || '(file)'}: ${printable(issue.message)}`,
        )
        .join('\n'),
    );
  return parsed.data;
}

interface TriggerStateBody {
  spec: TriggerSpec;
}

/** Runs at most `n` tasks at once. */
function limiter(n: number) {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (running >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      return await task();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}

/**
 * `feed-triggers apply`: makes projects and triggers match the file; a second run changes nothing. A project's
 * triggers start in one request (the API checks them all, then starts each), and those already running are
 * compared and changed one request each. Requests run `--concurrency` at a time (default 48); each project's
 * lines print together, in the file's order, once it is done; a file of 100 triggers or more reports progress
 * on stderr every second.
 */
export async function runApply(
  args: string[],
  out: (line: string) => void,
  env: NodeJS.ProcessEnv,
  progress: (line: string) => void = () => undefined,
  stdin?: NodeJS.ReadableStream,
): Promise<void> {
  const { values } = parseCommandLine(
    {
      args,
      allowPositionals: false,
      options: {
        file: { type: 'string', short: 'f' },
        prune: { type: 'boolean' },
        strict: { type: 'boolean' },
        api: { type: 'string' },
        concurrency: { type: 'string' },
      },
    },
    APPLY_USAGE,
  );
  if (!values.file) throw new UsageError(`-f FILE is required; ${APPLY_USAGE}`);
  const concurrency = values.concurrency === undefined ? 48 : decimalCount(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256)
    throw new UsageError(`--concurrency: a whole number from 1 to 256; ${APPLY_USAGE}`);
  const manifest = await readManifest(values.file, stdin);
  const api = ApiClient.fromEnv(values.api, env);
  const limit = limiter(concurrency);
  const total = manifest.projects.reduce((n, p) => n + p.triggers.length, 0);
  let done = 0;
  const started = Date.now();
  const report = () =>
    progress(`apply: ${done}/${total} triggers (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  const ticker = total >= 100 ? setInterval(report, 1000) : null;
  try {
    // Freezes first: one the file adds is in force before its projects' automatic phases can deploy. Like
    // receivers, a file without freezes leaves them alone, even with --prune.
    if (manifest.freezes.length > 0)
      (await applyFreezes(api, manifest.freezes, values.prune === true)).forEach(out);
    // Tenants before the projects that connect them (the API refuses a connection to an unknown tenant).
    for (const spec of manifest.tenants) out(await saveTenant(api, spec));
    // Projects one after another would leave the API idle between requests: all go at once, limited.
    const failures: unknown[] = [];
    const options = {
      prune: values.prune === true,
      strict: values.strict === true,
      // A large file's new triggers poll first at their slots, spread over their interval (not all at once).
      spread: total >= SPREAD_FIRST_POLLS_FROM,
    };
    await Promise.all(
      manifest.projects.map(async (project) => {
        try {
          const lines = await applyProject(api, project, options, limit, () => done++, progress);
          lines.forEach(out);
        } catch (err) {
          failures.push(err);
        }
      }),
    );
    // Every project that failed is reported, not only the first.
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1)
      throw new ApiError(
        failures.every((f) => f instanceof ApiError) ? (failures[0] as ApiError).status : 0,
        failures.map((f) => (f instanceof Error ? f.message : String(f))).join('\n'),
      );
    if (manifest.receivers.length > 0)
      (await applyReceivers(api, manifest.receivers, values.prune === true)).forEach(out);
    // After the projects, which may have let go of the tenants pruned here. Like freezes, a file without
    // tenants leaves them alone, even with --prune.
    if (manifest.tenants.length > 0 && values.prune === true)
      (await pruneTenants(api, manifest.tenants)).forEach(out);
  } finally {
    if (ticker) {
      clearInterval(ticker);
      report();
    }
  }
}

/** Saves one tenant by name; the line says whether it was created, changed or the same. */
async function saveTenant(api: ApiClient, spec: TenantSpec): Promise<string> {
  const saved = await api.expect<{ created: boolean; changed: boolean }>(
    'PUT',
    `/tenants/${spec.name}`,
    [200, 201],
    spec,
  );
  return `tenant/${spec.name} ${saved.body.created ? 'created' : saved.body.changed ? 'configured' : 'unchanged'}`;
}

/** Deletes the tenants the file does not list (the API refuses one a project still connects). */
async function pruneTenants(api: ApiClient, wanted: readonly TenantSpec[]): Promise<string[]> {
  const lines: string[] = [];
  const { tenants } = (await api.expect<{ tenants: { spec: { name: string } }[] }>('GET', '/tenants', [200]))
    .body;
  for (const t of tenants)
    if (!wanted.some((w) => w.name === t.spec.name)) {
      await api.expect('DELETE', `/tenants/${t.spec.name}`, [200]);
      lines.push(`tenant/${t.spec.name} deleted (not in the file)`);
    }
  return lines;
}

/** Makes the API's freezes match the file's: each saved by name (the API says whether it changed). */
async function applyFreezes(
  api: ApiClient,
  wanted: readonly FreezeSpec[],
  prune: boolean,
): Promise<string[]> {
  const lines: string[] = [];
  for (const spec of wanted) {
    const saved = await api.expect<{ created: boolean; changed: boolean }>(
      'PUT',
      `/freezes/${spec.name}`,
      [200, 201],
      spec,
    );
    const verb = saved.body.created ? 'created' : saved.body.changed ? 'configured' : 'unchanged';
    lines.push(`freeze/${spec.name} ${verb}`);
  }
  if (prune) {
    const { freezes } = (
      await api.expect<{ freezes: { spec: { name: string } }[] }>('GET', '/freezes', [200])
    ).body;
    for (const f of freezes)
      if (!wanted.some((w) => w.name === f.spec.name)) {
        await api.expect('DELETE', `/freezes/${f.spec.name}`, [200]);
        lines.push(`freeze/${f.spec.name} deleted (not in the file)`);
      }
  }
  return lines;
}

/** Makes the API's receivers match the file's; a new or replaced receiver's URL is printed (once). */
async function applyReceivers(
  api: ApiClient,
  wanted: readonly ReceiverSpec[],
  prune: boolean,
): Promise<string[]> {
  const lines: string[] = [];
  const { receivers } = (
    await api.expect<{ receivers: { spec: ReceiverSpec }[] }>('GET', '/receivers', [200])
  ).body;
  const existing = new Map(receivers.map((r) => [r.spec.name, r.spec]));
  const create = async (spec: ReceiverSpec, verb: string) => {
    const { url } = (await api.expect<{ url: string }>('POST', '/receivers', [201], spec)).body;
    lines.push(
      `receiver ${spec.name} ${verb}: ${api.baseUrl.replace(/\/+$/, '')}${printable(String(url))} (shown once: give it to the registry)`,
    );
  };
  for (const spec of wanted) {
    const current = existing.get(spec.name);
    if (!current) await create(spec, 'created');
    else if (JSON.stringify(current) === JSON.stringify(ReceiverSpecSchema.parse(spec)))
      lines.push(`receiver ${spec.name} unchanged`);
    else {
      await api.expect('DELETE', `/receivers/${spec.name}`, [200]);
      await create(spec, 'replaced (its old URL no longer works)');
    }
  }
  if (prune)
    for (const name of existing.keys())
      if (!wanted.some((w) => w.name === name)) {
        await api.expect('DELETE', `/receivers/${name}`, [200]);
        lines.push(`receiver ${name} deleted (not in the file)`);
      }
  return lines;
}

/** A warning of the API about a saved project (a feed it cannot reach), as the CLI prints it. */
export function warningLine(project: string, warning: { field: string; message: string }): string {
  // The message carries a feed's own error text: as text, so it cannot drive the terminal.
  return printable(`warning: project/${project} ${String(warning.field)}: ${String(warning.message)}`);
}

async function applyProject(
  api: ApiClient,
  { spec, triggers }: Manifest['projects'][number],
  { prune, strict, spread }: { prune: boolean; strict: boolean; spread: boolean },
  limit: ReturnType<typeof limiter>,
  onTrigger: () => void,
  warn: (line: string) => void,
): Promise<string[]> {
  const put = await limit(() =>
    api.expect<{ created: boolean; changed: boolean; warnings?: { field: string; message: string }[] }>(
      'PUT',
      `/projects/${spec.name}${strict ? '?strict=true' : ''}`,
      [200, 201],
      spec,
    ),
  );
  for (const w of put.body.warnings ?? []) warn(warningLine(spec.name, w));
  const lines = [
    `project/${spec.name} ${put.body.created ? 'created' : put.body.changed ? 'configured' : 'unchanged'}`,
  ];
  const results = await Promise.all(
    chunks(triggers, BULK_TRIGGERS).map(async (batch) => {
      const started = await limit(() => startBatch(api, spec.name, batch, spread));
      // Started (or found running) in one request; those found running are compared, one request each.
      return Promise.all(
        batch.map(async (t, i) => {
          const line = started?.[i]
            ? `trigger/${spec.name}/${t.name} created`
            : await limit(() => applyTrigger(api, spec, t, started !== null));
          onTrigger();
          return line;
        }),
      );
    }),
  );
  lines.push(...results.flat());
  if (prune) {
    const listed = await limit(() =>
      api.expect<{ triggers: { name: string }[] }>('GET', `/projects/${spec.name}/triggers`, [200]),
    );
    const keep = new Set(triggers.map((t) => t.name));
    for (const t of listed.body.triggers) {
      if (keep.has(t.name)) continue;
      const res = await limit(() => api.call('DELETE', `/triggers/${spec.name}/${t.name}`));
      if (res.status === 200 || res.status === 202) lines.push(`trigger/${spec.name}/${t.name} deleted`);
    }
  }
  return lines;
}

/** Triggers per bulk request: the API's cap (MAX_BULK_TRIGGERS), a manifest project's cap too. */
const BULK_TRIGGERS = 100;
/**
 * From this many triggers in a file, new ones poll first at their slot in the interval (`firstPoll: slot`):
 * thousands of first polls, subscriptions and releases at once would compete with the creation itself.
 */
export const SPREAD_FIRST_POLLS_FROM = 1000;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** What a trigger's create sends: the file's fields (the project is the path's). */
const createBody = (t: Manifest['projects'][number]['triggers'][number]) => ({
  name: t.name,
  channel: t.channel,
  watch: t.watch,
  intervalSeconds: t.intervalSeconds,
});

/**
 * Starts a project's triggers in one request (POST /projects/{p}/triggers/bulk): whether each was created
 * (false: it was running already). Null from an API without the route: each trigger then goes on its own.
 */
async function startBatch(
  api: ApiClient,
  project: string,
  batch: Manifest['projects'][number]['triggers'],
  spread: boolean,
): Promise<boolean[] | null> {
  const res = await api.call<{ results?: { created: boolean }[] }>(
    'POST',
    `/projects/${project}/triggers/bulk`,
    { triggers: batch.map(createBody), ...(spread ? { firstPoll: 'slot' } : {}) },
  );
  // The file was checked against its own project, just saved: a 404 here is an API without the route.
  if (res.status === 404 || res.status === 405) return null;
  if (res.status !== 200 || res.body.results?.length !== batch.length)
    throw new UsageError(
      `POST /projects/${project}/triggers/bulk: ${res.status} ${JSON.stringify(res.body).slice(0, 500)}`,
    );
  return res.body.results.map((r) => r.created === true);
}

async function applyTrigger(
  api: ApiClient,
  spec: Manifest['projects'][number]['spec'],
  t: Manifest['projects'][number]['triggers'][number],
  running = false,
): Promise<string> {
  const id = `trigger/${spec.name}/${t.name}`;
  if (!running) {
    // Create first: in an apply most triggers are new.
    const created = await api.call('POST', `/projects/${spec.name}/triggers`, createBody(t));
    if (created.status === 201) return `${id} created`;
    if (created.status !== 409)
      throw new UsageError(
        `POST /projects/${spec.name}/triggers: ${created.status} ${JSON.stringify(created.body).slice(0, 500)}`,
      );
  }
  const current = await api.call<TriggerStateBody>('GET', `/triggers/${spec.name}/${t.name}`);
  if (current.status !== 200) throw new UsageError(`GET ${id}: ${current.status}`);
  const have = current.body.spec;
  // "All packages" may be stored as the full list after an earlier PATCH: compare what is watched.
  const watched = (w: string[] | undefined) =>
    JSON.stringify([...(w ?? spec.packages.map((p) => p.name))].sort());
  const same =
    have.channel === t.channel &&
    have.intervalSeconds === t.intervalSeconds &&
    watched(have.watch) === watched(t.watch);
  if (same) return `${id} unchanged`;
  // PATCH cannot remove `watch`; send every package when the file watches all of them.
  const watch = t.watch ?? spec.packages.map((p) => p.name);
  await api.expect('PATCH', `/triggers/${spec.name}/${t.name}`, [200], {
    channel: t.channel,
    watch,
    intervalSeconds: t.intervalSeconds,
  });
  return `${id} configured`;
}
