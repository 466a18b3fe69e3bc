import { startApi, TestApi } from './api';
import { FaultProxy } from './fault-proxy';
import { ociFeed } from './feeds';
import { releasesOf, waitForReleases } from './projects';
import { SECRETS } from './receivers';
import { pushImage, TestRegistry } from './registry';
import { startTestWorker, TestWorkerEnv } from './temporal';

const WEBHOOK_TOKEN = 'Legacy-Registry-Webhook-Token-42';

/**
 * The service with two real registries whose notifiers call it: `hooked` notifies a `distribution` receiver
 * (`/hooks/<token>`, feed `local`), `legacy` the older `/webhooks/registry?feed=legacy`. The service reads
 * each through a FaultProxy. The registries start after the API (they need its address), so the proxies
 * learn theirs then.
 */
export interface NotifiedService {
  readonly env: TestWorkerEnv;
  readonly api: TestApi;
  readonly hooked: TestRegistry;
  readonly legacy: TestRegistry;
  readonly hookedProxy: FaultProxy;
  readonly legacyProxy: FaultProxy;
  stop(): Promise<void>;
}

export async function startNotifiedService(): Promise<NotifiedService> {
  const hookedProxy = await FaultProxy.start('http://127.0.0.1:9');
  const legacyProxy = await FaultProxy.start('http://127.0.0.1:9');
  const feeds = new Map([
    ['local', ociFeed('local', hookedProxy.url)],
    ['legacy', ociFeed('legacy', legacyProxy.url)],
  ]);
  const env = await startTestWorker({ feeds });
  const api = await startApi(env, { receiverSecrets: SECRETS, feeds, webhookToken: WEBHOOK_TOKEN });
  const stops: Array<() => Promise<void>> = [
    () => hookedProxy.close(),
    () => legacyProxy.close(),
    () => env.stop(),
    () => api.close(),
  ];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  };
  try {
    const res = await api.request('POST', '/receivers', {
      name: 'distribution',
      type: 'distribution',
      secret: { secret: 'hook-auth' },
      feed: 'local',
    });
    if (res.status !== 201) throw new Error(`receiver: ${res.status} ${JSON.stringify(res.body)}`);
    const hooked = await TestRegistry.start({
      notify: { url: `${api.url}${res.body.url}`, token: SECRETS.get('hook-auth')! },
    });
    stops.push(() => hooked.stop());
    const legacy = await TestRegistry.start({
      notify: { url: `${api.url}/webhooks/registry?feed=legacy`, token: WEBHOOK_TOKEN },
    });
    stops.push(() => legacy.stop());
    hookedProxy.target = hooked.url;
    legacyProxy.target = legacy.url;
    return { env, api, hooked, legacy, hookedProxy, legacyProxy, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A project on `repository` released at 1.0.0, with a trigger that polls hourly: only notifications help. */
export async function watchedHourly(
  service: Pick<NotifiedService, 'env' | 'api'>,
  project: string,
  feed: string,
  registry: TestRegistry,
  repository: string,
): Promise<void> {
  const { api, env } = service;
  await pushImage(registry.url, repository, '1.0.0');
  const put = await api.request('PUT', `/projects/${project}`, {
    packages: [{ name: 'app', feed, package: repository }],
  });
  if (put.status !== 201) throw new Error(`project: ${put.status} ${JSON.stringify(put.body)}`);
  const trigger = await api.request('POST', `/projects/${project}/triggers`, {
    name: 'app',
    intervalSeconds: 3600,
  });
  if (trigger.status !== 201) throw new Error(`trigger: ${trigger.status} ${JSON.stringify(trigger.body)}`);
  await waitForReleases(env, project, 1);
  // Visibility must list the trigger under its package before a notification can find it.
  await new Promise((r) => setTimeout(r, 1500));
}

export interface PushRun {
  /** Pushes whose tag a release held within the bound. */
  readonly released: number;
  /** Tags no release held within the bound (only a notification can release them: the interval is an hour). */
  readonly lost: string[];
  /** Push to release, per released push (ms). */
  readonly latencies: number[];
}

/**
 * Pushes `count` tags one after the other (`<prefix>.1`, `<prefix>.2`, …), each after the release of the one
 * before, and waits up to `boundMs` for a release holding each: a notification lost or polled too early
 * shows as a lost tag (the next push would hide it, so each is awaited before the next).
 */
export async function pushOneByOne(
  env: Pick<TestWorkerEnv, 'ledger'>,
  options: {
    readonly registryUrl: string;
    readonly repository: string;
    readonly project: string;
    readonly prefix: string;
    readonly count: number;
    readonly boundMs: number;
  },
): Promise<PushRun> {
  const lost: string[] = [];
  const latencies: number[] = [];
  for (let i = 1; i <= options.count; i++) {
    const tag = `${options.prefix}.${i}`;
    const pushedAt = Date.now();
    await pushImage(options.registryUrl, options.repository, tag);
    const deadline = pushedAt + options.boundMs;
    for (;;) {
      const [newest] = await releasesOf(env, options.project);
      if (newest?.packages[0].tag === tag) {
        latencies.push(Date.now() - pushedAt);
        break;
      }
      if (Date.now() > deadline) {
        lost.push(tag);
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { released: latencies.length, lost, latencies };
}

/** The p50 and max of some latencies (ms). */
export function summary(latencies: readonly number[]): { p50: number; max: number } {
  const sorted = [...latencies].sort((a, b) => a - b);
  return { p50: sorted[Math.floor(sorted.length / 2)] ?? 0, max: sorted[sorted.length - 1] ?? 0 };
}
