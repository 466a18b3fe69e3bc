import path from 'node:path';
import express, { RequestHandler } from 'express';
import { z } from 'zod';
import { sendProblem } from './problem';
import { defineRoutes, Handlers, notFound } from './route';

/** The files of swagger-ui-dist the page loads; nothing else of the package is served. */
const ASSETS: Readonly<Record<string, string>> = {
  'swagger-ui.css': 'text/css',
  'swagger-ui-bundle.js': 'text/javascript',
  'favicon-32x32.png': 'image/png',
};

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>feed-triggers API</title>
  <link rel="icon" href="/docs/favicon-32x32.png">
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
`;

/** Kept out of the page so a Content-Security-Policy without inline scripts holds. */
const INIT = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#ui', persistAuthorization: false });\n`;

/** `GET /openapi.json` (OpenAPI 3.1) and `GET /docs`, a Swagger UI page of it served from this process. */
export const DOCS_ROUTES = defineRoutes({
  openApi: {
    method: 'GET',
    path: '/openapi.json',
    // The API's description holds no data; calls from the docs page still need a token (its Authorize button).
    access: 'public',
    summary: 'This description',
    tag: 'health',
    responses: {
      200: {
        description: 'OpenAPI 3.1 document',
        schema: z
          .object({
            openapi: z.string(),
            info: z.object({ title: z.string(), version: z.string(), description: z.string() }),
            paths: z.record(z.string(), z.record(z.string(), z.unknown())),
            components: z.record(z.string(), z.unknown()),
          })
          .loose(),
        example: {
          openapi: '3.1.0',
          info: { title: 'feed-triggers', version: '0.1.0', description: 'Pull-based continuous delivery' },
          paths: { '/healthz': { get: { summary: 'The process answers' } } },
          components: { securitySchemes: {} },
        },
      },
    },
  },
  docsPage: {
    method: 'GET',
    path: '/docs',
    access: 'public',
    summary: 'A browsable page of this description',
    tag: 'health',
    responses: { 200: { description: 'HTML', mediaType: 'text/html' } },
  },
  docsAsset: {
    method: 'GET',
    path: '/docs/:asset',
    access: 'public',
    summary: "The docs page's script, style sheet and icon",
    tag: 'health',
    params: z.object({ asset: z.string() }),
    responses: { 200: { description: 'The file' }, 404: notFound('asset') },
  },
});

/** The handlers of DOCS_ROUTES; `openApiDocument` is built at the first call and kept. */
export function docsHandlers(openApiDocument: () => Record<string, unknown>): Handlers<typeof DOCS_ROUTES> {
  let document: string | null = null;
  const dist = path.dirname(require.resolve('swagger-ui-dist/package.json'));
  const openApi: RequestHandler = (_req, res) => {
    document ??= JSON.stringify(openApiDocument());
    res.type('application/json').send(document);
  };
  const docsPage: RequestHandler = (_req, res) => {
    res
      .set(
        'Content-Security-Policy',
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'",
      )
      .type('text/html')
      .send(PAGE);
  };
  const docsAsset: RequestHandler = (req: express.Request, res: express.Response) => {
    const asset = String(req.params.asset);
    if (asset === 'init.js') return void res.type('text/javascript').send(INIT);
    // Own keys only: `constructor` or `__proto__` would find Object's members, not a file.
    const type = Object.hasOwn(ASSETS, asset) ? ASSETS[asset] : undefined;
    if (!type) return sendProblem(res, 404, 'Not found', `no route for GET ${req.path}`);
    res.type(type).set('Cache-Control', 'public, max-age=86400').sendFile(path.join(dist, asset));
  };

  return { openApi, docsPage, docsAsset };
}
