import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The service's Prometheus metrics, one registry per process (a worker counts polls and deliveries, an API
 * process counts requests and notifications). Label values are bounded: feed ids and registry hosts come
 * from configuration, routes are patterns, outcomes and states are fixed sets. No tag, package or trigger
 * name is ever a label.
 */
export const registry = new Registry();

let processMetrics = false;

/**
 * Adds the process's own metrics (CPU, memory, event-loop lag, GC) to the registry, once per process: the
 * service calls it when it starts. Not at import: the GC metric registers a PerformanceObserver with Node for
 * the life of the process, which holds everything its module can reach, so code that loads this module more
 * than once in a process (every test file in a jest worker) would keep each copy alive.
 */
export function collectProcessMetrics(): void {
  if (processMetrics) return;
  processMetrics = true;
  collectDefaultMetrics({ register: registry, prefix: 'feed_triggers_' });
}

const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export const metrics = {
  polls: new Counter({
    name: 'feed_triggers_polls_total',
    help: 'Package polls by feed and outcome (ok, or the failure code).',
    labelNames: ['feed', 'outcome'] as const,
    registers: [registry],
  }),
  pollDuration: new Histogram({
    name: 'feed_triggers_poll_duration_seconds',
    help: 'How long a package poll took (listing, rule evaluation, digest).',
    labelNames: ['feed'] as const,
    buckets: SECONDS_BUCKETS,
    registers: [registry],
  }),
  pollLag: new Histogram({
    name: 'feed_triggers_poll_lag_seconds',
    help: 'How late a poll started: a scheduled one against its slot, any other against when its activity (local or not) was scheduled.',
    buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
    registers: [registry],
  }),
  imageVerifications: new Counter({
    name: 'feed_triggers_image_verifications_total',
    help: 'Image digests checked against signature and platform rules, by outcome (passed, refused); remembered verdicts are not counted.',
    labelNames: ['outcome'] as const,
    registers: [registry],
  }),
  registryRequests: new Counter({
    name: 'feed_triggers_registry_requests_total',
    help: 'HTTP requests to registries and chart repositories by host and status code (or network error code).',
    labelNames: ['host', 'code'] as const,
    registers: [registry],
  }),
  registryErrors: new Counter({
    name: 'feed_triggers_registry_errors_total',
    help: 'Registry requests that failed: network errors, 429 and 5xx answers.',
    labelNames: ['host', 'code'] as const,
    registers: [registry],
  }),
  rateLimitRemaining: new Gauge({
    name: 'feed_triggers_registry_rate_limit_remaining',
    help: 'Requests left in the rate-limit window, as the registry last reported it.',
    labelNames: ['host'] as const,
    registers: [registry],
  }),
  releasesCreated: new Counter({
    name: 'feed_triggers_releases_created_total',
    help: 'Releases created, by what created them (trigger, manual, webhook).',
    labelNames: ['source'] as const,
    registers: [registry],
  }),
  deliveries: new Counter({
    name: 'feed_triggers_deliveries_total',
    help: 'Delivery attempts that ended, by state (delivered, failed, superseded, cancelled).',
    labelNames: ['state'] as const,
    registers: [registry],
  }),
  deployments: new Counter({
    name: 'feed_triggers_deployments_total',
    help: 'Deployments that ended, by state (succeeded, failed, superseded, cancelled).',
    labelNames: ['state'] as const,
    registers: [registry],
  }),
  retentionRemoved: new Counter({
    name: 'feed_triggers_retention_removed_total',
    help: 'Releases removed by retention (with their deliveries, deployments and approvals).',
    registers: [registry],
  }),
  webhookNotifications: new Counter({
    name: 'feed_triggers_webhook_notifications_total',
    help: 'Registry notifications by receiver and verdict (accepted, ignored: taken but naming no push, unauthorized, invalid, failed).',
    labelNames: ['receiver', 'verdict'] as const,
    registers: [registry],
  }),
  apiRequests: new Counter({
    name: 'feed_triggers_api_requests_total',
    help: 'API requests by method, route pattern and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  }),
  workflowEvictions: new Counter({
    name: 'feed_triggers_workflow_evictions_total',
    help: "Workflows the worker dropped from its cache, by the SDK core's reason (cache_full, task_not_found: a task that timed out, unhandled_command: a signal during completion, workflow_execution_ending, ...).",
    labelNames: ['reason'] as const,
    registers: [registry],
  }),
  workflowCacheCapacity: new Gauge({
    name: 'feed_triggers_worker_workflow_cache_capacity',
    help: 'How many workflows the worker keeps cached (from FEED_TRIGGERS_WORKER_MEMORY); compare with temporal_sticky_cache_size.',
    registers: [registry],
  }),
  apiDuration: new Histogram({
    name: 'feed_triggers_api_request_duration_seconds',
    help: 'API request durations by method and route pattern.',
    labelNames: ['method', 'route'] as const,
    buckets: SECONDS_BUCKETS,
    registers: [registry],
  }),
};

/**
 * Counts deployments that reached a final state, once each, where the ledger records it: succeeded and
 * failed when sent, superseded and cancelled too, though those end in a queue or by a person's hand
 * without ever being sent.
 */
/** Counts releases removed by retention. */
export function countRetentionRemoved(count: number): void {
  metrics.retentionRemoved.inc(count);
}

export function countDeploymentsEnded(states: readonly string[]): void {
  for (const state of states) metrics.deployments.inc({ state });
}

/** Why a registry notification was answered as it was: `ignored` is a 2xx for one that named no push. */
export type NotificationVerdict = 'accepted' | 'ignored' | 'unauthorized' | 'invalid' | 'failed';

/** The verdict of a notification's answer; `ignored` when it was taken but named nothing to poll. */
export function notificationVerdict(status: number, ignored: boolean): NotificationVerdict {
  if (status < 300) return ignored ? 'ignored' : 'accepted';
  return status === 401 ? 'unauthorized' : status < 500 ? 'invalid' : 'failed';
}

/**
 * A registry host as a label value. Hosts come from configuration and from where registries redirect, so a
 * hostile registry could name a new host on every answer: past the first 100 hosts, the rest are `other`.
 */
const seenHosts = new Set<string>();
export function hostLabel(host: string): string {
  if (seenHosts.has(host)) return host;
  if (seenHosts.size >= 100) return 'other';
  seenHosts.add(host);
  return host;
}

/**
 * Where the Temporal SDK's own metrics (workers, pollers, task latencies) are served by its runtime, on
 * loopback; `/metrics` appends them so one scrape gets both. Set once, by the service at start.
 */
let sdkMetricsUrl: string | null = null;
export function setSdkMetricsUrl(url: string | null): void {
  sdkMetricsUrl = url;
}

/** The SDK's own metrics text, or null when there is none (not set, or its endpoint did not answer). */
async function sdkMetricsText(): Promise<string | null> {
  if (!sdkMetricsUrl) return null;
  try {
    const res = await fetch(sdkMetricsUrl, { signal: AbortSignal.timeout(2000) });
    return res.ok ? await res.text() : null;
  } catch {
    return null;
  }
}

/** The text a Prometheus scrape gets: this process's metrics, then the SDK's. */
export async function scrape(): Promise<string> {
  const own = await registry.metrics();
  const sdk = await sdkMetricsText();
  return sdk === null ? own : `${own}\n${sdk}`;
}

/**
 * A metric's value summed over its label sets, from Prometheus text; null when no sample has that name.
 * Reads line by line; a longer name that starts with `name` is a different metric.
 */
export function metricTotal(text: string, name: string): number | null {
  let total: number | null = null;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    const labelsEnd = rest.startsWith('{') ? rest.indexOf('}') + 1 : 0;
    if (rest[labelsEnd] !== ' ') continue;
    const value = Number(rest.slice(labelsEnd + 1).split(' ')[0]);
    if (Number.isFinite(value)) total = (total ?? 0) + value;
  }
  return total;
}
