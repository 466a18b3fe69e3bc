import { createLedgerActivities } from '../../activities/ledger';
import { CreateReleaseRequest, DeliveryOrder, ProjectRelease } from '../../src/domain/project';
import { startServer } from './http-server';
import { putProject } from './projects';
import type { TestWorkerEnv } from './temporal';

/**
 * A webhook destination whose answers a test steers, per path (a destination of its own per path): up or
 * down as a whole, or one path down, slow, or losing its answers.
 */
export interface DestinationHook {
  readonly url: string;
  /** Every path answers 503 while false. */
  up: boolean;
  /** Paths whose requests are received and then dropped without an answer (the answer is lost). */
  readonly dropping: Set<string>;
  /** Paths answered 503 while listed. */
  readonly down: Set<string>;
  /** Paths answered slowly (ms). */
  readonly slow: Map<string, number>;
  /** The release numbers a path received, in order, accepted or not. */
  received(path: string): string[];
  close(): Promise<void>;
}

/** Starts a destination hook on loopback, up. */
export async function startDestinationHook(): Promise<DestinationHook> {
  const server = await startServer(async (req, res) => {
    const path = req.url.slice(1);
    const delay = hook.slow.get(path);
    if (delay) await new Promise((r) => setTimeout(r, delay));
    if (hook.dropping.has(path)) return void res.socket?.destroy();
    if (hook.down.has(path)) return void res.writeHead(503).end();
    res.writeHead(hook.up ? 200 : 503).end();
  });
  const hook: DestinationHook = {
    url: server.url,
    up: true,
    dropping: new Set(),
    down: new Set(),
    slow: new Map(),
    received: (path) =>
      server.requests.filter((r) => r.url === `/${path}`).map((r) => JSON.parse(r.body).release as string),
    close: () => server.close(),
  };
  return hook;
}

/** The package every project of a deliveries test holds: `<project>/app` on the feed named `feed`. */
export const appPackage = (feed: string, project: string) => ({
  name: 'app',
  feed,
  package: `${project}/app`,
});

/** Saves a project of one package whose one destination, `hook`, is the hook's `path`. */
export async function destinationProject(
  env: Pick<TestWorkerEnv, 'ledger'>,
  options: { feed: string; hook: DestinationHook; name: string; order: DeliveryOrder; path?: string },
): Promise<void> {
  const { feed, hook, name, order, path = name } = options;
  await putProject(env, {
    name,
    packages: [appPackage(feed, name)],
    destinations: [{ name: 'hook', type: 'webhook', url: `${hook.url}/${path}`, order }],
  });
}

/** A pinned release made the way a trigger makes one: through the release-creation activity. */
export async function recordRelease(
  env: Pick<TestWorkerEnv, 'ledger' | 'client' | 'taskQueue'>,
  options: { feed: string; project: string; tag: string; taskQueue?: string },
): Promise<ProjectRelease> {
  const { feed, project, tag, taskQueue = env.taskQueue } = options;
  const request: CreateReleaseRequest = {
    channel: 'default',
    packages: [{ ...appPackage(feed, project), tag, digest: null }],
    watched: ['app'],
    requireLater: true,
    reason: 'test',
    source: { kind: 'manual' },
    key: `${project}-${tag}`,
  };
  const activities = createLedgerActivities({ ledger: env.ledger, client: env.client, taskQueue });
  const result = await activities.createRelease({ project, request });
  expect(result.outcome).toBe('created');
  return result.release!;
}

/** Each release's delivery to the destination `hook`, by release number. */
export async function hookDeliveries(env: Pick<TestWorkerEnv, 'ledger'>, project: string) {
  const list = await env.ledger.listReleases(project, { limit: 100 });
  return Object.fromEntries(list!.releases.map((r) => [r.number, r.deliveries.hook]));
}
