import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENESIS, eventHash } from '../../src/recording/chain.ts';
import { verifyStore } from '../../src/recording/verify.ts';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { SessionRecord, StoredEvent } from '../../src/store/types.ts';
import { encodeQuery } from '../../src/protocols/postgres/codec/frontend.ts';
import { pgConnection, startGateway, type TestGateway } from '../harness/gateway.ts';
import { startPostgres, type PgServer } from '../harness/postgres.ts';
import { RawPgClient } from '../harness/raw-pg-client.ts';
import { waitFor } from '../harness/wait.ts';

let server: PgServer;
let gw: TestGateway;
let token: string;
let store: SqliteStore;

beforeAll(async () => {
  server = await startPostgres();
  gw = await startGateway({ connections: { app: pgConnection(server) } });
  token = await gw.token('alice', ['dba']);
  store = gw.gw.store as SqliteStore;
});

afterAll(async () => {
  await gw?.stop();
  await server?.stop();
});

const verify = (ids: string[]) => verifyStore(store, gw.gw.keys.keys, { sessionIds: ids });

/** A session through a raw client that runs `select 1`, then ends; returns its sealed record. */
async function sealedSession(): Promise<SessionRecord> {
  const before = new Set((await store.listSessions({ user: 'alice' })).map((s) => s.id));
  const c = await RawPgClient.login(gw.pgPort, 'alice', 'app', token);
  c.query('select 1');
  await c.until('Z');
  c.end();
  await c.closed;
  return waitFor(async () => (await store.listSessions({ user: 'alice' })).find((s) => !before.has(s.id) && s.lastHash !== null));
}

describe('a session the gateway did not write', () => {
  it('never verifies, and is never sealed by the gateway (forged rows and a self-computed chain)', async () => {
    const id = 'ses_forged0000000000000000000000';
    const startedAt = Date.now();
    const record: SessionRecord = {
      id, protocol: 'postgres', connection: 'app', subject: 'mallory', groups: ['dba'], kind: 'user', authMethod: 'token', credentialId: null,
      clientAddress: '127.0.0.1:1', application: null, startedAt, endedAt: null, endReason: null, bytesIn: 0, bytesOut: 0, eventCount: 0, lastHash: null, legalHold: false,
    };
    await store.insertSession(record);
    const start = { protocol: 'postgres', connection: 'app', subject: 'mallory', groups: ['dba'], kind: 'user', authMethod: 'token', credentialId: null, clientAddress: '127.0.0.1:1', application: null, startedAt };
    const forged: StoredEvent[] = [];
    let prev = GENESIS;
    for (const [seq, type, data] of [[0, 'session.start', start], [1, 'db.query', { mode: 'simple', text: 'select 1' }]] as const) {
      const e = { sessionId: id, seq, time: startedAt + seq, type, data };
      prev = eventHash(prev, e);
      forged.push({ ...e, hash: prev });
    }
    await store.appendEvents(forged);

    expect((await verify([id])).breaks).toEqual([{ sessionId: id, seq: 0, what: expect.stringMatching(/^open session not opened by the gateway/) }]);
    // What the gateway does at start with sessions a crash left open: this one is left alone.
    const genuine = await gw.gw.recorder.open({ protocol: 'postgres', connection: 'app', identity: { subject: 'bob', groups: ['dba'], kind: 'user', authMethod: 'token' }, clientAddress: '127.0.0.1:2' });
    await gw.gw.recorder.flush();
    expect(await gw.gw.recorder.recoverInterrupted(() => true)).toBe(1); // as if every owner were gone
    expect((await store.getSession(id))?.endedAt).toBeNull();
    expect((await store.getSession(genuine.id))?.endReason).toBe('interrupted');
    const seals: (string | null)[] = [];
    for await (const e of store.readLedger()) seals.push(e.sessionId);
    expect(seals).toContain(genuine.id);
    expect(seals).not.toContain(id);
    expect((await verify([genuine.id])).breaks).toEqual([]);
    store.db.prepare('DELETE FROM events WHERE session_id = ?').run(id);
    store.db.prepare('DELETE FROM sessions WHERE id = ?').run(id);
  });
});

describe('every column a filter or search reads is covered by the chain', () => {
  it('sessions.started_at', async () => {
    const s = await sealedSession();
    expect((await verify([s.id])).breaks).toEqual([]);
    store.db.prepare('UPDATE sessions SET started_at = started_at - 86400000 WHERE id = ?').run(s.id);
    expect((await verify([s.id])).breaks).toEqual([{ sessionId: s.id, seq: 0, what: expect.stringMatching(/startedAt .* differs from its session.start event/) }]);
  });
});

describe('events.outcome and events.search_text are in the chain', () => {
  it('changing, clearing or setting either is a break; a repeated statement (not indexed again) verifies', async () => {
    const s = await sealedSession();
    const rows = store.db.prepare("SELECT id, seq, outcome, search_text FROM events WHERE session_id = ? AND type = 'db.query'").all(s.id) as { id: number; seq: number }[];
    expect(rows).toMatchObject([{ outcome: 'allowed', search_text: 'select 1' }]);
    const { id, seq } = rows[0];
    expect((await verify([s.id])).breaks).toEqual([]);
    const altered = [{ sessionId: s.id, seq, what: 'event hash mismatch (content altered, or event inserted)' }];
    for (const change of ["outcome = 'denied'", 'outcome = NULL', "search_text = 'select 2'", 'search_text = NULL']) {
      store.db.prepare(`UPDATE events SET ${change} WHERE id = ?`).run(id);
      expect((await verify([s.id])).breaks, change).toEqual(altered);
      store.db.prepare("UPDATE events SET outcome = 'allowed', search_text = 'select 1' WHERE id = ?").run(id);
    }
    const result = store.db.prepare("SELECT id, seq FROM events WHERE session_id = ? AND type = 'db.result'").get(s.id) as { id: number; seq: number };
    store.db.prepare("UPDATE events SET outcome = 'denied' WHERE id = ?").run(result.id);
    expect((await verify([s.id])).breaks).toEqual([{ sessionId: s.id, seq: result.seq, what: 'event hash mismatch (content altered, or event inserted)' }]);
  });

  it('a statement a session repeats keeps its search text, every execution is found, and it verifies', async () => {
    const before = new Set((await store.listSessions({ user: 'alice' })).map((x) => x.id));
    const c = await RawPgClient.login(gw.pgPort, 'alice', 'app', token);
    for (let i = 0; i < 3; i++) {
      c.query('select 42');
      await c.until('Z');
    }
    c.end();
    await c.closed;
    const s = await waitFor(async () => (await store.listSessions({ user: 'alice' })).find((x) => !before.has(x.id) && x.lastHash !== null));
    const texts = store.db.prepare("SELECT search_text FROM events WHERE session_id = ? AND type = 'db.query'").pluck().all(s.id);
    expect(texts).toEqual(['select 42', 'select 42', 'select 42']);
    expect((await verify([s.id])).breaks).toEqual([]);
    expect((await store.search({ text: 'select 42', user: 'alice' })).filter((h) => h.sessionId === s.id)).toHaveLength(3);
  });
});

describe('nothing is recorded for a session after it ends', () => {
  it('bytes a client sends after its session ended do not change the sealed session', async () => {
    const before = new Set((await store.listSessions({ user: 'alice' })).map((s) => s.id));
    const c = await RawPgClient.login(gw.pgPort, 'alice', 'app', token);
    // A malformed frame ends the session; the client goes on sending while it is sealed.
    c.socket.write(Buffer.from([0x51, 0x00, 0x00, 0x00, 0x01]));
    const junk = encodeQuery(`select '${'x'.repeat(4000)}'`);
    const timer = setInterval(() => c.socket.write(junk), 1);
    await c.closed;
    clearInterval(timer);
    const s = await waitFor(async () => (await store.listSessions({ user: 'alice' })).find((x) => !before.has(x.id) && x.lastHash !== null));
    expect((await verify([s.id])).breaks).toEqual([]);
  });
});
