import { Client, WithStartWorkflowOperation } from '@temporalio/client';
import {
  ProjectRelease,
  ProjectSpecInput,
  ProjectSpecSchema,
  projectWorkflowId,
} from '../../src/domain/project';
import {
  TriggerSpecInput,
  TriggerSpecSchema,
  TriggerState,
  triggerWorkflowId,
} from '../../src/domain/trigger';
import { configureUpdate, releasesQuery } from '../../workflows/messages/project';
import { stateQuery } from '../../workflows/messages/trigger';
import type { project } from '../../workflows/project';
import type { trigger } from '../../workflows/trigger';
import { eventually } from './temporal';

/** Creates or replaces a project the way the API does (update-with-start). */
export async function putProject(client: Client, taskQueue: string, input: ProjectSpecInput): Promise<void> {
  const spec = ProjectSpecSchema.parse(input);
  await client.workflow.executeUpdateWithStart(configureUpdate, {
    args: [spec],
    startWorkflowOperation: new WithStartWorkflowOperation<typeof project>('project', {
      workflowId: projectWorkflowId(spec.name),
      taskQueue,
      args: [{ spec }],
      workflowIdConflictPolicy: 'USE_EXISTING',
    }),
  });
}

/** Starts a trigger workflow and returns a function reading its state. */
export async function startTrigger(
  client: Client,
  taskQueue: string,
  input: TriggerSpecInput,
): Promise<() => Promise<TriggerState>> {
  const spec = TriggerSpecSchema.parse(input);
  const handle = await client.workflow.start<typeof trigger>('trigger', {
    taskQueue,
    workflowId: triggerWorkflowId(spec.project, spec.name),
    args: [{ spec }],
  });
  return () => handle.query(stateQuery);
}

/** A project's releases, newest first. */
export async function releasesOf(client: Client, name: string, channel?: string): Promise<ProjectRelease[]> {
  return (
    await client.workflow
      .getHandle(projectWorkflowId(name))
      .query(releasesQuery, { channel, limit: 100, offset: 0 })
  ).releases;
}

/** Waits until a project has `count` releases and returns them, newest first. */
export async function waitForReleases(
  client: Client,
  name: string,
  count: number,
  timeoutMs = 30_000,
): Promise<ProjectRelease[]> {
  return eventually(
    async () => {
      const releases = await releasesOf(client, name);
      return releases.length >= count ? releases : undefined;
    },
    `${count} release(s) in project ${name}`,
    timeoutMs,
  );
}
