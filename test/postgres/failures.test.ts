import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createServer, type Server, type Socket } from 'node:net';
import { startPostgres, type PgServer } from '../harness/postgres.ts';
import { startGateway, pgConnection, type TestGateway } from '../harness/gateway.ts';
import { RawPgClient } from '../harness/raw-pg-client.ts';
import { freePort } from '../harness/ports.ts';
import { encodeAuthenticationOk, encodeBackendKeyData, encodeParameterStatus, encodeReadyForQuery, decodeErrorFields } from '../../src/protocols/postgres/codec/backend.ts';
import { encodeQuery } from '../../src/protocols/postgres/codec/frontend.ts';
import type { StoredEvent } from '../../src/store/types.ts';

let server: PgServer;
let gw: TestGateway;
let token: string;
let fakeTarget: Server;

beforeAll(async () => {
  server = await startPostgres();
  // A stand-in target that completes startup, then answers any query with a malformed frame.
  const fakePort = await freePort();
  fakeTarget = createServer((s: Socket) => {
    let started = false;
    s.on('data', () => {
      if (!started) {
        started = true;
        // is_superuser as every PostgreSQL reports it (a target that does not is refused).
        s.write(Buffer.concat([encodeAuthenticationOk(), encodeParameterStatus('is_superuser', 'off'), encodeBackendKeyData(1, 2), encodeReadyForQuery('I')]));
      } else {
        s.write(Buffer.from([0x44, 0x00, 0x00, 0x00, 0x02])); // DataRow with length 2 (< 4): malformed
      }
    });
    s.on('error', () => {});
  });
  await new Promise<void>((r) => fakeTarget.listen(fakePort, '127.0.0.1', () => r()));
  gw = await startGateway({
    connections: {
      app: pgConnection(server),
      broken: { type: 'postgres', host: '127.0.0.1', port: fakePort, database: 'x', user: 'x', allow: ['dba'] },
    },
  });
  token = await gw.token('alice', ['dba']);
});

afterAll(async () => {
  await gw?.stop();
  await server?.stop();
  fakeTarget?.close();
});

async function events(sessionId: string): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for await (const e of gw.gw.store.readEvents(sessionId)) out.push(e);
  return out;
}

async function closedSession(predicate: (reason: string) => boolean) {
  for (let i = 0; i < 300; i++) {
    const list = await gw.gw.store.listSessions({ open: false });
    const s = list.find((x) => x.endReason && predicate(x.endReason));
    if (s) return s;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('no such closed session');
}

describe('failures end only the affected session', () => {
  it('a malformed client frame gets a protocol error; other sessions go on', async () => {
    const other = new pg.Client({ host: '127.0.0.1', port: gw.pgPort, user: 'alice', password: token, database: 'app' });
    await other.connect();
    const raw = await RawPgClient.login(gw.pgPort, 'alice', 'app', token);
    raw.socket.write(Buffer.from([0x51, 0x00, 0x00, 0x00, 0x01])); // Query with length 1: malformed
    const err = await raw.until('E');
    expect(decodeErrorFields(err.body)).toMatchObject({ S: 'FATAL', C: '08P01' });
    await raw.closed;
    expect((await other.query('select 7 as n')).rows[0].n).toBe(7);
    await other.end();
    const s = await closedSession((r) => r.startsWith('protocol_error: client'));
    expect((await events(s.id)).at(-1)?.type).toBe('session.end');
  });

  it('a malformed target frame ends that session with a protocol-correct error', async () => {
    const raw = await RawPgClient.login(gw.pgPort, 'alice', 'broken', token);
    raw.query('select 1');
    const err = await raw.until('E');
    expect(decodeErrorFields(err.body)).toMatchObject({ S: 'FATAL', C: '08P01', M: 'Airlock: malformed message from the target' });
    await raw.closed;
    await closedSession((r) => r.startsWith('protocol_error: target'));
  });

  it('an oversized frame is refused before it is buffered', async () => {
    const raw = await RawPgClient.login(gw.pgPort, 'alice', 'app', token);
    const header = Buffer.alloc(5);
    header[0] = 0x51;
    header.writeInt32BE(0x7fffffff, 1);
    raw.socket.write(header);
    const err = await raw.until('E');
    expect(decodeErrorFields(err.body).M).toMatch(/exceeds limit/);
    await raw.closed;
  });

  it('a client killed mid-query ends its session', async () => {
    const raw = await RawPgClient.login(gw.pgPort, 'alice', 'app', token);
    raw.query("select pg_sleep(20) /* killed-client */");
    await new Promise((r) => setTimeout(r, 200));
    raw.socket.destroy();
    const s = await closedSession((r) => r === 'client_disconnected' || r === 'client_error');
    expect(s.endedAt).not.toBeNull();
    // PostgreSQL notices the closed socket only when pg_sleep returns (as with a direct client), so cancel
    // the backend the way an operator would; the session record is already complete.
    await server.sql("select pg_cancel_backend(pid) from pg_stat_activity where query like '%killed-client%' and pid <> pg_backend_pid()");
  });

  it('store unavailable: a statement that ran is not acknowledged until it is recorded; new statements fail closed with a clear error, and work again after', async () => {
    const store = gw.gw.store as unknown as { appendEvents: (e: readonly StoredEvent[]) => Promise<void> };
    const original = store.appendEvents.bind(store);
    const client = new pg.Client({ host: '127.0.0.1', port: gw.pgPort, user: 'alice', password: token, database: 'app' });
    const other = new pg.Client({ host: '127.0.0.1', port: gw.pgPort, user: 'alice', password: token, database: 'app' });
    await client.connect();
    await other.connect();
    store.appendEvents = async () => {
      throw new Error('disk full');
    };
    // Its events fail to write: the recorder turns unhealthy, and the client is not told the statement ended.
    let acknowledged = false;
    const first = client.query('select 1 as n').then((r) => ((acknowledged = true), r));
    await new Promise((r) => setTimeout(r, 300));
    expect(acknowledged).toBe(false);
    await expect(other.query('select 2')).rejects.toThrow(/recording store is unavailable/);
    store.appendEvents = original;
    expect((await first).rows[0].n).toBe(1);
    for (let i = 0; i < 100 && !gw.gw.recorder.healthy; i++) await new Promise((r) => setTimeout(r, 20));
    expect((await client.query('select 3 as n')).rows[0].n).toBe(3);
    await other.end();
    await client.end();
    const s = await closedSession(() => true);
    const all = await events(s.id);
    // Nothing was lost: the events queued while the store failed were written once it recovered.
    expect(all.map((e) => e.seq)).toEqual(all.map((_, i) => i));
  });
});

describe('a recording store that cannot keep up', () => {
  it('holds a client that pipelines statements: the backlog stays bounded, and every statement runs and is recorded once it catches up', async () => {
    const backlog = 32 * 1024;
    const g = await startGateway({ connections: { app: pgConnection(server) } }, { recorder: { maxBacklogChars: backlog } });
    try {
      const t = await g.token('alice', ['dba']);
      const raw = await RawPgClient.login(g.pgPort, 'alice', 'app', t);
      // The store takes no write until released: what is recorded waits in the gateway's memory.
      const store = g.gw.store as unknown as { appendEvents: (e: readonly StoredEvent[]) => Promise<void> };
      const original = store.appendEvents.bind(store);
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      store.appendEvents = async (e) => {
        await released;
        return original(e);
      };
      let ready = 0;
      const errors: string[] = [];
      raw.onFrame = (f) => {
        if (f.code === 0x5a) ready++;
        if (f.code === 0x45) errors.push(decodeErrorFields(f.body).C ?? '');
      };
      const n = 20_000;
      raw.socket.write(Buffer.concat(Array.from({ length: n }, (_, i) => encodeQuery(`select ${i}`))));
      await new Promise((r) => setTimeout(r, 500));
      // Held after the limit: a few hundred statements were taken, not 20,000, and the backlog is near its limit.
      // None is acknowledged (recording.ack: durable): none of them is in the store yet.
      expect(ready).toBe(0);
      // Past the limit, the results of statements already sent are still recorded as they come, up to one read of
      // the target's socket (64 KiB of messages) before the held acknowledgement stops reading it.
      expect(g.gw.recorder.backlog).toBeGreaterThan(backlog / 2);
      expect(g.gw.recorder.backlog).toBeLessThan(backlog + 128 * 1024);
      const heldAt = ready;
      await new Promise((r) => setTimeout(r, 300));
      expect(ready).toBe(heldAt);

      store.appendEvents = original;
      release();
      for (let i = 0; i < 500 && ready < n; i++) await new Promise((r) => setTimeout(r, 20));
      expect(ready).toBe(n);
      // A store that is slow, not failing: the client waited instead of being refused, and every statement ran.
      expect(errors).toEqual([]);
      raw.end();
      await raw.closed;
      let s;
      for (let i = 0; i < 200 && !s; i++) {
        [s] = (await g.gw.store.listSessions({ user: 'alice' })).filter((x) => x.endedAt !== null);
        if (!s) await new Promise((r) => setTimeout(r, 20));
      }
      const seqs: number[] = [];
      let statements = 0;
      for await (const e of g.gw.store.readEvents(s!.id)) {
        seqs.push(e.seq);
        if (e.type === 'db.query') statements++;
      }
      expect(seqs).toEqual(seqs.map((_, i) => i));
      expect(statements).toBe(n);
    } finally {
      await g.stop();
    }
  });
});

describe('target killed mid-session', () => {
  it('the client gets an error and the session records why it ended', async () => {
    const victim = await startPostgres();
    const g = await startGateway({ connections: { victim: pgConnection(victim) } });
    try {
      const t = await g.token('alice', ['dba']);
      const client = new pg.Client({ host: '127.0.0.1', port: g.pgPort, user: 'alice', password: t, database: 'victim' });
      client.on('error', () => {});
      await client.connect();
      expect((await client.query('select 1 as n')).rows[0].n).toBe(1);
      const pending = client.query('select pg_sleep(30)').then(() => undefined, (e: Error) => e);
      await new Promise((r) => setTimeout(r, 200));
      await victim.kill();
      expect(await pending).toBeInstanceOf(Error);
      let s;
      for (let i = 0; i < 200 && !s; i++) {
        [s] = await g.gw.store.listSessions({ open: false });
        if (!s) await new Promise((r) => setTimeout(r, 20));
      }
      expect(s?.endReason).toMatch(/^target_/);
    } finally {
      await g.stop();
      await victim.stop();
    }
  });
});
