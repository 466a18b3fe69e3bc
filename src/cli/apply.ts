import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ProjectSpecSchema } from '../domain/project';
import { SlugSchema, TriggerSpec, TriggerSpecSchema } from '../domain/trigger';
import { ApiClient } from './api-client';
import { parseCommandLine, UsageError } from './usage';

export const APPLY_USAGE = 'usage: feed-triggers apply -f FILE.yaml [--prune] [--api URL]';

const ManifestTriggerSchema = z
  .object({
    name: SlugSchema,
    channel: SlugSchema.default('default'),
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
          .object({ triggers: z.array(ManifestTriggerSchema).max(100).default([]) })
          .passthrough()
          .transform((p, ctx) => {
            const { triggers, ...rest } = p;
            const spec = ProjectSpecSchema.safeParse(rest);
            if (!spec.success) {
              for (const issue of spec.error.issues)
                ctx.addIssue({ ...issue, code: 'custom', message: issue.message } as never);
              return z.NEVER;
            }
            const parsedTriggers = triggers.map((t, i) => {
              const parsed = TriggerSpecSchema.safeParse({ project: spec.data.name, ...t });
              if (!parsed.success) {
                const issue = parsed.error.issues[0];
                ctx.addIssue({
                  code: 'custom',
                  path: ['triggers', i, ...issue.path],
                  message: issue.message,
                });
              }
              return parsed.data as TriggerSpec;
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
            });
            return { spec: spec.data, triggers: parsedTriggers };
          }),
      )
      .max(500),
  })
  .strict();
export type Manifest = z.infer<typeof ManifestSchema>;

/** Reads and validates a manifest file; errors name the file and the field. */
export function readManifest(file: string): Manifest {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  const parsed = ManifestSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(`${file}: ${issue.path.join('.') || '(file)'}: ${issue.message}`);
  }
  return parsed.data;
}

interface TriggerStateBody {
  spec: TriggerSpec;
}

/** `feed-triggers apply`: makes projects and triggers match the file; a second run changes nothing. */
export async function runApply(
  args: string[],
  out: (line: string) => void,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  const { values } = parseCommandLine(
    {
      args,
      allowPositionals: false,
      options: { file: { type: 'string', short: 'f' }, prune: { type: 'boolean' }, api: { type: 'string' } },
    },
    APPLY_USAGE,
  );
  if (!values.file) throw new UsageError(`-f FILE is required; ${APPLY_USAGE}`);
  const manifest = readManifest(values.file);
  const api = new ApiClient(values.api ?? env.FEED_TRIGGERS_API_URL ?? 'http://127.0.0.1:8080');

  for (const { spec, triggers } of manifest.projects) {
    const put = await api.expect<{ created: boolean; changed: boolean }>(
      'PUT',
      `/projects/${spec.name}`,
      [200, 201],
      spec,
    );
    out(
      `project/${spec.name} ${put.body.created ? 'created' : put.body.changed ? 'configured' : 'unchanged'}`,
    );
    for (const t of triggers) {
      const id = `trigger/${spec.name}/${t.name}`;
      const current = await api.call<TriggerStateBody>('GET', `/triggers/${spec.name}/${t.name}`);
      if (current.status === 404) {
        await api.expect('POST', `/projects/${spec.name}/triggers`, [201], {
          name: t.name,
          channel: t.channel,
          watch: t.watch,
          intervalSeconds: t.intervalSeconds,
        });
        out(`${id} created`);
        continue;
      }
      if (current.status !== 200) throw new UsageError(`GET ${id}: ${current.status}`);
      const have = current.body.spec;
      // "All packages" may be stored as the full list after an earlier PATCH: compare what is watched.
      const watched = (w: string[] | undefined) =>
        JSON.stringify([...(w ?? spec.packages.map((p) => p.name))].sort());
      const same =
        have.channel === t.channel &&
        have.intervalSeconds === t.intervalSeconds &&
        watched(have.watch) === watched(t.watch);
      if (same) {
        out(`${id} unchanged`);
        continue;
      }
      // PATCH cannot remove `watch`; send every package when the file watches all of them.
      const watch = t.watch ?? spec.packages.map((p) => p.name);
      await api.expect('PATCH', `/triggers/${spec.name}/${t.name}`, [200], {
        channel: t.channel,
        watch,
        intervalSeconds: t.intervalSeconds,
      });
      out(`${id} configured`);
    }
    if (values.prune) {
      const listed = await api.expect<{ triggers: { name: string }[] }>(
        'GET',
        `/projects/${spec.name}/triggers`,
        [200],
      );
      const keep = new Set(triggers.map((t) => t.name));
      for (const t of listed.body.triggers) {
        if (keep.has(t.name)) continue;
        const res = await api.call('DELETE', `/triggers/${spec.name}/${t.name}`);
        if (res.status === 200 || res.status === 202) out(`trigger/${spec.name}/${t.name} deleted`);
      }
    }
  }
}
