import { execFile, spawn } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { AccessStore } from '../../src/db/access';
import { openDatabase } from '../../src/db/open';
import { seedEmbeddedLedger } from '../support/database';
import { eventually } from '../support/temporal';

/** The built service started in processes of its own: its first token, its data folder, its signals. */
const dir = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-access-'));

describe('starting the service', () => {
  const main = path.resolve(__dirname, '../../dist/src/main.js');
  /** A data folder of its own (a retry's too) with an empty ledger, as a start before this one left it. */
  const seeded = (name: string) => {
    const dataDir = mkdtempSync(path.join(dir, `${name}-`));
    seedEmbeddedLedger(dataDir);
    return dataDir;
  };
  const serviceEnv = (dataDir: string, more: Record<string, string> = {}) => ({
    ...process.env,
    TEMPORAL_ADDRESS: process.env.FEED_TRIGGERS_TEST_TEMPORAL_ADDRESS,
    TEMPORAL_NAMESPACE: process.env.FEED_TRIGGERS_TEST_NAMESPACE,
    FEED_TRIGGERS_TASK_QUEUE: `access-${process.pid}`,
    FEED_TRIGGERS_API_PORT: '0',
    FEED_TRIGGERS_DATA_DIR: dataDir,
    ...more,
  });

  test('on an open address without any token, it refuses to start', async () => {
    const r = await promisify(execFile)(process.execPath, [main], {
      env: serviceEnv(seeded('open'), { FEED_TRIGGERS_API_HOST: '0.0.0.0' }),
      timeout: 90_000,
    }).catch((err: { code: number; stderr: string }) => err);
    expect([(r as { code: number }).code, r.stderr.trim()]).toEqual([
      2,
      'feed-triggers: the API would listen on 0.0.0.0 and no API token exists: create an admin token first with "feed-triggers token create NAME --role admin" (on this database), or listen on 127.0.0.1',
    ]);
  });

  test('on loopback, the first start prints an admin token once; the next start does not', async () => {
    const dataDir = seeded('loopback');
    const run = async () => {
      const child = spawn(process.execPath, [main], {
        env: serviceEnv(dataDir),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let log = '';
      // The token goes to the terminal (stderr), never into the JSON log on stdout.
      child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
      try {
        await eventually(
          async () => (log.includes('feed-triggers started') ? true : undefined),
          'the service to start',
          90_000,
        );
      } finally {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
      expect(log).not.toMatch(/ft_/);
      return out;
    };
    const first = await run();
    const token = /^ {2}(ft_\S+)$/m.exec(first)?.[1];
    expect(token).toMatch(/^ft_[A-Za-z0-9_-]{43}$/);
    expect(first).toMatch(/No API token existed, so this admin token was made \(bootstrap-admin-\d{14}\)/);
    const database = await openDatabase({ dataDir: path.join(dataDir, 'ledger') });
    try {
      expect(await new AccessStore(database.db).authenticate(token!)).toEqual({
        name: expect.stringMatching(/^bootstrap-admin-/),
        role: 'admin',
      });
    } finally {
      await database.close();
    }
    const second = await run();
    expect(second).not.toMatch(/ft_|admin token/);
  });

  test('the data folder and everything in it are for its user only (0700, 0600), a folder made 755 before too', async () => {
    // The folder holds token hashes and the audit log: a default umask makes it world-readable (755, 644).
    /** Every entry under root whose mode is not 0700 (a folder) or 0600 (anything else), with its mode. */
    const notPrivate = (root: string): string[] => {
      const wrong: string[] = [];
      const walk = (p: string) => {
        const st = lstatSync(p);
        const mode = st.mode & 0o777;
        if (mode !== (st.isDirectory() ? 0o700 : 0o600))
          wrong.push(`${path.relative(root, p) || '.'} ${mode.toString(8)}`);
        if (st.isDirectory()) for (const name of readdirSync(p)) walk(path.join(p, name));
      };
      walk(root);
      return wrong;
    };

    const fresh = path.join(mkdtempSync(path.join(dir, 'private-')), 'cli');
    const byTheCli = async () => {
      const bin = path.resolve(__dirname, '../../bin/feed-triggers.js');
      await promisify(execFile)(process.execPath, [bin, 'token', 'create', 'first', '--role', 'admin'], {
        env: { PATH: process.env.PATH, FEED_TRIGGERS_DATA_DIR: fresh },
        timeout: 60_000,
      });
      expect(readdirSync(path.join(fresh, 'ledger')).length).toBeGreaterThan(3);
      expect(notPrivate(fresh)).toEqual([]);
    };

    const byTheService = async () => {
      const before = path.join(path.dirname(fresh), 'service');
      mkdirSync(before);
      chmodSync(before, 0o755);
      const child = spawn(process.execPath, [main], {
        env: serviceEnv(before),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let log = '';
      child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
      child.stderr!.on('data', () => undefined);
      try {
        await eventually(
          async () => (log.includes('feed-triggers started') ? true : undefined),
          'the service to start',
          90_000,
        );
        expect(notPrivate(before)).toEqual([]);
      } finally {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
    };
    // The CLI's folder and the service's are two: both made at once, and both settled before the test ends.
    const outcomes = await Promise.allSettled([byTheCli(), byTheService()]);
    for (const outcome of outcomes) if (outcome.status === 'rejected') throw outcome.reason;
  });

  test('SIGQUIT and SIGUSR2, on which the SDK drains its worker, stop the whole service, not the worker alone', async () => {
    // The SDK's runtime drains the worker on these: a process that lived on would keep its API and /readyz
    // up while no trigger is polled.
    const stopsOn = async (signal: 'SIGUSR2' | 'SIGQUIT') => {
      const child = spawn(process.execPath, [main], {
        env: serviceEnv(seeded(`signals-${signal}`)),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let log = '';
      child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
      const exited = new Promise<number | null>((r) => child.once('exit', r));
      try {
        await eventually(
          async () => (log.includes('feed-triggers started') ? true : undefined),
          'the service to start',
          90_000,
        );
        child.kill(signal);
        const code = await Promise.race([
          exited,
          new Promise((r) => setTimeout(() => r('still running'), 20_000)),
        ]);
        expect([signal, code]).toEqual([signal, 0]);
        expect(log).toContain(`"signal":"${signal}"`);
      } finally {
        child.kill('SIGKILL');
        await exited;
      }
    };
    // Both services at once, each in a data folder of its own: most of the test is their starts, which
    // depend on nothing the other does. Both settle before the test ends, so neither outlives it.
    const outcomes = await Promise.allSettled((['SIGUSR2', 'SIGQUIT'] as const).map(stopsOn));
    for (const outcome of outcomes) if (outcome.status === 'rejected') throw outcome.reason;
  });
});
