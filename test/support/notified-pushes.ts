import { releasesOf } from './projects';
import { pushImage } from './registry';
import type { TestWorkerEnv } from './temporal';

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
