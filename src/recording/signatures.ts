import type { PublicKeyInfo } from './keys.ts';
import { verifySignature } from './keys.ts';

/**
 * The byte strings the gateway key signs besides seals (see chain.ts sealMessage), and the check shared
 * by every verifier: the key named by keyId exists, the signing time falls in its validity period, and the
 * Ed25519 signature holds.
 */

/** Tolerance on key validity periods: seal times come from the monotonic clock, key periods from the wall clock. */
export const CLOCK_SKEW_MS = 5 * 60_000;

/** v1 signs the ledger head; v2 also the Merkle tree head (tree size, root hash) over the same entries. */
export function checkpointMessage(ledgerSeq: number, ledgerHash: string, time: number, tree?: { treeSize: number; rootHash: string }): Buffer {
  if (!tree) return Buffer.from(`airlock-checkpoint-v1\n${ledgerSeq}\n${ledgerHash}\n${time}`);
  return Buffer.from(`airlock-checkpoint-v2\n${ledgerSeq}\n${ledgerHash}\n${tree.treeSize}\n${tree.rootHash}\n${time}`);
}

export function tombstoneMessage(sessionId: string, sealHash: string, purgedAt: number, policy: string): Buffer {
  return Buffer.from(`airlock-tombstone-v1\n${sessionId}\n${sealHash}\n${purgedAt}\n${policy}`);
}

/**
 * A session's opening: its session.start facts (everything but the signature itself), signed by the gateway that
 * opened it, so a session row and chain written into the store by anyone else never pass for one the gateway wrote.
 */
export function openingMessage(sessionId: string, startFacts: string): Buffer {
  return Buffer.from(`airlock-open-v1\n${sessionId}\n${startFacts}`);
}

/** An evidence bundle's trailer signs the SHA-256 (hex) of every byte before the trailer line. */
export function bundleMessage(sha256Hex: string): Buffer {
  return Buffer.from(`airlock-bundle-v1\n${sha256Hex}`);
}

/** Returns what is wrong with a signature, or null when it holds. */
export function checkSigned(keys: readonly PublicKeyInfo[], keyId: unknown, time: number, message: Buffer, signature: unknown): string | null {
  if (typeof keyId !== 'string' || typeof signature !== 'string') return 'keyId or signature missing';
  // Base64 has more than one spelling of the same bytes (padding bits); accept only the canonical one.
  if (Buffer.from(signature, 'base64').toString('base64') !== signature) return 'signature is not canonical base64';
  const key = keys.find((k) => k.keyId === keyId);
  if (!key) return `signed with unknown key ${keyId}`;
  if (!verifySignature(key.publicKeyPem, message, signature)) return `signature invalid (key ${keyId})`;
  if (time < key.validFrom - CLOCK_SKEW_MS || (key.validUntil !== null && time > key.validUntil + CLOCK_SKEW_MS)) {
    const until = key.validUntil === null ? 'now' : iso(key.validUntil);
    return `signed at ${iso(time)}, outside key ${keyId}'s validity ${iso(key.validFrom)} – ${until}`;
  }
  return null;
}

function iso(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms);
}
