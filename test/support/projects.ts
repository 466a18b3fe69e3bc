import { Client } from '@temporalio/client';
import { createLedgerActivities } from '../../activities/ledger';
import { ProjectRelease, ProjectSpecInput, ProjectSpecSchema, ReleaseSource } from '../../src/domain/project';
import { Ledger } from '../../src/db/ledger';
import { TriggerSpecInput, TriggerState, watchedPackageKey } from '../../src/domain/trigger';
import { startTrigger as startTriggerWorkflow } from '../../workflows/contracts/client';
import { TriggerSpecSchema } from '../../src/domain/trigger-schema';
import { stateQuery } from '../../workflows/contracts/trigger';
import { eventually } from './temporal';

/**
 * A project of one image, `<name>/web` on `feed`, whose dev deploys automatically and prod when a person asks,
 * both through the webhook at `hookUrl` (after an approval too with `prodApproval`).
 */
export function devProdProject(
  name: string,
  feed: string,
  hookUrl: string,
  options: { prodApproval?: boolean } = {},
): ProjectSpecInput {
  const target = { name: 'hook', type: 'webhook' as const, url: hookUrl };
  return {
    name,
    packages: [{ name: 'web', feed, package: `${name}/web` }],
    environments: [
      { name: 'dev', targets: [target] },
      { name: 'prod', targets: [target] },
    ],
    lifecycles: [
      {
        name: 'standard',
        phases: [
          { name: 'dev', environments: ['dev'], automatic: true },
          { name: 'prod', environments: ['prod'], ...(options.prodApproval ? { approval: true } : {}) },
        ],
      },
    ],
    lifecycle: 'standard',
  };
}

/** Creates or replaces a project in the ledger, as the API does. */
export async function putProject(env: { readonly ledger: Ledger }, input: ProjectSpecInput): Promise<void> {
  await env.ledger.saveProject(ProjectSpecSchema.parse(input));
}

/**
 * Starts a trigger as the API does: through the workflow contracts' one start (workflows/contracts/client.ts:
 * its ID and search attributes, its task timeout), with its channel's view, so even its first evaluation is
 * one local activity. Returns a function reading its state.
 */
export async function startTrigger(
  env: { readonly client: Client; readonly taskQueue: string; readonly ledger: Ledger },
  input: TriggerSpecInput,
  options: { firstPoll?: 'slot' } = {},
): Promise<() => Promise<TriggerState>> {
  const spec = TriggerSpecSchema.parse(input);
  const channel = await env.ledger.channelView(spec.project, spec.channel);
  if (!channel) throw new Error(`no view of channel ${spec.channel} in project ${spec.project}`);
  const { revision, packages, rules, lastRelease } = channel;
  const handle = await startTriggerWorkflow(env.client, env.taskQueue, {
    spec,
    view: { revision, packages, rules, lastRelease },
    packages: packages
      .filter((p) => spec.watch === undefined || spec.watch.includes(p.name))
      .map((p) => watchedPackageKey(p.feed, p.package)),
    ...options,
  });
  return () => handle.query(stateQuery);
}

/** A project's releases, newest first (the newest 100). */
export async function releasesOf(
  env: { readonly ledger: Ledger },
  name: string,
  channel?: string,
): Promise<ProjectRelease[]> {
  return (await env.ledger.listReleases(name, { channel, limit: 100 }))?.releases ?? [];
}

/**
 * Records a release of `project` holding its package `web` (`<project>/web` on registry.example) at `tag`, as
 * a trigger's workflow records one (its release workflow then starts the lifecycle); returns its number. A
 * person's release for a test unless `source` says otherwise.
 */
export async function recordWebRelease(
  env: { readonly ledger: Ledger; readonly client: Client; readonly taskQueue: string },
  project: string,
  tag: string,
  options: { reason?: string; source?: ReleaseSource } = {},
): Promise<string> {
  const ledger = createLedgerActivities({ ledger: env.ledger, client: env.client, taskQueue: env.taskQueue });
  const created = await ledger.createRelease({
    project,
    request: {
      channel: 'default',
      packages: [{ name: 'web', feed: 'registry.example', package: `${project}/web`, tag, digest: null }],
      watched: ['web'],
      requireLater: true,
      reason: options.reason ?? 'test',
      source: options.source ?? { kind: 'manual' },
      key: `${project}-${tag}`,
    },
  });
  return created.release!.number;
}

/** Waits until a project has `count` releases and returns them, newest first. */
export async function waitForReleases(
  env: { readonly ledger: Ledger },
  name: string,
  count: number,
  timeoutMs = 30_000,
): Promise<ProjectRelease[]> {
  return eventually(
    async () => {
      const releases = await releasesOf(env, name);
      return releases.length >= count ? releases : undefined;
    },
    `${count} release(s) in project ${name}`,
    timeoutMs,
  );
}
