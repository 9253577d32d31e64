/**
 * What the digest of a result's rows (db.result `digest`) costs per row on the hot path:
 * `npx tsx bench/result-digest.ts` (DIGEST_BENCH_ROWS=… to change the size).
 *
 * Feeds StatementLog the rows past a statement's sample as the gateway's relay does (runs of whole DataRow frames,
 * one slice per 64 KiB read), once without a digest key and once with one, for two row sizes: pgbench's one int4
 * and the large-results benchmark's `repeat('x', 100)`. Prints ns per row of each and the difference (best of 5).
 */
import { performance } from 'node:perf_hooks';
import { createHmac, randomBytes } from 'node:crypto';
import { StatementLog, type DigestKey } from '../src/protocols/postgres/statement-log.ts';
import type { SessionRecorder } from '../src/recording/recorder.ts';
import type { ValueMasker } from '../src/policy/connection-policies.ts';

const ROWS = Number(process.env.DIGEST_BENCH_ROWS ?? 2_000_000);
const CHUNK = 64 * 1024;

function dataRow(value: Buffer): Buffer {
  const b = Buffer.alloc(1 + 4 + 2 + 4 + value.length);
  b[0] = 0x44;
  b.writeInt32BE(b.length - 1, 1);
  b.writeInt16BE(1, 5);
  b.writeInt32BE(value.length, 7);
  value.copy(b, 11);
  return b;
}

/** Reads of up to 64 KiB, each a run of whole frames, as the relay slices them. */
function chunks(row: Buffer): { count: number; bytes: Buffer }[] {
  const perChunk = Math.floor(CHUNK / row.length);
  const one = Buffer.concat(Array.from({ length: perChunk }, () => row));
  return Array.from({ length: Math.ceil(ROWS / perChunk) }, () => ({ count: perChunk, bytes: one.subarray(0) }));
}

const rec = { record: () => 0 } as unknown as SessionRecorder;
const mask = { maskText: (t: string) => t, maskValue: (_c: string, t: string) => t } as unknown as ValueMasker;

function run(runs: { count: number; bytes: Buffer }[], key: DigestKey | undefined): number {
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const log = new StatementLog(rec, mask, { maxRows: 0, maxBytes: 0, indexOutput: false, ack: 'async' }, {}, key);
    log.begin('select', undefined, 'simple');
    let rows = 0;
    const t0 = performance.now();
    for (const r of runs) {
      log.skippedRows(r.count, r.bytes);
      rows += r.count;
    }
    log.complete(Buffer.from('SELECT 1\0'));
    best = Math.min(best, ((performance.now() - t0) * 1e6) / rows);
  }
  return best;
}

const key = { key: randomBytes(32), id: 'bench000' };
for (const [name, value] of [['int4 (pgbench)', Buffer.from('12345')], ["repeat('x', 100)", Buffer.alloc(100, 'x')]] as const) {
  const runs = chunks(dataRow(value));
  const without = run(runs, undefined);
  const withDigest = run(runs, key);
  console.log(`${name.padEnd(18)} ${String(dataRow(value).length).padStart(3)} B/row: without ${without.toFixed(1)} ns/row, with digest ${withDigest.toFixed(1)} ns/row, +${(withDigest - without).toFixed(1)} ns/row`);
}

// Per result with rows: the keyed HMAC's set-up and final digest (hex), whatever the rows.
{
  const row = dataRow(Buffer.from('12345'));
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const n = 200_000;
    const t0 = performance.now();
    for (let j = 0; j < n; j++) createHmac('sha256', key.key).update(row).digest('hex');
    best = Math.min(best, ((performance.now() - t0) * 1e6) / n);
  }
  console.log(`per result: ${best.toFixed(0)} ns (HMAC set-up, one row, digest)`);
}
