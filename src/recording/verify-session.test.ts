import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { forensics, type Forensics } from '../../test/forensics/fixtures.ts';
import { ledgerHash } from './chain.ts';
import { syncMerkle } from './merkle-index.ts';
import { verifySession } from './verify-session.ts';

let f: Forensics;
beforeEach(() => {
  f = forensics();
});
afterEach(async () => {
  await f.cleanup();
});

const verify = (id: string) => verifySession(f.store, f.keys.keys, id);
const run = (sql: string, ...args: unknown[]) => f.store.db.prepare(sql).run(...args);
const sealRow = (id: string) => f.store.db.prepare("SELECT * FROM ledger WHERE session_id = ? AND kind = 'seal'").get(id) as { seq: number; data: string; hash: string };

describe('verifySession', () => {
  it('passes a sealed session among others, checking its seal against the indexed tree', async () => {
    await f.session();
    const id = await f.session();
    await f.session();
    const r = await verify(id);
    expect(r).toMatchObject({ sessionId: id, ok: true, sealed: true, events: 8, breaks: [] });
    // The tree is indexed only up to the seal when nothing indexed it further (checkpoints, bundles do).
    expect(r.checked).toEqual({ sealSeq: 2, tree: { size: 2, rootHash: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    await syncMerkle(f.store);
    expect((await verify(id)).checked.tree?.size).toBe(3);
  });

  it('checks a running session chain without asking for a seal', async () => {
    const id = await f.session({ open: true });
    expect(await verify(id)).toMatchObject({ ok: true, sealed: false, breaks: [], checked: { sealSeq: null, tree: null } });
  });

  it('names an altered event, and no other session is blamed', async () => {
    const id = await f.session();
    const other = await f.session();
    run("UPDATE events SET data = json_set(data, '$.text', 'select secret') WHERE session_id = ? AND seq = 3", id);
    const r = await verify(id);
    expect(r.ok).toBe(false);
    expect(r.sealed).toBe(true); // the seal itself holds; the chain does not
    expect(r.breaks).toEqual([{ seq: 3, problem: expect.stringMatching(/hash mismatch.*altered/) }]);
    expect((await verify(other)).ok).toBe(true);
  });

  it('names a removed seal', async () => {
    const id = await f.session();
    run("DELETE FROM ledger WHERE session_id = ? AND kind = 'seal'", id);
    expect(await verify(id)).toMatchObject({ ok: false, sealed: false, breaks: [{ seq: null, problem: 'closed session has no seal in the ledger' }] });
  });

  it('names an altered seal signature', async () => {
    const id = await f.session();
    const row = sealRow(id);
    const data = JSON.parse(row.data) as Record<string, unknown>;
    const sig = Buffer.from(String(data.signature), 'base64');
    sig[0] ^= 1;
    run('UPDATE ledger SET data = ? WHERE seq = ?', JSON.stringify({ ...data, signature: sig.toString('base64') }), row.seq);
    const r = await verify(id);
    expect(r.sealed).toBe(false);
    expect(r.breaks).toContainEqual({ seq: null, problem: expect.stringMatching(/^seal: signature invalid/) });
  });

  it('names a seal entry whose ledger hash was changed', async () => {
    const id = await f.session();
    run('UPDATE ledger SET hash = ? WHERE seq = ?', 'ab'.repeat(32), sealRow(id).seq);
    const r = await verify(id);
    expect(r.sealed).toBe(false);
    expect(r.breaks).toEqual([{ seq: null, problem: 'ledger seal entry hash mismatch (entry altered)' }]);
  });

  it('names a seal rewritten after it was indexed even with its ledger hash recomputed: the Merkle inclusion fails', async () => {
    const id = await f.session();
    await f.session();
    await syncMerkle(f.store);
    const row = f.store.db.prepare("SELECT * FROM ledger WHERE session_id = ? AND kind = 'seal'").get(id) as { seq: number; time: number; data: string; prev_hash: string };
    const data = { ...(JSON.parse(row.data) as Record<string, unknown>), endReason: 'admin_terminated' };
    run("UPDATE sessions SET end_reason = 'admin_terminated' WHERE id = ?", id);
    run("UPDATE events SET data = json_set(data, '$.reason', 'admin_terminated') WHERE session_id = ? AND type = 'session.end'", id);
    const hash = ledgerHash(row.prev_hash, { seq: row.seq, kind: 'seal', sessionId: id, time: row.time, data });
    run('UPDATE ledger SET data = ?, hash = ? WHERE seq = ?', JSON.stringify(data), hash, row.seq);
    const r = await verify(id);
    expect(r.sealed).toBe(false);
    expect(r.breaks).toContainEqual({ seq: null, problem: expect.stringMatching(/seal not included in the ledger's Merkle tree \(size 2\)/) });
  });

  it('says when the session is unknown', async () => {
    expect(await verify('nope')).toMatchObject({ ok: false, sealed: false, events: 0, breaks: [{ seq: null, problem: 'no such session in the store' }] });
  });
});
