import { createHmac } from 'node:crypto';

/**
 * The receivers load test, as a registry fleet would send it: `notifications` signed `generic-hmac`
 * notifications at `perSecond` (from `lanes` connections at once) spread over `packages`, to a receiver URL.
 * Meanwhile a reader asks the API for a project every 100 ms, to show whether it stays responsive.
 */
export interface BurstOptions {
  /** The API's base URL and the receiver's `/hooks/<id>` path. */
  readonly api: string;
  readonly hook: string;
  readonly secret: string;
  readonly feed: string;
  readonly packages: readonly string[];
  /** A read the probe makes during the burst (answers 2xx when the API is well). */
  readonly probe: () => Promise<unknown>;
  readonly notifications?: number;
  readonly perSecond?: number;
  readonly lanes?: number;
}

export interface BurstResult {
  readonly seconds: number;
  /** Statuses other than 202. */
  readonly refused: number;
  /** Answer times of the notifications, ms. */
  readonly answer: { readonly p50: number; readonly p95: number; readonly max: number };
  /** The probe's read times during the burst, ms. */
  readonly read: { readonly p95: number; readonly count: number };
}

const quantile = (xs: number[], q: number) =>
  xs.length === 0 ? NaN : [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];

export async function sendBurst(options: BurstOptions): Promise<BurstResult> {
  const total = options.notifications ?? 1000;
  const gap = 1000 / (options.perSecond ?? 100);
  const lanes = options.lanes ?? 20;
  const answers: number[] = [];
  const reads: number[] = [];
  let refused = 0;
  let bursting = true;
  const probe = (async () => {
    while (bursting) {
      const t = performance.now();
      await options.probe();
      reads.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const started = Date.now();
  try {
    await Promise.all(
      Array.from({ length: lanes }, async (_, lane) => {
        for (let i = lane; i < total; i += lanes) {
          // Paced: notification i leaves no earlier than i * gap after the start.
          const wait = started + i * gap - Date.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          const body = JSON.stringify({
            feed: options.feed,
            package: options.packages[i % options.packages.length],
            tag: '1.1.0',
          });
          const t = performance.now();
          const res = await fetch(`${options.api}${options.hook}`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              'x-signature-256': `sha256=${createHmac('sha256', options.secret).update(body).digest('hex')}`,
            },
            body,
          });
          await res.arrayBuffer();
          answers.push(performance.now() - t);
          if (res.status !== 202) refused++;
        }
      }),
    );
  } finally {
    bursting = false;
    await probe;
  }
  return {
    seconds: (Date.now() - started) / 1000,
    refused,
    answer: { p50: quantile(answers, 0.5), p95: quantile(answers, 0.95), max: Math.max(...answers) },
    read: { p95: quantile(reads, 0.95), count: reads.length },
  };
}

/** One line of figures. */
export function describeBurst(r: BurstResult, total = 1000): string {
  return (
    `${total} notifications answered in ${r.seconds.toFixed(1)} s (answer p50 ${r.answer.p50.toFixed(0)} ms, ` +
    `p95 ${r.answer.p95.toFixed(0)} ms, max ${r.answer.max.toFixed(0)} ms; ${r.refused} not 202); ` +
    `API read p95 ${r.read.p95.toFixed(0)} ms over ${r.read.count} reads`
  );
}
