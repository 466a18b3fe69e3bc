import path from 'node:path';
import express from 'express';
import { apiRouter } from './access';
import { openApiDocument } from './openapi';
import { sendProblem } from './problem';

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
export function docsRoutes(): express.Router {
  const router = apiRouter();
  let document: string | null = null;
  const dist = path.dirname(require.resolve('swagger-ui-dist/package.json'));
  router.get('/openapi.json', (_req, res) => {
    document ??= JSON.stringify(openApiDocument());
    res.type('application/json').send(document);
  });
  const page = (_req: express.Request, res: express.Response) => {
    res
      .set(
        'Content-Security-Policy',
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'",
      )
      .type('text/html')
      .send(PAGE);
  };
  router.get('/docs', page);
  router.get('/docs/:asset', (req, res) => {
    if (req.params.asset === 'init.js') return void res.type('text/javascript').send(INIT);
    const type = ASSETS[req.params.asset];
    if (!type) return sendProblem(res, 404, 'Not found', `no route for GET ${req.path}`);
    res.type(type).set('Cache-Control', 'public, max-age=86400').sendFile(path.join(dist, req.params.asset));
  });
  return router;
}
