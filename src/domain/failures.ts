/**
 * The failure codes workflows, activities and the API share: the `type` of an ApplicationFailure and the
 * `code` a trigger records. One list, so a code cannot drift between the layer that throws it and the
 * one that matches it. Feed errors add their own (src/feeds/errors.ts), passed through unchanged.
 */
export const FailureCode = {
  PROJECT_NOT_FOUND: 'PROJECT_NOT_FOUND',
  CHANNEL_NOT_FOUND: 'CHANNEL_NOT_FOUND',
  UNKNOWN_PACKAGE: 'UNKNOWN_PACKAGE',
  UNKNOWN_VERSION: 'UNKNOWN_VERSION',
  RELEASE_REFUSED: 'RELEASE_REFUSED',
  INVALID_PROJECT: 'INVALID_PROJECT',
  INVALID_TRIGGER: 'INVALID_TRIGGER',
  DESTINATION_REJECTED: 'DESTINATION_REJECTED',
  DESTINATION_UNAVAILABLE: 'DESTINATION_UNAVAILABLE',
  CANCELLED: 'CANCELLED',
  /** A lifecycle request that conflicts with what is happening (409): already queued, already decided. */
  CONFLICT: 'CONFLICT',
  /** A lifecycle request the lifecycle does not allow yet (422): phase not open, approval missing. */
  NOT_ALLOWED: 'NOT_ALLOWED',
  TIMEOUT: 'TIMEOUT',
  ERROR: 'ERROR',
} as const;
export type FailureCode = (typeof FailureCode)[keyof typeof FailureCode];

/** Refusals that mean "no such thing" (404 at the API) rather than "not allowed" (422). */
export const NOT_FOUND_CODES: ReadonlySet<string> = new Set([
  FailureCode.PROJECT_NOT_FOUND,
  FailureCode.CHANNEL_NOT_FOUND,
  FailureCode.UNKNOWN_PACKAGE,
  FailureCode.UNKNOWN_VERSION,
]);
