import { Client, Connection } from '@temporalio/client';
import { connectTemporal, EMBEDDED_DEV_SERVER, TemporalHandle } from '../../src/temporal/connect';
import { startApi, TestApi } from '../support/api';
import { Database } from '../../src/db/open';
import { openTestDatabase } from '../support/database';
import { openStores } from '../../src/db/stores';

/** A Temporal server of this file's own, stopped mid-test: the API must say 503 quickly, not hang or 500. */
let temporal: TemporalHandle;
let connection: Connection;
let api: TestApi;
let database: Database;

beforeAll(async () => {
  temporal = await connectTemporal(EMBEDDED_DEV_SERVER);
  connection = await Connection.connect({ address: temporal.address });
  database = await openTestDatabase();
  api = await startApi({
    client: new Client({ connection }),
    taskQueue: 'nobody-listens',
    stores: openStores(database),
  });
});

afterAll(async () => {
  await api?.close();
  await database?.close();
  // The connection stays open: calls the API gave up on (it answered 503) still retry against the stopped
  // server inside the SDK, and closing the channel under a pending retry throws from the SDK's timer into
  // whichever test file runs next in this worker. They end on their own with UNAVAILABLE.
});

test('with Temporal down, calls that need it answer 503 problem+json within 5 s; the ledger answers', async () => {
  expect((await api.request('GET', '/readyz')).status).toBe(200);
  expect((await api.request('GET', '/triggers/p/t')).status).toBe(404);
  await temporal.close();
  // The first request right after the outage, before any probe has seen it, must not hang either.
  for (const [method, path, body] of [
    ['GET', '/triggers/p/t'],
    ['POST', '/triggers/p/t/pause'],
    ['POST', '/projects/p/triggers', { name: 't' }],
    ['DELETE', '/projects/p'],
    ['POST', '/projects/p/releases', {}],
    ['GET', '/projects/p/channels/default/preview'],
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
  expect([ready.status, ready.body.temporal, ready.body.database]).toEqual([503, 'down', 'up']);
  // Projects and releases live in the ledger: they are written and read while Temporal is down.
  const put = await api.request('PUT', '/projects/p', {
    packages: [{ name: 'a', feed: 'docker.io', package: 'x/y' }],
  });
  expect(put.status).toBe(201);
  expect((await api.request('GET', '/projects')).body.projects.map((p: { name: string }) => p.name)).toEqual([
    'p',
  ]);
  expect((await api.request('GET', '/projects/p/releases')).body).toEqual({
    releases: [],
    limit: 20,
    nextCursor: null,
  });
  // What needs no Temporal keeps working.
  expect((await api.request('GET', '/healthz')).status).toBe(200);
  expect((await api.request('POST', '/rules/preview', { tags: ['1.0.0'] })).body.selected).toBe('1.0.0');
});
