import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startPostgres, type PgServer } from '../harness/postgres.ts';
import { startGateway, pgConnection, type TestGateway } from '../harness/gateway.ts';
import { smallDiskForTests } from '../harness/small-disk.ts';
import { verifyStore } from '../../src/recording/verify.ts';

// The gateway's data dir on a 16 MiB tmpfs that the test fills up: SQLite gets ENOSPC from the kernel.
const { disk, skip } = smallDiskForTests(16, 'full-disk test');

let server: PgServer;
let gw: TestGateway;
let token: string;

beforeAll(async () => {
  if (skip) return;
  server = await startPostgres();
  gw = await startGateway({ connections: { app: pgConnection(server) } }, { parentDir: disk!.dir });
  token = await gw.token('alice', ['dba']);
});

afterAll(async () => {
  await gw?.stop();
  await server?.stop();
  disk?.unmount();
});

const connect = async () => {
  const c = new pg.Client({ host: '127.0.0.1', port: gw.pgPort, user: 'alice', password: token, database: 'app' });
  await c.connect();
  return c;
};

/** Waits until `f` resolves truthy (polling), or fails naming `what`. */
async function until(what: string, f: () => Promise<unknown> | unknown, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.skipIf(skip !== undefined)('a full disk under the recording store', () => {
  it('refuses statements with a protocol-correct error, keeps every session, and loses nothing once there is space', async () => {
    const small = disk!;
    const a = await connect();
    const b = await connect();
    expect((await a.query('select 1 as n')).rows[0].n).toBe(1);
    expect((await b.query('select 2 as n')).rows[0].n).toBe(2);

    small.fill();
    // Results whose samples need new pages: the store's writes fail with SQLITE_FULL. The statement that ran is not
    // acknowledged until it is recorded (recording.ack: durable), and the gateway fails closed for new ones.
    let held: Promise<unknown> | undefined;
    for (let i = 0; i < 500 && !held; i++) {
      const q = a.query(`select repeat(md5(g::text), 60) from generate_series(1, 20) g where ${i} >= 0`);
      const answered = await Promise.race([q.then(() => true), new Promise((r) => setTimeout(r, 1000, false))]);
      if (!answered && !gw.gw.recorder.healthy) held = q;
      else await q;
    }
    expect(held).toBeDefined();
    // Both sessions stay open; the other is refused with a clear error; a new one is refused at login with a clear FATAL.
    const refused = await b.query('select 3').then(() => undefined, (err: Error & { code?: string }) => err);
    expect(refused?.code).toBe('58030');
    expect(refused?.message).toMatch(/recording store is unavailable/);
    await expect(connect()).rejects.toThrow(/recording store unavailable/);

    small.free();
    await until('the recorder has written what was queued', () => gw.gw.recorder.healthy);
    await held; // its result reached the client once it was recorded
    expect((await a.query('select 4 as n')).rows[0].n).toBe(4);
    expect((await b.query('select 5 as n')).rows[0].n).toBe(5);
    await a.end();
    await b.end();

    // Every event recorded before, during and after the full disk is in the store, in order, and verifies.
    await until('both sessions are sealed', async () => (await gw.gw.store.listSessions({ user: 'alice' })).filter((s) => s.endedAt !== null && s.lastHash !== null).length >= 2);
    const sessions = (await gw.gw.store.listSessions({ user: 'alice' })).filter((s) => s.endedAt !== null);
    for (const s of sessions) {
      const seqs: number[] = [];
      const texts: string[] = [];
      for await (const e of gw.gw.store.readEvents(s.id)) {
        seqs.push(e.seq);
        if (e.type === 'db.query') texts.push(String(e.data.text));
      }
      expect(seqs).toEqual(seqs.map((_, i) => i));
      expect(texts.at(-1)).toMatch(/^select [45] as n$/);
    }
    const v = await verifyStore(gw.gw.store, gw.gw.keys.keys);
    expect(v.breaks).toEqual([]);
  });
});
