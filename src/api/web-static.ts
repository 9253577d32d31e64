/**
 * Serves the web console's production build (web/dist, made by scripts/build-web.mjs) from the gateway itself.
 *
 * - `/assets/*`: content-hashed files, cached for a year (`immutable`).
 * - Every other GET outside /api/ and /auth/ answers index.html (no-store), so the console's history routes
 *   (/sessions/ID, /reviews …) survive a reload; the console then talks only to the authenticated API.
 * - A strict CSP: scripts and styles only from the gateway, no inline script. Inline styles are allowed because
 *   the terminal (xterm.js) sizes and colours itself with <style> elements it creates at run time.
 *
 * When web/dist is missing (a fresh checkout started without `npm run build`), the gateway builds it once at
 * startup with esbuild; if that fails too, the console's paths answer a page saying to run `npm run build`.
 */
import { readFile, readdir } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { ErrorCodes } from '../core/errors.ts';
import type { ApiContext } from './context.ts';

const CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", "connect-src 'self'", "img-src 'self' data:",
  "font-src 'self'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml', '.woff2': 'font/woff2', '.png': 'image/png',
};

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Airlock</title></head>
<body><h1>The web console is not built</h1><p>Run <code>npm run build</code> in the Airlock directory and restart the gateway.
The HTTP API under /api works without it.</p></body></html>`;

interface Bundle {
  readonly index: Buffer;
  readonly assets: ReadonlyMap<string, Buffer>;
}

async function loadBundle(dir: string): Promise<Bundle> {
  const index = await readFile(join(dir, 'index.html'));
  const assets = new Map<string, Buffer>();
  for (const name of await readdir(join(dir, 'assets'))) assets.set(name, await readFile(join(dir, 'assets', name)));
  return { index, assets };
}

/** The build in `dir`, building it first when it is missing; undefined when there is none and none can be made. */
async function bundleAt(dir: string, ctx: Pick<ApiContext, 'log'>): Promise<Bundle | undefined> {
  try {
    return await loadBundle(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
  }
  try {
    const { buildWeb } = await import('../../scripts/build-web.mjs');
    await buildWeb({ outDir: dir });
    ctx.log.info({ dir }, 'web console built (it was missing)');
    return await loadBundle(dir);
  } catch (err) {
    ctx.log.warn({ err: (err as Error).message }, 'web console unavailable: run npm run build');
    return undefined;
  }
}

function security(reply: FastifyReply): FastifyReply {
  return reply.header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer');
}

export function webStaticRoutes(ctx: Pick<ApiContext, 'log'>, dir = new URL('../../web/dist', import.meta.url).pathname): FastifyPluginAsync {
  return async (app) => {
    const bundle = await bundleAt(dir, ctx);
    const page = (reply: FastifyReply) => {
      security(reply).header('content-security-policy', CSP).header('cache-control', 'no-store');
      if (!bundle) return reply.status(503).type('text/html; charset=utf-8').send(NOT_BUILT);
      return reply.type('text/html; charset=utf-8').send(bundle.index);
    };

    app.get('/assets/:file', { config: { roles: 'public' }, schema: { description: 'Web console: a content-hashed static file.', params: { type: 'object', required: ['file'], properties: { file: { type: 'string', maxLength: 200 } } } } }, async (req, reply) => {
      const { file } = req.params as { file: string };
      const body = bundle?.assets.get(file);
      if (!body) return reply.status(404).send({ error: ErrorCodes.notFound, message: 'no such file' });
      return security(reply).header('cache-control', 'public, max-age=31536000, immutable').type(TYPES[extname(file)] ?? 'application/octet-stream').send(body);
    });

    app.get('/', { config: { roles: 'public' }, schema: { description: 'Web console.' } }, async (_req, reply) => page(reply));
    app.get('/*', { config: { roles: 'public' }, schema: { description: 'Web console routes (index.html); unknown /api and /auth paths stay 404.' } }, async (req, reply) => {
      const path = req.url.split('?')[0];
      if (path.startsWith('/api/') || path.startsWith('/auth/') || path === '/api' || path === '/auth') {
        return reply.status(404).send({ error: ErrorCodes.notFound, message: 'no such endpoint' });
      }
      return page(reply);
    });
  };
}
