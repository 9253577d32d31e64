/**
 * Search on a large store: seeds one million recorded statements (with FTS indexing, as the recorder
 * writes them) into a fresh embedded store, then times full-text searches combined with filters.
 *
 *   npx tsx bench/search.ts [--statements 1000000]
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import { GENESIS, eventHash } from '../src/recording/chain.ts';
import type { StoredEvent } from '../src/store/types.ts';

const { values } = parseArgs({ options: { statements: { type: 'string', default: '1000000' } } });
const TOTAL = Number(values.statements);
const PER_SESSION = 100;

let seed = 42;
const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)];
const tables = ['users', 'orders', 'invoices', 'payments', 'sessions', 'audit_log', 'products', 'inventory', 'shipments', 'customers'];
const cols = ['id', 'email', 'status', 'created_at', 'amount', 'owner_id', 'name', 'region', 'sku', 'total'];
function statement(i: number): string {
  if (i % 50_000 === 7) return `DROP TABLE ${pick(tables)}`;
  switch (Math.floor(rnd() * 5)) {
    case 0: return `SELECT ${pick(cols)}, ${pick(cols)} FROM ${pick(tables)} WHERE ${pick(cols)} = $1 ORDER BY ${pick(cols)} LIMIT ${Math.floor(rnd() * 100)}`;
    case 1: return `UPDATE ${pick(tables)} SET ${pick(cols)} = $1 WHERE id = ${Math.floor(rnd() * 1e6)}`;
    case 2: return `INSERT INTO ${pick(tables)} (${pick(cols)}, ${pick(cols)}) VALUES ($1, $2)`;
    case 3: return `DELETE FROM ${pick(tables)} WHERE ${pick(cols)} < now() - interval '${Math.floor(rnd() * 90)} days'`;
    default: return `SELECT count(*) FROM ${pick(tables)} t JOIN ${pick(tables)} u ON u.id = t.${pick(cols)}`;
  }
}

const dir = mkdtempSync(join(tmpdir(), 'airlock-bench-search-'));
const store = new SqliteStore(join(dir, 'airlock.db'));
const users = Array.from({ length: 200 }, (_, i) => `user${i}`);
const connections = ['pg-prod', 'pg-staging', 'pg-analytics', 'pg-billing'];
const t0 = performance.now();
let written = 0;
const start = Date.now() - 30 * 86_400_000;
for (let s = 0; written < TOTAL; s++) {
  const id = `ses_bench_${s}`;
  const startedAt = start + s * 2000;
  await store.insertSession({
    id, protocol: 'postgres', connection: pick(connections), subject: pick(users), groups: ['dba'], kind: 'user', authMethod: 'token', credentialId: null,
    clientAddress: '127.0.0.1:1', application: 'psql', startedAt, endedAt: startedAt + 1000, endReason: 'client_terminated', bytesIn: 0, bytesOut: 0,
    eventCount: PER_SESSION, lastHash: null, legalHold: false,
  });
  let prev = GENESIS;
  const batch: StoredEvent[] = [];
  for (let seq = 0; seq < PER_SESSION && written < TOTAL; seq++, written++) {
    const text = statement(written);
    const e = { sessionId: id, seq, time: startedAt + seq, type: 'db.query', data: { text, mode: 'simple' } };
    prev = eventHash(prev, e);
    batch.push({ ...e, hash: prev, searchText: text, outcome: text.startsWith('DROP') ? 'denied' : 'allowed' });
  }
  await store.appendEvents(batch);
}
const seedMs = performance.now() - t0;
store.db.pragma('optimize');

const queries: { name: string; run: () => Promise<unknown[]> }[] = [
  { name: "'DROP TABLE' (rare phrase)", run: () => store.search({ text: 'DROP TABLE' }) },
  { name: "'DROP TABLE' + outcome=denied", run: () => store.search({ text: 'DROP TABLE', outcome: 'denied' }) },
  { name: "'invoices' (common word), newest 100", run: () => store.search({ text: 'invoices' }) },
  { name: "'invoices' + user + connection", run: () => store.search({ text: 'invoices', user: 'user7', connection: 'pg-prod' }) },
  { name: "'interval' + last 24 h", run: () => store.search({ text: 'interval', since: Date.now() - 86_400_000 }) },
  { name: "'owner_id' + group", run: () => store.search({ text: 'owner_id', group: 'dba' }) },
];
console.log(`seeded ${written.toLocaleString()} statements in ${(seedMs / 1000).toFixed(1)} s (${Math.round(written / (seedMs / 1000)).toLocaleString()}/s, FTS indexed); store ${(statSync(join(dir, 'airlock.db')).size / 1e6).toFixed(0)} MB`);
console.log('\n| search | hits | median ms | max ms |\n|---|---|---|---|');
for (const q of queries) {
  const times: number[] = [];
  let hits = 0;
  for (let i = 0; i < 7; i++) {
    const t = performance.now();
    hits = (await q.run()).length;
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  console.log(`| ${q.name} | ${hits} | ${times[3].toFixed(1)} | ${times[6].toFixed(1)} |`);
}
await store.close();
rmSync(dir, { recursive: true, force: true });
