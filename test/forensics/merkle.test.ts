import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Io } from '../../src/cli/args.ts';
import { main } from '../../src/cli/main.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { ledgerHash } from '../../src/recording/chain.ts';
import { KeyRing } from '../../src/recording/keys.ts';
import { verifyConsistency } from '../../src/recording/merkle.ts';
import { Recorder } from '../../src/recording/recorder.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';

/**
 * The ledger's Merkle tree end to end, through the CLI on a data dir recorded by the real Recorder: a
 * checkpoint published at 6 entries, then more sessions; each test works on its own copy of the data dir
 * and tampers with the SQLite file the way someone with write access to it could.
 */

let base: string;
const sessions: string[] = [];
const published = { treeSize: 0, rootHash: '' };

async function record(store: SqliteStore, recorder: Recorder, subject: string): Promise<string> {
  const s = await recorder.open({
    protocol: 'postgres', connection: 'pg-main', clientAddress: '127.0.0.1:50000', application: 'psql',
    identity: { subject, groups: ['dba'], kind: 'user', authMethod: 'token', credentialId: 'tok_1' },
  });
  s.record('db.query', { text: `select '${subject}'` }, { searchText: `select '${subject}'`, outcome: 'allowed' });
  s.record('db.result', { tag: 'SELECT 1', rows: 1, durationMs: 0.5 });
  await s.end('client_terminated');
  for (let i = 0; i < 200 && !(await sealed(store, s.id)); i++) await new Promise((r) => setTimeout(r, 10));
  return s.id;
}

async function sealed(store: SqliteStore, id: string): Promise<boolean> {
  for await (const e of store.readLedger()) if (e.kind === 'seal' && e.sessionId === id) return true;
  return false;
}

async function cli(...argv: string[]): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  const io: Io = { out: (l) => out.push(l), err: (l) => out.push(l) };
  const code = await main(argv, io);
  return { code, out: out.join('\n') };
}

/** A fresh copy of the recorded data dir, with its config file. */
function copy(): { dir: string; config: string; db: string } {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-merkle-case-'));
  cpSync(base, dir, { recursive: true });
  const config = join(dir, 'airlock.yaml');
  writeFileSync(config, `dataDir: ${JSON.stringify(dir)}\n`);
  return { dir, config, db: join(dir, 'airlock.db') };
}

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'airlock-merkle-'));
  writeFileSync(join(base, 'airlock.yaml'), `dataDir: ${JSON.stringify(base)}\n`);
  const store = new SqliteStore(join(base, 'airlock.db'));
  const recorder = new Recorder(store, KeyRing.load(base), silentLogger);
  for (const who of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank']) sessions.push(await record(store, recorder, who));
  await recorder.close();
  await store.close();
  const cp = await cli('checkpoint', '--config', join(base, 'airlock.yaml'));
  expect(cp.out).toMatch(/checkpoint: ledger seq 6,/);
  Object.assign(published, JSON.parse(readFileSync(join(base, 'checkpoints', 'latest.json'), 'utf8')));
  expect(published.treeSize).toBe(6);
  const store2 = new SqliteStore(join(base, 'airlock.db'));
  const recorder2 = new Recorder(store2, KeyRing.load(base), silentLogger);
  for (const who of ['grace', 'heidi', 'ivan']) sessions.push(await record(store2, recorder2, who));
  await recorder2.close();
  await store2.close();
});

afterAll(() => {
  if (base) rmSync(base, { recursive: true, force: true });
});

describe('the ledger as a Merkle tree', () => {
  it('verifies against the published checkpoint with a consistency proof anyone can recheck', async () => {
    const c = copy();
    const v = await cli('verify', '--json', '--config', c.config);
    expect(v.code).toBe(0);
    const r = JSON.parse(v.out);
    expect(r.breaks).toEqual([]);
    expect(r.consistency).toMatchObject({ fromSize: 6, toSize: 10, verified: true });
    // The proof checks out with nothing but the two tree heads: the published one and the one reported now.
    const proof = r.consistency.proof.map((h: string) => Buffer.from(h, 'hex'));
    expect(verifyConsistency(6, 10, Buffer.from(published.rootHash, 'hex'), Buffer.from(r.tree.rootHash, 'hex'), proof)).toBe(true);
    expect(verifyConsistency(6, 10, Buffer.from(r.tree.rootHash, 'hex'), Buffer.from(r.tree.rootHash, 'hex'), proof)).toBe(false);
    rmSync(c.dir, { recursive: true, force: true });
  });

  it('names a ledger entry edited in the SQLite file: its leaf, the published root and the consistency proof', async () => {
    const c = copy();
    const db = new Database(c.db);
    db.prepare("UPDATE ledger SET data = json_set(data, '$.endReason', 'gateway_shutdown') WHERE seq = 3").run();
    db.close();
    const v = await cli('verify', '--config', c.config);
    expect(v.code).toBe(1);
    expect(v.out).toContain(`BREAK session ${sessions[2]} ledger #3: ledger seal entry hash mismatch (entry altered)`);
    expect(v.out).toContain('BREAK ledger #3: ledger entry differs from the Merkle leaf indexed for it (the entry, or the index, was altered after it was logged)');
    expect(v.out).toContain("BREAK ledger #6: Merkle root over seq 1–6 differs from the published checkpoint's: an entry up to here was rewritten (even if the chain was recomputed)");
    expect(v.out).toContain('BREAK ledger #6: Merkle consistency proof from the published checkpoint (tree size 6) to the ledger (size 10) fails: the ledger is not an append-only extension of what was published');
    expect(v.out).toContain('Merkle consistency proof (4 hashes) from the published tree of 6 entries to the current 10: FAILS');
    rmSync(c.dir, { recursive: true, force: true });
  });

  it('detects a history rewritten with the chain recomputed and the Merkle index rebuilt to match', async () => {
    const c = copy();
    const db = new Database(c.db);
    // Erase that carol's session ever ended normally: edit her seal, then recompute every later link and
    // hash, and drop the stored tree so it is rebuilt from the rewritten ledger. Only what was published
    // outside the store can tell.
    db.prepare("UPDATE ledger SET data = json_set(data, '$.endReason', 'gateway_shutdown') WHERE seq = 3").run();
    const rows = db.prepare('SELECT * FROM ledger WHERE seq >= 2 ORDER BY seq').all() as { seq: number; kind: string; session_id: string | null; time: number; data: string; hash: string }[];
    let prev = rows[0].hash;
    for (const r of rows.slice(1)) {
      const hash = ledgerHash(prev, { seq: r.seq, kind: r.kind, sessionId: r.session_id, time: r.time, data: JSON.parse(r.data) });
      db.prepare('UPDATE ledger SET prev_hash = ?, hash = ? WHERE seq = ?').run(prev, hash, r.seq);
      prev = hash;
    }
    db.prepare('DELETE FROM merkle_nodes').run();
    db.close();

    const v = await cli('verify', '--json', '--config', c.config);
    expect(v.code).toBe(1);
    const r = JSON.parse(v.out);
    const what = r.breaks.map((b: { ledgerSeq?: number; what: string }) => `#${b.ledgerSeq} ${b.what}`);
    expect(what).not.toContainEqual(expect.stringMatching(/link broken|entry hash mismatch|differs from the Merkle leaf/)); // the rewrite is internally consistent
    expect(what).toContainEqual(expect.stringMatching(/^#6 Merkle root over seq 1–6 differs from the published checkpoint's/));
    expect(what).toContainEqual(expect.stringMatching(/^#6 Merkle consistency proof from the published checkpoint \(tree size 6\) to the ledger \(size 10\) fails/));
    expect(r.consistency).toMatchObject({ fromSize: 6, toSize: 10, verified: false });
    rmSync(c.dir, { recursive: true, force: true });
  });

  it('names a leaf rewritten in the Merkle index, and the consistency proof built from it fails', async () => {
    const c = copy();
    const db = new Database(c.db);
    db.prepare('UPDATE merkle_nodes SET hash = zeroblob(32) WHERE level = 0 AND idx = 4').run();
    db.prepare('UPDATE merkle_nodes SET hash = zeroblob(32) WHERE level = 2 AND idx = 0').run();
    db.close();
    const v = await cli('verify', '--config', c.config);
    expect(v.code).toBe(1);
    expect(v.out).toContain('BREAK ledger #5: ledger entry differs from the Merkle leaf indexed for it (the entry, or the index, was altered after it was logged)');
    expect(v.out).toContain('BREAK ledger #6: Merkle consistency proof from the published checkpoint (tree size 6) to the ledger (size 10) fails');
    expect(v.out).not.toMatch(/entry hash mismatch|Merkle root over seq/); // the ledger itself is intact
    rmSync(c.dir, { recursive: true, force: true });
  });

  it('exports a bundle whose seal proofs verify offline, and fails one whose proof was altered', async () => {
    const c = copy();
    const file = join(c.dir, 'evidence.jsonl');
    const ex = await cli('export', sessions[1], sessions[8], '--out', file, '--config', c.config);
    expect(ex.code).toBe(0);
    const ok = await cli('verify', '--bundle', file, '--keys', join(c.dir, 'keys', 'public-keys.json'));
    expect(ok.out).toContain('OK: no breaks');
    expect(ok.out).toMatch(/^Merkle tree head signed by the checkpoint \(each seal's proof is checked against it\): 10 entries, root [0-9a-f]{64}$/m);
    expect(ok.code).toBe(0);

    const text = readFileSync(file, 'utf8');
    const proof = text.split('\n').find((l) => l.startsWith('{"type":"proof","leafIndex":1,'))!;
    const path: string[] = JSON.parse(proof).path;
    expect(path).toHaveLength(4); // leaf 1 of the tree of 10 entries the export's checkpoint signs
    const bad = join(c.dir, 'altered.jsonl');
    writeFileSync(bad, text.replace(proof, proof.replace(path[2], path[2].replace(/^./, (ch) => (ch === 'f' ? 'e' : 'f')))));
    const v = await cli('verify', '--bundle', bad);
    expect(v.code).toBe(1);
    expect(v.out).toContain(`BREAK session ${sessions[1]} ledger #2: seal is not in the checkpoint's Merkle tree (size 10): inclusion proof fails`);
    expect(v.out).not.toContain(`BREAK session ${sessions[8]}`);
    rmSync(c.dir, { recursive: true, force: true });
  });
});
