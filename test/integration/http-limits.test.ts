import { HttpClient } from '../../src/feeds/http';
import { startServer } from '../support/http-server';

test('requests to one registry host are capped at the configured concurrency', async () => {
  let active = 0;
  let peak = 0;
  const server = await startServer(async (_req, res) => {
    active++;
    peak = Math.max(peak, active);
    await new Promise((r) => setTimeout(r, 30));
    active--;
    res.writeHead(200).end('{}');
  });
  try {
    const http = new HttpClient({ perHostConcurrency: 3 });
    const answers = await Promise.all(Array.from({ length: 12 }, () => http.request(`${server.url}/v2/`)));
    expect(answers.map((a) => a.status)).toEqual(Array(12).fill(200));
    expect(peak).toBe(3);
  } finally {
    await server.close();
  }
});
