/**
 * What purging a large session does to the gateway's event loop, and how much of the store file comes back.
 * Two sessions of `RETENTION_BENCH_EVENTS` statement results each (~1.5 KB of barely compressible JSON per event)
 * go into a SqliteStore in a temp dir; then one is deleted as retention does (`deleteSession`) and the space is
 * given back (`reclaimSpace`), while a 1 ms timer measures the longest stall of the event loop.
 *
 *   npx tsx bench/retention.ts          (RETENTION_BENCH_EVENTS=30000 by default)
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import type { SessionRecord, StoredEvent } from '../src/store/types.ts';

const EVENTS = Number(process.env.RETENTION_BENCH_EVENTS ?? 30_000);

const session = (id: string): SessionRecord => ({
  id, protocol: 'postgres', connection: 'app', subject: 'alice', groups: [], kind: 'user', authMethod: 'token', credentialId: null,
  clientAddress: '127.0.0.1:1', application: null, startedAt: 1, endedAt: 2, endReason: 'client_terminated', bytesIn: 0, bytesOut: 0,
  eventCount: 0, lastHash: null, legalHold: false,
});

const batch = (id: string, from: number, n: number): StoredEvent[] =>
  Array.from({ length: n }, (_, i) => ({
    sessionId: id, seq: from + i, time: 1 + (from + i) / 1000, type: 'db.result', data: { sample: [[randomBytes(750).toString('hex')]] },
    hash: 'h', searchText: `select ${id} ${from + i}`, outcome: 'allowed',
  }));

/** Runs `f` while a 1 ms interval timer looks for the longest gap between its ticks. */
async function timed<T>(f: () => Promise<T>): Promise<{ value: T; ms: number; longestStallMs: number }> {
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  const started = performance.now();
  const value = await f();
  const ms = performance.now() - started;
  clearInterval(timer);
  return { value, ms, longestStallMs: Math.max(longest, performance.now() - last) };
}

const dir = mkdtempSync(join(tmpdir(), 'airlock-retention-'));
const file = join(dir, 'airlock.db');
try {
  const writer = new SqliteStore(file);
  for (const id of ['expired', 'kept']) {
    await writer.insertSession(session(id));
    for (let i = 0; i < EVENTS; i += 500) await writer.appendEvents(batch(id, i, Math.min(500, EVENTS - i)));
  }
  await writer.close();
  const before = statSync(file).size;

  const store = new SqliteStore(file) as SqliteStore & { reclaimSpace?: () => Promise<number> };
  const del = await timed(() => store.deleteSession('expired'));
  const reclaim = store.reclaimSpace ? await timed(() => store.reclaimSpace!()) : undefined;
  await store.close();
  const after = statSync(file).size;
  const mb = (n: number) => (n / 1e6).toFixed(1);
  process.stdout.write(
    [
      `store: two sessions of ${EVENTS} events, ${mb(before)} MB; node ${process.version}`,
      `deleteSession   ${del.ms.toFixed(0)} ms, longest event-loop stall ${del.longestStallMs.toFixed(1)} ms`,
      reclaim
        ? `reclaimSpace    ${reclaim.ms.toFixed(0)} ms, longest event-loop stall ${reclaim.longestStallMs.toFixed(1)} ms, ${mb(reclaim.value)} MB given back`
        : 'reclaimSpace    (not in this revision)',
      `store file after closing: ${mb(after)} MB`,
      '',
    ].join('\n'),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
