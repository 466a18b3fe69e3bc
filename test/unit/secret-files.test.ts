import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { loadConfig } from '../../src/config';

// The unit project has no run folder of its own (no global setup): this file removes what it writes.
const root = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-secret-files-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A configuration whose trusted root `corp` is read from `target` (as the operator wrote it). */
function rootFrom(target: string) {
  const dir = mkdtempSync(path.join(root, 'case-'));
  const file = path.join(dir, 'config.yaml');
  writeFileSync(file, `trustedRoots:\n  corp: { file: ${JSON.stringify(target)} }\n`);
  return { dir, load: () => loadConfig({ FEED_TRIGGERS_CONFIG: file }) };
}

describe('secret files are read with a bound', () => {
  test('a file far larger than any secret is refused before it is read', () => {
    const { dir, load } = rootFrom('big.json');
    writeFileSync(path.join(dir, 'big.json'), `{"x":"${'a'.repeat(3 * 1024 * 1024)}"}`);
    expect(load).toThrow(/trustedRoots\.corp: secret file .*big\.json is larger than 1048576 bytes/);
  });

  test('a device such as /dev/zero (which never ends) is refused, not read until memory runs out', () => {
    expect(rootFrom('/dev/zero').load).toThrow(
      /trustedRoots\.corp: secret file \/dev\/zero is not a regular file/,
    );
  });

  test('a symbolic link to a device is refused as the device', () => {
    const { dir, load } = rootFrom('root.json');
    symlinkSync('/dev/zero', path.join(dir, 'root.json'));
    expect(load).toThrow(/trustedRoots\.corp: secret file .*root\.json is not a regular file/);
  });

  test('a named pipe nobody writes to is refused at once, not waited on', () => {
    const { dir, load } = rootFrom('root.json');
    execFileSync('mkfifo', [path.join(dir, 'root.json')]);
    expect(load).toThrow(/trustedRoots\.corp: secret file .*root\.json is not a regular file/);
  });
});
