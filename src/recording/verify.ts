import type { SessionRecord, Store } from '../store/types.ts';
import { ChainChecker, checkAgainstSeal, checkOpening, checkSessionRecord, compareBreaks, type Break } from './chain-check.ts';
import type { PublicKeyInfo } from './keys.ts';
import { LedgerChecker, checkCheckpoint, treeHead, type Checkpoint } from './ledger-check.ts';
import { verifyConsistency } from './merkle.ts';
import { consistencyProof, merkleRoot } from './merkle-index.ts';

export type { Break } from './chain-check.ts';
export type { Checkpoint } from './ledger-check.ts';

export interface VerifyReport {
  readonly checked: {
    readonly sessions: number;
    readonly events: number;
    readonly ledgerEntries: number;
    /** Sessions still running: their chain was checked, they have no seal yet. */
    readonly openSessions: number;
    /** Sessions removed by retention with a tombstone in the ledger (expected to be gone). */
    readonly purgedSessions: number;
  };
  /** Ids of the sessions checked but still open. */
  readonly open: string[];
  /** The published checkpoint the ledger was compared with, if any. */
  readonly checkpoint: { readonly ledgerSeq: number; readonly time: number } | null;
  /** The Merkle tree head recomputed from the entries (bundles: the one their checkpoint signs). */
  readonly tree: { readonly size: number; readonly rootHash: string } | null;
  /**
   * The consistency proof (RFC 9162 §2.1.4) from the published checkpoint's tree to the current one, as the
   * store's Merkle index gives it, and whether it verified: anyone holding both tree heads can check it.
   */
  readonly consistency: { readonly fromSize: number; readonly toSize: number; readonly proof: string[]; readonly verified: boolean } | null;
  /** Sorted by session, then seq. */
  readonly breaks: Break[];
  /** Ids asked for that neither the store nor the ledger has ever held: a mistyped id, not tampering. */
  readonly unknown?: string[];
}

export interface VerifyOptions {
  /** Only these sessions (the whole ledger is still checked). */
  readonly sessionIds?: readonly string[];
  /** The last published checkpoint: the ledger must still reach it with the same hash. */
  readonly checkpoint?: Checkpoint;
}

/**
 * Verifies the whole forensic record of a store: the ledger (links, hashes, signatures, a published
 * checkpoint), then every session's chain against its seal, and the bookkeeping between them: every closed
 * session sealed exactly once, every seal naming a session that exists unless a tombstone says it was
 * purged, no tombstoned session still present. Events are streamed; memory grows with the number of
 * sessions (one small record per seal), never with a session's size.
 */
export async function verifyStore(store: Store, keys: readonly PublicKeyInfo[], opts: VerifyOptions = {}): Promise<VerifyReport> {
  const breaks: Break[] = [];
  const report = (b: Break) => breaks.push(b);

  if (opts.checkpoint) {
    const problem = checkCheckpoint(opts.checkpoint, keys);
    if (problem) report({ sessionId: null, seq: null, ledgerSeq: opts.checkpoint.ledgerSeq, what: `published checkpoint: ${problem}` });
  }
  const ledger = new LedgerChecker(keys, report, { checkpoint: opts.checkpoint });
  const leaves = new LeafComparison(store, report);
  try {
    for await (const e of store.readLedger()) {
      ledger.push(e);
      await leaves.push(e.seq, ledger.lastLeaf!);
    }
    await leaves.flush();
  } catch (err) {
    report({ sessionId: null, seq: null, ledgerSeq: ledger.lastSeq + 1, what: `ledger unreadable after seq ${ledger.lastSeq}: ${(err as Error).message}` });
  }
  await ledger.finish(
    async (seq) => {
      for await (const e of store.readLedger(seq)) return e.seq === seq ? e.hash : undefined;
      return undefined;
    },
    async (size) => (size <= ledger.lastSeq ? merkleRoot(store, size).catch(() => undefined) : undefined),
  );
  const ledgerEnd = ledger.lastSeq;
  const treeRoot = ledger.treeRoot();
  const consistency = opts.checkpoint && treeRoot ? await checkConsistency(store, opts.checkpoint, ledgerEnd, treeRoot, report) : null;

  let sessions = 0;
  let events = 0;
  let purged = 0;
  const open: string[] = [];
  const unsealed: SessionRecord[] = [];
  const seen = new Set<string>();

  const checkSession = async (s: SessionRecord) => {
    sessions++;
    seen.add(s.id);
    const tomb = ledger.tombstones.get(s.id);
    if (tomb) report({ sessionId: s.id, seq: null, ledgerSeq: tomb.ledgerSeq, what: 'session was tombstoned (purged) but is still in the store' });
    const chain = new ChainChecker(s.id, report);
    try {
      for await (const e of store.readEvents(s.id)) chain.push(e);
    } catch (err) {
      report({ sessionId: s.id, seq: chain.length, what: `event unreadable: ${(err as Error).message}` });
    }
    chain.finish();
    events += chain.present;
    checkSessionRecord(s, chain, report);
    checkOpening(s, chain, keys, report);
    const seal = ledger.seals.get(s.id);
    if (s.endedAt === null) {
      open.push(s.id);
      if (seal) report({ sessionId: s.id, seq: null, ledgerSeq: seal.ledgerSeq, what: 'session is open in the store but sealed in the ledger' });
      return;
    }
    if (!seal) {
      unsealed.push(s);
      return;
    }
    if (seal.count > 1) report({ sessionId: s.id, seq: null, ledgerSeq: seal.ledgerSeq, what: `session sealed ${seal.count} times in the ledger` });
    checkAgainstSeal(s, chain, seal, report);
  };

  const unknown: string[] = [];
  if (opts.sessionIds) {
    for (const id of new Set(opts.sessionIds)) {
      const s = await store.getSession(id);
      if (s) await checkSession(s);
      else if (ledger.tombstones.has(id)) purged++;
      else if (ledger.seals.has(id)) report({ sessionId: id, seq: null, ledgerSeq: ledger.seals.get(id)!.ledgerSeq, what: 'session deleted: sealed in the ledger but missing from the store, with no tombstone' });
      else unknown.push(id);
    }
  } else {
    for await (const s of store.readSessions()) await checkSession(s);
    for (const [id, seal] of ledger.seals) {
      if (seen.has(id) || ledger.tombstones.has(id)) continue;
      report({ sessionId: id, seq: null, ledgerSeq: seal.ledgerSeq, what: 'session deleted: sealed in the ledger but missing from the store, with no tombstone' });
    }
    for (const id of ledger.tombstones.keys()) if (!seen.has(id)) purged++;
  }

  // Sessions that ended while the ledger was being read are sealed after the point read so far.
  if (unsealed.length > 0) {
    const late = new Map<string, number>();
    for await (const e of store.readLedger(ledgerEnd + 1)) if (e.kind === 'seal' && e.sessionId) late.set(e.sessionId, e.seq);
    for (const s of unsealed) {
      if (!late.has(s.id)) report({ sessionId: s.id, seq: null, what: 'closed session has no seal in the ledger' });
    }
  }

  breaks.sort(compareBreaks);
  return {
    checked: { sessions, events, ledgerEntries: ledger.entries, openSessions: open.length, purgedSessions: purged },
    open,
    checkpoint: opts.checkpoint ? { ledgerSeq: opts.checkpoint.ledgerSeq, time: opts.checkpoint.time } : null,
    tree: treeRoot ? { size: ledgerEnd, rootHash: treeRoot.toString('hex') } : null,
    consistency,
    breaks,
    unknown,
  };
}

/**
 * Proves the current tree an append-only extension of the published one: the proof comes from the store's
 * Merkle index, the roots from the signed checkpoint and from the entries just read, so a rewritten history
 * fails whether or not the index was rewritten with it.
 */
async function checkConsistency(store: Store, cp: Checkpoint, size: number, root: Buffer, report: (b: Break) => void): Promise<VerifyReport['consistency']> {
  const head = treeHead(cp);
  if (!head || head === 'malformed' || size < head.treeSize) return null; // a v1 checkpoint; a malformed or truncated one is reported already
  let proof: Buffer[];
  try {
    proof = await consistencyProof(store, head.treeSize, size);
  } catch (err) {
    report({ sessionId: null, seq: null, ledgerSeq: head.treeSize, what: `no Merkle consistency proof from the published checkpoint: ${(err as Error).message}` });
    return null;
  }
  const verified = verifyConsistency(head.treeSize, size, Buffer.from(head.rootHash, 'hex'), root, proof);
  if (!verified) {
    report({
      sessionId: null, seq: null, ledgerSeq: head.treeSize,
      what: `Merkle consistency proof from the published checkpoint (tree size ${head.treeSize}) to the ledger (size ${size}) fails: the ledger is not an append-only extension of what was published`,
    });
  }
  return { fromSize: head.treeSize, toSize: size, proof: proof.map((p) => p.toString('hex')), verified };
}

/** Compares each entry's recomputed leaf with the leaf the store indexed for it, a page at a time: an entry edited after it was indexed is named. */
class LeafComparison {
  private batch: { seq: number; leaf: Buffer }[] = [];
  private indexed: number | undefined;

  constructor(
    private readonly store: Store,
    private readonly report: (b: Break) => void,
  ) {}

  async push(seq: number, leaf: Buffer): Promise<void> {
    this.indexed ??= await this.store.merkleLeafCount();
    if (seq > this.indexed) return;
    this.batch.push({ seq, leaf });
    if (this.batch.length >= 512) await this.flush();
  }

  async flush(): Promise<void> {
    const batch = this.batch;
    this.batch = [];
    const stored = await this.store.getMerkleNodes(batch.map((b) => ({ level: 0, index: b.seq - 1 })));
    batch.forEach((b, i) => {
      const s = stored[i];
      if (s && !s.equals(b.leaf)) this.report({ sessionId: null, seq: null, ledgerSeq: b.seq, what: 'ledger entry differs from the Merkle leaf indexed for it (the entry, or the index, was altered after it was logged)' });
    });
  }
}
