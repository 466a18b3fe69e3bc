import { FAILSAFE_SCHEMA, load as loadYaml } from 'js-yaml';
import { ChartEntrySchema, checkAnswer, HelmIndexSchema } from './answers';
import { FeedError } from './errors';

/** One version of a chart in a repository's index. */
export interface ChartVersion {
  readonly version: string;
  /** sha256 of the chart archive, when the index gives it. */
  readonly digest: string | null;
  /** Absolute download URLs (relative ones resolved against the repository). */
  readonly urls: readonly string[];
}

/** What parsing needs of the feed (plain data: it crosses to a pool thread). */
export interface HelmIndexFeed {
  readonly id: string;
  readonly url: string;
  readonly maxTags: number;
}

/** Per chart, its versions (or `malformed`), and the approximate heap they hold. */
export interface ParsedHelmIndex {
  readonly charts: Map<string, readonly ChartVersion[] | 'malformed'>;
  readonly weight: number;
}

/**
 * Parses a Helm repository's `index.yaml` (or its JSON form) into what polls need. Linear in the index's
 * size (js-yaml with the failsafe schema: versions stay strings, as Helm reads them), and the work over the
 * parsed document is capped by the feed's maxTags, so an alias-laden index cannot multiply it. Throws
 * FeedError (BAD_RESPONSE, TOO_LARGE). Pure CPU: large indexes run in the CPU pool (src/runtime/cpu-tasks.ts).
 */
export function parseHelmIndex(body: Uint8Array, feed: HelmIndexFeed): ParsedHelmIndex {
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  let doc: unknown;
  try {
    doc = /^\s*\{/.test(text) ? JSON.parse(text) : loadYaml(text, { schema: FAILSAFE_SCHEMA });
  } catch (err) {
    throw new FeedError(
      'BAD_RESPONSE',
      `the index of Helm repository ${feed.id} is not valid YAML: ${(err as Error).message.split('\n')[0]}`,
    );
  }
  const { entries } = checkAnswer(doc, HelmIndexSchema, `the index of Helm repository ${feed.id}`);
  const charts = new Map<string, readonly ChartVersion[] | 'malformed'>();
  let seen = 0;
  // Approximate heap held: UTF-16 strings plus object overhead (measured: about 0.7 KiB a version).
  let weight = 0;
  for (const [name, raw] of Object.entries(entries as Record<string, unknown>)) {
    if (!Array.isArray(raw)) {
      charts.set(name, 'malformed');
      continue;
    }
    seen += raw.length;
    if (seen > feed.maxTags)
      throw new FeedError(
        'TOO_LARGE',
        `the index of Helm repository ${feed.id} lists more than ${feed.maxTags} chart versions; raise maxTags`,
      );
    const versions = raw.flatMap((entry: unknown) => chartVersion(entry, feed.url));
    for (const v of versions)
      weight += 200 + 2 * (v.version.length + (v.digest?.length ?? 0) + v.urls.join('').length);
    charts.set(name, versions);
  }
  return { charts, weight };
}

function chartVersion(entry: unknown, base: string): ChartVersion[] {
  const parsed = ChartEntrySchema.safeParse(entry);
  if (!parsed.success) return []; // an entry without a version cannot be released; skip it
  const e = parsed.data;
  const urls = (e.urls ?? [])
    .slice(0, 10)
    .filter((u): u is string => typeof u === 'string')
    .map((u) => resolveUrl(u, base));
  const digest =
    typeof e.digest === 'string' && /^[0-9a-f]{64}$/.test(e.digest) ? `sha256:${e.digest}` : null;
  return [{ version: e.version, digest, urls }];
}

function resolveUrl(url: string, base: string): string {
  try {
    return new URL(url, `${base}/`).href;
  } catch {
    return url;
  }
}
