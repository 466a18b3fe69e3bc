import { performance } from 'node:perf_hooks';
import { compileRule, evaluateRule } from '../src/domain/rule';
import { CredentialStore } from '../src/feeds/credentials';
import { HelmHttpFeed } from '../src/feeds/feed';
import { HelmRepositoryClient } from '../src/feeds/helm';
import { HttpClient } from '../src/feeds/http';
import { startServer } from '../test/support/http-server';

/**
 * Hostile-input figures: rules that backtrack catastrophically on V8 over hostile tags (RE2 keeps them
 * linear), and Helm indexes of 10k and 100k charts (parse time against plain reading, memory kept).
 */
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const say = (line: string) => process.stdout.write(`${line}\n`);

function timeIt(runs: number, fn: () => void): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
  }
  return median(times);
}

function helmIndex(charts: number): string {
  const lines = ['apiVersion: v1', 'entries:'];
  for (let c = 0; c < charts; c++)
    lines.push(
      `  chart-${c}:`,
      `  - apiVersion: v2`,
      `    name: chart-${c}`,
      `    version: 1.${c % 100}.${c}`,
      `    digest: ${'ab'.repeat(32)}`,
      `    urls: [charts/chart-${c}.tgz]`,
    );
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const hostileTags = Array.from({ length: 10_000 }, (_, i) => `${'a'.repeat(100)}${i}`);
  for (const pattern of ['([a-z]|[a-z0-9])*!', '(a|aa)*b', 'a*a*a*a*a*b', '(\\w|\\d)*$']) {
    const rule = compileRule({ exclude: [pattern] });
    const ms = timeIt(5, () => evaluateRule(rule, hostileTags));
    say(`rule exclude ${pattern.padEnd(20)} over 10,000 hostile 104-char tags: median ${ms.toFixed(1)} ms`);
  }

  const bodies = new Map<string, Buffer>();
  for (const n of [10_000, 100_000]) bodies.set(`/r${n}/index.yaml`, Buffer.from(helmIndex(n)));
  const server = await startServer((req, res) => {
    const body = bodies.get(req.url);
    if (!body) return void res.writeHead(404).end();
    res.writeHead(200).end(body);
  });
  try {
    for (const n of [10_000, 100_000]) {
      const feed: HelmHttpFeed = {
        id: `r${n}`,
        type: 'helm',
        url: `${server.url}/r${n}`,
        auth: { kind: 'anonymous' },
        maxTags: 200_000,
        maxIndexBytes: 64 * 1024 * 1024,
      };
      const read: number[] = [];
      const parse: number[] = [];
      let kept = 0;
      for (let i = 0; i < 3; i++) {
        const http = new HttpClient();
        const t0 = performance.now();
        await http.request(`${feed.url}/index.yaml`, { maxBytes: feed.maxIndexBytes });
        read.push(performance.now() - t0);
        const helm = new HelmRepositoryClient(http, new CredentialStore(http));
        global.gc?.();
        const before = process.memoryUsage().heapUsed;
        const t1 = performance.now();
        await helm.chartVersions(feed, 'chart-7');
        parse.push(performance.now() - t1);
        global.gc?.();
        kept = process.memoryUsage().heapUsed - before;
      }
      const size = (bodies.get(`/r${n}/index.yaml`)!.length / 1024 / 1024).toFixed(1);
      say(
        `Helm index of ${n.toLocaleString()} charts (${size} MB): download ${median(read).toFixed(0)} ms, ` +
          `download + parse ${median(parse).toFixed(0)} ms, heap kept ${(kept / 1024 / 1024).toFixed(1)} MiB`,
      );
    }
  } finally {
    await server.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
