import { defineSearchAttributeKey } from '@temporalio/common';

/** Custom search attributes the Temporal UI filters triggers by; registered when the server starts. */
export const PROJECT_ATTRIBUTE = defineSearchAttributeKey('FeedTriggersProject', 'KEYWORD');
export const TRIGGER_STATE_ATTRIBUTE = defineSearchAttributeKey('FeedTriggersState', 'KEYWORD');
export const CHANNEL_ATTRIBUTE = defineSearchAttributeKey('FeedTriggersChannel', 'KEYWORD');
/** `feed/package` of each watched package, so a registry webhook can find the triggers watching a repository. */
export const PACKAGES_ATTRIBUTE = defineSearchAttributeKey('FeedTriggersPackages', 'KEYWORD_LIST');

export const SEARCH_ATTRIBUTES = [
  PROJECT_ATTRIBUTE,
  CHANNEL_ATTRIBUTE,
  TRIGGER_STATE_ATTRIBUTE,
  PACKAGES_ATTRIBUTE,
] as const;
