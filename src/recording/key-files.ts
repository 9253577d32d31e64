import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AirlockError, ErrorCodes } from '../core/errors.ts';
import { KeyRing, type PublicKeyInfo } from './keys.ts';

/** Reads a public-keys.json (an array of PublicKeyInfo), as kept in `<dataDir>/keys/` or copied off the gateway. */
export function readPublicKeysFile(file: string): PublicKeyInfo[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new AirlockError(ErrorCodes.notFound, `cannot read public keys from ${file}: ${(err as Error).message}`, { cause: err });
  }
  const ok = Array.isArray(parsed) && parsed.every((k) => k && typeof k.keyId === 'string' && typeof k.publicKeyPem === 'string' && typeof k.validFrom === 'number');
  if (!ok) throw new AirlockError(ErrorCodes.config, `${file} is not a list of gateway public keys`);
  return parsed as PublicKeyInfo[];
}

/** Every public key the gateway in this data dir has signed with. */
export function readPublicKeys(dataDir: string): PublicKeyInfo[] {
  const file = join(dataDir, 'keys', 'public-keys.json');
  if (!existsSync(file)) throw new AirlockError(ErrorCodes.notFound, `no gateway keys in ${join(dataDir, 'keys')} (has the gateway run with this data dir?)`);
  return readPublicKeysFile(file);
}

/** The gateway's signing key, for admin commands that sign; refuses to create a new key where none exists. */
export function loadExistingKeyRing(dataDir: string): KeyRing {
  const file = process.env.AIRLOCK_SIGNING_KEY_FILE ?? join(dataDir, 'keys', 'signing-ed25519.pem');
  if (!existsSync(file)) throw new AirlockError(ErrorCodes.notFound, `no gateway signing key at ${file} (has the gateway run with this data dir?)`);
  return KeyRing.load(dataDir);
}
