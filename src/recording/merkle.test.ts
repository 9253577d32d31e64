import { describe, expect, it } from 'vitest';
import {
  EMPTY_ROOT, Frontier, consistencySpans, foldPerfect, inclusionSpans, leafHash, nodeHash, perfectNodes, verifyConsistency, verifyInclusion,
  type Hash, type Span,
} from './merkle.ts';

// The Certificate Transparency reference tree (RFC 6962 test data): leaves, roots of sizes 0..8, and proofs.
const DATA = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) => Buffer.from(h, 'hex'));
const ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const INCLUSION: [index: number, size: number, proof: string[]][] = [
  [0, 8, ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4']],
  [5, 8, ['bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
  [2, 3, ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125']],
  [1, 5, ['6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b']],
];
const CONSISTENCY: [first: number, second: number, proof: string[]][] = [
  [1, 1, []],
  [1, 8, ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4']],
  [6, 8, ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
  [2, 5, ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b']],
];

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** MTH straight from RFC 9162 §2.1.1: the reference the span-based code is compared with. */
function mth(leaves: readonly Hash[]): Hash {
  if (leaves.length === 0) return EMPTY_ROOT;
  if (leaves.length === 1) return leaves[0];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

/** A tree as a store would hold it: every perfect subtree a Frontier reported, looked up by level and index. */
function indexed(leaves: readonly Hash[]): (span: Span) => Hash {
  const nodes = new Map<string, Hash>();
  const f = new Frontier();
  for (const l of leaves) f.push(l, (ref, h) => nodes.set(`${ref.level}/${ref.index}`, h));
  return (span) => foldPerfect(perfectNodes(span).map((r) => nodes.get(`${r.level}/${r.index}`)!));
}

const LEAVES = DATA.map((d) => leafHash(d));

describe('Merkle tree (RFC 9162 §2.1)', () => {
  it('matches the reference roots for sizes 0..8, recursively, from stored subtrees and incrementally', () => {
    const node = indexed(LEAVES);
    const f = new Frontier();
    expect(hex(f.root())).toBe(ROOTS[0]);
    for (let n = 0; n <= 8; n++) {
      expect(hex(mth(LEAVES.slice(0, n)))).toBe(ROOTS[n]);
      expect(hex(node({ start: 0, size: n }))).toBe(ROOTS[n]);
      if (n > 0) {
        f.push(LEAVES[n - 1]);
        expect(hex(f.root())).toBe(ROOTS[n]);
      }
    }
  });

  it('builds and verifies the reference inclusion and consistency proofs', () => {
    const node = indexed(LEAVES);
    for (const [index, size, proof] of INCLUSION) {
      expect(inclusionSpans(index, size).map((s) => hex(node(s)))).toEqual(proof);
      const path = proof.map((p) => Buffer.from(p, 'hex'));
      expect(verifyInclusion(index, size, LEAVES[index], path, Buffer.from(ROOTS[size], 'hex'))).toBe(true);
    }
    for (const [first, second, proof] of CONSISTENCY) {
      expect(consistencySpans(first, second).map((s) => hex(node(s)))).toEqual(proof);
      const path = proof.map((p) => Buffer.from(p, 'hex'));
      expect(verifyConsistency(first, second, Buffer.from(ROOTS[first], 'hex'), Buffer.from(ROOTS[second], 'hex'), path)).toBe(true);
    }
  });

  const N = 45;
  const many = Array.from({ length: N }, (_, i) => leafHash(`{"seq":${i + 1}}`));
  const node = indexed(many);
  const roots = Array.from({ length: N + 1 }, (_, n) => mth(many.slice(0, n)));

  it('every inclusion proof in every tree size 1..45 verifies, and fails once anything is altered', () => {
    for (let n = 1; n <= N; n++) {
      for (let m = 0; m < n; m++) {
        const path = inclusionSpans(m, n).map((s) => node(s));
        expect(path.map(hex)).toEqual(inclusionSpans(m, n).map((s) => hex(mth(many.slice(s.start, s.start + s.size)))));
        expect(verifyInclusion(m, n, many[m], path, roots[n]), `${m} in ${n}`).toBe(true);
        expect(verifyInclusion(m, n, many[(m + 1) % N], path, roots[n])).toBe(false); // another leaf
        expect(verifyInclusion(m, n, many[m], path, roots[n - 1])).toBe(false); // another root
        if (n > 1) expect(verifyInclusion((m + 1) % n, n, many[m], path, roots[n])).toBe(false); // another index
        expect(verifyInclusion(m, n, many[m], [...path, EMPTY_ROOT], roots[n])).toBe(false); // one element too many
        for (let i = 0; i < path.length; i++) {
          const bad = path.map((p, j) => (j === i ? flip(p) : p));
          expect(verifyInclusion(m, n, many[m], bad, roots[n])).toBe(false);
          expect(verifyInclusion(m, n, many[m], path.filter((_, j) => j !== i), roots[n])).toBe(false);
        }
      }
    }
  });

  it('every consistency proof between sizes 0..45 verifies, and fails once anything is altered', () => {
    for (let n = 0; n <= N; n++) {
      for (let m = 0; m <= n; m++) {
        const proof = consistencySpans(m, n).map((s) => node(s));
        expect(verifyConsistency(m, n, roots[m], roots[n], proof), `${m} → ${n}`).toBe(true);
        if (m === 0) continue;
        expect(verifyConsistency(m, n, flip(roots[m]), roots[n], proof)).toBe(false);
        expect(verifyConsistency(m, n, roots[m], flip(roots[n]), proof)).toBe(false);
        if (m === n) continue;
        expect(verifyConsistency(m - 1, n, roots[m - 1], roots[n], proof)).toBe(false);
        expect(verifyConsistency(m, n, roots[m], roots[n], [])).toBe(false);
        expect(verifyConsistency(m, n, roots[m], roots[n], [...proof, EMPTY_ROOT])).toBe(false);
        for (let i = 0; i < proof.length; i++) {
          expect(verifyConsistency(m, n, roots[m], roots[n], proof.map((p, j) => (j === i ? flip(p) : p)))).toBe(false);
        }
      }
    }
  });

  it('a history rewritten in place is not consistent with the root published before', () => {
    const rewritten = [...many];
    rewritten[17] = leafHash('{"seq":18,"rewritten":true}');
    const node2 = indexed(rewritten);
    const proof = consistencySpans(40, N).map((s) => node2(s));
    expect(verifyConsistency(40, N, roots[40], mth(rewritten), proof)).toBe(false);
    expect(verifyConsistency(40, N, mth(rewritten.slice(0, 40)), mth(rewritten), proof)).toBe(true);
  });

  it('refuses spans that do not exist', () => {
    expect(() => inclusionSpans(5, 5)).toThrow(RangeError);
    expect(() => consistencySpans(6, 5)).toThrow(RangeError);
    expect(() => perfectNodes({ start: 1, size: 2 })).toThrow(RangeError);
    expect(verifyInclusion(0, 0, many[0], [], EMPTY_ROOT)).toBe(false);
    expect(verifyInclusion(-1, 4, many[0], [], EMPTY_ROOT)).toBe(false);
  });

  it('resumes a frontier from stored subtrees', () => {
    const f = new Frontier(37, perfectNodes({ start: 0, size: 37 }).map((r) => mth(many.slice(r.index * 2 ** r.level, (r.index + 1) * 2 ** r.level))));
    for (let i = 37; i < N; i++) f.push(many[i]);
    expect(hex(f.root())).toBe(hex(roots[N]));
  });
});

function flip(b: Uint8Array): Buffer {
  const c = Buffer.from(b);
  c[c.length - 1] ^= 1;
  return c;
}
