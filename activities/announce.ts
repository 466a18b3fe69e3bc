import type { ChangeStore } from '../src/db/changes';
import type { AnnounceActivities, AnnounceTriggerInput } from '../workflows/contracts/activities';

export interface AnnounceDependencies {
  /** The ledger's change channel; absent (a worker without one), announcements are dropped. */
  readonly changes?: Pick<ChangeStore, 'announceTrigger'>;
}

/**
 * Announcements a trigger makes when what the console shows of it changed (a poll failed, a feed came back,
 * a new version or release): the console's pages re-read the trigger through the API. A trigger runs this as
 * a local activity, only on such a change, so idle polls cost nothing here.
 */
export function createAnnounceActivities(deps: AnnounceDependencies): AnnounceActivities {
  return {
    async announceTrigger(input: AnnounceTriggerInput): Promise<void> {
      await deps.changes?.announceTrigger(input.project, input.trigger);
    },
  };
}
