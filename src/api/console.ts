import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Request, Response } from 'express';
import type { CONSOLE_ROUTES } from './console-docs';
import { Handlers } from './route';
import { sendProblem } from './problem';
import { OverviewStore } from '../db/overview';

/**
 * The console's policy: its own scripts and styles only, nothing inline, no frames, no plugins. Data shown
 * by the console can therefore never run as script even if a rendering bug put it into markup.
 */
export const CONSOLE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

const ASSET_TYPES: Readonly<Record<string, string>> = { '.js': 'text/javascript', '.css': 'text/css' };

/**
 * Where `npm run build` put the console (scripts/build-console.ts): dist/web beside the compiled server, or,
 * when the server runs from source (tests through swc), dist/web under the repository.
 */
export function consoleDir(): string | null {
  for (const dir of [path.resolve(__dirname, '../../web'), path.resolve(__dirname, '../../dist/web')])
    if (existsSync(path.join(dir, 'index.html')) && existsSync(path.join(dir, 'assets'))) return dir;
  return null;
}

function secure(res: Response): Response {
  return res
    .set('Content-Security-Policy', CONSOLE_CSP)
    .set('X-Content-Type-Options', 'nosniff')
    .set('Referrer-Policy', 'no-referrer')
    .set('X-Frame-Options', 'DENY');
}

/**
 * `/console/` (the page, never cached: it names the current assets) and `/console/assets/:file` (named by
 * their content's hash, so cached for a year), and `GET /environments`, what is deployed where for all
 * projects in one call, which the dashboard reads.
 */
export function consoleHandlers(
  overview: OverviewStore,
  dir: string | null = consoleDir(),
): Pick<
  Handlers<typeof CONSOLE_ROUTES>,
  'consoleRedirect' | 'consolePage' | 'consoleAsset' | 'allEnvironments'
> {
  const index = dir ? readFileSync(path.join(dir, 'index.html'), 'utf8') : null;
  // Only the files the build wrote are served: a request names one of them or gets a 404.
  const assets = new Set(dir ? readdirSync(path.join(dir, 'assets')) : []);
  const consoleRedirect = (_req: Request, res: Response) => res.redirect(301, '/console/');
  const consolePage = (_req: Request, res: Response) => {
    secure(res).set('Cache-Control', 'no-cache');
    if (!index)
      return sendProblem(res, 503, 'Console not built', 'the console is not built: run `npm run build`');
    res.type('text/html').send(index);
  };
  const consoleAsset = (req: Request, res: Response) => {
    const file = req.params.file as string;
    const type = ASSET_TYPES[path.extname(file)];
    if (!dir || !type || !assets.has(file))
      return sendProblem(secure(res), 404, 'Not found', `the console has no asset ${file}`);
    secure(res)
      .type(type)
      .sendFile(path.join(dir, 'assets', file), { maxAge: 365 * 86_400_000, immutable: true });
  };
  const allEnvironments = async (_req: Request, res: Response) => {
    res.json({ projects: await overview.environments() });
  };
  return { consoleRedirect, consolePage, consoleAsset, allEnvironments };
}
