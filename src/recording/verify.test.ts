import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { forensics, type Forensics } from '../../test/forensics/fixtures.ts';
import { GENESIS, eventHash } from './chain.ts';
import { createCheckpoint } from './checkpoint.ts';
import { verifyStore } from './verify.ts';

let f: Forensics;
beforeEach(() => {
  f = forensics();
});
afterEach(async () => {
  await f.cleanup();
});

const verify = (opts?: Parameters<typeof verifyStore>[2]) => verifyStore(f.store, f.keys.keys, opts);
const run = (sql: string, ...args: unknown[]) => f.store.db.prepare(sql).run(...args);

describe('verifyStore', () => {
  it('passes on an untouched store and counts what it checked', async () => {
    for (let i = 0; i < 3; i++) await f.session();
    const r = await verify();
    expect(r.breaks).toEqual([]);
    expect(r.checked).toMatchObject({ sessions: 3, events: 24, ledgerEntries: 3, openSessions: 0 });
  });

  it('reports a running session as checked but open, not as a break', async () => {
    await f.session();
    const open = await f.session({ open: true });
    const r = await verify();
    expect(r.breaks).toEqual([]);
    expect(r.open).toEqual([open]);
    expect(r.checked.openSessions).toBe(1);
  });

  it('names an event whose data was altered', async () => {
    const id = await f.session();
    const other = await f.session();
    run("UPDATE events SET data = json_set(data, '$.text', 'select secret') WHERE session_id = ? AND seq = 3", id);
    const r = await verify();
    expect(r.breaks).toEqual([{ sessionId: id, seq: 3, what: expect.stringMatching(/hash mismatch.*altered/) }]);
    expect(r.breaks.some((b) => b.sessionId === other)).toBe(false);
  });

  it('names a deleted event', async () => {
    const id = await f.session();
    run('DELETE FROM events WHERE session_id = ? AND seq = 3', id);
    const r = await verify();
    expect(r.breaks).toEqual([{ sessionId: id, seq: 3, what: 'event missing (seq 3 deleted)' }]);
  });

  it('names an inserted event, even one with a correctly computed hash', async () => {
    const id = await f.session();
    const last = f.store.db.prepare('SELECT hash FROM events WHERE session_id = ? AND seq = 7').get(id) as { hash: string };
    const extra = { sessionId: id, seq: 8, time: Date.now(), type: 'db.query', data: { text: 'select planted' } };
    run("INSERT INTO events (session_id, session_key, seq, time, type, data, hash) VALUES (?, (SELECT key FROM sessions WHERE id = ?), 8, ?, 'db.query', ?, ?)", id, id, extra.time, JSON.stringify(extra.data), eventHash(last.hash, extra));
    const r = await verify();
    expect(r.breaks).toContainEqual(expect.objectContaining({ sessionId: id, seq: 8, what: expect.stringMatching(/beyond the sealed end/) }));
    expect(r.breaks.every((b) => b.sessionId === id)).toBe(true);
  });

  it('names both events of a reordered pair as reordered', async () => {
    const id = await f.session();
    run('UPDATE events SET seq = -1 WHERE session_id = ? AND seq = 3', id);
    run('UPDATE events SET seq = 3 WHERE session_id = ? AND seq = 4', id);
    run('UPDATE events SET seq = 4 WHERE session_id = ? AND seq = -1', id);
    const r = await verify();
    expect(r.breaks).toEqual([
      { sessionId: id, seq: 3, what: expect.stringMatching(/recorded as seq 4 .*reordered/) },
      { sessionId: id, seq: 4, what: expect.stringMatching(/recorded as seq 3 .*reordered/) },
    ]);
  });

  it('names a session deleted whole (events and record)', async () => {
    const id = await f.session();
    await f.session();
    run('DELETE FROM events WHERE session_id = ?', id);
    run('DELETE FROM sessions WHERE id = ?', id);
    const r = await verify();
    expect(r.breaks).toEqual([{ sessionId: id, seq: null, ledgerSeq: 1, what: expect.stringMatching(/deleted.*no tombstone/) }]);
  });

  it('names a chain rewritten consistently after an edit (the seal no longer matches)', async () => {
    const id = await f.session();
    const rows = f.store.db.prepare('SELECT * FROM events WHERE session_id = ? ORDER BY seq').all(id) as Record<string, unknown>[];
    let prev = GENESIS;
    for (const row of rows) {
      const data = JSON.parse(String(row.data));
      if (row.seq === 3) data.text = 'select harmless';
      const hash = eventHash(prev, { sessionId: id, seq: Number(row.seq), time: Number(row.time), type: String(row.type), data });
      run('UPDATE events SET data = ?, hash = ? WHERE id = ?', JSON.stringify(data), hash, row.id);
      prev = hash;
    }
    run('UPDATE sessions SET last_hash = ? WHERE id = ?', prev, id);
    const r = await verify();
    expect(r.breaks).toContainEqual(expect.objectContaining({ sessionId: id, seq: 7, what: expect.stringMatching(/does not match the sealed final hash/) }));
  });

  it('names an altered seal signature', async () => {
    const id = await f.session();
    const other = await f.session();
    const sig = (f.store.db.prepare("SELECT json_extract(data, '$.signature') AS s FROM ledger WHERE session_id = ?").get(other) as { s: string }).s;
    run("UPDATE ledger SET data = json_set(data, '$.signature', ?) WHERE session_id = ?", sig, id);
    const r = await verify();
    expect(r.breaks).toContainEqual({ sessionId: id, seq: null, ledgerSeq: 1, what: expect.stringMatching(/^seal: signature invalid/) });
    expect(r.breaks).toContainEqual({ sessionId: id, seq: null, ledgerSeq: 1, what: expect.stringMatching(/entry hash mismatch/) });
  });

  it('names a session record edited to hide who it was', async () => {
    const id = await f.session();
    run("UPDATE sessions SET subject = 'bob' WHERE id = ?", id);
    const r = await verify();
    expect(r.breaks).toEqual([{ sessionId: id, seq: 0, what: expect.stringMatching(/subject.*differs from its session.start/) }]);
  });

  it('reports a ledger truncated after a published checkpoint', async () => {
    await f.session();
    await f.session();
    const { checkpoint } = await createCheckpoint(f.store, f.keys);
    expect(checkpoint.ledgerSeq).toBe(2);
    expect((await verify({ checkpoint })).breaks).toEqual([]);
    run('DELETE FROM ledger WHERE seq >= 2');
    const r = await verify({ checkpoint });
    expect(r.breaks).toContainEqual(expect.objectContaining({ sessionId: null, what: expect.stringMatching(/^ledger truncated after checkpoint/) }));
  });

  it('reports a ledger truncated and re-appended after a checkpoint', async () => {
    await f.session();
    const b = await f.session();
    const { checkpoint } = await createCheckpoint(f.store, f.keys);
    run('DELETE FROM ledger WHERE seq >= 2');
    // Re-sealing the same head reproduces the same entry (nothing to see); anything else at seq 2 differs.
    const seal = f.store.db.prepare('SELECT * FROM ledger WHERE session_id = ?').get(b);
    expect(seal).toBeUndefined();
    await createCheckpoint(f.store, f.keys);
    const r = await verify({ checkpoint });
    expect(r.breaks).toContainEqual({ sessionId: null, seq: null, ledgerSeq: 2, what: expect.stringMatching(/differs from the published checkpoint/) });
    expect(r.breaks).toContainEqual({ sessionId: b, seq: null, what: 'closed session has no seal in the ledger' });
  });

  it('checks only the named sessions when given ids', async () => {
    const a = await f.session();
    const b = await f.session();
    run("UPDATE events SET data = '{}' WHERE session_id = ? AND seq = 1", b);
    expect((await verify({ sessionIds: [a] })).breaks).toEqual([]);
    expect((await verify({ sessionIds: [b] })).breaks).toHaveLength(1);
    // An id nothing ever held is reported as unknown, not as a break (a typo is not tampering).
    expect(await verify({ sessionIds: ['ses_nope'] })).toMatchObject({ breaks: [], unknown: ['ses_nope'] });
  });

  it('verifies seals across a key rotation, each with the key valid when it was made', async () => {
    const before = [await f.session(), await f.session()];
    const oldKey = f.keys.current.keyId;
    f.rotate();
    const after = [await f.session(), await f.session()];
    expect(f.keys.current.keyId).not.toBe(oldKey);
    expect(f.keys.keys.find((k) => k.keyId === oldKey)?.validUntil).not.toBeNull();
    const r = await verify();
    expect(r.breaks).toEqual([]);
    expect(r.checked.sessions).toBe(4);
    const keyOf = (id: string) => (f.store.db.prepare("SELECT json_extract(data, '$.keyId') AS k FROM ledger WHERE session_id = ?").get(id) as { k: string }).k;
    expect(before.map(keyOf)).toEqual([oldKey, oldKey]);
    expect(after.map(keyOf)).toEqual([f.keys.current.keyId, f.keys.current.keyId]);
    // The old key alone does not vouch for the new seals.
    const onlyOld = await verifyStore(f.store, f.keys.keys.filter((k) => k.keyId === oldKey));
    // (Each new session twice: its opening and its seal are signed with the new key.)
    expect([...new Set(onlyOld.breaks.map((b) => b.sessionId))].sort()).toEqual([...after].sort());
  });

  it('rejects a seal made with a key outside its validity period', async () => {
    const id = await f.session();
    const keys = f.keys.keys.map((k) => ({ ...k, validFrom: Date.now() + 3_600_000 }));
    const r = await verifyStore(f.store, keys);
    expect(r.breaks).toEqual([
      { sessionId: id, seq: null, ledgerSeq: 1, what: expect.stringMatching(/outside key .* validity/) },
      { sessionId: id, seq: 0, what: expect.stringMatching(/^session not opened by the gateway \(signed at .*, outside key .* validity/) },
    ]);
  });

  it('reports a closed session without a seal', async () => {
    const id = await f.session();
    run('DELETE FROM ledger');
    const r = await verify();
    expect(r.breaks).toEqual([{ sessionId: id, seq: null, what: 'closed session has no seal in the ledger' }]);
  });

  it('streams sessions larger than a page and names a break deep inside', async () => {
    const id = await f.session({ queries: 700 }); // 1402 events: three pages
    run("UPDATE events SET data = json_set(data, '$.rows', 999) WHERE session_id = ? AND seq = 1200", id);
    run('DELETE FROM events WHERE session_id = ? AND seq = 600', id);
    const r = await verify();
    expect(r.checked.events).toBe(1401);
    expect(r.breaks).toEqual([
      { sessionId: id, seq: 600, what: 'event missing (seq 600 deleted)' },
      { sessionId: id, seq: 1200, what: expect.stringMatching(/hash mismatch/) },
    ]);
  });

  it('bounds the report when a session was renumbered after a deletion', async () => {
    const id = await f.session({ queries: 100 });
    run('DELETE FROM events WHERE session_id = ? AND seq = 10', id);
    run('UPDATE events SET seq = -(seq - 1) WHERE session_id = ? AND seq > 10', id);
    run('UPDATE events SET seq = -seq WHERE session_id = ? AND seq < 0', id);
    const r = await verify();
    expect(r.breaks.length).toBeLessThanOrEqual(53);
    expect(r.breaks.filter((b) => b.seq !== null)[0]).toMatchObject({ sessionId: id, seq: 10 });
    expect(r.breaks).toContainEqual({ sessionId: id, seq: 11, what: 'event recorded as seq 12 (events reordered or renumbered)' });
    expect(r.breaks).toContainEqual(expect.objectContaining({ sessionId: id, what: expect.stringMatching(/further breaks in this session not listed/) }));
    expect(r.breaks).toContainEqual(expect.objectContaining({ sessionId: id, what: expect.stringMatching(/events missing at the end: the seal covers 202 events, the chain has 201/) }));
  });
});
