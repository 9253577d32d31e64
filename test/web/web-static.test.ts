/**
 * The gateway serves the console's production build itself: strict CSP, hashed assets cached for a year,
 * index.html never cached, history routes answered with index.html while unknown /api and /auth paths stay
 * JSON 404s; a missing build is made at startup.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWeb } from '../../scripts/build-web.mjs';
import { webStaticRoutes } from '../../src/api/web-static.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { startGateway, type TestGateway } from '../harness/gateway.ts';

let gw: TestGateway;
let base = '';

beforeAll(async () => {
  await buildWeb();
  gw = await startGateway({ listen: { postgres: '127.0.0.1:0', api: '127.0.0.1:0' } });
  base = `http://127.0.0.1:${gw.gw.listeners.get('api')!.port}`;
});

afterAll(async () => {
  await gw?.stop();
});

describe('web console files', () => {
  it('index.html: no-store, a CSP without inline script, and the hashed bundle it names', async () => {
    const res = await fetch(`${base}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self';");
    expect(csp).not.toMatch(/script-src[^;]*unsafe/);
    expect(csp).toContain("frame-ancestors 'none'");
    const html = await res.text();
    expect(html).not.toMatch(/<script>/);
    const script = /src="(\/assets\/app-[A-Z0-9]+\.js)"/.exec(html)![1];
    const style = /href="(\/assets\/app-[A-Z0-9]+\.css)"/.exec(html)![1];

    const js = await fetch(`${base}${script}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(js.headers.get('x-content-type-options')).toBe('nosniff');
    expect((await js.text()).length).toBeGreaterThan(1000);
    const css = await fetch(`${base}${style}`);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect(await css.text()).toContain('.xterm');
    // The terminal player is not part of the first load: only chunks the entry imports are preloaded.
    const preloads = [...html.matchAll(/rel="modulepreload" href="(\/assets\/[^"]+)"/g)].map((m) => m[1]);
    expect(preloads.some((p) => p.includes('replay'))).toBe(false);
    for (const p of preloads) expect((await fetch(`${base}${p}`)).status).toBe(200);
  });

  it('history routes get index.html; unknown assets, /api and /auth paths are 404s', async () => {
    const index = await (await fetch(`${base}/`)).text();
    for (const path of ['/sessions', '/sessions/ses_123?seq=4', '/reviews', '/no/such/page']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(200);
      expect(await res.text()).toBe(index);
    }
    const asset = await fetch(`${base}/assets/app-NOPE.js`);
    expect(asset.status).toBe(404);
    for (const path of ['/api/nope', '/auth/nope']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(404);
      expect(await res.json()).toEqual({ error: 'AIRLOCK_ERR_NOT_FOUND', message: 'no such endpoint' });
    }
    // The API's own routes are untouched by the fallback.
    expect((await fetch(`${base}/api/me`)).status).toBe(401);
  });
});

describe('a missing build', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('is built once at startup', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'airlock-web-'));
    dirs.push(parent);
    const dir = join(parent, 'dist');
    const app = Fastify();
    await app.register(webStaticRoutes({ log: silentLogger }, dir));
    expect(existsSync(join(dir, 'index.html'))).toBe(true);
    const res = await app.inject({ url: '/sessions' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe(readFileSync(join(dir, 'index.html'), 'utf8'));
    await app.close();
  });

  it('that cannot be built: the console paths say to run npm run build', async () => {
    const app = Fastify();
    await app.register(webStaticRoutes({ log: silentLogger }, '/dev/null/dist'));
    const res = await app.inject({ url: '/' });
    expect(res.statusCode).toBe(503);
    expect(res.body).toContain('npm run build');
    await app.close();
  });
});
