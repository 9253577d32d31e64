import { hash as oneShotHash } from 'node:crypto';

/**
 * Canonical JSON: object keys sorted, no whitespace, numbers as JSON prints them. Stable across
 * backends and machines, so a chain computed at write time verifies anywhere.
 */
export function canonical(value: unknown): string {
  // Fast path: when every object in the value already has its keys in sorted order, the engine's own
  // JSON.stringify produces exactly the canonical form (hot event shapes are built that way).
  if (value !== null && typeof value === 'object' && keysSorted(value)) return JSON.stringify(value);
  return canonicalSlow(value);
}

function keysSorted(value: object): boolean {
  if (Array.isArray(value)) {
    for (const v of value) if (v !== null && typeof v === 'object' && !keysSorted(v)) return false;
    return true;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return false; // Buffers, Dates…: the slow path decides
  let prev: string | undefined;
  for (const k in value) {
    if (prev !== undefined && !(prev < k)) return false;
    prev = k;
    const v = (value as Record<string, unknown>)[k];
    if (v !== null && typeof v === 'object' && !keysSorted(v)) return false;
    if (typeof v === 'number' && !Number.isFinite(v)) return false;
    if (typeof v === 'function' || typeof v === 'bigint' || typeof v === 'symbol') return false;
  }
  return true;
}

/** The reference canonicaliser (sorts every object); `canonical` takes a faster path when it may. */
export function canonicalSlow(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i ? ',' : '') + canonicalSlow(value[i]);
    return `${out}]`;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).sort();
  let out = '{';
  let first = true;
  for (const k of keys) {
    const v = obj[k];
    if (v === undefined) continue;
    out += `${first ? '' : ','}${JSON.stringify(k)}:${canonicalSlow(v)}`;
    first = false;
  }
  return `${out}}`;
}

export const GENESIS = '0'.repeat(64);

export interface ChainedFields {
  readonly sessionId: string;
  readonly seq: number;
  readonly time: number;
  readonly type: string;
  readonly data: unknown;
}

/**
 * What a chain of version 2 (sessions whose session.start says `chain: 2`) also covers: the columns search and
 * filters read beside the event (`events.outcome`, `events.search_text`). Each enters the hashed event only when
 * set, under the keys `outcome` and `search`.
 */
export interface IndexedFields {
  readonly outcome?: string | null;
  readonly searchText?: string | null;
}

/** The chain version new sessions are recorded with (session.start data `chain`). */
export const CHAIN_VERSION = 2;

/** hash = SHA-256(prev_hash ‖ canonical(event)), hex; `indexed` for a version 2 chain. */
export function eventHash(prevHash: string, e: ChainedFields, indexed?: IndexedFields): string {
  return eventHashOfCanonicalData(prevHash, e, canonical(e.data), indexed);
}

/**
 * The same hash when the caller already holds `canonical(e.data)` (the recorder stores that string, so it
 * is computed once). Keys of the event in sorted order: data, seq, sessionId, time, type.
 */
export function eventHashOfCanonicalData(prevHash: string, e: Omit<ChainedFields, 'data'>, dataJson: string, indexed?: IndexedFields): string {
  // One template, so the engine flattens the text once; `${n}` of a finite number is what JSON.stringify prints.
  const seq = Number.isFinite(e.seq) ? e.seq : JSON.stringify(e.seq);
  const time = Number.isFinite(e.time) ? e.time : JSON.stringify(e.time);
  const outcome = indexed?.outcome != null ? `,"outcome":${JSON.stringify(indexed.outcome)}` : '';
  const search = indexed?.searchText != null ? `,"search":${JSON.stringify(indexed.searchText)}` : '';
  return oneShotHash('sha256', `${prevHash}{"data":${dataJson}${outcome}${search},"seq":${seq},"sessionId":${JSON.stringify(e.sessionId)},"time":${time},"type":${JSON.stringify(e.type)}}`, 'hex');
}

export interface LedgerFields {
  readonly seq: number;
  readonly kind: string;
  readonly sessionId: string | null;
  readonly time: number;
  readonly data: unknown;
}

export function ledgerHash(prevHash: string, e: LedgerFields): string {
  return oneShotHash('sha256', prevHash + canonical({ seq: e.seq, kind: e.kind, sessionId: e.sessionId, time: e.time, data: e.data }), 'hex');
}

/** The bytes an Ed25519 seal signs. */
export function sealMessage(sessionId: string, eventCount: number, finalHash: string): Buffer {
  return Buffer.from(`airlock-seal-v1\n${sessionId}\n${eventCount}\n${finalHash}`);
}
