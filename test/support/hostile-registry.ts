import type { ServerResponse } from 'node:http';
import net from 'node:net';
import { sendJson, startServer, TestServer } from './http-server';

/**
 * A registry that attacks its client, one route per hostile answer: a token realm on another host, endless
 * distinct next-page links, redirects to another host and in a loop. Every request is recorded.
 */
export async function startHostileRegistry(elsewhere: TestServer): Promise<TestServer> {
  const server: TestServer = await startServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const path = url.pathname;
    if (path === '/v2/') return sendJson(res, 200, {});
    if (path === '/v2/realm-elsewhere/tags/list') return askForToken(res, `${elsewhere.url}/token`);
    if (path === '/v2/endless/tags/list') {
      const page = Number(url.searchParams.get('last') ?? '0');
      return sendJson(
        res,
        200,
        { name: 'endless', tags: [`1.0.${page}`] },
        {
          link: `</v2/endless/tags/list?n=1&last=${page + 1}>; rel="next"`,
        },
      );
    }
    if (path === '/v2/redirect-away/tags/list') {
      res.writeHead(302, { location: `${elsewhere.url}/v2/internal/tags/list` });
      return void res.end();
    }
    if (path === '/v2/badtags/tags/list') return sendJson(res, 200, { name: 'badtags', tags: ['1.0.0', 2] });
    if (path === '/v2/notoken/tags/list') return askForToken(res, `${server.url}/badtoken`);
    if (path === '/badtoken') return sendJson(res, 200, { expires_in: 300 });
    if (path === '/v2/loop/tags/list') {
      const hop = url.searchParams.get('hop') === 'a' ? 'b' : 'a';
      res.writeHead(302, { location: `/v2/loop/tags/list?hop=${hop}` });
      return void res.end();
    }
    sendJson(res, 404, { errors: [{ code: 'NAME_UNKNOWN', message: 'unknown' }] });
  });
  return server;
}

/** A 401 whose Bearer challenge names `realm` as the token service. */
function askForToken(res: ServerResponse, realm: string): void {
  sendJson(
    res,
    401,
    { errors: [{ code: 'UNAUTHORIZED', message: 'token needed' }] },
    {
      'www-authenticate': `Bearer realm="${realm}",service="hostile"`,
    },
  );
}

/** A server on 127.0.0.2 that answers everything as an internal service would, recording what it got. */
export function startElsewhere(): Promise<TestServer> {
  return startServer((req, res) => {
    if (req.url.startsWith('/token')) return sendJson(res, 200, { token: 'stolen', expires_in: 300 });
    sendJson(res, 200, { name: 'internal', tags: ['9.9.9-internal'] });
  }, '127.0.0.2');
}

/** A port that accepts connections and never answers (a filtered or silent service). */
export async function startSilentPort(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => sockets.add(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A loopback port with nothing listening on it. */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
