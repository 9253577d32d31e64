/**
 * How fast the web console shows a long recording: a real psql session of N statements (each recorded with its
 * result) through a gateway, then headless Chromium times the screens an investigator opens, cache warm:
 *
 * - the session list, until its first row shows;
 * - a search for one statement's text, until the hit shows;
 * - the session's timeline, until its first statements show, and until every event has been read;
 *
 * and reports the median of the runs plus the size of what the browser downloads.
 *
 *   npx tsx bench/web-console.ts [--statements 10000] [--runs 5]
 */
import { writeFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { buildWeb } from '../scripts/build-web.mjs';
import { psql } from '../test/harness/clients.ts';
import { pgConnection, startGateway } from '../test/harness/gateway.ts';
import { startPostgres } from '../test/harness/postgres.ts';
import { waitFor } from '../test/harness/wait.ts';
import { launchChromium, loopbackContext } from '../test/identity/browser.ts';

const { values } = parseArgs({ options: { statements: { type: 'string', default: '10000' }, runs: { type: 'string', default: '5' } } });
const N = Number(values.statements);
const RUNS = Number(values.runs);

const built = await buildWeb();
const pg = await startPostgres();
const gw = await startGateway({ listen: { postgres: '127.0.0.1:0', api: '127.0.0.1:0' }, connections: { app: pgConnection(pg, { allow: ['dba'] }) } });
const api = `http://127.0.0.1:${gw.gw.listeners.get('api')!.port}`;
const dir = mkdtempSync(join(tmpdir(), 'airlock-bench-web-'));
const browser = await launchChromium();
try {
  const file = join(dir, 'statements.sql');
  writeFileSync(file, Array.from({ length: N }, (_, i) => `SELECT ${i} AS n, md5('${i}') AS digest, 'row ${i}' AS label;\n`).join(''));
  const token = await gw.token('alice', ['dba']);
  const t0 = performance.now();
  const r = await psql({ port: gw.pgPort, user: 'alice', password: token, database: 'app' }, ['-q', '-o', '/dev/null', '-f', file]);
  if (r.code !== 0) throw new Error(r.stderr);
  const session = await waitFor(async () => (await gw.gw.store.listSessions({ user: 'alice' })).find((s) => s.endedAt !== null), { description: 'the session to end' });
  for (const path of ['verify']) {
    const t = performance.now();
    const res = await fetch(`${api}/api/sessions/${session.id}/${path}`, { headers: { authorization: `Bearer ${token}` } });
    await res.arrayBuffer();
    console.log(`GET /api/sessions/ID/${path}: ${Math.round(performance.now() - t)} ms`);
  }
  for (const limit of [500, 2000]) {
    const t = performance.now();
    const res = await fetch(`${api}/api/sessions/${session.id}?limit=${limit}`, { headers: { authorization: `Bearer ${token}` } });
    const body = await res.arrayBuffer();
    console.log(`GET /api/sessions/ID?limit=${limit}: ${Math.round(performance.now() - t)} ms, ${(body.byteLength / 1024).toFixed(0)} KiB`);
  }
  console.log(`recorded ${N} statements (${session.eventCount} events) in ${Math.round(performance.now() - t0)} ms`);

  const context = await loopbackContext(browser);
  const page = await context.newPage();
  await page.setViewportSize({ width: 1280, height: 800 });
  const bytes: { url: string; size: number; gz: number }[] = [];
  page.on('response', async (res) => {
    if (!res.url().includes('/assets/')) return;
    const body = await res.body().catch(() => Buffer.alloc(0));
    bytes.push({ url: new URL(res.url()).pathname, size: body.length, gz: gzipSync(body).length });
  });
  await page.goto(`${api}/`);
  await page.fill('#token', token);
  await page.click('#token-form button[type=submit]');
  await page.waitForSelector('#sessions tbody tr');

  const timed = async (what: string, go: () => Promise<unknown>, ...selectors: [string, 'visible' | 'detached'][]) => {
    const times: number[][] = [];
    for (let i = 0; i < RUNS; i++) {
      await page.goto('about:blank');
      const start = performance.now();
      await go();
      const marks: number[] = [];
      for (const [sel, state] of selectors) {
        await page.waitForSelector(sel, { state, timeout: 120_000 });
        marks.push(performance.now() - start);
      }
      times.push(marks);
    }
    const median = (k: number) => times.map((t) => t[k]).sort((a, b) => a - b)[Math.floor(RUNS / 2)];
    console.log(`${what}: ${selectors.map(([sel], k) => `${sel} ${Math.round(median(k))} ms`).join(', ')} (median of ${RUNS})`);
  };

  await timed('session list', () => page.goto(`${api}/sessions`), ['#sessions tbody tr', 'visible']);
  await timed('search', () => page.goto(`${api}/sessions?search=${encodeURIComponent(`md5('${Math.floor(N / 2)}')`)}`), ['#hits tbody tr', 'visible']);
  await timed(
    `timeline of ${session.eventCount} events`,
    () => page.goto(`${api}/sessions/${session.id}`),
    ['#timeline li', 'visible'],
    ['#events-more', 'detached'],
  );
  const first = new Map(bytes.map((b) => [b.url, b]));
  const total = [...first.values()].reduce((a, b) => ({ size: a.size + b.size, gz: a.gz + b.gz }), { size: 0, gz: 0 });
  console.log(`assets loaded: ${[...first.values()].map((b) => `${b.url} ${(b.size / 1024).toFixed(1)} KiB (${(b.gz / 1024).toFixed(1)} gz)`).join(', ')}; total ${(total.size / 1024).toFixed(1)} KiB (${(total.gz / 1024).toFixed(1)} KiB gz); build: ${built.files.length} files`);
  await context.close();
} finally {
  await browser.close();
  await gw.stop();
  await pg.stop();
  rmSync(dir, { recursive: true, force: true });
}
