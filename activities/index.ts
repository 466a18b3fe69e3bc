export { createPollActivities } from './poll';
export type { PollActivities, PollPackageInput, PollPackageResult, PackagePreview } from './poll';
export { createProjectActivities } from './project';
export type { ProjectActivities } from './project';
export { createDeliveryActivities } from './deliver';
export type { DeliveryActivities } from './deliver';
