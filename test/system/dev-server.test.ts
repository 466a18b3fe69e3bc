import { execFileSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectTemporal, EMBEDDED_DEV_SERVER } from '../../src/temporal/connect';
import {
  cliCacheDir,
  downloadTemporalCli,
  findTemporalCli,
  TEMPORAL_CLI_VERSION,
} from '../../src/temporal/cli';
import { startServer } from '../support/http-server';

/** SQLite's file header: bytes 18 and 19 are the write/read format versions, 1 (rollback journal) or 2 (WAL). */
function sqliteFormat(file: string): [number, number] {
  const fd = openSync(file, 'r');
  try {
    const header = Buffer.alloc(20);
    readSync(fd, header, 0, 20, 0);
    expect(header.subarray(0, 16).toString('latin1')).toBe('SQLite format 3\0');
    return [header[18], header[19]];
  } finally {
    closeSync(fd);
  }
}

describe('the embedded dev server of npm start', () => {
  test('keeps its SQLite file in write-ahead-log mode (no fsync per transaction)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-devserver-'));
    const dbFile = path.join(dir, 'temporal.sqlite');
    const temporal = await connectTemporal(EMBEDDED_DEV_SERVER, { dbFile });
    try {
      // The server wrote its schema and namespace; the database is in WAL mode, not the default journal.
      expect(sqliteFormat(dbFile)).toEqual([2, 2]);
    } finally {
      await temporal.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the Temporal CLI download, the last resort when no CLI is found and Go cannot build one', () => {
  test("fetches the archive for this platform, follows the CDN's redirect and installs the binary in the cache", async () => {
    // The archive is laid out as Temporal's CDN serves it (a .tar.gz with `temporal` at its root), around a
    // stand-in executable: the download path moves bytes and never runs them, and packing the real CLI
    // (250 MB) cost about 12 s of CPU in gzip, tar and this process.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-cli-download-'));
    const packed = path.join(dir, 'packed');
    mkdirSync(packed);
    const version = `temporal version ${TEMPORAL_CLI_VERSION.replace(/^v/, '')} (stand-in)`;
    writeFileSync(path.join(packed, 'temporal'), `#!/bin/sh\necho '${version}'\n`, { mode: 0o755 });
    execFileSync('tar', ['-C', packed, '-czf', path.join(dir, 'cli.tar.gz'), 'temporal']);
    const archive = readFileSync(path.join(dir, 'cli.tar.gz'));
    const cdn = await startServer((req, res) => {
      if (req.url.startsWith('/cli/archive/'))
        return void res.writeHead(302, { location: '/files/cli.tar.gz' }).end();
      if (req.url === '/files/cli.tar.gz') return void res.end(archive);
      res.writeHead(404).end();
    });
    const env = { ...process.env, XDG_CACHE_HOME: path.join(dir, 'cache') };
    try {
      const lines: string[] = [];
      const cli = await downloadTemporalCli(env, (line) => lines.push(line), `${cdn.url}/cli/archive`);
      expect(cli).toBe(path.join(cliCacheDir(env), 'temporal'));
      const arch = process.arch === 'x64' ? 'amd64' : process.arch;
      expect(cdn.requests.map((r) => r.url)).toEqual([
        `/cli/archive/${TEMPORAL_CLI_VERSION}?platform=${process.platform}&arch=${arch}`,
        '/files/cli.tar.gz',
      ]);
      expect(execFileSync(cli, ['--version'], { encoding: 'utf8' })).toBe(`${version}\n`);
      // Found from now on like any cached CLI, with nothing half-unpacked left beside it.
      expect(findTemporalCli({ ...env, PATH: '' })).toBe(cli);
      expect(lines).toEqual([
        expect.stringContaining(`Downloading the Temporal CLI ${TEMPORAL_CLI_VERSION}`),
      ]);
    } finally {
      await cdn.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a failed download says why and leaves no CLI in the cache', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-cli-download-'));
    const cdn = await startServer((req, res) => {
      if (req.url.startsWith('/missing/')) return void res.writeHead(404).end();
      res.end('<html>not an archive</html>');
    });
    const env = { ...process.env, XDG_CACHE_HOME: dir };
    try {
      await expect(downloadTemporalCli(env, () => undefined, `${cdn.url}/missing`)).rejects.toThrow(
        /download from .*\/missing\/.* failed: HTTP 404/,
      );
      await expect(downloadTemporalCli(env, () => undefined, `${cdn.url}/html`)).rejects.toThrow(
        /holds no temporal binary/,
      );
      expect(existsSync(path.join(cliCacheDir(env), 'temporal'))).toBe(false);
    } finally {
      await cdn.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
