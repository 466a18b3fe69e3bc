import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A fault to inject into the next matching answer. */
export type Fault =
  | {
      readonly kind: 'status';
      readonly status: number;
      readonly headers?: Record<string, string>;
      readonly body?: string;
    }
  | { readonly kind: 'slow'; readonly ms: number }
  | { readonly kind: 'huge'; readonly bytes: number }
  | { readonly kind: 'garbage' }
  | { readonly kind: 'reset' }
  | { readonly kind: 'cross-origin-link' }
  /** A tag listing without these tags, as registry 2.8 answers just before it tags a pushed manifest. */
  | { readonly kind: 'hide-tags'; readonly tags: readonly string[] };

export interface ProxiedRequest {
  readonly method: string;
  readonly path: string;
  readonly at: number;
}

/**
 * A proxy in front of a real registry that counts requests and injects faults: statuses (429 with
 * Retry-After, 5xx), slow, huge and garbage answers, connection resets, links to other origins.
 */
export class FaultProxy {
  readonly requests: ProxiedRequest[] = [];
  private readonly faults: Array<{ match: RegExp; fault: Fault }> = [];
  /** Headers added to every answer (e.g. Docker Hub's ratelimit-remaining). */
  extraHeaders: Record<string, string> = {};
  /**
   * Registry 2.8 answers every tag in one unsorted page; with a page size set, the proxy paginates as
   * other registries do: lexical order, `n` and `last`, and a relative `Link` to the next page.
   */
  pageSize: number | null = null;

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
    /** The registry behind the proxy (settable: a registry that notifies the service starts after it). */
    public target: string,
  ) {}

  static async start(target: string): Promise<FaultProxy> {
    let self: FaultProxy | undefined = undefined;
    const server = http.createServer((req, res) => void self!.handle(req, res, self!.target));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    self = new FaultProxy(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`, target);
    return self;
  }

  get host(): string {
    return new URL(this.url).host;
  }

  /** Injects `fault` into the next request whose path matches. */
  inject(match: RegExp, fault: Fault, times = 1): void {
    for (let i = 0; i < times; i++) this.faults.push({ match, fault });
  }

  count(match: RegExp): number {
    return this.requests.filter((r) => match.test(r.path)).length;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse, target: string): Promise<void> {
    const path = req.url ?? '/';
    this.requests.push({ method: req.method ?? 'GET', path, at: Date.now() });
    const i = this.faults.findIndex((f) => f.match.test(path));
    const fault = i === -1 ? null : this.faults.splice(i, 1)[0].fault;
    if (fault?.kind === 'reset') return void req.socket.destroy();
    if (fault?.kind === 'status') {
      res.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers });
      return void res.end(
        fault.body ?? JSON.stringify({ errors: [{ code: 'INJECTED', message: `injected ${fault.status}` }] }),
      );
    }
    if (fault?.kind === 'garbage')
      return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"tags": [oops');
    if (fault?.kind === 'huge') {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      for (let sent = 0; sent < fault.bytes; sent += chunk.length) {
        if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
        if (res.destroyed) return;
      }
      return void res.end();
    }
    if (fault?.kind === 'slow') await new Promise((r) => setTimeout(r, fault.ms));
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers))
      if (typeof v === 'string' && k !== 'host') headers[k] = v;
    let upstream: Response;
    try {
      upstream = await fetch(`${target}${path}`, { method: req.method, headers, redirect: 'manual' });
    } catch {
      return void res.writeHead(502).end();
    }
    const out: Record<string, string> = { ...this.extraHeaders };
    upstream.headers.forEach((v, k) => {
      if (k !== 'content-length' && k !== 'content-encoding' && k !== 'transfer-encoding') out[k] = v;
    });
    if (fault?.kind === 'cross-origin-link')
      out.link = '<http://evil.example:9/v2/x/tags/list?n=1&last=a>; rel="next"';
    let body = Buffer.from(await upstream.arrayBuffer());
    const listing = /^\/v2\/(.+)\/tags\/list(\?.*)?$/.exec(path);
    if (fault?.kind === 'hide-tags' && listing && upstream.status === 200) {
      const page = JSON.parse(body.toString('utf8')) as { name: string; tags: string[] | null };
      page.tags = (page.tags ?? []).filter((t) => !fault.tags.includes(t));
      body = Buffer.from(JSON.stringify(page));
    }
    if (this.pageSize !== null && listing && upstream.status === 200) {
      const query = new URLSearchParams(listing[2]?.slice(1) ?? '');
      const n = Math.min(Number(query.get('n') ?? this.pageSize) || this.pageSize, this.pageSize);
      const last = query.get('last');
      const all = ((JSON.parse(body.toString('utf8')) as { tags: string[] }).tags ?? []).sort();
      const page = all.filter((t) => last === null || t > last).slice(0, n);
      body = Buffer.from(JSON.stringify({ name: listing[1], tags: page }));
      const remaining = all.filter((t) => last === null || t > last).length - page.length;
      if (remaining > 0)
        out.link = `</v2/${listing[1]}/tags/list?n=${n}&last=${encodeURIComponent(page[page.length - 1])}>; rel="next"`;
    }
    if (res.destroyed) return;
    res.writeHead(upstream.status, out);
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }
}
