import { createHash, createHmac, createPrivateKey, randomBytes, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface PublicKeyInfo {
  readonly keyId: string;
  readonly publicKeyPem: string;
  readonly validFrom: number;
  readonly validUntil: number | null;
}

/** Ed25519 signing key of this gateway plus every public key it has used (so old seals still verify). */
export class KeyRing {
  private constructor(
    private readonly privateKey: KeyObject,
    readonly current: PublicKeyInfo,
    readonly keys: readonly PublicKeyInfo[],
    private readonly digestSecret: Buffer,
  ) {}

  /**
   * The key of a session's result digests (db.result `digest`): an HMAC key derived from `keys/result-digest.key`
   * (32 random bytes, 0600, made on first start) and the session id. Keyed, so a recording alone (an exported
   * bundle, a copy of the events) cannot confirm a guessed result offline; per session, so equal results of two
   * sessions do not show as equal digests. `id` names the secret, so a replay knows whether it can compare.
   */
  resultDigestKey(sessionId: string): { key: Buffer; id: string } {
    return {
      key: createHmac('sha256', this.digestSecret).update(`airlock result digest\0${sessionId}`).digest(),
      id: createHash('sha256').update(this.digestSecret).digest('hex').slice(0, 8),
    };
  }

  /**
   * Loads `keys/signing-ed25519.pem` (0600) from the data dir, generating it on first start, or the PEM named
   * by AIRLOCK_SIGNING_KEY_FILE. The public half of every key ever used is kept in `keys/public-keys.json`.
   */
  static load(dataDir: string, now = Date.now()): KeyRing {
    const dir = join(dataDir, 'keys');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = process.env.AIRLOCK_SIGNING_KEY_FILE ?? join(dir, 'signing-ed25519.pem');
    if (!existsSync(file)) {
      const { privateKey } = generateKeyPairSync('ed25519');
      writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    }
    chmodSync(file, 0o600);
    const privateKey = createPrivateKey(readFileSync(file));
    const publicKeyPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
    const keyId = keyIdOf(publicKeyPem);
    const listFile = join(dir, 'public-keys.json');
    let keys: PublicKeyInfo[] = existsSync(listFile) ? JSON.parse(readFileSync(listFile, 'utf8')) : [];
    if (!keys.some((k) => k.keyId === keyId)) {
      keys = keys.map((k) => (k.validUntil === null ? { ...k, validUntil: now } : k));
      keys.push({ keyId, publicKeyPem, validFrom: now, validUntil: null });
      writeFileSync(listFile, JSON.stringify(keys, null, 2));
    }
    const current = keys.find((k) => k.keyId === keyId)!;
    const digestFile = join(dir, 'result-digest.key');
    try {
      writeFileSync(digestFile, randomBytes(32), { mode: 0o600, flag: 'wx' }); // never replaced: old digests stay comparable
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    return new KeyRing(privateKey, current, keys, readFileSync(digestFile));
  }

  sign(message: Buffer): string {
    return sign(null, message, this.privateKey).toString('base64');
  }
}

export function keyIdOf(publicKeyPem: string): string {
  const raw = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(raw).digest('hex').slice(0, 16);
}

export function verifySignature(publicKeyPem: string, message: Buffer, signature: string): boolean {
  try {
    return verify(null, message, createPublicKey(publicKeyPem), Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}
