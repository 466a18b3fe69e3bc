import { ApiClient } from '../../src/cli/api-client';
import { startServer, TestServer } from '../support/http-server';

describe('the CLI API client and a 503', () => {
  let server: TestServer;
  let unavailable = 0;
  beforeAll(async () => {
    server = await startServer((_req, res) => {
      if (unavailable > 0) {
        unavailable--;
        res.writeHead(503, { 'retry-after': '1', 'content-type': 'application/problem+json' });
        return void res.end(JSON.stringify({ title: 'Service unavailable', status: 503 }));
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  afterAll(() => server.close());

  test('a PUT answered 503 twice is tried again, as Retry-After asks, and succeeds', async () => {
    unavailable = 2;
    const before = server.requests.length;
    const res = await new ApiClient(server.url, 't').call('PUT', '/projects/p', { name: 'p' });
    expect([res.status, res.body, server.requests.length - before]).toEqual([200, { ok: true }, 3]);
  });

  test('a POST answered 503 is not repeated: it may have had an effect', async () => {
    unavailable = 1;
    const before = server.requests.length;
    const res = await new ApiClient(server.url, 't').call('POST', '/triggers', {});
    expect([res.status, server.requests.length - before]).toEqual([503, 1]);
  });
});
