/**
 * The ledger's Merkle tree on a large ledger: seeds seal-shaped ledger entries into a fresh embedded store,
 * then times indexing them (once), indexing a few more (what a checkpoint does), roots and proofs.
 *
 *   npx tsx bench/merkle.ts [--entries 100000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { ledgerHash } from '../src/recording/chain.ts';
import { consistencyProof, inclusionProof, ledgerLeaf, merkleRoot, syncMerkle } from '../src/recording/merkle-index.ts';
import { verifyConsistency, verifyInclusion } from '../src/recording/merkle.ts';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.ts';

const { values } = parseArgs({ options: { entries: { type: 'string', default: '100000' } } });
const N = Number(values.entries);
const dir = mkdtempSync(join(tmpdir(), 'airlock-bench-merkle-'));
const store = new SqliteStore(join(dir, 'airlock.db'));

async function append(count: number, from: number): Promise<void> {
  for (let i = from; i < from + count; i++) {
    const data = { endReason: 'client_terminated', endedAt: 1.7e12 + i, eventCount: 40 + (i % 100), finalHash: (i % 16).toString(16).repeat(64), keyId: '0123456789abcdef', signature: 'A'.repeat(86) + '==' };
    const sessionId = `ses_${i.toString(36).padStart(12, '0')}`;
    await store.appendLedger({ kind: 'seal', sessionId, time: 1.7e12 + i, data }, (p, seq) => ledgerHash(p, { seq, kind: 'seal', sessionId, time: 1.7e12 + i, data }));
  }
}

function timed<T>(label: string, f: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  return f().then((r) => {
    console.log(`${label}: ${(performance.now() - t0).toFixed(1)} ms`);
    return r;
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

try {
  await timed(`seed ${N} ledger entries`, () => append(N, 0));
  await timed(`index all ${N} entries (first sync)`, () => syncMerkle(store));
  await append(100, N);
  await timed('index 100 new entries (a checkpoint)', () => syncMerkle(store));
  const size = N + 100;
  const root = await timed(`root of ${size}`, () => merkleRoot(store, size));

  const leaves = new Map<number, Buffer>();
  const seqs = Array.from({ length: 1000 }, (_, i) => 1 + Math.floor(((i * 2654435761) % 2 ** 32) / 2 ** 32 * size));
  for await (const e of store.readLedger()) if (seqs.includes(e.seq)) leaves.set(e.seq, ledgerLeaf(e));
  const prove: number[] = [];
  const check: number[] = [];
  for (const seq of seqs) {
    let t0 = performance.now();
    const path = await inclusionProof(store, seq, size);
    prove.push(performance.now() - t0);
    t0 = performance.now();
    if (!verifyInclusion(seq - 1, size, leaves.get(seq)!, path, root)) throw new Error(`proof of ${seq} fails`);
    check.push(performance.now() - t0);
  }
  console.log(`inclusion proof (1000 random entries): median ${median(prove).toFixed(3)} ms, max ${Math.max(...prove).toFixed(3)} ms; verify median ${median(check).toFixed(3)} ms`);
  const first = Math.floor(N / 3);
  const firstRoot = await merkleRoot(store, first);
  const proof = await timed(`consistency proof ${first} → ${size}`, () => consistencyProof(store, first, size));
  if (!verifyConsistency(first, size, firstRoot, root, proof)) throw new Error('consistency proof fails');
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
