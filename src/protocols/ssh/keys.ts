import { createHash } from 'node:crypto';
import ssh2 from 'ssh2';
import type { ParsedKey } from 'ssh2';
import { AirlockError, ErrorCodes } from '../../core/errors.ts';

const { utils } = ssh2;

export interface PublicKeyInfo {
  /** Key type from the blob: `ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256` … */
  readonly type: string;
  /** The SSH wire-format public key. */
  readonly blob: Buffer;
  /** `SHA256:…`, as `ssh-keygen -l` prints it. */
  readonly fingerprint: string;
  /** `type base64`, without comment. */
  readonly line: string;
  readonly comment: string;
}

/** `SHA256:<unpadded base64 of SHA-256(blob)>`, OpenSSH's fingerprint format. */
export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type named at the start of a wire-format key blob (`string type ‖ …`). */
export function blobType(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const n = blob.readUInt32BE(0);
  return n > 0 && 4 + n <= blob.length && n < 64 ? blob.toString('latin1', 4, 4 + n) : 'unknown';
}

export function publicKeyLine(blob: Buffer): string {
  return `${blobType(blob)} ${blob.toString('base64')}`;
}

/** Parses one OpenSSH public key line (`ssh-ed25519 AAAA… comment`); refuses private keys. */
export function parsePublicKey(text: string | Buffer): PublicKeyInfo {
  const parsed = utils.parseKey(typeof text === 'string' ? text.trim() : text);
  const key: ParsedKey | undefined = parsed instanceof Error ? undefined : Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key) throw new AirlockError(ErrorCodes.usage, `not an SSH public key${parsed instanceof Error ? `: ${parsed.message}` : ''}`);
  if (key.isPrivateKey()) throw new AirlockError(ErrorCodes.usage, 'that is a private key; give the public key (the .pub file)');
  const blob = key.getPublicSSH();
  return { type: blobType(blob), blob, fingerprint: fingerprintOf(blob), line: publicKeyLine(blob), comment: key.comment ?? '' };
}

/** Parses the `type base64` form used for pinned host keys; undefined when it is not one. */
export function parseKeyLine(line: string): { type: string; blob: Buffer } | undefined {
  const [type, b64] = line.trim().split(/\s+/);
  if (!type || !b64 || !/^[A-Za-z0-9+/]+=*$/.test(b64)) return undefined;
  const blob = Buffer.from(b64, 'base64');
  return blobType(blob) === type ? { type, blob } : undefined;
}

/** Verifies a publickey-auth signature over `data` with the registered key's text. */
export function verifySignature(publicKeyText: string, presentedBlob: Buffer, data: Buffer, signature: Buffer, hashAlgo: string | undefined): boolean {
  const parsed = utils.parseKey(publicKeyText);
  const key = parsed instanceof Error ? undefined : Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || !key.getPublicSSH().equals(presentedBlob)) return false;
  try {
    return key.verify(data, signature, hashAlgo) === true;
  } catch {
    return false;
  }
}

/** Host-key algorithms that may present a key of `type` (RSA keys sign with several hashes). */
export function hostKeyAlgorithmsFor(type: string): string[] {
  return type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [type];
}
