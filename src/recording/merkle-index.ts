import { setImmediate as nextTurn } from 'node:timers/promises';
import type { MerkleNode, Store } from '../store/types.ts';
import { canonical, type LedgerFields } from './chain.ts';
import { Frontier, consistencySpans, foldPerfect, inclusionSpans, leafHash, perfectNodes, type Hash, type NodeRef, type Span } from './merkle.ts';

/**
 * The ledger's Merkle tree as the store keeps it: the hash of every perfect subtree (leaf i = ledger entry
 * seq i+1). The table is derived from the ledger and filled in lazily, streaming only entries not yet
 * indexed, so a root or a proof over a ledger of any length costs O(log² n) node lookups. Whoever checks
 * recomputes leaves from entries (ledger-check.ts); a node table that lies only makes its proofs fail.
 */

/** The leaf of a ledger entry: SHA-256(0x00 ‖ canonical {data, kind, seq, sessionId, time}), the same text the chain hashes. */
export function ledgerLeaf(e: LedgerFields): Hash {
  return leafHash(canonical({ seq: e.seq, kind: e.kind, sessionId: e.sessionId, time: e.time, data: e.data }));
}

const BATCH = 4096;

/**
 * Indexes ledger entries up to seq `upTo` (default: the head) and returns the indexed tree size. Concurrent
 * callers compute the same nodes; the store keeps the first copy.
 */
export async function syncMerkle(store: Store, upTo?: number): Promise<number> {
  const target = upTo ?? (await store.ledgerHead())?.seq ?? 0;
  const size = await store.merkleLeafCount();
  if (size >= target) return size;
  const frontier = new Frontier(size, await nodes(store, perfectNodes({ start: 0, size })));
  let pending: MerkleNode[] = [];
  const collect = (ref: NodeRef, hash: Hash) => pending.push({ ...ref, hash });
  for await (const e of store.readLedger(size + 1)) {
    if (e.seq > target) break;
    if (e.seq !== frontier.size + 1) throw new Error(`ledger seq ${frontier.size + 1} missing: cannot extend the Merkle tree`);
    frontier.push(ledgerLeaf(e), collect);
    if (pending.length >= BATCH) {
      await store.putMerkleNodes(pending);
      pending = [];
      await nextTurn(); // a first indexing of a long ledger must not stall the gateway
    }
  }
  await store.putMerkleNodes(pending);
  if (frontier.size < target) throw new Error(`ledger ends at seq ${frontier.size}, before ${target}`);
  return frontier.size;
}

/** MTH of the first `size` entries (indexed up to there first). */
export async function merkleRoot(store: Store, size: number): Promise<Hash> {
  await syncMerkle(store, size);
  return (await spanHashes(store, [{ start: 0, size }]))[0];
}

/** The audit path of entry `seq` in the tree of the first `treeSize` entries (RFC 9162 §2.1.3.1). */
export async function inclusionProof(store: Store, seq: number, treeSize: number): Promise<Hash[]> {
  await syncMerkle(store, treeSize);
  return spanHashes(store, inclusionSpans(seq - 1, treeSize));
}

/** The consistency proof from the tree of the first `first` entries to the first `second` (RFC 9162 §2.1.4.1). */
export async function consistencyProof(store: Store, first: number, second: number): Promise<Hash[]> {
  await syncMerkle(store, second);
  return spanHashes(store, consistencySpans(first, second));
}

async function spanHashes(store: Store, spans: readonly Span[]): Promise<Hash[]> {
  const refs = spans.map((s) => perfectNodes(s));
  const all = await nodes(store, refs.flat());
  let at = 0;
  return refs.map((r) => foldPerfect(all.slice(at, (at += r.length))));
}

async function nodes(store: Store, refs: readonly NodeRef[]): Promise<Hash[]> {
  const got = await store.getMerkleNodes(refs);
  return got.map((h, i) => {
    if (!h) throw new Error(`Merkle node ${refs[i].level}/${refs[i].index} missing from the store`);
    return h;
  });
}
