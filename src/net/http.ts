import { Agent, fetch } from 'undici';
import { hostLabel, metrics } from '../observability/metrics';
import { HttpError } from './errors';
import {
  checkOutboundUrl,
  guardedLookup,
  OutboundPolicy,
  OutboundRefusedError,
  PERMISSIVE_OUTBOUND,
} from './outbound';

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
  /** Aborts the request (activity cancellation, a paused trigger). */
  readonly signal?: AbortSignal;
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

/** Redirect hops followed at most; each is checked against the outbound policy again. */
export const MAX_REDIRECTS = 5;

/**
 * Plain HTTP with a timeout, a body size cap, a per-host concurrency cap and the outbound policy: every
 * URL and every address a name resolves to is checked, redirects are followed by hand (re-checked, and
 * never carrying credentials to another origin), and network faults become HttpErrors that do not tell
 * a refused port from a filtered one.
 */
export class HttpClient {
  private readonly limiter: HostLimiter;
  private readonly timeoutMs: number;
  private readonly agent: Agent;
  readonly policy: OutboundPolicy;

  constructor(options: { perHostConcurrency?: number; timeoutMs?: number; policy?: OutboundPolicy } = {}) {
    this.limiter = new HostLimiter(options.perHostConcurrency ?? 8);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.policy = options.policy ?? PERMISSIVE_OUTBOUND;
    this.agent = new Agent({ connect: { lookup: guardedLookup(this.policy) } });
  }

  async request(url: string, req: HttpRequest = {}): Promise<HttpResponse> {
    let target = parseTarget(url);
    let method = req.method ?? 'GET';
    let body = req.body;
    const headers: Record<string, string> = { ...req.headers };
    const seen = new Set<string>([target.href]);
    for (let hop = 0; ; hop++) {
      const current = target;
      const res = await this.limiter.run(current.host, () =>
        this.send(current, { ...req, method, body, headers }),
      );
      const location = res.status >= 300 && res.status < 400 ? res.headers.get('location') : null;
      if (location === null) return res;
      if (hop >= MAX_REDIRECTS)
        throw new HttpError('BAD_RESPONSE', `${describe(url)} redirected more than ${MAX_REDIRECTS} times`);
      let next: URL;
      try {
        next = new URL(location, current);
      } catch {
        throw new HttpError(
          'BAD_RESPONSE',
          `${describe(current.href)} redirected to something that is not a URL`,
        );
      }
      if (seen.has(next.href)) throw new HttpError('BAD_RESPONSE', `${describe(url)} redirects in a loop`);
      seen.add(next.href);
      if (next.origin !== current.origin) {
        // Credentials belong to the origin they were meant for (as browsers and Docker do).
        for (const name of Object.keys(headers))
          if (/^authorization$|signature|token|api-?key/i.test(name)) delete headers[name];
      }
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        method = 'GET';
        body = undefined;
        delete headers['content-type'];
      }
      target = next;
    }
  }

  private async send(target: URL, req: HttpRequest): Promise<HttpResponse> {
    try {
      checkOutboundUrl(target, this.policy);
    } catch (err) {
      throw new HttpError('OUTBOUND_REFUSED', (err as Error).message);
    }
    const timeoutMs = req.timeoutMs ?? this.timeoutMs;
    const maxBytes = req.maxBytes ?? DEFAULT_MAX_BYTES;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = req.signal ? AbortSignal.any([timeout, req.signal]) : timeout;
    const where = `${target.origin}${target.pathname}`;
    let res: Awaited<ReturnType<typeof fetch>>;
    try {
      res = await fetch(target, {
        method: req.method ?? 'GET',
        headers: req.headers,
        body: req.body,
        signal,
        redirect: 'manual',
        dispatcher: this.agent,
      });
    } catch (err) {
      if (req.signal?.aborted) throw callerAborted(req.signal, where);
      const failure = connectError(err, target, timeoutMs);
      const code = failure.code;
      metrics.registryRequests.inc({ host: hostLabel(target.host), code });
      metrics.registryErrors.inc({ host: hostLabel(target.host), code });
      throw failure;
    }
    const host = hostLabel(target.host);
    metrics.registryRequests.inc({ host, code: String(res.status) });
    if (res.status === 429 || res.status >= 500)
      metrics.registryErrors.inc({ host, code: String(res.status) });
    // Docker Hub's form: `ratelimit-remaining: 76;w=21600`.
    const remaining = Number.parseInt(res.headers.get('ratelimit-remaining') ?? '', 10);
    if (Number.isFinite(remaining)) metrics.rateLimitRemaining.set({ host }, remaining);
    const headers = new Headers();
    res.headers.forEach((value, name) => headers.append(name, value));
    const declared = Number(headers.get('content-length') ?? NaN);
    if (Number.isFinite(declared) && declared > maxBytes) {
      await res.body?.cancel().catch(() => undefined);
      throw new HttpError(
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
            throw new HttpError('TOO_LARGE', `${where} answered more than the ${maxBytes}-byte cap`);
          }
          chunks.push(Buffer.from(chunk));
        }
      } else {
        await res.body?.cancel().catch(() => undefined);
      }
    } catch (err) {
      if (err instanceof HttpError) throw err;
      if (req.signal?.aborted) throw callerAborted(req.signal, where);
      throw bodyError(err, where, timeoutMs);
    }
    return { status: res.status, headers, url: target.href, body: Buffer.concat(chunks) };
  }
}

function parseTarget(url: string): URL {
  try {
    return new URL(url);
  } catch {
    throw new HttpError('BAD_REQUEST', 'not a valid URL');
  }
}

/** A URL for messages: origin and path, never credentials or a query. */
function describe(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

/** Causes that say nothing of a port: a name that does not resolve, or a certificate that is refused. */
const NAMED_CAUSES: Readonly<Record<string, string>> = {
  ENOTFOUND: 'the name does not resolve',
  EAI_AGAIN: 'DNS did not answer; try again later',
  EAI_FAIL: 'DNS failed',
  ENODATA: 'the name has no address',
  CERT_HAS_EXPIRED: 'its TLS certificate has expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'its TLS certificate is self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'its TLS certificate chain is self-signed',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'its TLS certificate is not from a trusted authority',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'its TLS certificate is not from a trusted authority',
  ERR_TLS_CERT_ALTNAME_INVALID: 'its TLS certificate is for another name',
};

/**
 * A failure before an answer. Refused, unreachable, no answer in time and not HTTP read the same, so an API
 * caller cannot map which ports of an internal host are open, closed or filtered; a name that does not
 * resolve and a refused certificate are named with their code (`ENOTFOUND dockerhub.io`): they tell nothing
 * of ports, and they are what a person must fix.
 */
function connectError(err: unknown, target: URL, timeoutMs: number): HttpError {
  const cause = (err as { cause?: unknown })?.cause;
  if (cause instanceof OutboundRefusedError) return new HttpError('OUTBOUND_REFUSED', cause.message);
  const code = (cause as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && Object.hasOwn(NAMED_CAUSES, code)) {
    const subject = code.startsWith('E') && !code.startsWith('ERR_') ? ` ${target.hostname}` : '';
    return new HttpError(
      'NETWORK',
      `${target.origin} could not be reached: ${code}${subject} (${NAMED_CAUSES[code]})`,
    );
  }
  return new HttpError(
    'NETWORK',
    `${target.origin} could not be reached or gave no answer within ${timeoutMs} ms`,
  );
}

/**
 * The caller's own signal ended the request. A cancellation (a paused trigger) goes back as the caller's
 * reason, untouched; a deadline of the caller's (an activity's start-to-close) reads as a timeout of this
 * request, so the caller sees which request it was waiting for, not a bare `TimeoutError`.
 */
function callerAborted(signal: AbortSignal, where: string): unknown {
  const reason: unknown = signal.reason;
  if ((reason as { name?: string } | null)?.name === 'TimeoutError')
    return new HttpError('TIMEOUT', `${where} did not answer before the caller's deadline`);
  return reason;
}

function bodyError(err: unknown, where: string, timeoutMs: number): HttpError {
  const e = err as { name?: string };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError')
    return new HttpError('TIMEOUT', `${where} did not finish its answer within ${timeoutMs} ms`);
  return new HttpError('NETWORK', `${where} broke off its answer`);
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
export function statusError(res: HttpResponse, what: string, detail: string | null = null): HttpError {
  const status = res.status;
  const own = detail ? `: ${detail}` : '';
  if (status === 404) return new HttpError('NOT_FOUND', `${what} was not found (404)${own}`, null, status);
  if (status === 401)
    return new HttpError('UNAUTHORIZED', `${what} needs valid credentials (401)${own}`, null, status);
  if (status === 403) return new HttpError('DENIED', `${what} denied access (403)${own}`, null, status);
  if (status === 429)
    return new HttpError('RATE_LIMITED', `${what} is rate-limited (429)${own}`, retryAfterMs(res), status);
  if (status >= 500)
    return new HttpError('SERVER_ERROR', `${what} failed with ${status}${own}`, null, status);
  return new HttpError('BAD_RESPONSE', `${what} answered ${status}${own}`, null, status);
}
