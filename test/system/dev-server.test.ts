import { mkdtempSync, openSync, readSync, closeSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectTemporal, EMBEDDED_DEV_SERVER } from '../../src/temporal/connect';

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
