/**
 * Recording throughput, single process: `npx tsx bench/recorder.ts`
 * (RECORDER_BENCH_EVENTS=…, RECORDER_BENCH_SESSIONS=…, RECORDER_BENCH_SEALS=… to change the sizes).
 *
 *   events/s   — the real Recorder hashing every event (SHA-256 chain) and writing it in group-committed
 *                batches into the embedded SQLite store (a WAL file on disk, FTS indexing on), with many
 *                sessions interleaved; the clock stops once the last batch is in the store.
 *   hash only  — the same events through the same Recorder into a store that discards them.
 *   seals/s    — sessions ended one after another: session.end written, session record updated, the head
 *                signed with Ed25519 and appended to the ledger (each awaited, as on a real disconnect).
 *   verify     — verifyStore over everything recorded: events/s re-hashed and seals checked.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../src/core/logger.ts';
import { KeyRing } from '../src/recording/keys.ts';
import { Recorder, type SessionRecorder } from '../src/recording/recorder.ts';
import { verifyStore } from '../src/recording/verify.ts';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import type { Store } from '../src/store/types.ts';
import { nullStore } from './null-store.ts';

const EVENTS = Number(process.env.RECORDER_BENCH_EVENTS ?? 1_000_000);
const SESSIONS = Number(process.env.RECORDER_BENCH_SESSIONS ?? 100);
const SEALS = Number(process.env.RECORDER_BENCH_SEALS ?? 5_000);

const identity = { subject: 'alice@example.com', groups: ['dba'], kind: 'user' as const, authMethod: 'token' as const, credentialId: 'tok_bench' };

/** A typical statement/result pair as the PostgreSQL adapter records them (a small sample of rows). */
function record(s: SessionRecorder, i: number): void {
  if (i % 2 === 0) {
    const text = `select id, name, status from orders where customer_id = ${i % 9973} and created_at > now() - interval '7 days'`;
    s.record('db.query', { mode: 'simple', text }, { searchText: text, outcome: 'allowed' });
  } else {
    s.record('db.result', {
      columns: ['id', 'name', 'status'], durationMs: 0.42, query: i - 1, rows: 3,
      sample: [[String(i), 'Widget A', 'shipped'], [String(i + 1), 'Widget B', 'open'], [String(i + 2), 'Widget C', 'open']], tag: 'SELECT 3',
    });
  }
}

async function recordEvents(store: Store, keys: KeyRing, events = EVENTS): Promise<{ seconds: number; cpuSeconds: number; sessions: SessionRecorder[] }> {
  const recorder = new Recorder(store, keys, silentLogger);
  const sessions: SessionRecorder[] = [];
  for (let i = 0; i < SESSIONS; i++) sessions.push(await recorder.open({ protocol: 'postgres', connection: 'pg-main', identity, clientAddress: '10.0.0.7:51514' }));
  await recorder.flush();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < events; i++) {
    record(sessions[i % SESSIONS], i);
    // Let timers and I/O run now and then, as a server's event loop would.
    if (i % 2000 === 1999) await new Promise((r) => setImmediate(r));
  }
  await recorder.flush();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  if (store instanceof SqliteStore) for (const s of sessions) await s.end('client_terminated');
  await recorder.close();
  return { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, sessions };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-bench-'));
  try {
    const keys = KeyRing.load(dir);
    const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
    console.log(`recorder benchmark: ${fmt(EVENTS)} events over ${SESSIONS} interleaved sessions; ${fmt(SEALS)} seals; node ${process.version}`);

    await recordEvents(nullStore(), keys, 100_000); // JIT warm-up
    const hashOnly = await recordEvents(nullStore(), keys);
    console.log(`hash only (no store)        ${fmt(EVENTS / hashOnly.seconds).padStart(10)} events/s   (${hashOnly.seconds.toFixed(2)} s wall, ${fmt(EVENTS / hashOnly.cpuSeconds)} events per CPU-second)`);

    const store = new SqliteStore(join(dir, 'airlock.db'));
    const rec = await recordEvents(store, keys);
    console.log(`hash + SQLite (WAL, FTS)    ${fmt(EVENTS / rec.seconds).padStart(10)} events/s   (${rec.seconds.toFixed(2)} s wall, ${fmt(EVENTS / rec.cpuSeconds)} events per CPU-second)`);

    const recorder = new Recorder(store, keys, silentLogger);
    const opened: SessionRecorder[] = [];
    for (let i = 0; i < SEALS; i++) {
      const s = await recorder.open({ protocol: 'postgres', connection: 'pg-main', identity, clientAddress: '10.0.0.7:51514' });
      record(s, 0);
      record(s, 1);
      opened.push(s);
    }
    await recorder.flush();
    const t0 = performance.now();
    for (const s of opened) await s.end('client_terminated');
    const sealSeconds = (performance.now() - t0) / 1000;
    console.log(`session end + seal          ${fmt(SEALS / sealSeconds).padStart(10)} seals/s    (${sealSeconds.toFixed(2)} s; end event, record update, Ed25519 signature, ledger append)`);

    const t1 = performance.now();
    const sig = Buffer.from('airlock-seal-v1\nses_x\n10\n' + '0'.repeat(64));
    for (let i = 0; i < SEALS; i++) keys.sign(sig);
    const signSeconds = (performance.now() - t1) / 1000;
    console.log(`  of which Ed25519 signing  ${fmt(SEALS / signSeconds).padStart(10)} signatures/s`);

    const t2 = performance.now();
    const report = await verifyStore(store, keys.keys);
    const verifySeconds = (performance.now() - t2) / 1000;
    if (report.breaks.length) throw new Error(`verify found ${report.breaks.length} breaks: ${JSON.stringify(report.breaks.slice(0, 3))}`);
    console.log(`verify (all sessions)       ${fmt(report.checked.events / verifySeconds).padStart(10)} events/s   (${report.checked.sessions} sessions, ${fmt(report.checked.events)} events, ${report.checked.ledgerEntries} seals in ${verifySeconds.toFixed(2)} s, no breaks)`);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
