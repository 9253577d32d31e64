/**
 * One session's verification (GET /api/sessions/:id/verify) on a store with a long ledger: records many
 * short sealed sessions with the real Recorder, then times the full-store check restricted to one session
 * (what the route ran before) against verifySession, which reads the session's events and its seal by index.
 *
 *   npx tsx bench/session-verify.ts [--sessions 20000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { silentLogger } from '../src/core/logger.ts';
import { KeyRing } from '../src/recording/keys.ts';
import { syncMerkle } from '../src/recording/merkle-index.ts';
import { Recorder } from '../src/recording/recorder.ts';
import { verifySession } from '../src/recording/verify-session.ts';
import { verifyStore } from '../src/recording/verify.ts';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.ts';

const { values } = parseArgs({ options: { sessions: { type: 'string', default: '20000' } } });
const N = Number(values.sessions);
const dir = mkdtempSync(join(tmpdir(), 'airlock-bench-verify-'));
const store = new SqliteStore(join(dir, 'airlock.db'));
const keys = KeyRing.load(dir);
const recorder = new Recorder(store, keys, silentLogger);

async function session(i: number): Promise<string> {
  const s = await recorder.open({
    protocol: 'postgres', connection: 'pg-main', clientAddress: '127.0.0.1:50000', application: 'psql',
    identity: { subject: `user${i % 50}`, groups: ['dba'], kind: 'user', authMethod: 'token', credentialId: 'tok_1' },
  });
  for (let q = 0; q < 3; q++) {
    s.record('db.query', { text: `select ${q}` }, { searchText: `select ${q}`, outcome: 'allowed' });
    s.record('db.result', { tag: 'SELECT 1', rows: 1, durationMs: 0.5 });
  }
  await s.end('client_terminated');
  return s.id;
}

async function timed(label: string, runs: number, f: () => Promise<{ ok: boolean }>): Promise<void> {
  const ms: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const report = await f();
    ms.push(performance.now() - t0);
    if (!report.ok) throw new Error(`${label}: verification failed`);
  }
  ms.sort((a, b) => a - b);
  console.log(`${label}: median ${ms[Math.floor(runs / 2)].toFixed(2)} ms, max ${ms[runs - 1].toFixed(2)} ms (${runs} runs)`);
}

try {
  const t0 = performance.now();
  const ids: string[] = [];
  for (let i = 0; i < N; i++) ids.push(await session(i));
  await recorder.flush();
  console.log(`recorded ${N} sealed sessions (${N} ledger entries) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const id = ids[Math.floor(N / 3)];
  const t1 = performance.now();
  await syncMerkle(store);
  console.log(`first Merkle indexing of the ledger (once; checkpoints keep it current): ${(performance.now() - t1).toFixed(0)} ms`);
  await timed('before: verifyStore(store, keys, { sessionIds: [id] })', 5, async () => {
    const r = await verifyStore(store, keys.keys, { sessionIds: [id] });
    return { ok: r.breaks.length === 0 };
  });
  await timed('after: verifySession(store, keys, id)', 101, () => verifySession(store, keys.keys, id));
} finally {
  await recorder.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
