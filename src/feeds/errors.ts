/** Stable codes for what can go wrong talking to a feed. */
export type FeedErrorCode =
  | 'NOT_FOUND'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'RATE_LIMITED'
  | 'SERVER_ERROR'
  | 'TIMEOUT'
  | 'NETWORK'
  | 'BAD_RESPONSE'
  | 'TOO_LARGE'
  | 'UNKNOWN_FEED'
  | 'BAD_REQUEST'
  /** The outbound policy forbids the address (metadata, link-local; private or loopback unless allowed). */
  | 'OUTBOUND_REFUSED';

const RETRYABLE: ReadonlySet<FeedErrorCode> = new Set(['RATE_LIMITED', 'SERVER_ERROR', 'TIMEOUT', 'NETWORK']);

/** A feed failure with a stable code and a message a user can act on. Never carries a secret. */
export class FeedError extends Error {
  readonly retryable: boolean;

  constructor(
    readonly code: FeedErrorCode,
    message: string,
    readonly retryAfterMs: number | null = null,
    readonly status: number | null = null,
    /** Overrides the code's own retryability (a listed tag whose manifest is not readable yet). */
    retryable?: boolean,
  ) {
    super(message);
    this.name = 'FeedError';
    this.retryable = retryable ?? RETRYABLE.has(code);
  }
}
