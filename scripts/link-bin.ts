import { chmodSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';

/**
 * npx finds commands in node_modules/.bin, where npm links dependencies' bins but never the project's own.
 * Linking ours there after `npm ci` makes `npx feed-triggers` work from the repository root.
 */
const root = path.resolve(__dirname, '..', '..');
const binDir = path.join(root, 'node_modules', '.bin');
const link = path.join(binDir, 'feed-triggers');
mkdirSync(binDir, { recursive: true });
rmSync(link, { force: true });
symlinkSync(path.join('..', '..', 'bin', 'feed-triggers.js'), link);
chmodSync(path.join(root, 'bin', 'feed-triggers.js'), 0o755);
