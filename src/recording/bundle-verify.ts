import { createHash } from 'node:crypto';
import { ledgerHash } from './chain.ts';
import { ChainChecker, SESSION_FIELDS, checkAgainstSeal, checkSessionRecord, compareBreaks, sealSignatureProblem, type Break, type SessionFields } from './chain-check.ts';
import {
  BUNDLE_FORMAT, BUNDLE_VERSIONS, entryOf, readLines,
  type BundleLine, type CheckpointLine, type EntryLine, type EventLine, type HeaderLine, type ProofLine, type SessionLine, type SignatureLine,
} from './bundle-format.ts';
import { keyIdOf, type PublicKeyInfo } from './keys.ts';
import { LedgerChecker, checkCheckpoint, treeHead, type Checkpoint } from './ledger-check.ts';
import { verifyInclusion, type Hash } from './merkle.ts';
import { ledgerLeaf } from './merkle-index.ts';
import { bundleMessage, checkSigned } from './signatures.ts';
import type { VerifyReport } from './verify.ts';

export interface BundleReport extends VerifyReport {
  /** Keys the bundle says signed it: compare them with the gateway's published keys unless trustedKeys was given. */
  readonly keyIds: string[];
  readonly sessionIds: string[];
}

/**
 * Verifies a bundle offline with nothing but the file: the header's keys, every session's chain against its
 * seal and record, each seal's signature and its inclusion in the signed checkpoint's Merkle tree (version 1:
 * its linkage through the ledger segment to the checkpoint), and the signature over the whole file. With `trustedKeys`, every key in the header must be one of them.
 * Streams the file; never throws on a damaged one (every problem is a break).
 */
export async function verifyBundle(file: string, opts: { trustedKeys?: readonly PublicKeyInfo[] } = {}): Promise<BundleReport> {
  const v = new BundleVerifier(opts.trustedKeys);
  for await (const { bytes, terminated } of readLines(file)) v.line(bytes, terminated);
  return v.finish();
}

class BundleVerifier {
  private readonly breaks: Break[] = [];
  private readonly hash = createHash('sha256');
  private lineNo = 0;
  private header: HeaderLine | undefined;
  private keys: PublicKeyInfo[] = [];
  private current: { s: SessionFields; chain: ChainChecker; sealed: boolean } | undefined;
  private version: unknown;
  private readonly bundled = new Map<string, { seq: number; hash: string; linked: boolean; leaf: Hash; proof?: ProofLine }>();
  private ledger: LedgerChecker | undefined;
  private checkpoint: Checkpoint | undefined;
  private signed = false;
  private events = 0;
  private readonly report = (b: Break) => this.breaks.push(b);

  constructor(private readonly trustedKeys: readonly PublicKeyInfo[] | undefined) {}

  line(bytes: Buffer, terminated: boolean): void {
    this.lineNo++;
    if (this.signed) {
      this.report(this.at('data after the signature line', null));
      return;
    }
    let line: BundleLine;
    try {
      line = JSON.parse(bytes.toString('utf8'));
      if (!line || typeof line !== 'object') throw new Error('not an object');
    } catch {
      this.report(this.at('not valid JSON (corrupted)'));
      this.hash.update(bytes).update('\n');
      return;
    }
    if (line.type === 'signature') return this.signature(line, terminated);
    this.hash.update(bytes).update('\n');
    if (this.lineNo === 1 && line.type !== 'header') this.report(this.at('first line is not the header', null));
    try {
      this.dispatch(line);
    } catch (err) {
      this.report(this.at(`malformed ${String(line.type)} line (${(err as Error).message})`));
    }
  }

  finish(): BundleReport {
    const report = this.report;
    this.endSession();
    if (!this.header) report({ sessionId: null, seq: null, what: 'no header line' });
    if (!this.checkpoint) report({ sessionId: null, seq: null, what: 'no checkpoint line' });
    if (!this.signed) report({ sessionId: null, seq: null, what: 'no signature line (bundle truncated?)' });
    for (const id of this.header?.sessions ?? []) {
      if (!this.bundled.has(id)) report({ sessionId: id, seq: null, what: 'session listed in the header but not (completely) in the bundle' });
    }
    const head = this.checkpoint && treeHead(this.checkpoint);
    for (const [id, b] of this.bundled) {
      if (this.version === 1) {
        if (!b.linked) report({ sessionId: id, seq: null, ledgerSeq: b.seq, what: 'seal not found in the ledger segment' });
      } else if (!b.proof) report({ sessionId: id, seq: null, ledgerSeq: b.seq, what: 'seal has no inclusion proof' });
      else if (head && head !== 'malformed') {
        const p = b.proof;
        if (p.treeSize !== head.treeSize) report({ sessionId: id, seq: null, ledgerSeq: b.seq, what: `inclusion proof is for tree size ${p.treeSize}, the checkpoint signs size ${head.treeSize}` });
        else if (!verifyInclusion(p.leafIndex, p.treeSize, b.leaf, p.path.map((h) => Buffer.from(h, 'hex')), Buffer.from(head.rootHash, 'hex'))) {
          report({ sessionId: id, seq: null, ledgerSeq: b.seq, what: `seal is not in the checkpoint's Merkle tree (size ${head.treeSize}): inclusion proof fails` });
        }
      }
      const seal = this.ledger?.seals.get(id);
      if (seal && seal.count > 1) report({ sessionId: id, seq: null, ledgerSeq: seal.ledgerSeq, what: `session sealed ${seal.count} times in the ledger` });
      const tomb = this.ledger?.tombstones.get(id);
      if (tomb) report({ sessionId: id, seq: null, ledgerSeq: tomb.ledgerSeq, what: 'session tombstoned in the ledger segment' });
    }
    this.breaks.sort(compareBreaks);
    const cp = this.checkpoint;
    return {
      checked: { sessions: this.bundled.size, events: this.events, ledgerEntries: this.ledger?.entries ?? this.bundled.size, openSessions: 0, purgedSessions: 0 },
      open: [],
      checkpoint: cp ? { ledgerSeq: cp.ledgerSeq, time: cp.time } : null,
      tree: head && head !== 'malformed' ? { size: head.treeSize, rootHash: head.rootHash } : null,
      consistency: null,
      breaks: this.breaks,
      keyIds: this.keys.map((k) => k.keyId),
      sessionIds: Array.isArray(this.header?.sessions) ? this.header.sessions : [],
    };
  }

  private at(what: string, sessionId: string | null = this.current?.s.id ?? null, seq: number | null = null): Break {
    return { sessionId, seq, what: `line ${this.lineNo}: ${what}` };
  }

  private dispatch(line: BundleLine): void {
    switch (line.type) {
      case 'header':
        return this.headerLine(line);
      case 'session':
        return this.sessionLine(line);
      case 'event':
        return this.eventLine(line);
      case 'seal':
        return this.sealLine(line);
      case 'proof':
        return this.proofLine(line);
      case 'ledger':
        return this.ledgerLine(line);
      case 'checkpoint':
        return this.checkpointLine(line);
      default:
        this.report(this.at(`unknown line type ${JSON.stringify((line as { type?: unknown }).type)}`));
    }
  }

  private endSession(): void {
    if (this.current && !this.current.sealed) this.report(this.at('session has no seal line', this.current.s.id));
    this.current = undefined;
  }

  private headerLine(line: HeaderLine): void {
    if (this.lineNo !== 1) this.report(this.at('header not on the first line', null));
    this.header = line;
    this.version = line.version;
    if (line.format !== BUNDLE_FORMAT || !BUNDLE_VERSIONS.includes(line.version)) this.report(this.at(`unsupported bundle format ${String(line.format)} v${String(line.version)}`, null));
    this.keys = Array.isArray(line.keys) ? line.keys.filter((k) => k && typeof k === 'object') : [];
    for (const k of this.keys) {
      let id: string | undefined;
      try {
        id = keyIdOf(k.publicKeyPem);
      } catch {
        id = undefined;
      }
      if (id !== k.keyId) this.report(this.at(`public key ${String(k.keyId)} does not match its keyId`, null));
      if (this.trustedKeys) {
        const trusted = this.trustedKeys.find((t) => t.keyId === k.keyId);
        if (!trusted || trusted.publicKeyPem.trim() !== String(k.publicKeyPem).trim()) this.report(this.at(`key ${String(k.keyId)} is not one of the trusted gateway keys`, null));
      }
    }
  }

  private sessionLine(line: SessionLine): void {
    this.endSession();
    const s = (line.session && typeof line.session === 'object' ? line.session : {}) as SessionFields;
    this.current = { s, chain: new ChainChecker(String(s.id), this.report), sealed: false };
    const fields = Object.keys(s);
    const extra = fields.filter((f) => !(SESSION_FIELDS as readonly string[]).includes(f));
    const missing = SESSION_FIELDS.filter((f) => !fields.includes(f));
    if (extra.length || missing.length) this.report(this.at(`session record fields wrong (${[...missing, ...extra].join(', ')})`));
    if (!Array.isArray(this.header?.sessions) || !this.header.sessions.includes(s.id)) this.report(this.at('session not listed in the header'));
    if (s.endedAt === null) this.report(this.at('session is not ended'));
  }

  private eventLine(line: EventLine): void {
    const e = line.event && typeof line.event === 'object' ? line.event : undefined;
    if (!e) throw new Error('no event');
    if (!this.current || this.current.sealed) {
      this.report(this.at('event outside a session', e.sessionId ?? null, e.seq ?? null));
      return;
    }
    this.current.chain.push({ ...e, searchText: e.search, hash: line.hash });
    this.events++;
  }

  private sealLine(line: EntryLine): void {
    const cur = this.current;
    const e = entryOf(line);
    if (!cur || cur.sealed) {
      this.report(this.at('seal outside a session', e.sessionId ?? null));
      return;
    }
    cur.sealed = true;
    const id = cur.s.id;
    cur.chain.finish();
    checkSessionRecord(cur.s, cur.chain, this.report);
    if (ledgerHash(e.prevHash, e) !== e.hash) this.report({ ...this.at('seal entry hash mismatch (altered)', id), ledgerSeq: e.seq });
    if (e.kind !== 'seal' || e.sessionId !== id || !e.data || typeof e.data !== 'object') {
      this.report({ ...this.at(`seal line is a ${String(e.kind)} entry for ${String(e.sessionId)}`, id), ledgerSeq: e.seq });
      return;
    }
    const d = e.data;
    const seal = { ledgerSeq: e.seq, finalHash: String(d.finalHash), eventCount: Number(d.eventCount), endedAt: Number(d.endedAt), endReason: String(d.endReason) };
    checkAgainstSeal(cur.s, cur.chain, seal, this.report);
    if (this.version !== 1) {
      // Version 1 checks seal signatures in the ledger segment; from version 2 the seal line is the only copy.
      const problem = sealSignatureProblem(this.keys, id, e, seal);
      if (problem) this.report({ ...this.at(`seal: ${problem}`, id), ledgerSeq: e.seq });
    }
    this.bundled.set(id, { seq: e.seq, hash: e.hash, linked: false, leaf: ledgerLeaf(e) });
  }

  private proofLine(line: ProofLine): void {
    const cur = this.current;
    const b = cur?.sealed ? this.bundled.get(cur.s.id) : undefined;
    if (this.version === 1 || !b || b.proof) {
      this.report(this.at('proof line not right after a seal line'));
      return;
    }
    const hex = /^[0-9a-f]{64}$/;
    if (!Number.isSafeInteger(line.leafIndex) || !Number.isSafeInteger(line.treeSize) || !Array.isArray(line.path) || !line.path.every((h) => typeof h === 'string' && hex.test(h))) {
      throw new Error('leafIndex, treeSize or path');
    }
    if (line.leafIndex !== b.seq - 1) this.report({ ...this.at(`inclusion proof is for leaf ${line.leafIndex}, the seal is ledger #${b.seq} (leaf ${b.seq - 1})`), ledgerSeq: b.seq });
    b.proof = line;
  }

  private ledgerLine(line: EntryLine): void {
    this.endSession();
    if (this.version !== 1) {
      this.report(this.at('ledger line in a bundle of version 2 (seals are proven by inclusion proofs)', line.entry?.sessionId ?? null));
      return;
    }
    const e = entryOf(line);
    this.ledger ??= new LedgerChecker(this.keys, this.report, { start: { seq: e.seq, prevHash: e.prevHash } });
    this.ledger.push(e);
    const b = e.sessionId ? this.bundled.get(e.sessionId) : undefined;
    if (b && e.seq === b.seq) {
      if (e.hash === b.hash) b.linked = true;
      else this.report({ ...this.at('the seal differs from its entry in the ledger segment', e.sessionId), ledgerSeq: e.seq });
    }
  }

  private checkpointLine(line: CheckpointLine): void {
    this.endSession();
    const cp = line.checkpoint;
    const problem = checkCheckpoint(cp, this.keys);
    if (problem) this.report(this.at(`checkpoint: ${problem}`, null));
    if (problem === 'malformed checkpoint') return;
    this.checkpoint = cp;
    if (this.version !== 1) {
      if (!treeHead(cp)) this.report(this.at('checkpoint signs no Merkle tree head', null));
      return;
    }
    const ledger = this.ledger;
    if (!ledger || ledger.lastSeq !== cp.ledgerSeq || ledger.lastHash !== cp.ledgerHash) {
      this.report(this.at(`checkpoint (ledger seq ${cp.ledgerSeq}) does not match the end of the ledger segment`, null));
    }
  }

  private signature(line: SignatureLine, terminated: boolean): void {
    this.signed = true;
    const digest = this.hash.digest('hex');
    if (line.sha256 !== digest) this.report(this.at('bundle digest mismatch: bytes before the signature line were altered', null));
    const problem = checkSigned(this.keys, line.keyId, this.checkpoint?.time ?? Date.now(), bundleMessage(String(line.sha256)), line.signature);
    if (problem) this.report(this.at(`bundle signature: ${problem}`, null));
    if (!terminated) this.report(this.at('signature line not terminated by a newline', null));
  }
}
