import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { publicAccess } from '@product-service/bearer';
import type { Route } from './route.js';

const assetsDir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

/** The files the page needs, served from node_modules: nothing is fetched from a CDN, ever. */
const assets: Readonly<Record<string, string>> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
  // Where the hosted login sends a person back with the code; it hands the code to the page (no inline script).
  'oauth2-redirect.html': 'text/html; charset=utf-8',
  'oauth2-redirect.js': 'text/javascript; charset=utf-8',
};

const page = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>ProductService API</title>
    <link rel="stylesheet" href="/docs/swagger-ui.css" />
    <link rel="icon" type="image/png" href="/docs/favicon-32x32.png" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/docs/swagger-ui-bundle.js"></script>
    <script src="/docs/init.js"></script>
  </body>
</html>
`;

// An external file rather than an inline script, so that the policy below needs no 'unsafe-inline' for scripts.
const init = `window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  tryItOutEnabled: true,
  persistAuthorization: false,
  oauth2RedirectUrl: window.location.origin + '/docs/oauth2-redirect.html',
});
// A person signs in with the authorization code grant and PKCE (S256), never the implicit grant.
window.ui.initOAuth({ usePkceWithAuthorizationCodeGrant: true });
`;

export interface DocsOptions {
  /** The token endpoint the page may call besides its own origin. */
  readonly tokenUrl: string | undefined;
}

/**
 * GET /docs: an interactive API reference (Swagger UI, self-hosted) for /openapi.json. The Content-Security-Policy
 * allows scripts and styles from this origin only and network calls to this origin and the token endpoint.
 * Swagger UI sets inline style attributes from React, hence 'unsafe-inline' for styles only (never for scripts).
 */
export function docsRoutes(options: DocsOptions): readonly Route[] {
  const connect = ["'self'", ...(options.tokenUrl ? [new URL(options.tokenUrl).origin] : [])].join(' ');
  const policy = [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    `connect-src ${connect}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  const cache = new Map<string, Buffer>();

  return [
    {
      method: 'GET',
      path: '/docs',
      access: publicAccess,
      handler(ctx) {
        ctx.set('Content-Security-Policy', policy);
        ctx.set('Referrer-Policy', 'no-referrer');
        ctx.type = 'text/html; charset=utf-8';
        ctx.body = page;
      },
    },
    {
      method: 'GET',
      path: '/docs/:file',
      access: publicAccess,
      async handler(ctx, next) {
        const file = ctx.params['file'] ?? '';
        if (file === 'init.js') {
          ctx.type = 'text/javascript; charset=utf-8';
          ctx.body = init;
          return;
        }
        const type = Object.hasOwn(assets, file) ? assets[file] : undefined;
        if (!type) {
          await next();
          return;
        }
        let content = cache.get(file);
        if (!content) {
          content = await readFile(join(assetsDir, file));
          cache.set(file, content);
        }
        ctx.type = type;
        if (type.startsWith('text/html')) ctx.set('Content-Security-Policy', policy);
        ctx.set('Cache-Control', 'public, max-age=3600');
        ctx.body = content;
      },
    },
  ];
}
