import type { LedgerEntry, SessionRecord } from '../store/types.ts';
import { CHAIN_VERSION, GENESIS, canonical, eventHash, sealMessage, type ChainedFields, type IndexedFields } from './chain.ts';
import type { PublicKeyInfo } from './keys.ts';
import { checkSigned, openingMessage } from './signatures.ts';

/** One thing wrong with the record. `seq` is the event's seq within the session; `ledgerSeq` the ledger entry's. */
export interface Break {
  readonly sessionId: string | null;
  readonly seq: number | null;
  readonly what: string;
  readonly ledgerSeq?: number;
}

export type Report = (b: Break) => void;

/** Orders breaks by session, then seq, then ledger seq (store-wide ones first). */
export function compareBreaks(a: Break, b: Break): number {
  const sa = a.sessionId ?? '';
  const sb = b.sessionId ?? '';
  if (sa !== sb) return sa < sb ? -1 : 1;
  return (a.seq ?? -1) - (b.seq ?? -1) || (a.ledgerSeq ?? -1) - (b.ledgerSeq ?? -1);
}

export interface ChainEvent extends ChainedFields, IndexedFields {
  readonly hash: string;
}

/** How far back (stored hashes) and around (seqs) a broken link is searched to tell "reordered" from "altered". */
const WINDOW = 16;
/** Per session, breaks beyond this many are counted rather than listed. */
const MAX_LISTED = 50;

interface Pending {
  readonly e: ChainEvent;
  readonly expiresAt: number;
}

/**
 * Checks one session's chain as its events stream by (in seq order), holding only a small window:
 * seq contiguous from 0, and every hash recomputed from its predecessor. When a hash does not match,
 * nearby predecessors and seqs are tried so a moved event is reported as reordered rather than altered,
 * and an intact event whose predecessor moved is not blamed.
 */
export class ChainChecker {
  /** Chain length: last seq + 1. */
  length = 0;
  /** Events actually present. */
  present = 0;
  /** Stored hash of the last event (the chain head), or null when there is none. */
  head: string | null = null;
  first: ChainEvent | undefined;
  last: ChainEvent | undefined;
  private prev = GENESIS;
  /** Version 2 (session.start says so): outcome and search text are in each event's hash. */
  private indexed = false;
  private afterGap = false;
  private readonly recent: string[] = [];
  private pending: Pending[] = [];
  private listed = 0;
  private unlisted = 0;

  constructor(
    readonly sessionId: string,
    private readonly report: Report,
  ) {}

  push(e: ChainEvent): void {
    const sid = this.sessionId;
    if (e.sessionId !== sid) this.emit({ sessionId: sid, seq: e.seq, what: `event belongs to session ${e.sessionId}` });
    if (!Number.isInteger(e.seq) || e.seq < this.length) {
      this.emit({ sessionId: sid, seq: e.seq, what: `event out of order: seq ${e.seq} after ${this.length - 1}` });
      return;
    }
    if (e.seq > this.length) {
      const from = this.length;
      const to = e.seq - 1;
      this.emit({ sessionId: sid, seq: from, what: from === to ? `event missing (seq ${from} deleted)` : `events missing (seq ${from}–${to} deleted)` });
      this.afterGap = true;
    }
    if (e.seq === 0 && e.type === 'session.start') this.indexed = (e.data as Record<string, unknown> | null)?.chain === CHAIN_VERSION;
    this.resolvePending(e.hash, e.seq);
    if (this.hash(this.prev, e) !== e.hash && !this.afterGap) this.mismatch(e);
    this.afterGap = false;
    this.prev = e.hash;
    this.head = e.hash;
    this.recent.push(e.hash);
    if (this.recent.length > WINDOW) this.recent.shift();
    this.first ??= e;
    this.last = e;
    this.length = e.seq + 1;
    this.present++;
  }

  /** Reports what is still unexplained; call once after the last event. */
  finish(): void {
    for (const p of this.pending) this.altered(p.e);
    this.pending = [];
    if (this.unlisted > 0) {
      this.report({ sessionId: this.sessionId, seq: null, what: `${this.unlisted} further breaks in this session not listed` });
    }
  }

  private mismatch(e: ChainEvent): void {
    const found = this.search(e, this.recent);
    if (found === undefined) {
      if (this.pending.length >= WINDOW) this.altered(this.pending.shift()!.e);
      this.pending.push({ e, expiresAt: e.seq + WINDOW });
    } else if (found !== e.seq) {
      this.emit({ sessionId: this.sessionId, seq: e.seq, what: `event recorded as seq ${found} (events reordered or renumbered)` });
    }
    // found === e.seq: the content is intact and chains to an earlier event; its moved neighbour is reported.
  }

  /** A later stored hash may be the predecessor an earlier, displaced event chained to. */
  private resolvePending(laterHash: string, seq: number): void {
    if (this.pending.length === 0) return;
    const keep: Pending[] = [];
    for (const p of this.pending) {
      const found = this.search(p.e, [laterHash]);
      if (found !== undefined) {
        this.emit({ sessionId: this.sessionId, seq: p.e.seq, what: `event recorded as seq ${found} (events reordered or renumbered)` });
      } else if (seq > p.expiresAt) {
        this.altered(p.e);
      } else {
        keep.push(p);
      }
    }
    this.pending = keep;
  }

  private search(e: ChainEvent, prevs: readonly string[]): number | undefined {
    for (const prev of prevs) {
      for (let s = Math.max(0, e.seq - WINDOW); s <= e.seq + WINDOW; s++) {
        if (this.hash(prev, { ...e, seq: s }) === e.hash) return s;
      }
    }
    return undefined;
  }

  private hash(prev: string, e: ChainEvent): string {
    return eventHash(prev, e, this.indexed ? e : undefined);
  }

  private altered(e: ChainEvent): void {
    this.emit({ sessionId: this.sessionId, seq: e.seq, what: 'event hash mismatch (content altered, or event inserted)' });
  }

  private emit(b: Break): void {
    if (this.listed >= MAX_LISTED) {
      this.unlisted++;
      return;
    }
    this.listed++;
    this.report(b);
  }
}

/** The session fields a bundle carries; each one is checked against the chain or the seal. */
export const SESSION_FIELDS = [
  'id', 'protocol', 'connection', 'subject', 'groups', 'kind', 'authMethod', 'credentialId', 'clientAddress', 'application',
  'endedAt', 'endReason', 'bytesIn', 'bytesOut', 'eventCount', 'lastHash',
] as const satisfies readonly (keyof SessionRecord)[];

export type SessionFields = Pick<SessionRecord, (typeof SESSION_FIELDS)[number]>;

const START_FIELDS = ['protocol', 'connection', 'subject', 'groups', 'kind', 'authMethod', 'credentialId', 'clientAddress', 'application'] as const;

/** What a seal entry says about its session. */
export interface SealData {
  readonly ledgerSeq: number;
  readonly finalHash: string;
  readonly eventCount: number;
  readonly endedAt: number;
  readonly endReason: string;
}

/** A seal entry's data, or undefined when it lacks what every seal has (a session, its final hash and event count). */
export function sealOf(e: LedgerEntry): SealData | undefined {
  const d = (e.data && typeof e.data === 'object' ? e.data : {}) as Record<string, unknown>;
  if (!e.sessionId || typeof d.finalHash !== 'string' || typeof d.eventCount !== 'number') return undefined;
  return { ledgerSeq: e.seq, finalHash: d.finalHash, eventCount: d.eventCount, endedAt: Number(d.endedAt), endReason: String(d.endReason) };
}

/** What is wrong with a seal entry's signature over the session's final hash and count (by the key valid when it was sealed), or null. */
export function sealSignatureProblem(keys: readonly PublicKeyInfo[], sessionId: string, e: LedgerEntry, seal: SealData): string | null {
  const d = e.data as Record<string, unknown>;
  return checkSigned(keys, d.keyId, e.time, sealMessage(sessionId, seal.eventCount, seal.finalHash), d.signature);
}

/**
 * What is wrong with a session's opening signature (Recorder.open), or null when the gateway's key signed it:
 * `start` is the session's first event.
 */
export function openingProblem(keys: readonly PublicKeyInfo[], sessionId: string, start: ChainEvent | undefined): string | null {
  if (!start || start.seq !== 0 || start.type !== 'session.start') return 'no session.start event';
  const { opening, ...facts } = start.data as Record<string, unknown>;
  const o = (opening && typeof opening === 'object' ? opening : {}) as Record<string, unknown>;
  if (opening === undefined) return 'session.start carries no opening signature';
  return checkSigned(keys, o.keyId, start.time, openingMessage(sessionId, canonical(facts)), o.signature);
}

/**
 * An open session counts only if the gateway's key signed its opening; a closed one is vouched for by its seal,
 * and sessions recorded before openings were signed have none, but one that has an opening must have a valid one.
 */
export function checkOpening(s: SessionFields & { readonly startedAt: number }, chain: ChainChecker, keys: readonly PublicKeyInfo[], report: Report): void {
  const problem = openingProblem(keys, s.id, chain.first);
  const present = (chain.first?.data as Record<string, unknown> | undefined)?.opening !== undefined;
  if (problem && (s.endedAt === null || present)) {
    report({ sessionId: s.id, seq: 0, what: `${s.endedAt === null ? 'open ' : ''}session not opened by the gateway (${problem}): rows written into the store by someone else, or left open by an older version` });
  }
}

/** The session record agrees with its session.start event (who, where from) and, once ended, with its session.end. */
export function checkSessionRecord(s: SessionFields, chain: ChainChecker, report: Report): void {
  const start = chain.first;
  if (!start || start.seq !== 0) return; // a missing first event is already a break
  if (start.type !== 'session.start') {
    report({ sessionId: s.id, seq: 0, what: `first event is ${start.type}, not session.start` });
    return;
  }
  const d = start.data as Record<string, unknown>;
  for (const f of START_FIELDS) {
    if (canonical(s[f] ?? null) !== canonical(d[f] ?? null)) {
      report({ sessionId: s.id, seq: 0, what: `session record's ${f} (${canonical(s[f])}) differs from its session.start event (${canonical(d[f])})` });
    }
  }
  const startedAt = 'startedAt' in s ? s.startedAt : undefined; // a bundle's session fields do not carry it
  if (d.startedAt !== undefined && startedAt !== undefined && d.startedAt !== startedAt) {
    report({ sessionId: s.id, seq: 0, what: `session record's startedAt (${String(startedAt)}) differs from its session.start event (${String(d.startedAt)})` });
  }
  if (s.endedAt === null) return;
  const end = chain.last;
  if (!end || end.type !== 'session.end') {
    report({ sessionId: s.id, seq: end?.seq ?? null, what: 'ended session does not end with a session.end event' });
    return;
  }
  const e = end.data as Record<string, unknown>;
  if (e.reason !== s.endReason) report({ sessionId: s.id, seq: end.seq, what: `session record's end reason ${s.endReason} differs from its session.end event (${String(e.reason)})` });
  if (e.bytesIn !== s.bytesIn || e.bytesOut !== s.bytesOut) {
    report({ sessionId: s.id, seq: end.seq, what: 'session record byte counts differ from its session.end event' });
  }
}

/** The chain as read ends exactly where the seal says, and the session record agrees with both. */
export function checkAgainstSeal(s: SessionFields, chain: ChainChecker, seal: SealData, report: Report): void {
  const at = { sessionId: s.id, ledgerSeq: seal.ledgerSeq };
  if (chain.length > seal.eventCount) {
    report({ ...at, seq: seal.eventCount, what: `event(s) beyond the sealed end: the seal covers ${seal.eventCount} events, the chain has ${chain.length}` });
  } else if (chain.length < seal.eventCount) {
    report({ ...at, seq: chain.length, what: `events missing at the end: the seal covers ${seal.eventCount} events, the chain has ${chain.length}` });
  } else if (chain.head !== seal.finalHash) {
    report({ ...at, seq: chain.length - 1, what: 'chain head does not match the sealed final hash (chain rewritten)' });
  }
  if (s.eventCount !== seal.eventCount) report({ ...at, seq: null, what: `session record says ${s.eventCount} events, the seal ${seal.eventCount}` });
  if (s.lastHash !== seal.finalHash) report({ ...at, seq: null, what: 'session record lastHash differs from the sealed final hash' });
  if (s.endedAt !== seal.endedAt || s.endReason !== seal.endReason) {
    report({ ...at, seq: null, what: `session record end (${s.endedAt}, ${s.endReason}) differs from the seal (${seal.endedAt}, ${seal.endReason})` });
  }
}
