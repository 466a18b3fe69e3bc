import { printable } from './printable';
import { UsageError } from './usage';

/** The longest name or release number the CLI puts in a path; the API's own limits are lower. */
const MAX_SEGMENT = 1000;

/**
 * One argument as one path segment of an API route: percent-encoded, so `/`, `%2f` or `?` stay inside it.
 * Refused (a UsageError) when no encoding can keep it there: empty, `.` and `..` (URL parsers resolve those,
 * also as %2e, and the request would reach another route), control characters and NUL, or over 1000 characters.
 */
export function pathSegment(value: string, what: string): string {
  if (value === '') throw new UsageError(`${what}: must not be empty`);
  if (value.length > MAX_SEGMENT)
    throw new UsageError(`${what}: ${value.length} characters; at most ${MAX_SEGMENT}`);
  if (value === '.' || value === '..') throw new UsageError(`${what}: "${value}" is not a name`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value))
    throw new UsageError(`${what}: "${printable(value)}" contains control characters`);
  return encodeURIComponent(value);
}

/** A failed API call, with the problem document's detail. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** A small client for the feed-triggers HTTP API, used by `apply` and `get`. */
export class ApiClient {
  /** The API at --api or FEED_TRIGGERS_API_URL, with the token in FEED_TRIGGERS_TOKEN. */
  static fromEnv(given: string | undefined, env: NodeJS.ProcessEnv): ApiClient {
    return new ApiClient(
      given ?? env.FEED_TRIGGERS_API_URL ?? 'http://127.0.0.1:8080',
      env.FEED_TRIGGERS_TOKEN,
    );
  }

  constructor(
    readonly baseUrl: string,
    /** Sent as a Bearer token; from the environment, never a flag (flags show in `ps`). */
    private readonly token?: string,
  ) {
    try {
      new URL(baseUrl);
    } catch {
      throw new UsageError(`--api: "${baseUrl}" is not a URL`);
    }
  }

  /**
   * One API call. A 503 (the service starting, or Temporal briefly unavailable) is tried again for methods
   * that are safe to repeat, up to IDEMPOTENT_TRIES times, waiting as Retry-After asks (at most 5 s).
   */
  async call<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: T }> {
    const tries = IDEMPOTENT.has(method.toUpperCase()) ? IDEMPOTENT_TRIES : 1;
    for (let attempt = 1; ; attempt++) {
      const res = await this.callOnce<T>(method, path, body);
      if (res.status !== 503 || attempt >= tries) return { status: res.status, body: res.body };
      await new Promise((r) => setTimeout(r, res.retryAfterMs));
    }
  }

  private async callOnce<T>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: T; retryAfterMs: number }> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl.replace(/\/+$/, '')}${path}`, {
        method,
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(60_000),
      });
    } catch (err) {
      throw new ApiError(
        0,
        `cannot reach the feed-triggers API at ${this.baseUrl} (${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message}); is \`npm start\` running?`,
      );
    }
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = text;
    }
    const retryAfter = Number(res.headers.get('retry-after'));
    const retryAfterMs =
      Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter, 5) * 1000 : 1000;
    return { status: res.status, body: parsed as T, retryAfterMs };
  }

  /** Like call, but any status outside `ok` is an ApiError with the API's detail. */
  async expect<T = unknown>(
    method: string,
    path: string,
    ok: number[],
    body?: unknown,
  ): Promise<{ status: number; body: T }> {
    const res = await this.call<T>(method, path, body);
    if (!ok.includes(res.status)) {
      const problem = res.body as {
        title?: string;
        detail?: string;
        errors?: { field: string; message: string }[];
      } | null;
      // Every field error on a line of its own: one run shows all that is wrong.
      const errors = Array.isArray(problem?.errors) && problem.errors.length > 1 ? problem.errors : [];
      // The server's words verbatim, but as text: a hostile name in them cannot drive the terminal.
      const text = (s: unknown) => printable(String(s));
      const detail =
        errors.length > 0
          ? `${text(problem?.title ?? 'Invalid request')}: ${errors.length} errors${errors.map((e) => `\n  ${text(e.field)}: ${text(e.message)}`).join('')}`
          : text(problem?.detail ?? JSON.stringify(res.body));
      if (res.status === 401)
        throw new ApiError(
          401,
          `${method} ${path}: 401 ${detail}; set FEED_TRIGGERS_TOKEN to a token (feed-triggers token create)`,
        );
      throw new ApiError(res.status, `${method} ${path}: ${res.status} ${detail}`);
    }
    return res;
  }
}

/** Methods the API treats as idempotent: repeating one after a 503 changes nothing twice. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE']);
const IDEMPOTENT_TRIES = 5;
