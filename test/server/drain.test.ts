import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostgres, type PgServer } from '../harness/postgres.ts';
import { pgConnection } from '../harness/gateway.ts';
import { psql } from '../harness/clients.ts';
import { RawPgClient } from '../harness/raw-pg-client.ts';
import { runCli } from '../harness/cli.ts';
import { issueToken, spawnGateway, writeGatewayConfig } from '../harness/gateway-child.ts';
import { openStore } from '../../src/store/open.ts';
import { encodeBind, encodeExecute, encodeParse, encodeQuery, encodeSync } from '../../src/protocols/postgres/codec/frontend.ts';
import { decodeErrorFields } from '../../src/protocols/postgres/codec/backend.ts';
import type { Frame } from '../../src/protocols/postgres/codec/frame-reader.ts';

let pg: PgServer;
let dir: string;

beforeAll(async () => {
  pg = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'airlock-drain-'));
}, 60_000);

afterAll(async () => {
  await pg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Frames the client receives until the connection closes. */
async function rest(c: RawPgClient): Promise<Frame[]> {
  const frames: Frame[] = [];
  let closed = false;
  void c.closed.then(() => (closed = true));
  for (;;) {
    const f = await Promise.race([c.next(), c.closed.then(() => undefined)]);
    if (!f) return frames;
    frames.push(f);
    if (closed) return frames;
  }
}

const letters = (frames: Frame[]) => frames.map((f) => String.fromCharCode(f.code)).join('');

describe('SIGTERM drains', () => {
  it('refuses new connections and reports not ready, lets the running statement finish and be recorded, then exits 0', async () => {
    const files = await writeGatewayConfig(dir, 'drain', join(dir, 'drain-data'), { connections: { db: pgConnection(pg) }, limits: { drainTimeout: '20s' } });
    const gw = await spawnGateway(files.config);
    const token = await issueToken(files.config, 'alice', 'dba');
    const busy = await RawPgClient.login(files.pgPort, 'alice', 'db', token);
    const idle = await RawPgClient.login(files.pgPort, 'alice', 'db', token);
    const unsynced = await RawPgClient.login(files.pgPort, 'alice', 'db', token);
    busy.socket.write(encodeQuery('SELECT pg_sleep(2)'));
    // An extended-protocol batch whose Sync has not been sent yet is a statement in flight, not an idle session.
    unsynced.socket.write(Buffer.concat([encodeParse('', "SELECT 'unsynced'"), encodeBind('', '', []), encodeExecute('', 0)]));
    const unsyncedFrames = rest(unsynced);
    const busyFrames = rest(busy);
    const fromPsql = psql({ port: files.pgPort, user: 'alice', password: token, database: 'db' }, ['-At', '-c', "SELECT 'slept', pg_sleep(2)"]);
    const idleFrames = rest(idle);
    await new Promise((r) => setTimeout(r, 300));

    const signalled = Date.now();
    gw.child.kill('SIGTERM');
    // The idle session ends at once, with the shutdown told in the protocol.
    const idleGot = await idleFrames;
    expect(Date.now() - signalled).toBeLessThan(3000);
    expect(decodeErrorFields(idleGot.at(-1)!.body)).toMatchObject({ S: 'FATAL', C: '57P01' });

    const ready = await fetch(`http://127.0.0.1:${files.apiPort}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'not ready', reason: 'draining' });
    const refused = await psql({ port: files.pgPort, user: 'alice', password: token, database: 'db' }, ['-c', 'select 1']);
    expect(refused.code).not.toBe(0);

    unsynced.socket.write(encodeSync());
    const unsyncedGot = await unsyncedFrames;
    expect(letters(unsyncedGot)).toMatch(/^12DCZE$/);

    // The running statement completes (row, CommandComplete, ReadyForQuery), then the session is ended.
    const got = await busyFrames;
    expect(letters(got)).toMatch(/^TDCZE$/);
    expect(decodeErrorFields(got.at(-1)!.body).C).toBe('57P01');
    const psqlResult = await fromPsql;
    expect(psqlResult.code, psqlResult.stderr).toBe(0);
    expect(psqlResult.stdout).toContain('slept|');
    expect(await gw.exited).toBe(0);
    const took = Date.now() - signalled;
    // Once the statements have finished, not at the drain timeout.
    expect(took).toBeGreaterThan(1500);
    expect(took).toBeLessThan(15_000);

    const store = openStore(files.dataDir);
    try {
      const list = await store.listSessions({});
      expect(list.map((s) => s.endReason)).toEqual(['gateway_shutdown', 'gateway_shutdown', 'gateway_shutdown', 'gateway_shutdown']);
      const withSleep = [];
      for (const s of list) for await (const e of store.readEvents(s.id)) if (e.type === 'db.query' && /pg_sleep\(2\)/.test(String(e.data.text))) withSleep.push(e);
      expect(withSleep).toHaveLength(2);
    } finally {
      await store.close();
    }
    const verify = await runCli(['verify', '--config', files.config]);
    expect(verify.code, verify.out + verify.err).toBe(0);
  }, 60_000);

  it('ends a statement still running at drainTimeout, records why, and exits', async () => {
    const files = await writeGatewayConfig(dir, 'drain-timeout', join(dir, 'drain-timeout-data'), { connections: { db: pgConnection(pg) }, limits: { drainTimeout: '1s' } });
    const gw = await spawnGateway(files.config);
    const token = await issueToken(files.config, 'alice', 'dba');
    const busy = await RawPgClient.login(files.pgPort, 'alice', 'db', token);
    busy.socket.write(encodeQuery('SELECT pg_sleep(30)'));
    const frames = rest(busy);
    await new Promise((r) => setTimeout(r, 300));
    const signalled = Date.now();
    gw.child.kill('SIGTERM');
    expect(await gw.exited).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(5000);
    expect(decodeErrorFields((await frames).at(-1)!.body).C).toBe('57P01');
    const store = openStore(files.dataDir);
    try {
      expect((await store.listSessions({})).map((s) => s.endReason)).toEqual(['gateway_shutdown']);
    } finally {
      await store.close();
    }
  }, 60_000);
});
