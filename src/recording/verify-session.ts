import type { LedgerEntry, Store } from '../store/types.ts';
import { ledgerHash } from './chain.ts';
import { ChainChecker, checkAgainstSeal, checkOpening, checkSessionRecord, compareBreaks, sealOf, sealSignatureProblem, type Break } from './chain-check.ts';
import type { PublicKeyInfo } from './keys.ts';
import { verifyInclusion } from './merkle.ts';
import { inclusionProof, ledgerLeaf, merkleRoot } from './merkle-index.ts';

export interface SessionVerifyReport {
  readonly sessionId: string;
  readonly ok: boolean;
  /** Closed, with a seal whose signature, ledger hash and Merkle inclusion all hold. */
  readonly sealed: boolean;
  /** Events read from the session's chain. */
  readonly events: number;
  readonly breaks: { readonly seq: number | null; readonly problem: string }[];
  readonly checked: {
    /** The seal's ledger seq, or null when none was found. */
    readonly sealSeq: number | null;
    /** The tree head the seal's inclusion proof was checked against (the store's indexed tree), or null. */
    readonly tree: { readonly size: number; readonly rootHash: string } | null;
  };
}

/**
 * Verifies one session at O(its events + log ledger size): its hash chain, its record against the chain and
 * the seal, the seal's signature (by the key valid when it was sealed), the seal entry's own ledger hash, and
 * the seal's inclusion in the ledger's Merkle tree. The seal is looked up by index (Store.findSeal), never by
 * reading the ledger; the rest of the ledger (links, other entries, double seals, tombstones, published
 * checkpoints) is the full audit's job (verifyStore).
 *
 * The inclusion proof is checked against the tree head the store has indexed (extended to the seal if needed),
 * not a checkpoint signed for the occasion: this runs on a GET that every timeline view makes, and signing
 * would append a ledger entry per page view. The leaf is recomputed from the entry as it is now and the path
 * and root come from nodes stored when it was indexed, so a seal rewritten afterwards fails even when its
 * ledger hash was recomputed to match. Only a rewrite of the index as well needs the signed root of a
 * published checkpoint to show, which `airlock verify --checkpoint` compares.
 */
export async function verifySession(store: Store, keys: readonly PublicKeyInfo[], id: string): Promise<SessionVerifyReport> {
  const breaks: Break[] = [];
  const report = (b: Break) => breaks.push(b);
  const done = (events: number, sealed: boolean, checked: SessionVerifyReport['checked']): SessionVerifyReport => {
    breaks.sort(compareBreaks);
    const listed = breaks.map((b) => ({ seq: b.seq, problem: b.what }));
    return { sessionId: id, ok: listed.length === 0, sealed, events, breaks: listed, checked };
  };

  const session = await store.getSession(id);
  if (!session) {
    report({ sessionId: id, seq: null, what: 'no such session in the store' });
    return done(0, false, { sealSeq: null, tree: null });
  }
  const chain = new ChainChecker(id, report);
  try {
    for await (const e of store.readEvents(id)) chain.push(e);
  } catch (err) {
    report({ sessionId: id, seq: chain.length, what: `event unreadable: ${(err as Error).message}` });
  }
  chain.finish();
  checkSessionRecord(session, chain, report);
  checkOpening(session, chain, keys, report);

  // Looked up after the events: the recorder ends the session record just before it appends the seal.
  const seal = await store.findSeal(id);
  if (session.endedAt === null) {
    if (seal) report({ sessionId: id, seq: null, ledgerSeq: seal.seq, what: 'session is open in the store but sealed in the ledger' });
    return done(chain.present, false, { sealSeq: seal?.seq ?? null, tree: null });
  }
  if (!seal) {
    report({ sessionId: id, seq: null, what: 'closed session has no seal in the ledger' });
    return done(chain.present, false, { sealSeq: null, tree: null });
  }
  let sealHolds = true;
  const at = (what: string): Break => {
    sealHolds = false;
    return { sessionId: id, seq: null, ledgerSeq: seal.seq, what };
  };
  const data = sealOf(seal);
  if (!data) {
    report(at('malformed seal entry'));
  } else {
    const problem = sealSignatureProblem(keys, id, seal, data);
    if (problem) report(at(`seal: ${problem}`));
    checkAgainstSeal(session, chain, data, report);
  }
  if (ledgerHash(seal.prevHash, seal) !== seal.hash) report(at('ledger seal entry hash mismatch (entry altered)'));
  const tree = await checkInclusion(store, seal, (b) => report(at(b)));
  return done(chain.present, sealHolds, { sealSeq: seal.seq, tree });
}

async function checkInclusion(store: Store, seal: LedgerEntry, problem: (what: string) => void): Promise<SessionVerifyReport['checked']['tree']> {
  try {
    const size = Math.max(await store.merkleLeafCount(), seal.seq);
    const root = await merkleRoot(store, size);
    const proof = await inclusionProof(store, seal.seq, size);
    if (!verifyInclusion(seal.seq - 1, size, ledgerLeaf(seal), proof, root)) {
      problem(`seal not included in the ledger's Merkle tree (size ${size}) as indexed: the entry was altered after it was logged`);
    }
    return { size, rootHash: root.toString('hex') };
  } catch (err) {
    problem(`no Merkle inclusion proof for the seal: ${(err as Error).message}`);
    return null;
  }
}
