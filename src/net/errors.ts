/** Stable codes for what can go wrong talking to another service over HTTP. */
export type HttpErrorCode =
  | 'NOT_FOUND'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'RATE_LIMITED'
  | 'SERVER_ERROR'
  | 'TIMEOUT'
  | 'NETWORK'
  | 'BAD_RESPONSE'
  | 'TOO_LARGE'
  | 'BAD_REQUEST'
  /** The outbound policy forbids the address (metadata, link-local; private or loopback unless allowed). */
  | 'OUTBOUND_REFUSED';

const RETRYABLE: ReadonlySet<string> = new Set(['RATE_LIMITED', 'SERVER_ERROR', 'TIMEOUT', 'NETWORK']);

/**
 * An outbound HTTP failure (Git, OIDC, destinations, feeds) with a stable code and a message a user can
 * act on. Never carries a secret. Generic in its code so a caller's room can add its own (feeds do).
 */
export class HttpError<Code extends string = HttpErrorCode> extends Error {
  readonly retryable: boolean;

  constructor(
    readonly code: Code,
    message: string,
    readonly retryAfterMs: number | null = null,
    readonly status: number | null = null,
    /** Overrides the code's own retryability (a listed tag whose manifest is not readable yet). */
    retryable?: boolean,
  ) {
    super(message);
    this.name = 'HttpError';
    this.retryable = retryable ?? RETRYABLE.has(code);
  }
}
