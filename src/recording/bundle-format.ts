import { createReadStream } from 'node:fs';
import type { LedgerEntry, SessionRecord, StoredEvent } from '../store/types.ts';
import { canonical } from './chain.ts';
import { SESSION_FIELDS, type SessionFields } from './chain-check.ts';
import type { PublicKeyInfo } from './keys.ts';
import type { Checkpoint } from './ledger-check.ts';

/**
 * Lines of an evidence bundle (JSON Lines, UTF-8, one object per line, '\n' after every line); see
 * docs/evidence-bundle.md. Events and ledger entries carry their hashed content as canonical JSON
 * verbatim, so `sha256(prev ‖ that text)` can be checked with nothing but a text tool and sha256sum.
 */
export const BUNDLE_FORMAT = 'airlock-evidence-bundle';
/** 2: each seal carries an inclusion proof against the checkpoint's Merkle tree. 1 (still verified): a ledger segment. */
export const BUNDLE_VERSION = 2;
export const BUNDLE_VERSIONS: readonly number[] = [1, 2];

export interface HeaderLine {
  readonly type: 'header';
  readonly format: typeof BUNDLE_FORMAT;
  readonly version: number;
  readonly sessions: string[];
  readonly keys: PublicKeyInfo[];
}

export interface SessionLine {
  readonly type: 'session';
  readonly session: SessionFields;
}

export interface EventLine {
  readonly type: 'event';
  readonly hash: string;
  /** In a version 2 chain (chain.ts) also `outcome` and `search` when the event has them: what its hash covers. */
  readonly event: { sessionId: string; seq: number; time: number; type: string; data: Record<string, unknown>; outcome?: string; search?: string };
}

export interface EntryLine {
  /** 'seal': a bundled session's seal; 'ledger' (version 1 only): the ledger segment from the first seal to the checkpoint. */
  readonly type: 'seal' | 'ledger';
  readonly hash: string;
  readonly prevHash: string;
  readonly entry: { seq: number; kind: LedgerEntry['kind']; sessionId: string | null; time: number; data: Record<string, unknown> };
}

/** Version 2, after each seal line: the seal's audit path in the checkpoint's Merkle tree (RFC 9162 §2.1.3). */
export interface ProofLine {
  readonly type: 'proof';
  /** The seal's ledger seq − 1. */
  readonly leafIndex: number;
  readonly treeSize: number;
  /** Hex SHA-256 hashes, nearest the leaf first. */
  readonly path: string[];
}

export interface CheckpointLine {
  readonly type: 'checkpoint';
  readonly checkpoint: Checkpoint;
}

/** The last line: an Ed25519 signature over the SHA-256 of every byte before it. */
export interface SignatureLine {
  readonly type: 'signature';
  readonly sha256: string;
  readonly keyId: string;
  readonly signature: string;
}

export type BundleLine = HeaderLine | SessionLine | EventLine | EntryLine | ProofLine | CheckpointLine | SignatureLine;

export function headerLine(sessions: string[], keys: readonly PublicKeyInfo[]): string {
  const h: HeaderLine = { type: 'header', format: BUNDLE_FORMAT, version: BUNDLE_VERSION, sessions, keys: keys.map((k) => ({ ...k })) };
  return JSON.stringify(h);
}

export function sessionLine(s: SessionRecord): string {
  const session: Record<string, unknown> = {};
  for (const f of SESSION_FIELDS) session[f] = s[f];
  return JSON.stringify({ type: 'session', session });
}

/** `indexed`: the session's chain is version 2 (its session.start says so), whose hashes cover outcome and search text. */
export function eventLine(e: StoredEvent, indexed: boolean): string {
  const extra = indexed ? { outcome: e.outcome ?? undefined, search: e.searchText ?? undefined } : {};
  const content = canonical({ sessionId: e.sessionId, seq: e.seq, time: e.time, type: e.type, data: e.data, ...extra });
  return `{"type":"event","hash":${JSON.stringify(e.hash)},"event":${content}}`;
}

export function entryLine(type: 'seal' | 'ledger', e: LedgerEntry): string {
  const content = canonical({ seq: e.seq, kind: e.kind, sessionId: e.sessionId, time: e.time, data: e.data });
  return `{"type":"${type}","hash":${JSON.stringify(e.hash)},"prevHash":${JSON.stringify(e.prevHash)},"entry":${content}}`;
}

export function proofLine(leafIndex: number, treeSize: number, path: readonly Buffer[]): string {
  return JSON.stringify({ type: 'proof', leafIndex, treeSize, path: path.map((p) => p.toString('hex')) });
}

export function checkpointLine(cp: Checkpoint): string {
  const { ledgerSeq, ledgerHash, treeSize, rootHash, time, keyId, signature } = cp;
  return JSON.stringify({ type: 'checkpoint', checkpoint: { ledgerSeq, ledgerHash, treeSize, rootHash, time, keyId, signature } });
}

export function signatureLine(sha256: string, keyId: string, signature: string): string {
  return JSON.stringify({ type: 'signature', sha256, keyId, signature });
}

export function entryOf(l: EntryLine): LedgerEntry {
  return { ...l.entry, prevHash: l.prevHash, hash: l.hash };
}

/** Lines of a file as exact bytes (without the '\n'), streamed; `terminated` is false for a last line with no newline. */
export async function* readLines(file: string): AsyncIterable<{ bytes: Buffer; terminated: boolean }> {
  let rest: Buffer = Buffer.alloc(0);
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    let buf = rest.length ? Buffer.concat([rest, chunk]) : chunk;
    let nl = buf.indexOf(0x0a);
    while (nl !== -1) {
      yield { bytes: buf.subarray(0, nl), terminated: true };
      buf = buf.subarray(nl + 1);
      nl = buf.indexOf(0x0a);
    }
    rest = Buffer.from(buf);
  }
  if (rest.length) yield { bytes: rest, terminated: false };
}
