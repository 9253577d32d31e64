/**
 * What recording one PostgreSQL statement costs, per thread, in one process:
 * `npx tsx bench/statement-record.ts` (STATEMENT_BENCH_N=…, STATEMENT_BENCH_RATE=… to change the sizes).
 *
 * Drives the PostgreSQL adapter's StatementLog with a pgbench-like select-only stream (the statement, its
 * RowDescription, one DataRow, CommandComplete, ReadyForQuery) over 8 sessions, paced at a fixed rate as a busy
 * gateway sees it, with the default stored masking. Three runs, back to back:
 *
 *   pacing only  — the timers that pace the stream, nothing recorded (subtract it from the others);
 *   no store     — StatementLog and Recorder (masking, canonical JSON, SHA-256 chain) into a store that discards;
 *   SQLite       — the same into the embedded store: its writer thread, full-text index and checkpointer thread.
 *
 * Prints the CPU per statement of every thread of the process (from /proc/self/task; Linux only).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../src/config/load.ts';
import { silentLogger } from '../src/core/logger.ts';
import { decodeRowDescription } from '../src/protocols/postgres/codec/backend.ts';
import { StatementLog } from '../src/protocols/postgres/statement-log.ts';
import { KeyRing } from '../src/recording/keys.ts';
import { Recorder } from '../src/recording/recorder.ts';
import { buildConnectionPolicies } from '../src/server/policies.ts';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import type { Store } from '../src/store/types.ts';
import { nullStore } from './null-store.ts';

const N = Number(process.env.STATEMENT_BENCH_N ?? 150_000);
const RATE = Number(process.env.STATEMENT_BENCH_RATE ?? 5_000);
const SESSIONS = 8;
const identity = { subject: 'bench', groups: ['bench'], kind: 'user' as const, authMethod: 'token' as const, credentialId: 'tok_bench' };

/** The RowDescription body of pgbench's select-only statement: one int4 column, abalance. */
function rowDescription(): Buffer {
  const b = Buffer.alloc(2 + 9 + 18);
  b.writeInt16BE(1, 0);
  b.write('abalance\0', 2);
  b.writeInt32BE(16400, 11); // table oid
  b.writeInt16BE(3, 15); // column number
  b.writeInt32BE(23, 17); // int4
  b.writeInt16BE(4, 21);
  b.writeInt32BE(-1, 23);
  b.writeInt16BE(0, 27); // text format
  return b;
}
const COLUMNS = decodeRowDescription(rowDescription());
/** A DataRow frame with one value, '-123'. */
const ROW_BYTES = Buffer.from([0x44, 0, 0, 0, 14, 0, 1, 0, 0, 0, 4, 0x2d, 0x31, 0x32, 0x33]);
const ROW = { code: 0x44, bytes: ROW_BYTES, body: ROW_BYTES.subarray(5) };
const COMPLETE = Buffer.from('SELECT 1\0');

/** CPU time of every thread of this process, in ms (clock ticks of 10 ms). */
function threadCpu(): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.set(tid, (Number(fields[11]) + Number(fields[12])) * 10);
  }
  return out;
}

async function measure(mode: 'pacing only' | 'no store' | 'SQLite', dir: string): Promise<void> {
  const config = parseConfig({ dataDir: dir, connections: { bench: { type: 'postgres', host: '127.0.0.1', port: 5432, database: 'bench', user: 'bench', allow: ['bench'] } } }, dir);
  const masker = (await buildConnectionPolicies(config)).get('bench').storedMasker(Buffer.alloc(32));
  const store: Store = mode === 'SQLite' ? new SqliteStore(join(dir, 'airlock.db')) : nullStore();
  const recorder = new Recorder(store, KeyRing.load(dir), silentLogger);
  const logs: StatementLog[] = [];
  for (let i = 0; i < SESSIONS; i++) {
    const rec = await recorder.open({ protocol: 'postgres', connection: 'bench', identity, clientAddress: '127.0.0.1:50000' });
    logs.push(new StatementLog(rec, masker, config.recording, {}));
  }
  const perMs = Math.max(1, Math.round(RATE / 1000));
  const run = async (n: number) => {
    for (let i = 0; i < n; i++) {
      if (mode !== 'pacing only') {
        const log = logs[i % SESSIONS];
        log.begin(`SELECT abalance FROM pgbench_accounts WHERE aid = ${((i * 7919) % 1_000_000) + 1};`, undefined, 'simple');
        log.columns(COLUMNS);
        log.row(ROW);
        log.complete(COMPLETE);
        log.batchEnd();
      }
      if (i % perMs === perMs - 1) await new Promise((r) => setTimeout(r, 1));
    }
    await recorder.flush();
  };
  await run(Math.min(N, 20_000)); // JIT warm-up
  const before = threadCpu();
  const started = performance.now();
  await run(N);
  const seconds = (performance.now() - started) / 1000;
  const after = threadCpu();
  const main = String(process.pid);
  const threads = [...after]
    .map(([tid, ms]) => ({ tid, us: ((ms - (before.get(tid) ?? 0)) * 1000) / N }))
    .filter((t) => t.tid === main || t.us >= 0.5);
  const total = threads.reduce((sum, t) => sum + t.us, 0);
  const parts = threads.map((t) => `${t.tid === main ? 'main' : `thread ${t.tid}`} ${t.us.toFixed(1)}`).join(', ');
  console.log(`${mode.padEnd(12)} ${total.toFixed(1).padStart(6)} µs CPU per statement (${parts}); ${Math.round(N / seconds)} statements/s`);
  await recorder.close();
  await store.close();
}

const dir = mkdtempSync(join(tmpdir(), 'airlock-bench-'));
try {
  console.log(`statement recording: ${N.toLocaleString('en-US')} pgbench-like statements over ${SESSIONS} sessions at ${RATE}/s; node ${process.version}`);
  for (const mode of ['pacing only', 'no store', 'SQLite'] as const) await measure(mode, dir);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
