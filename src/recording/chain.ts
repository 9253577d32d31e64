import { createHash } from 'node:crypto';

/**
 * Canonical JSON: object keys sorted, no whitespace, numbers as JSON prints them. Stable across
 * backends and machines, so a chain computed at write time verifies anywhere.
 */
export function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    return value === undefined ? 'null' : JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(obj[k])}`).join(',')}}`;
}

export const GENESIS = '0'.repeat(64);

export interface ChainedFields {
  readonly sessionId: string;
  readonly seq: number;
  readonly time: number;
  readonly type: string;
  readonly data: unknown;
}

/** hash = SHA-256(prev_hash ‖ canonical(event)), hex. */
export function eventHash(prevHash: string, e: ChainedFields): string {
  return createHash('sha256')
    .update(prevHash)
    .update(canonical({ sessionId: e.sessionId, seq: e.seq, time: e.time, type: e.type, data: e.data }))
    .digest('hex');
}

export interface LedgerFields {
  readonly seq: number;
  readonly kind: string;
  readonly sessionId: string | null;
  readonly time: number;
  readonly data: unknown;
}

export function ledgerHash(prevHash: string, e: LedgerFields): string {
  return createHash('sha256')
    .update(prevHash)
    .update(canonical({ seq: e.seq, kind: e.kind, sessionId: e.sessionId, time: e.time, data: e.data }))
    .digest('hex');
}

/** The bytes an Ed25519 seal signs. */
export function sealMessage(sessionId: string, eventCount: number, finalHash: string): Buffer {
  return Buffer.from(`airlock-seal-v1\n${sessionId}\n${eventCount}\n${finalHash}`);
}
