import type { LedgerEntry } from '../store/types.ts';
import { GENESIS, ledgerHash } from './chain.ts';
import { sealOf, sealSignatureProblem, type Break, type Report, type SealData } from './chain-check.ts';
import type { PublicKeyInfo } from './keys.ts';
import { EMPTY_ROOT, Frontier, type Hash } from './merkle.ts';
import { ledgerLeaf } from './merkle-index.ts';
import { checkSigned, checkpointMessage, tombstoneMessage } from './signatures.ts';

/** A signed statement of the ledger head, published outside the store (see checkpoint.ts). */
export interface Checkpoint {
  readonly ledgerSeq: number;
  readonly ledgerHash: string;
  /** The Merkle tree head over entries 1…ledgerSeq (treeSize = ledgerSeq); absent in checkpoints from before the tree. */
  readonly treeSize?: number;
  readonly rootHash?: string;
  readonly time: number;
  readonly keyId: string;
  readonly signature: string;
}

export interface SealRecord extends SealData {
  readonly hash: string;
  /** How many seal entries name this session (exactly one is expected). */
  count: number;
}

export interface TombstoneRecord {
  readonly ledgerSeq: number;
  readonly sealHash: string;
  readonly policy: string;
}

/** Ledger hashes kept in memory for checkpoint entries that refer back to them; older ones are looked up. */
const RECENT = 4096;

export function checkCheckpoint(cp: Checkpoint, keys: readonly PublicKeyInfo[]): string | null {
  if (!cp || typeof cp !== 'object') return 'malformed checkpoint';
  if (!Number.isInteger(cp.ledgerSeq) || cp.ledgerSeq < 0 || typeof cp.ledgerHash !== 'string' || typeof cp.time !== 'number') return 'malformed checkpoint';
  const tree = treeHead(cp);
  if (tree === 'malformed') return 'malformed checkpoint';
  return checkSigned(keys, cp.keyId, cp.time, checkpointMessage(cp.ledgerSeq, cp.ledgerHash, cp.time, tree ?? undefined), cp.signature);
}

/** The tree head a checkpoint signs: null for one made before the tree, 'malformed' when half there or not the ledger's size. */
export function treeHead(cp: Checkpoint): { treeSize: number; rootHash: string } | null | 'malformed' {
  if (cp.treeSize === undefined && cp.rootHash === undefined) return null;
  if (cp.treeSize !== cp.ledgerSeq || typeof cp.rootHash !== 'string' || !/^[0-9a-f]{64}$/.test(cp.rootHash)) return 'malformed';
  return { treeSize: cp.treeSize, rootHash: cp.rootHash };
}

/**
 * Checks the store-wide ledger as it streams by in seq order: seq contiguous, each prevHash linking to the
 * entry before, each hash recomputed, and every seal, tombstone and checkpoint signature. Recomputes the
 * Merkle tree over the entries (from seq 1) and checks the tree heads checkpoints sign. Collects one small
 * record per seal and tombstone for the session checks. `start` lets it check a segment (bundles).
 */
export class LedgerChecker {
  readonly seals = new Map<string, SealRecord>();
  readonly tombstones = new Map<string, TombstoneRecord>();
  entries = 0;
  lastSeq: number;
  lastHash: string;
  private readonly recent = new Map<number, string>();
  private readonly deferred: { atSeq: number; ledgerSeq: number; ledgerHash: string }[] = [];
  private checkpointSeen = false;
  /** The tree over the entries so far; dropped at a gap (reported), after which no root can be recomputed. */
  private tree: Frontier | undefined;
  private readonly recentTrees = new Map<number, Frontier>();
  private readonly deferredRoots: { atSeq: number; treeSize: number; rootHash: string }[] = [];
  /** The Merkle leaf of the entry pushed last. */
  lastLeaf: Hash | undefined;

  constructor(
    private readonly keys: readonly PublicKeyInfo[],
    private readonly report: Report,
    private readonly options: { checkpoint?: Checkpoint; start?: { seq: number; prevHash: string } } = {},
  ) {
    this.lastSeq = (options.start?.seq ?? 1) - 1;
    this.lastHash = options.start?.prevHash ?? GENESIS;
    if (this.lastSeq === 0) {
      this.recent.set(0, GENESIS);
      this.tree = new Frontier();
      this.recentTrees.set(0, this.tree.clone());
    }
  }

  /** The Merkle root recomputed over every entry pushed, unless the walk started mid-ledger or hit a gap. */
  treeRoot(): Hash | undefined {
    return this.tree?.root();
  }

  push(e: LedgerEntry): void {
    const at = (what: string): Break => ({ sessionId: e.sessionId, seq: null, ledgerSeq: e.seq, what });
    this.lastLeaf = ledgerLeaf(e);
    if (this.tree && e.seq === this.lastSeq + 1) {
      this.tree.push(this.lastLeaf);
      this.recentTrees.set(e.seq, this.tree.clone());
      this.recentTrees.delete(e.seq - RECENT);
    } else this.tree = undefined;
    if (e.seq !== this.lastSeq + 1) {
      this.report(at(e.seq > this.lastSeq + 1 ? `ledger entries missing (seq ${this.lastSeq + 1}–${e.seq - 1} deleted)` : `ledger seq ${e.seq} out of order`));
    } else if (e.prevHash !== this.lastHash) {
      this.report(at(`ledger link broken: prevHash does not match entry ${this.lastSeq}`));
    }
    if (ledgerHash(e.prevHash, e) !== e.hash) this.report(at(`ledger ${e.kind} entry hash mismatch (entry altered)`));
    this.entries++;
    this.lastSeq = e.seq;
    this.lastHash = e.hash;
    this.recent.set(e.seq, e.hash);
    this.recent.delete(e.seq - RECENT);
    const cp = this.options.checkpoint;
    if (cp && e.seq === cp.ledgerSeq) {
      this.checkpointSeen = true;
      if (e.hash !== cp.ledgerHash) this.report(at(`ledger differs from the published checkpoint at seq ${cp.ledgerSeq} (rewritten, or truncated after checkpoint and re-appended)`));
      const head = treeHead(cp);
      const root = this.tree?.root().toString('hex');
      if (head && head !== 'malformed' && root && root !== head.rootHash) {
        this.report({ sessionId: null, seq: null, ledgerSeq: e.seq, what: `Merkle root over seq 1–${cp.ledgerSeq} differs from the published checkpoint's: an entry up to here was rewritten (even if the chain was recomputed)` });
      }
    }
    const d = (e.data && typeof e.data === 'object' ? e.data : {}) as Record<string, unknown>;
    switch (e.kind) {
      case 'seal':
        return this.seal(e, at);
      case 'tombstone':
        return this.tombstone(e, d, at);
      case 'checkpoint':
        return this.checkpointEntry(e, d, at);
      default:
        this.report(at(`unknown ledger entry kind ${String(e.kind)}`));
    }
  }

  /** Ends the walk: the published checkpoint is covered, and checkpoint entries referring far back are resolved. */
  async finish(lookup?: (seq: number) => Promise<string | undefined>, rootLookup?: (treeSize: number) => Promise<Hash | undefined>): Promise<void> {
    const cp = this.options.checkpoint;
    if (cp && cp.ledgerSeq > 0 && !this.checkpointSeen && cp.ledgerSeq > this.lastSeq) {
      this.report({ sessionId: null, seq: null, ledgerSeq: this.lastSeq, what: `ledger truncated after checkpoint: the ledger ends at seq ${this.lastSeq}, the checkpoint of ${iso(cp.time)} covers seq ${cp.ledgerSeq}` });
    }
    const head = cp && treeHead(cp);
    if (head && head !== 'malformed' && head.treeSize === 0 && head.rootHash !== EMPTY_ROOT.toString('hex')) {
      this.report({ sessionId: null, seq: null, ledgerSeq: 0, what: 'the published checkpoint of the empty ledger names a Merkle root that is not the empty tree' });
    }
    if (!lookup) return;
    for (const d of this.deferred) {
      const hash = d.ledgerSeq === 0 ? GENESIS : await lookup(d.ledgerSeq);
      if (hash !== undefined && hash !== d.ledgerHash) this.report({ sessionId: null, seq: null, ledgerSeq: d.atSeq, what: `checkpoint entry does not match the ledger at seq ${d.ledgerSeq}` });
    }
    for (const d of this.deferredRoots) {
      const root = rootLookup ? await rootLookup(d.treeSize) : undefined;
      if (root !== undefined && root.toString('hex') !== d.rootHash) this.report({ sessionId: null, seq: null, ledgerSeq: d.atSeq, what: `checkpoint entry's Merkle root does not match the ledger's first ${d.treeSize} entries` });
    }
  }

  private seal(e: LedgerEntry, at: (what: string) => Break): void {
    const seal = sealOf(e);
    if (!seal || !e.sessionId) {
      this.report(at('malformed seal entry'));
      return;
    }
    const problem = sealSignatureProblem(this.keys, e.sessionId, e, seal);
    if (problem) this.report(at(`seal: ${problem}`));
    if (this.tombstones.has(e.sessionId)) this.report(at('seal after the session was tombstoned'));
    const existing = this.seals.get(e.sessionId);
    if (existing) {
      existing.count++;
      return;
    }
    this.seals.set(e.sessionId, { ...seal, hash: e.hash, count: 1 });
  }

  private tombstone(e: LedgerEntry, d: Record<string, unknown>, at: (what: string) => Break): void {
    const id = e.sessionId;
    if (!id || d.sessionId !== id || typeof d.sealHash !== 'string' || typeof d.purgedAt !== 'number' || typeof d.policy !== 'string') {
      this.report(at('malformed tombstone entry'));
      return;
    }
    const problem = checkSigned(this.keys, d.keyId, e.time, tombstoneMessage(id, d.sealHash, d.purgedAt, d.policy), d.signature);
    if (problem) this.report(at(`tombstone: ${problem}`));
    const seal = this.seals.get(id);
    if (!seal) {
      if (!this.options.start) this.report(at('tombstone for a session never sealed in the ledger'));
    } else if (seal.hash !== d.sealHash) this.report(at(`tombstone names seal hash ${d.sealHash.slice(0, 12)}…, not the session's seal (ledger #${seal.ledgerSeq})`));
    if (this.tombstones.has(id)) this.report(at('session tombstoned twice'));
    else this.tombstones.set(id, { ledgerSeq: e.seq, sealHash: d.sealHash, policy: d.policy });
  }

  private checkpointEntry(e: LedgerEntry, d: Record<string, unknown>, at: (what: string) => Break): void {
    const cp = d as unknown as Checkpoint;
    const problem = checkCheckpoint(cp, this.keys);
    if (problem) this.report(at(`checkpoint: ${problem}`));
    if (typeof cp.ledgerSeq !== 'number' || cp.ledgerSeq >= e.seq) {
      this.report(at('checkpoint entry refers to a ledger seq not before it'));
      return;
    }
    const known = this.recent.get(cp.ledgerSeq);
    if (known !== undefined) {
      if (known !== cp.ledgerHash) this.report(at(`checkpoint entry does not match the ledger at seq ${cp.ledgerSeq}`));
    } else {
      this.deferred.push({ atSeq: e.seq, ledgerSeq: cp.ledgerSeq, ledgerHash: cp.ledgerHash });
    }
    const head = treeHead(cp);
    if (!head || head === 'malformed' || !this.tree) return;
    const then = this.recentTrees.get(head.treeSize);
    if (!then) this.deferredRoots.push({ atSeq: e.seq, ...head });
    else if (then.root().toString('hex') !== head.rootHash) this.report(at(`checkpoint entry's Merkle root does not match the ledger's first ${head.treeSize} entries`));
  }
}

function iso(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms);
}
