/**
 * How much space terminal output takes in the store. Real command output goes through the SSH adapter's
 * StreamLog (events of ~16 KiB) and the real Recorder into a SqliteStore in a temp dir, one session per command;
 * then the store's compactor thread re-encodes the ended sessions (store/sqlite/compaction.mjs). Stored bytes
 * are the `ssh.output` payloads as the store keeps them: before compaction the rows' plain or deflated JSON,
 * after it the session's brotli blocks plus whatever stayed in rows. Every session is verified afterwards.
 *
 *   npx tsx bench/compression.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../src/core/logger.ts';
import { noMasking } from '../src/policy/connection-policies.ts';
import { StreamLog } from '../src/protocols/ssh/stream-log.ts';
import { KeyRing } from '../src/recording/keys.ts';
import { Recorder } from '../src/recording/recorder.ts';
import { verifySession } from '../src/recording/verify-session.ts';
import type { CompactionReport } from '../src/store/sqlite/compactor-thread.ts';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.ts';

const sources: [string, string[]][] = [
  ['ls', ['-la', '--color=always', '-R', '/usr/lib/python3']],
  ['ps', ['auxww']],
  ['find', ['/usr/share/doc', '-maxdepth', '2']],
  ['cat', ['/etc/services']],
  ['top', ['-b', '-n', '10', '-d', '0.2']],
];

const dir = mkdtempSync(join(tmpdir(), 'airlock-compression-'));
const store = new SqliteStore(join(dir, 'airlock.db'));
const keys = KeyRing.load(dir);
const recorder = new Recorder(store, keys, silentLogger);
const sessions: { label: string; id: string; raw: number }[] = [];
for (const [cmd, args] of sources) {
  let out: Buffer;
  try {
    out = execFileSync(cmd, args, { maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] }).subarray(0, 8 * 1024 * 1024);
  } catch (err) {
    out = (err as { stdout?: Buffer }).stdout ?? Buffer.alloc(0);
  }
  const rec = await recorder.open({
    protocol: 'ssh', connection: 'bench', clientAddress: '127.0.0.1:50000',
    identity: { subject: 'bench', groups: [], kind: 'user', authMethod: 'token' },
  });
  const log = new StreamLog({ rec, masker: noMasking, maskCounts: {}, channel: 0 });
  for (let i = 0; i < out.length; i += 4096) log.add('stdout', out.subarray(i, i + 4096)); // channel data as it arrives
  log.flush(true);
  await rec.end('client_closed');
  sessions.push({ label: `${cmd} ${args.join(' ')}`, id: rec.id, raw: out.length });
}
await recorder.close();

const stored = (id: string) =>
  (store.db.prepare("SELECT total(length(data_z)) + total(length(CAST(data AS BLOB))) FROM events WHERE session_id = ? AND type = 'ssh.output'").pluck().get(id) as number) +
  (store.db.prepare('SELECT total(length(data)) FROM event_blocks WHERE session_id = ?').pluck().get(id) as number);
const before = new Map(sessions.map((s) => [s.id, stored(s.id)]));
/** Milliseconds to read every session back through the store. */
const readAll = async () => {
  const t0 = performance.now();
  for (const s of sessions) for await (const _ of store.readEvents(s.id));
  return performance.now() - t0;
};
await readAll(); // warm-up
const readBefore = await readAll();

const reports = await new Promise<CompactionReport[]>((resolve) => {
  const got: CompactionReport[] = [];
  store.startCompaction({
    afterMs: 0,
    onReport: (r) => {
      got.push(r);
      if (r.outcome === 'idle') resolve(got);
    },
  });
});
let compactMs = 0;
for (const r of reports) {
  if (r.outcome === 'failed' || (r.outcome !== 'idle' && r.outcome !== 'compacted')) throw new Error(`compaction: ${JSON.stringify(r)}`);
  if (r.outcome === 'compacted') compactMs += r.compressMs + r.writeMs;
}

const pct = (n: number, d: number) => `${((n / d) * 100).toFixed(1)}%`;
console.log('| output | raw bytes | stored before compaction | stored after | after / raw |\n|---|---|---|---|---|');
let raw = 0;
let beforeTotal = 0;
let afterTotal = 0;
for (const s of sessions) {
  const after = stored(s.id);
  const v = await verifySession(store, keys.keys, s.id);
  if (!v.ok) throw new Error(`verify ${s.id}: ${JSON.stringify(v.breaks)}`);
  raw += s.raw;
  beforeTotal += before.get(s.id)!;
  afterTotal += after;
  console.log(`| \`${s.label}\` | ${s.raw.toLocaleString()} | ${before.get(s.id)!.toLocaleString()} (${pct(before.get(s.id)!, s.raw)}) | ${after.toLocaleString()} | ${pct(after, s.raw)} |`);
}
console.log(`| **all** | ${raw.toLocaleString()} | ${beforeTotal.toLocaleString()} (${pct(beforeTotal, raw)}) | ${afterTotal.toLocaleString()} | **${pct(afterTotal, raw)}** |`);
const searchText = store.db.prepare("SELECT total(length(CAST(search_text AS BLOB))) FROM events WHERE type = 'ssh.output'").pluck().get() as number;
console.log(`\nsearch text kept in the rows of these events (uncompressed, for full-text search; recording.indexOutput is off, the default): ${searchText.toLocaleString()} bytes (${pct(searchText, raw)} of raw)`);
const meta = store.db
  .prepare("SELECT count(*) AS n, total(length(hash) + length(session_id) + length(type) + 8 * 7) AS bytes FROM events WHERE type = 'ssh.output'")
  .get() as { n: number; bytes: number };
console.log(`the rows' other columns (hash, ids, sequence, time, block reference; about): ${Math.round(meta.bytes / meta.n)} bytes per event, ${meta.n} events, ${pct(meta.bytes, raw)} of raw`);
// The compactor's commits dropped the store's cache of decompressed blocks: this read decompresses every block.
console.log(`reading every session back: ${readBefore.toFixed(1)} ms before compaction, ${(await readAll()).toFixed(1)} ms after`);
console.log(`compaction: ${(raw / 1e6 / (compactMs / 1000)).toFixed(2)} MB/s of raw output (${compactMs.toFixed(0)} ms in the compactor thread, reading, compressing and writing)`);
await store.close();
rmSync(dir, { recursive: true, force: true });
