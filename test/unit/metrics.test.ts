import { hostLabel, metrics, registry } from '../../src/metrics';

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
