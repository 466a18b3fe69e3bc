import { FeedError } from './errors';

export interface HttpResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly url: string;
  /** The body, read up to the size cap; empty for HEAD. */
  readonly body: Buffer;
}

export interface HttpRequest {
  readonly method?: 'GET' | 'HEAD' | 'POST';
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly timeoutMs?: number;
  readonly maxBytes?: number;
}

export const DEFAULT_TIMEOUT_MS = 15_000;
export const DEFAULT_MAX_BYTES = 16 * 1024 * 1024;

/** Caps concurrent requests per registry host so one busy feed cannot flood a registry. */
class HostLimiter {
  private readonly active = new Map<string, number>();
  private readonly waiting = new Map<string, Array<() => void>>();

  constructor(private readonly perHost: number) {}

  async run<T>(host: string, fn: () => Promise<T>): Promise<T> {
    while ((this.active.get(host) ?? 0) >= this.perHost) {
      await new Promise<void>((resolve) => {
        const queue = this.waiting.get(host) ?? [];
        queue.push(resolve);
        this.waiting.set(host, queue);
      });
    }
    this.active.set(host, (this.active.get(host) ?? 0) + 1);
    try {
      return await fn();
    } finally {
      this.active.set(host, (this.active.get(host) ?? 1) - 1);
      this.waiting.get(host)?.shift()?.();
    }
  }
}

/** Plain HTTP with a timeout, a body size cap and a per-host concurrency cap; network faults become FeedErrors. */
export class HttpClient {
  private readonly limiter: HostLimiter;
  private readonly timeoutMs: number;

  constructor(options: { perHostConcurrency?: number; timeoutMs?: number } = {}) {
    this.limiter = new HostLimiter(options.perHostConcurrency ?? 8);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  async request(url: string, req: HttpRequest = {}): Promise<HttpResponse> {
    const target = new URL(url);
    return this.limiter.run(target.host, () => this.send(target, req));
  }

  private async send(target: URL, req: HttpRequest): Promise<HttpResponse> {
    const timeoutMs = req.timeoutMs ?? this.timeoutMs;
    const maxBytes = req.maxBytes ?? DEFAULT_MAX_BYTES;
    const signal = AbortSignal.timeout(timeoutMs);
    const where = `${target.origin}${target.pathname}`;
    let res: Response;
    try {
      res = await fetch(target, {
        method: req.method ?? 'GET',
        headers: req.headers,
        body: req.body,
        signal,
        redirect: 'follow',
      });
    } catch (err) {
      throw networkError(err, where, timeoutMs);
    }
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (Number.isFinite(declared) && declared > maxBytes) {
      await res.body?.cancel();
      throw new FeedError(
        'TOO_LARGE',
        `${where} answered ${declared} bytes, more than the ${maxBytes}-byte cap`,
      );
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      if (res.body && req.method !== 'HEAD') {
        for await (const chunk of res.body) {
          size += chunk.byteLength;
          if (size > maxBytes) {
            await res.body.cancel().catch(() => undefined);
            throw new FeedError('TOO_LARGE', `${where} answered more than the ${maxBytes}-byte cap`);
          }
          chunks.push(Buffer.from(chunk));
        }
      }
    } catch (err) {
      if (err instanceof FeedError) throw err;
      throw networkError(err, where, timeoutMs);
    }
    return {
      status: res.status,
      headers: res.headers,
      url: res.url || target.href,
      body: Buffer.concat(chunks),
    };
  }
}

function networkError(err: unknown, where: string, timeoutMs: number): FeedError {
  const e = err as { name?: string; cause?: { code?: string; message?: string }; message?: string };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') {
    return new FeedError('TIMEOUT', `${where} did not answer within ${timeoutMs} ms`);
  }
  const code = e?.cause?.code ?? e?.name ?? 'error';
  return new FeedError('NETWORK', `${where} could not be reached (${code})`);
}

/** A 429's wait from `Retry-After` (seconds or an HTTP date), capped at an hour. */
export function retryAfterMs(res: HttpResponse): number | null {
  const header = res.headers.get('retry-after');
  if (!header) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds, 3600) * 1000;
  const date = Date.parse(header);
  return Number.isFinite(date) ? Math.min(Math.max(date - Date.now(), 0), 3600_000) : null;
}

/**
 * Classifies a non-2xx answer: not found, unauthorized and denied are final; 429 carries Retry-After; 5xx
 * is retryable; anything else is a bad response. `detail` is the server's own message, when it has one.
 */
export function statusError(res: HttpResponse, what: string, detail: string | null = null): FeedError {
  const status = res.status;
  const own = detail ? `: ${detail}` : '';
  if (status === 404) return new FeedError('NOT_FOUND', `${what} was not found (404)${own}`, null, status);
  if (status === 401)
    return new FeedError('UNAUTHORIZED', `${what} needs valid credentials (401)${own}`, null, status);
  if (status === 403) return new FeedError('DENIED', `${what} denied access (403)${own}`, null, status);
  if (status === 429)
    return new FeedError('RATE_LIMITED', `${what} is rate-limited (429)${own}`, retryAfterMs(res), status);
  if (status >= 500)
    return new FeedError('SERVER_ERROR', `${what} failed with ${status}${own}`, null, status);
  return new FeedError('BAD_RESPONSE', `${what} answered ${status}${own}`, null, status);
}
