/** How often a trigger polls, in seconds: the bounds its schema and its workflow's checks share. */
export const MIN_INTERVAL_SECONDS = 10;
export const DEFAULT_INTERVAL_SECONDS = 300;
export const MAX_INTERVAL_SECONDS = 7 * 24 * 3600;
