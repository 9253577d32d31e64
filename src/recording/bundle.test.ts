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
    expect(r.checked).toMatchObject({ sessions: 2, events: 610, ledgerEntries: 3 });
    expect(r.sessionIds).toEqual(ids);
    expect(r.keyIds).toEqual(keys.map((k) => k.keyId));
    expect(r.checkpoint?.ledgerSeq).toBe(3);
  });

  it('carries the ledger segment from the first bundled seal, including other sessions’ seals', () => {
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ type: 'header', format: 'airlock-evidence-bundle', version: 1, sessions: ids });
    expect(lines.filter((l) => l.type === 'ledger').map((l) => l.entry.sessionId)).toEqual([ids[0], other, ids[1]]);
    expect(lines.at(-2).type).toBe('checkpoint');
    expect(lines.at(-1).type).toBe('signature');
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

  const tools = ['bash', 'jq', 'openssl', 'sha256sum', 'base64'].every((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status === 0);
  it.skipIf(!tools)('can be checked by hand with the script in docs/evidence-bundle.md', async () => {
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
    } finally {
      await f.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
