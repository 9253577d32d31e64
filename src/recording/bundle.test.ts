import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forensics } from '../../test/forensics/fixtures.ts';
import { exportBundle, verifyBundle } from './bundle.ts';
import { KeyRing, type PublicKeyInfo } from './keys.ts';
import { verifyStore } from './verify.ts';

const out = mkdtempSync(join(tmpdir(), 'airlock-bundle-'));
const file = join(out, 'evidence.jsonl');
let ids: string[];
let other: string;
let keys: PublicKeyInfo[];

beforeAll(async () => {
  const f = forensics();
  const a = await f.session({ queries: 300 }); // 602 events: more than one page
  other = await f.session({ subject: 'bob' });
  f.rotate();
  const c = await f.session({ subject: 'carol' });
  await f.session({ open: true });
  ids = [a, c];
  const r = await exportBundle(f.store, f.keys, ids, file);
  expect(r).toMatchObject({ sessions: 2, events: 610 });
  expect(r.checkpoint.ledgerSeq).toBe(3);
  expect((await verifyStore(f.store, f.keys.keys)).breaks).toEqual([]); // the export's checkpoint entry verifies too
  await expect(exportBundle(f.store, f.keys, [ids[0], 'ses_missing'], join(out, 'x.jsonl'))).rejects.toThrow(/no session ses_missing/);
  const open = (await f.store.listSessions({ open: true }))[0].id;
  await expect(exportBundle(f.store, f.keys, [open], join(out, 'y.jsonl'))).rejects.toThrow(/still open/);
  keys = [...f.keys.keys];
  await f.cleanup(); // the store and the data dir are gone: only the file remains
});

afterAll(() => rmSync(out, { recursive: true, force: true }));

function tampered(edit: (text: string) => string): string {
  const t = join(out, `t-${Math.random().toString(36).slice(2)}.jsonl`);
  writeFileSync(t, edit(readFileSync(file, 'utf8')));
  return t;
}

describe('evidence bundles', () => {
  it('verify offline with nothing but the file', async () => {
    const r = await verifyBundle(file);
    expect(r.breaks).toEqual([]);
    expect(r.checked).toMatchObject({ sessions: 2, events: 610, ledgerEntries: 2 });
    expect(r.sessionIds).toEqual(ids);
    expect(r.keyIds).toEqual(keys.map((k) => k.keyId));
    expect(r.checkpoint?.ledgerSeq).toBe(3);
    expect(r.tree).toEqual({ size: 3, rootHash: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });

  it('carries each seal with its inclusion proof in the checkpoint’s tree, and nothing of other sessions', () => {
    const text = readFileSync(file, 'utf8');
    const lines = text.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ type: 'header', format: 'airlock-evidence-bundle', version: 2, sessions: ids });
    expect(lines.filter((l) => l.type === 'seal' || l.type === 'proof').map((l) => [l.type, l.entry?.seq ?? l.leafIndex])).toEqual([['seal', 1], ['proof', 0], ['seal', 3], ['proof', 2]]);
    expect(lines.filter((l) => l.type === 'proof').map((l) => [l.treeSize, l.path.length])).toEqual([[3, 2], [3, 1]]);
    expect(lines.some((l) => l.type === 'ledger')).toBe(false);
    expect(text).not.toContain(other);
    expect(lines.at(-2)).toMatchObject({ type: 'checkpoint', checkpoint: { ledgerSeq: 3, treeSize: 3, rootHash: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    expect(lines.at(-1).type).toBe('signature');
  });

  it('names a seal whose inclusion proof is altered, swapped or missing, even with the digest aside', async () => {
    const lines = readFileSync(file, 'utf8').split('\n');
    const at = lines.map((l, i) => (l.startsWith('{"type":"proof"') ? i : -1)).filter((i) => i >= 0);
    const edit = (f: (ls: string[]) => void) => tampered(() => {
      const copy = [...lines];
      f(copy);
      return copy.join('\n');
    });
    const fails = (id: string) => ({ sessionId: id, seq: null, ledgerSeq: expect.any(Number), what: expect.stringMatching(/not in the checkpoint's Merkle tree \(size 3\): inclusion proof fails/) });

    const altered = edit((ls) => (ls[at[0]] = ls[at[0]].replace(/"path":\["(.)/, (_m, c: string) => `"path":["${c === '0' ? '1' : '0'}`)));
    const r1 = (await verifyBundle(altered)).breaks;
    expect(r1).toContainEqual(fails(ids[0]));
    expect(r1.filter((b) => b.sessionId === ids[1])).toEqual([]);

    const swapped = edit((ls) => ([ls[at[0]], ls[at[1]]] = [ls[at[1]], ls[at[0]]]));
    const r2 = (await verifyBundle(swapped)).breaks;
    expect(r2).toContainEqual(expect.objectContaining({ sessionId: ids[0], what: expect.stringMatching(/inclusion proof is for leaf 2, the seal is ledger #1/) }));
    expect(r2).toContainEqual(fails(ids[0]));
    expect(r2).toContainEqual(fails(ids[1]));

    const dropped = edit((ls) => ls.splice(at[1], 1));
    expect((await verifyBundle(dropped)).breaks).toContainEqual({ sessionId: ids[1], seq: null, ledgerSeq: 3, what: 'seal has no inclusion proof' });

    const otherRoot = edit((ls) => (ls[ls.length - 3] = ls[ls.length - 3].replace(/"rootHash":"(.)/, (_m, c: string) => `"rootHash":"${c === '0' ? '1' : '0'}`)));
    const r4 = (await verifyBundle(otherRoot)).breaks;
    expect(r4).toContainEqual(expect.objectContaining({ what: expect.stringMatching(/checkpoint: signature invalid/) }));
    expect(r4).toContainEqual(fails(ids[0]));
  });

  it('still verifies a version 1 bundle (a ledger segment, a checkpoint without a tree head)', async () => {
    const v1 = join(import.meta.dirname, '../../test/forensics/data/bundle-v1.jsonl');
    const r = await verifyBundle(v1);
    expect(r.breaks).toEqual([]);
    expect(r.checked).toMatchObject({ sessions: 2, ledgerEntries: 3 });
    expect(r.tree).toBeNull();
    const t = tampered(() => readFileSync(v1, 'utf8').replace(/("type":"ledger".*"eventCount":)(\d)/, (_m, a: string, d: string) => `${a}${d === '9' ? '8' : '9'}`));
    expect((await verifyBundle(t)).breaks).toContainEqual(expect.objectContaining({ ledgerSeq: 1, what: 'ledger seal entry hash mismatch (entry altered)' }));
  });

  it('names the event when one byte of its data is changed', async () => {
    const t = tampered((s) => s.replace('"text":"select 1"', '"text":"select 7"'));
    const r = await verifyBundle(t);
    expect(r.breaks).toContainEqual({ sessionId: ids[0], seq: 3, what: expect.stringMatching(/hash mismatch/) });
    expect(r.breaks).toContainEqual(expect.objectContaining({ sessionId: null, what: expect.stringMatching(/bundle digest mismatch/) }));
  });

  it('fails on any single changed byte', async () => {
    const bytes = readFileSync(file);
    const step = Math.floor(bytes.length / 61);
    for (let off = 0; off < bytes.length; off += step) {
      const copy = Buffer.from(bytes);
      copy[off] = copy[off] === 0x31 ? 0x32 : 0x31;
      const t = join(out, 'fuzz.jsonl');
      writeFileSync(t, copy);
      const r = await verifyBundle(t);
      expect(r.breaks.length, `byte ${off}`).toBeGreaterThan(0);
    }
    // Structural damage never makes the verifier throw: every problem is a break.
    for (let off = 7; off < bytes.length; off += Math.floor(bytes.length / 41)) {
      for (const junk of ['{', '"', ']', 'null', ',"type":"x"', '\n{"type":"event"}\n']) {
        if (junk === String.fromCharCode(bytes[off])) continue; // not a change
        const copy = Buffer.concat([bytes.subarray(0, off), Buffer.from(junk), bytes.subarray(off + 1)]);
        const t = join(out, 'fuzz.jsonl');
        writeFileSync(t, copy);
        const r = await verifyBundle(t);
        expect(r.breaks.length, `${junk} at ${off}`).toBeGreaterThan(0);
      }
    }
    const last = Buffer.from(bytes);
    last[last.length - 10] ^= 1;
    writeFileSync(join(out, 'fuzz.jsonl'), last);
    expect((await verifyBundle(join(out, 'fuzz.jsonl'))).breaks.length).toBeGreaterThan(0);
  });

  it('names a session record edited in the bundle', async () => {
    const t = tampered((s) => s.replace('"subject":"carol"', '"subject":"mallory"'));
    const r = await verifyBundle(t);
    expect(r.breaks).toContainEqual({ sessionId: ids[1], seq: 0, what: expect.stringMatching(/subject.*differs/) });
  });

  it('names a dropped event and a truncated bundle', async () => {
    const dropped = tampered((s) => s.split('\n').filter((l) => !(l.includes(`"sessionId":"${ids[1]}"`) && l.includes('"seq":2,'))).join('\n'));
    expect((await verifyBundle(dropped)).breaks).toContainEqual({ sessionId: ids[1], seq: 2, what: 'event missing (seq 2 deleted)' });
    const truncated = tampered((s) => s.split('\n').slice(0, 100).join('\n') + '\n');
    const r = await verifyBundle(truncated);
    expect(r.breaks.map((b) => b.what)).toEqual(expect.arrayContaining(['no signature line (bundle truncated?)', 'no checkpoint line']));
  });

  it('checks the header keys against trusted gateway keys when given', async () => {
    expect((await verifyBundle(file, { trustedKeys: keys })).breaks).toEqual([]);
    const dir = mkdtempSync(join(tmpdir(), 'airlock-other-'));
    try {
      const stranger = KeyRing.load(dir).keys;
      const r = await verifyBundle(file, { trustedKeys: stranger });
      expect(r.breaks.filter((b) => /not one of the trusted gateway keys/.test(b.what))).toHaveLength(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('can be checked by hand with the script in docs/evidence-bundle.md', async () => {
    // The test setup (scripts/system-deps.mjs) installs these; missing, the test fails rather than skips.
    const missing = ['bash', 'jq', 'openssl', 'sha256sum', 'base64'].filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
    expect(missing).toEqual([]);
    const doc = readFileSync(join(import.meta.dirname, '../../docs/evidence-bundle.md'), 'utf8');
    const script = /```bash\n([\s\S]*?)```/.exec(doc)![1];
    const dir = mkdtempSync(join(tmpdir(), 'airlock-byhand-'));
    const f = forensics();
    try {
      const id = await f.session({ queries: 2 });
      const s = await f.recorder.open({ protocol: 'postgres', connection: 'pg-main', identity: { subject: 'dave', groups: [], kind: 'user', authMethod: 'token' }, clientAddress: '::1' });
      s.record('db.query', { text: "select 'a\\\\b', '\u00e9\u2028', \"q\"", big: 1e21, tiny: 1.5e-7, ctl: '\u0000\u007f', emoji: '😀' });
      await s.end('client_terminated');
      const small = join(dir, 'small.jsonl');
      await exportBundle(f.store, f.keys, [id, s.id], small);
      writeFileSync(join(dir, 'check.sh'), script);
      const ok = spawnSync('bash', ['check.sh', 'small.jsonl'], { cwd: dir, encoding: 'utf8' });
      expect(ok.stdout).toContain('bundle OK');
      expect(ok.status).toBe(0);
      writeFileSync(join(dir, 'bad.jsonl'), readFileSync(small, 'utf8').replace('"text":"select 1"', '"text":"select 2"'));
      const bad = spawnSync('bash', ['check.sh', 'bad.jsonl'], { cwd: dir, encoding: 'utf8' });
      expect(bad.stdout).toContain('event hash mismatch');
      expect(bad.status).toBe(1);
      writeFileSync(join(dir, 'badproof.jsonl'), readFileSync(small, 'utf8').replace(/"path":\["(.)/, (_m, c: string) => `"path":["${c === 'a' ? 'b' : 'a'}`));
      const badProof = spawnSync('bash', ['check.sh', 'badproof.jsonl'], { cwd: dir, encoding: 'utf8' });
      expect(badProof.stdout).toContain("inclusion proof fails: seal not in the checkpoint's tree");
      expect(badProof.status).toBe(1);
    } finally {
      await f.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
