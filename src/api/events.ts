import { NextFunction, Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { CHANGES_CHANNEL } from '../db/migrations';
import { Database } from '../db/open';
import { ChangeStore } from '../db/changes';
import type { CONSOLE_ROUTES } from './console-docs';
import { Handlers, Routes } from './route';
import { sendProblem } from './problem';

/** What changed, by name only: a client reads the details through the API, with its own rights. */
export const ChangeSchema = z.object({
  kind: z.enum([
    'projects',
    'releases',
    'deployments',
    'approvals',
    'deliveries',
    'triggers',
    'freezes',
    'tenants',
  ]),
  project: z.string().max(200).nullable(),
  release: z.string().max(200).nullable().optional(),
  environment: z.string().max(200).nullable().optional(),
  trigger: z.string().max(200).nullable().optional(),
});
export type Change = z.infer<typeof ChangeSchema>;

/** Event streams one API process holds open at most: each is a socket and a listener. */
const MAX_STREAMS = 1000;
/** A comment line this often keeps proxies from closing an idle stream. */
const HEARTBEAT_MS = 15_000;

/**
 * Fans the ledger's change notifications out to this process's event streams. One LISTEN connection per API
 * process, whatever the number of clients: with separate api and worker processes on PostgreSQL, a
 * deployment the worker records reaches every API process through NOTIFY; with the embedded PGlite (one
 * process) the same NOTIFY arrives through PGlite's own listener.
 */
export class ChangeHub {
  private readonly streams = new Set<(change: Change) => void>();
  private readonly enders = new Set<() => void>();
  private stop: (() => Promise<void>) | null = null;

  constructor(
    private readonly changes: ChangeStore,
    private readonly log: (message: string) => void = () => undefined,
  ) {}

  /** Starts listening on the database; without `listen` (a database stand-in) only local announcements flow. */
  async start(database: Partial<Pick<Database, 'listen'>>): Promise<this> {
    if (!database.listen) return this;
    try {
      this.stop = await database.listen(CHANGES_CHANNEL, (payload) => this.received(payload));
    } catch (err) {
      this.log(`live updates: cannot listen for changes: ${(err as Error).message}`);
    }
    return this;
  }

  async close(): Promise<void> {
    await this.stop?.();
    this.stop = null;
  }

  /** Ends every open event stream (at shutdown: a server cannot close while they are open). */
  endStreams(): void {
    for (const end of [...this.enders]) end();
  }

  /** Registers how to end a stream; answers how to forget it. */
  onEnd(end: () => void): () => void {
    this.enders.add(end);
    return () => this.enders.delete(end);
  }

  get size(): number {
    return this.streams.size;
  }

  /** Tells every API process of the ledger (this one included) that something changed. */
  async announce(change: Change): Promise<void> {
    await this.changes.announce(JSON.stringify(change));
  }

  subscribe(listener: (change: Change) => void): () => void {
    this.streams.add(listener);
    return () => this.streams.delete(listener);
  }

  private received(payload: string): void {
    let change: Change;
    try {
      change = ChangeSchema.parse(JSON.parse(payload));
    } catch {
      return; // not ours
    }
    for (const listener of this.streams) listener(change);
  }
}

/**
 * The trigger routes' change: the trigger named by the route Express matched (its decoded `:project` and
 * `:name`), or, for a create, by the body. Trigger state lives in Temporal, not in the ledger, so no database
 * trigger sees it; what polls change (a feed failing or back, a later version) the trigger announces itself
 * from its workflow (activities/announce.ts).
 */
export function triggerChange(req: Request): Change {
  const body = req.body as { project?: unknown; name?: unknown } | undefined;
  const params = req.params as Record<string, string | undefined>;
  const named = (param: string | undefined, field: unknown) =>
    param ?? (typeof field === 'string' ? field : null);
  return {
    kind: 'triggers',
    project: named(params.project, body?.project),
    trigger: named(params.name, body?.name),
  };
}

/**
 * Freezes and tenants are global and few: a write announces only its kind, and every open page showing one
 * re-reads. Announced here rather than by a database trigger (migration 0011's covers INSERT and UPDATE of
 * release rows), because a delete must reach the pages too and these rows name no project or release.
 */
export const globalChange = (kind: 'freezes' | 'tenants') => (): Change => ({ kind, project: null });

/**
 * `handlers` with each write (every route but GETs) announcing `changeOf(req)` once it succeeded (a 2xx or
 * 3xx answer), so the console's open pages re-read it.
 */
export function announcingWrites<R extends Routes>(
  routes: R,
  handlers: Handlers<R>,
  hub: ChangeHub,
  log: (message: string) => void,
  changeOf: (req: Request) => Change,
): Handlers<R> {
  const announce = (req: Request, res: Response, next: NextFunction) => {
    res.once('finish', () => {
      if (res.statusCode >= 400) return;
      const change = changeOf(req);
      hub
        .announce(change)
        .catch((err: Error) =>
          log(`live updates: cannot announce a change of ${change.kind}: ${err.message}`),
        );
    });
    next();
  };
  const wrapped: Record<string, RequestHandler | readonly RequestHandler[]> = { ...handlers };
  for (const key of Object.keys(routes))
    if (routes[key].method !== 'GET') {
      const handler = handlers[key as keyof R];
      wrapped[key] = [announce, ...(Array.isArray(handler) ? handler : [handler as RequestHandler])];
    }
  return wrapped as Handlers<R>;
}

/**
 * `GET /events`: server-sent events, one `change` event per change, naming it. The stream carries names
 * only, never the data: a page re-reads what it shows through the API.
 */
export function eventHandlers(hub: ChangeHub): Pick<Handlers<typeof CONSOLE_ROUTES>, 'events'> {
  const events = (req: Request, res: Response) => {
    if (hub.size >= MAX_STREAMS)
      return sendProblem(
        res,
        503,
        'Service unavailable',
        'too many live streams on this server; try again later',
      );
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Accel-Buffering': 'no',
      Connection: 'keep-alive',
    });
    res.write('retry: 2000\n\n');
    const unsubscribe = hub.subscribe((change) => {
      res.write(`event: change\ndata: ${JSON.stringify(change)}\n\n`);
    });
    const heartbeat = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS);
    const forget = hub.onEnd(() => res.end());
    res.once('close', () => {
      clearInterval(heartbeat);
      unsubscribe();
      forget();
    });
  };
  return { events };
}
