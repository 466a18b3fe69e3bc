import type { WorkflowStartOptions } from '@temporalio/client';
import { ProjectRelease, releaseWorkflowId } from './domain/project';
import { PROJECT_ATTRIBUTE } from './domain/search-attributes';
import { releaseStaticDetails } from './domain/ui-text';
import type { release } from '../workflows/release';

/** `web 1.4.2, worker 2.0.1 → 0.0.7`: what a release holds, for the Temporal UI. */
export function releaseSummary(release: Pick<ProjectRelease, 'packages' | 'number'>): string {
  const held = release.packages.map((p) => `${p.name} ${p.tag}`).join(', ');
  const text = `${held} → ${release.number}`;
  return text.length <= 200 ? text : `${text.slice(0, 180)}… → ${release.number}`;
}

/**
 * How a release's workflow is started: by the activity that records the release, and by a person's
 * request (update-with-start) to a release whose workflow has ended. A running one is used as it is.
 */
export function releaseStartOptions(
  project: string,
  stored: Pick<ProjectRelease, 'packages' | 'number'> & { readonly id: number },
  taskQueue: string,
): WorkflowStartOptions<typeof release> & { workflowIdConflictPolicy: 'USE_EXISTING' } {
  return {
    workflowId: releaseWorkflowId(project, stored.number),
    taskQueue,
    args: [{ project, releaseId: stored.id, number: stored.number }],
    workflowIdConflictPolicy: 'USE_EXISTING',
    // A closed run of this ID belongs to a release already handed off, or to a deleted project of the
    // same name: a new run checks the ledger and ends at once when nothing is left to do.
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    typedSearchAttributes: [{ key: PROJECT_ATTRIBUTE, value: project }],
    staticSummary: releaseSummary(stored),
    staticDetails: releaseStaticDetails(stored.packages),
  };
}
