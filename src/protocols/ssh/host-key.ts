import { chmodSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { parsePublicKey, type PublicKeyInfo } from './keys.ts';

export const HOST_KEY_FILE = 'ssh-host-ed25519';

export interface GatewayHostKey {
  /** OpenSSH private key text. */
  readonly privateKey: string;
  readonly publicKey: PublicKeyInfo;
  /** Where it lives, or undefined for an in-memory key (no data dir). */
  readonly file: string | undefined;
}

/**
 * The gateway's own SSH host key: `<dataDir>/keys/ssh-host-ed25519` (0600, public half beside it as
 * `.pub`), generated on first start so clients see the same key on every restart. Creation is atomic
 * (write a temp file, hard-link it into place), so two gateways sharing a data dir agree on one key.
 */
export function loadHostKey(dataDir: string | undefined): GatewayHostKey {
  if (!dataDir) {
    const pair = generateHostKey();
    return { privateKey: pair.private, publicKey: parsePublicKey(pair.public), file: undefined };
  }
  const dir = join(dataDir, 'keys');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, HOST_KEY_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const pair = generateHostKey();
    const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
    writeFileSync(tmp, pair.private, { mode: 0o600 });
    try {
      linkSync(tmp, file);
      writeFileSync(`${file}.pub`, `${pair.public.trim()}\n`, { mode: 0o644 });
    } catch (linkErr) {
      if ((linkErr as NodeJS.ErrnoException).code !== 'EEXIST') throw linkErr;
    } finally {
      rmSync(tmp, { force: true });
    }
    text = readFileSync(file, 'utf8');
  }
  chmodSync(file, 0o600);
  const parsed = ssh2.utils.parseKey(text);
  const key = parsed instanceof Error ? undefined : Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || !key.isPrivateKey()) throw new Error(`${file} is not an SSH private key (if the gateway generated it, delete it and its .pub to have a new one made)`);
  const blob = key.getPublicSSH();
  return { privateKey: text, publicKey: parsePublicKey(`${key.type} ${blob.toString('base64')}`), file };
}

type KeyPair = { private: string; public: string };

/**
 * A new ed25519 key pair that ssh2 (and OpenSSH) can read back. ssh2's generator writes about one key in 400
 * malformed (a public key with a leading zero byte comes out 31 bytes long, which both reject), so a key that does
 * not parse is made again.
 */
export function generateHostKey(generate: () => KeyPair = () => ssh2.utils.generateKeyPairSync('ed25519', { comment: 'airlock-gateway' })): KeyPair {
  for (let attempt = 1; ; attempt++) {
    const pair = generate();
    const parsed = ssh2.utils.parseKey(pair.private);
    if (!(parsed instanceof Error)) return pair;
    if (attempt === 10) throw new Error(`could not generate a readable SSH host key: ${parsed.message}`);
  }
}
