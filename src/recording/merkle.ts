import { createHash } from 'node:crypto';

/**
 * The ledger as a Merkle tree in the style of RFC 9162 (Certificate Transparency v2), §2.1:
 *   leaf hash  = SHA-256(0x00 ‖ entry)          entry: the canonical JSON of a ledger entry (see merkle-leaf.ts)
 *   node hash  = SHA-256(0x01 ‖ left ‖ right)
 *   MTH({})    = SHA-256()                      MTH(D[n]) = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of 2 < n
 * https://www.rfc-editor.org/rfc/rfc9162#section-2.1
 *
 * Every MTH the proofs need is a run of perfect subtrees (a power-of-two number of leaves, aligned), so a
 * store keeps only those (`NodeRef`) and any root or proof over any tree size takes O(log² n) lookups.
 * Pure: no I/O; merkle-index.ts reads and writes the nodes.
 */

export type Hash = Buffer;

const LEAF = Buffer.from([0x00]);
const NODE = Buffer.from([0x01]);

export const EMPTY_ROOT: Hash = createHash('sha256').digest();

export function leafHash(entry: string | Uint8Array): Hash {
  return createHash('sha256').update(LEAF).update(entry).digest();
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Hash {
  return createHash('sha256').update(NODE).update(left).update(right).digest();
}

/** The perfect subtree over leaves [index·2^level, (index+1)·2^level). */
export interface NodeRef {
  readonly level: number;
  readonly index: number;
}

/** Leaves [start, start+size): one MTH of the recursion (a proof element). */
export interface Span {
  readonly start: number;
  readonly size: number;
}

/** The largest power of two strictly below n (n ≥ 2). */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * The perfect subtrees whose hashes make up MTH(D[start:start+size]), left to right: one per set bit of
 * size, largest first. Spans produced by the RFC recursion are always aligned this way.
 */
export function perfectNodes(span: Span): NodeRef[] {
  const refs: NodeRef[] = [];
  let start = span.start;
  for (let level = 52; level >= 0; level--) {
    const width = 2 ** level;
    if (Math.floor(span.size / width) % 2 === 1) {
      if (start % width !== 0) throw new RangeError(`span ${span.start}+${span.size} is not aligned`);
      refs.push({ level, index: start / width });
      start += width;
    }
  }
  return refs;
}

/** MTH of a span from the hashes of its perfect subtrees (in perfectNodes order): a right fold. */
export function foldPerfect(hashes: readonly Hash[]): Hash {
  if (hashes.length === 0) return EMPTY_ROOT;
  let h = hashes[hashes.length - 1];
  for (let i = hashes.length - 2; i >= 0; i--) h = nodeHash(hashes[i], h);
  return h;
}

/** PATH(m, D[n]) of RFC 9162 §2.1.3.1 as spans, in proof order (nearest the leaf first). */
export function inclusionSpans(leafIndex: number, treeSize: number): Span[] {
  if (!(leafIndex >= 0 && leafIndex < treeSize)) throw new RangeError(`leaf ${leafIndex} is not in a tree of size ${treeSize}`);
  const out: Span[] = [];
  const path = (m: number, start: number, n: number): void => {
    if (n === 1) return;
    const k = split(n);
    if (m < k) {
      path(m, start, k);
      out.push({ start: start + k, size: n - k });
    } else {
      path(m - k, start + k, n - k);
      out.push({ start, size: k });
    }
  };
  path(leafIndex, 0, treeSize);
  return out;
}

/** PROOF(m, D[n]) of RFC 9162 §2.1.4.1 as spans, in proof order. Empty when m = n or m = 0. */
export function consistencySpans(first: number, second: number): Span[] {
  if (!(first >= 0 && first <= second)) throw new RangeError(`no consistency proof from size ${first} to ${second}`);
  if (first === 0 || first === second) return [];
  const out: Span[] = [];
  const sub = (m: number, start: number, n: number, b: boolean): void => {
    if (m === n) {
      if (!b) out.push({ start, size: n });
      return;
    }
    const k = split(n);
    if (m <= k) {
      sub(m, start, k, b);
      out.push({ start: start + k, size: n - k });
    } else {
      sub(m - k, start + k, n - k, false);
      out.push({ start, size: k });
    }
  };
  sub(first, 0, second, true);
  return out;
}

/** Verifies an inclusion proof: RFC 9162 §2.1.3.2, step by step. */
export function verifyInclusion(leafIndex: number, treeSize: number, leaf: Uint8Array, path: readonly Uint8Array[], root: Uint8Array): boolean {
  if (!Number.isSafeInteger(leafIndex) || !Number.isSafeInteger(treeSize) || leafIndex < 0 || leafIndex >= treeSize) return false;
  let fn = BigInt(leafIndex);
  let sn = BigInt(treeSize - 1);
  let r: Uint8Array = leaf;
  for (const p of path) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      r = nodeHash(p, r);
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && equal(r, root);
}

/**
 * Verifies a consistency proof: RFC 9162 §2.1.4.2 for 0 < first < second; equal sizes need an empty proof
 * and equal roots, and every tree is consistent with the empty one.
 */
export function verifyConsistency(first: number, second: number, firstRoot: Uint8Array, secondRoot: Uint8Array, proof: readonly Uint8Array[]): boolean {
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(second) || first < 0 || first > second) return false;
  if (first === second) return proof.length === 0 && equal(firstRoot, secondRoot);
  if (first === 0) return proof.length === 0 && equal(firstRoot, EMPTY_ROOT);
  if (proof.length === 0) return false;
  const path = isPowerOfTwo(first) ? [firstRoot, ...proof] : proof;
  let fn = BigInt(first - 1);
  let sn = BigInt(second - 1);
  while ((fn & 1n) === 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr: Uint8Array = path[0];
  let sr: Uint8Array = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && equal(fr, firstRoot) && equal(sr, secondRoot);
}

function isPowerOfTwo(n: number): boolean {
  const b = BigInt(n);
  return b > 0n && (b & (b - 1n)) === 0n;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/**
 * The right edge of a tree built leaf by leaf (a compact range): the perfect subtrees of the binary
 * decomposition of its size, O(log n) hashes. Gives the root at the current size and reports each perfect
 * subtree as it completes, so a verifier streaming the ledger and the indexer share one code path.
 */
export class Frontier {
  private nodes: { level: number; hash: Hash }[] = [];
  size: number;

  /** Resume at `size` from the hashes of perfectNodes({start: 0, size}). */
  constructor(size = 0, hashes: readonly Hash[] = []) {
    const refs = perfectNodes({ start: 0, size });
    if (refs.length !== hashes.length) throw new RangeError(`a frontier of size ${size} needs ${refs.length} hashes`);
    this.size = size;
    this.nodes = refs.map((r, i) => ({ level: r.level, hash: hashes[i] }));
  }

  /** Appends a leaf hash; `completed` gets the leaf and every perfect subtree it completes. */
  push(leaf: Hash, completed?: (ref: NodeRef, hash: Hash) => void): void {
    let level = 0;
    let hash = leaf;
    let index = this.size;
    completed?.({ level, index }, hash);
    while (this.nodes.length > 0 && this.nodes[this.nodes.length - 1].level === level) {
      hash = nodeHash(this.nodes.pop()!.hash, hash);
      level++;
      index = Math.floor(index / 2);
      completed?.({ level, index }, hash);
    }
    this.nodes.push({ level, hash });
    this.size++;
  }

  root(): Hash {
    return foldPerfect(this.nodes.map((n) => n.hash));
  }

  /** A copy that can move on independently (the hashes are shared, never mutated). */
  clone(): Frontier {
    const f = new Frontier();
    f.nodes = [...this.nodes];
    f.size = this.size;
    return f;
  }
}
