import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/runtime/ports';
import { connectTemporal, EMBEDDED_DEV_SERVER, TemporalHandle } from '../../src/temporal/connect';
import { DevServerStartError, listeningHolder, startDevServerProcess } from '../../src/temporal/dev-server';
import { findTemporalCli } from '../../src/temporal/cli';
import { seedEmbeddedLedger } from '../support/database';

/**
 * A port the service needs that is taken is an error at once: the built service (`node dist/src/main.js`, as
 * `npm start` runs it) exits non-zero within seconds with one line naming the port and the variable that
 * moves it, and leaves nothing running: no dev server of its own, and the other instance's left alone.
 */
const MAIN = path.resolve(__dirname, '../../dist/src/main.js');
const held: Server[] = [];
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-ports-'));
});
afterAll(async () => {
  await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
  rmSync(dir, { recursive: true, force: true });
});

/** Another process's listener on a port (a plain TCP server that accepts and hangs up). */
async function hold(port = 0): Promise<number> {
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  held.push(server);
  return (server.address() as { port: number }).port;
}

/** Processes whose command line mentions `marker` (a data folder of one run), other than ourselves. */
function processesMentioning(marker: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(marker) && Number(pid) !== process.pid) found.push(`${pid}: ${cmd}`);
    } catch {
      // exited while we looked
    }
  }
  return found;
}

interface Run {
  readonly code: number | null;
  readonly ms: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly dataDir: string;
}

/** Runs the service with free ports except those given, until it exits (or 60 s). */
async function runService(env: Record<string, string>): Promise<Run> {
  const dataDir = mkdtempSync(path.join(dir, 'data-'));
  seedEmbeddedLedger(dataDir);
  const temporalPort = await freePort();
  const started = Date.now();
  const child = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: '',
      FEED_TRIGGERS_DATA_DIR: dataDir,
      TEMPORAL_PORT: String(temporalPort),
      TEMPORAL_UI_PORT: String(await freePort()),
      TEMPORAL_METRICS_PORT: String(await freePort()),
      TEMPORAL_HTTP_PORT: String(await freePort()),
      FEED_TRIGGERS_API_PORT: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  return { code, ms: Date.now() - started, stdout, stderr, dataDir };
}

function expectRefused(run: Run, port: number, variable: string): void {
  expect(run.code).not.toBe(0);
  expect(run.code).not.toBeNull();
  // One line, naming the port and the variable; nothing said about having started.
  const lines = run.stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines).toEqual([expect.stringMatching(new RegExp(`\\b${port}\\b.*\\b${variable}\\b`))]);
  expect(lines[0]).toMatch(/in use by another process/);
  expect(run.stdout).not.toMatch(/feed-triggers started/);
  expect(run.ms).toBeLessThan(10_000);
  expect(processesMentioning(run.dataDir)).toEqual([]);
}

describe('a port the service needs that is taken', () => {
  test('the API port: exits non-zero at once with one line naming FEED_TRIGGERS_API_PORT', async () => {
    const port = await hold();
    const run = await runService({ FEED_TRIGGERS_API_PORT: String(port) });
    expectRefused(run, port, 'FEED_TRIGGERS_API_PORT');
  });

  test("the dev server's port: exits at once naming TEMPORAL_PORT, starting no dev server", async () => {
    const port = await hold();
    const run = await runService({ TEMPORAL_PORT: String(port) });
    expectRefused(run, port, 'TEMPORAL_PORT');
  });

  test("the Web UI's port: exits at once naming TEMPORAL_UI_PORT", async () => {
    const port = await hold();
    const run = await runService({ TEMPORAL_UI_PORT: String(port) });
    expectRefused(run, port, 'TEMPORAL_UI_PORT');
  });

  test("the dev server's metrics port: exits at once naming TEMPORAL_METRICS_PORT", async () => {
    const port = await hold();
    const run = await runService({ TEMPORAL_METRICS_PORT: String(port) });
    expectRefused(run, port, 'TEMPORAL_METRICS_PORT');
  });

  test("a second instance on the first one's ports refuses to start and leaves the first one's server serving", async () => {
    const ports = {
      port: await freePort(),
      uiPort: await freePort(),
      metricsPort: await freePort(),
      httpPort: await freePort(),
    };
    const first: TemporalHandle = await connectTemporal(EMBEDDED_DEV_SERVER, ports);
    try {
      const run = await runService({
        TEMPORAL_PORT: String(ports.port),
        TEMPORAL_UI_PORT: String(ports.uiPort),
        TEMPORAL_METRICS_PORT: String(ports.metricsPort),
        TEMPORAL_HTTP_PORT: String(ports.httpPort),
      });
      expect(run.code).toBe(2);
      const lines = run.stderr.split('\n').filter((l) => l.trim() !== '');
      expect(lines).toHaveLength(1);
      for (const variable of [
        'TEMPORAL_PORT',
        'TEMPORAL_UI_PORT',
        'TEMPORAL_METRICS_PORT',
        'TEMPORAL_HTTP_PORT',
      ])
        expect(lines[0]).toContain(variable);
      expect(processesMentioning(run.dataDir)).toEqual([]);
      // The first server is untouched and still answers.
      await first.connection.workflowService.getSystemInfo({});
    } finally {
      await first.close();
    }
  });
});

describe('the embedded dev server', () => {
  test('binds the metrics and HTTP ports it is given, not random ones', async () => {
    const ports = {
      port: await freePort(),
      metricsPort: await freePort(),
      httpPort: await freePort(),
    };
    const temporal = await connectTemporal(EMBEDDED_DEV_SERVER, ports);
    try {
      const pid = temporal.devServerPid!;
      for (const port of [ports.port, ports.metricsPort, ports.httpPort])
        expect([port, listeningHolder(port, pid)]).toEqual([port, 'ours']);
      const metrics = await fetch(`http://127.0.0.1:${ports.metricsPort}/metrics`);
      expect(metrics.status).toBe(200);
    } finally {
      await temporal.close();
    }
  });

  test('a port taken after the check (a race) fails the start with that port, and the server is gone', async () => {
    const cli = findTemporalCli();
    expect(cli).not.toBeNull();
    const taken = await hold();
    const dbFile = path.join(mkdtempSync(path.join(dir, 'race-')), 'temporal.sqlite');
    const started = startDevServerProcess({
      cli: cli!,
      ip: '127.0.0.1',
      namespace: 'default',
      dbFile,
      ports: { frontend: await freePort(), ui: null, metrics: taken, http: await freePort() },
      searchAttributes: [],
    });
    await expect(started).rejects.toBeInstanceOf(DevServerStartError);
    await expect(started).rejects.toMatchObject({ port: taken });
    expect(processesMentioning(dbFile)).toEqual([]);
  });

  test('a listener of another process is not taken for ours', async () => {
    const port = await hold();
    // This process holds it: ours. A process that is not its holder (a sleeping child): another's.
    expect(listeningHolder(port, process.pid)).toBe('ours');
    const other = spawn('sleep', ['30']);
    try {
      expect(listeningHolder(port, other.pid!)).toBe('other');
    } finally {
      other.kill();
    }
  });

  test('a SIGTERM while it starts stops the service and its dev server', async () => {
    const dataDir = mkdtempSync(path.join(dir, 'signal-'));
    seedEmbeddedLedger(dataDir);
    const child = spawn(process.execPath, [MAIN], {
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: '',
        FEED_TRIGGERS_DATA_DIR: dataDir,
        TEMPORAL_PORT: String(await freePort()),
        TEMPORAL_UI_PORT: String(await freePort()),
        TEMPORAL_METRICS_PORT: String(await freePort()),
        TEMPORAL_HTTP_PORT: String(await freePort()),
        FEED_TRIGGERS_API_PORT: '0',
      },
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    // Once its dev server runs (its command line names the data folder), and before the service is up.
    for (let i = 0; i < 300 && processesMentioning(path.join(dataDir, 'temporal.sqlite')).length === 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    expect(await exited).toBe(0);
    clearTimeout(timer);
    expect(processesMentioning(dataDir)).toEqual([]);
  });
});
