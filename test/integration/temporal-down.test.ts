import { Client, Connection } from '@temporalio/client';
import { connectTemporal, TemporalHandle } from '../../src/temporal/connect';
import { startApi, TestApi } from '../support/api';

/** A Temporal server of this file's own, stopped mid-test: the API must say 503 quickly, not hang or 500. */
let temporal: TemporalHandle;
let connection: Connection;
let api: TestApi;

beforeAll(async () => {
  temporal = await connectTemporal({
    address: null,
    namespace: 'default',
    apiKey: null,
    tls: false,
    devServerPort: 0,
    uiPort: 0,
    cliPath: null,
  });
  connection = await Connection.connect({ address: temporal.address });
  api = await startApi(new Client({ connection }), 'nobody-listens');
});

afterAll(async () => {
  await api?.close();
  // The connection stays open: calls the API gave up on (it answered 503) still retry against the stopped
  // server inside the SDK, and closing the channel under a pending retry throws from the SDK's timer into
  // whichever test file runs next in this worker. They end on their own with UNAVAILABLE.
});

test('with Temporal down, every call that needs it answers 503 problem+json within 5 s', async () => {
  expect((await api.request('GET', '/readyz')).status).toBe(200);
  expect((await api.request('GET', '/triggers/p/t')).status).toBe(404);
  await temporal.close();
  // The first request right after the outage, before any probe has seen it, must not hang either.
  for (const [method, path, body] of [
    ['GET', '/triggers/p/t'],
    ['GET', '/projects'],
    ['GET', '/projects/p/releases'],
    ['POST', '/triggers/p/t/pause'],
    ['PUT', '/projects/p', { packages: [{ name: 'a', feed: 'docker.io', package: 'x/y' }] }],
  ] as const) {
    const started = Date.now();
    const res = await api.request(method, path, body);
    expect([method, path, res.status, res.type]).toEqual([
      method,
      path,
      503,
      'application/problem+json; charset=utf-8',
    ]);
    expect(res.body.detail).toMatch(/Temporal server does not answer/);
    expect(Date.now() - started).toBeLessThan(5000);
  }
  const ready = await api.request('GET', '/readyz');
  expect(ready.status).toBe(503);
  // What needs no Temporal keeps working.
  expect((await api.request('GET', '/healthz')).status).toBe(200);
  expect((await api.request('POST', '/rules/preview', { tags: ['1.0.0'] })).body.selected).toBe('1.0.0');
});
