/**
 * What a durable acknowledgement costs the recorder alone: `npx tsx bench/durable-ack.ts [SESSIONS] [SECONDS]`.
 *
 * SESSIONS sessions (default 1, 8 and 64 in turn) each record a statement and its result (a pgbench select's
 * shapes, the text full-text indexed) and wait until both are committed (SessionRecorder.durable, as an
 * acknowledgement does under `recording.ack: durable`) before the next. Reports statements per second and the
 * process's CPU per statement (main thread and the writer thread), against the same loop that does not wait.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../src/core/logger.ts';
import { KeyRing } from '../src/recording/keys.ts';
import { Recorder } from '../src/recording/recorder.ts';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.ts';

const identity = { subject: 'alice', groups: ['dba'], kind: 'user' as const, authMethod: 'token' as const };
const counts = process.argv[2] ? [Number(process.argv[2])] : [1, 8, 64];
const seconds = Number(process.argv[3] ?? 3);

async function run(sessions: number, durable: boolean): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-durable-bench-'));
  const store = new SqliteStore(join(dir, 'airlock.db'));
  const recorder = new Recorder(store, KeyRing.load(dir), silentLogger);
  try {
    const recs = await Promise.all(Array.from({ length: sessions }, () => recorder.open({ protocol: 'postgres', connection: 'pg', identity, clientAddress: '127.0.0.1:1' })));
    await recorder.flush();
    let n = 0;
    const end = Date.now() + seconds * 1000;
    const cpu = process.cpuUsage();
    await Promise.all(recs.map(async (s) => {
      while (Date.now() < end) {
        const text = `SELECT abalance FROM pgbench_accounts WHERE aid = ${Math.floor(Math.random() * 1e6)}`;
        const query = s.record('db.query', { mode: 'simple', text }, { searchText: text, outcome: 'allowed' });
        s.record('db.result', { columns: ['abalance'], durationMs: 0.1, query, rows: 1, sample: [['0']], tag: 'SELECT 1' });
        if (durable) await s.durable();
        else await new Promise((r) => setImmediate(r));
        n++;
      }
    }));
    await recorder.flush();
    const used = process.cpuUsage(cpu);
    return `| ${sessions} | ${durable ? 'durable' : 'async'} | ${Math.round(n / seconds)} | ${Math.round((used.user + used.system) / n)} |`;
  } finally {
    await recorder.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log('| sessions | ack | statements/s | CPU per statement (µs, all threads) |\n|---:|---|---:|---:|');
for (const n of counts) for (const durable of [false, true]) console.log(await run(n, durable));
