import {
  collectProcessMetrics,
  hostLabel,
  metricTotal,
  metrics,
  registry,
} from '../../src/observability/metrics';

test('process metrics are added when the service asks, once, not when the module loads', async () => {
  // Loading the module registered no GC observer (it would hold this module for the life of the process).
  expect(registry.getSingleMetric('feed_triggers_process_cpu_user_seconds_total')).toBeUndefined();
  expect(registry.getSingleMetric('feed_triggers_nodejs_gc_duration_seconds')).toBeUndefined();
  collectProcessMetrics();
  collectProcessMetrics(); // a second call would throw "already registered" if it registered again
  expect(registry.getSingleMetric('feed_triggers_nodejs_gc_duration_seconds')).toBeDefined();
  const text = await registry.metrics();
  expect(text).toMatch(/^feed_triggers_process_resident_memory_bytes [1-9]/m);
});

test('registry hosts as label values are capped: a hostile registry cannot grow the series without bound', async () => {
  const labels = new Set(Array.from({ length: 150 }, (_, i) => hostLabel(`r${i}.example`)));
  expect(labels.size).toBe(101);
  expect(labels.has('other')).toBe(true);
  expect(hostLabel('r5.example')).toBe('r5.example'); // a host seen before keeps its own series
  for (let i = 0; i < 150; i++)
    metrics.registryRequests.inc({ host: hostLabel(`r${i}.example`), code: '200' });
  const text = await registry.getSingleMetricAsString('feed_triggers_registry_requests_total');
  expect(text.split('\n').filter((l) => l.startsWith('feed_triggers_registry_requests_total{'))).toHaveLength(
    101,
  );
  expect(text).toContain('feed_triggers_registry_requests_total{host="other",code="200"} 50');
});

test('metricTotal sums one metric over its label sets and ignores metrics that only share its prefix', () => {
  const text = [
    '# HELP temporal_sticky_cache_miss Count of times the workflow cache was missing a workflow',
    '# TYPE temporal_sticky_cache_miss counter',
    'temporal_sticky_cache_miss{namespace="default",task_queue="a"} 3',
    'temporal_sticky_cache_miss{namespace="default",task_queue="b"} 4 1700000000000',
    'temporal_sticky_cache_miss_rate 99',
    'temporal_sticky_cache_missing 5',
    'temporal_sticky_cache_miss{broken="x" 7',
    'temporal_sticky_cache_miss NaN',
    'temporal_sticky_cache_size 20',
  ].join('\n');
  expect(metricTotal(text, 'temporal_sticky_cache_miss')).toBe(7);
  expect(metricTotal(text, 'temporal_sticky_cache_size')).toBe(20);
  expect(metricTotal(text, 'temporal_sticky_cache_total_forced_eviction')).toBeNull();
});
