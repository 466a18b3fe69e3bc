import { HttpError, HttpErrorCode } from '../net/errors';

/** Stable codes for what can go wrong talking to a feed: the HTTP ones, and a feed the worker lacks. */
export type FeedErrorCode = HttpErrorCode | 'UNKNOWN_FEED';

/**
 * A feed failure with a stable code and a message a user can act on. Never carries a secret. An
 * `HttpError` too, so code that handles outbound failures in general handles a feed's as well.
 */
export class FeedError extends HttpError<FeedErrorCode> {
  constructor(
    code: FeedErrorCode,
    message: string,
    retryAfterMs: number | null = null,
    status: number | null = null,
    /** Overrides the code's own retryability (a listed tag whose manifest is not readable yet). */
    retryable?: boolean,
  ) {
    super(code, message, retryAfterMs, status, retryable);
    this.name = 'FeedError';
  }

  /** The same failure, as the feed's: src/net throws the generic error, feeds answer with their own. */
  static from(err: HttpError): FeedError {
    if (err instanceof FeedError) return err;
    return new FeedError(err.code, err.message, err.retryAfterMs, err.status, err.retryable);
  }
}

/** Rethrows an outbound failure as the feed's (`.catch(asFeedError)`); anything else (an abort) as it is. */
export function asFeedError(err: unknown): never {
  throw err instanceof HttpError ? FeedError.from(err) : err;
}
