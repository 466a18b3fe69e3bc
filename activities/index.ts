export { createPollActivities } from './poll';
export type { PollActivities, PollPackageInput, PollPackageResult } from './poll';
