import ssh2 from 'ssh2';
import type { Client, ConnectConfig } from 'ssh2';
import type { SshConnectionConfig } from '../../config/schema.ts';
import { AirlockError, ErrorCodes } from '../../core/errors.ts';
import type { SshHostKeyRecord } from '../../store/types.ts';
import { fingerprintOf, hostKeyAlgorithmsFor, parseKeyLine, publicKeyLine } from './keys.ts';

export interface HostKeyStore {
  getSshHostKey(target: string): Promise<SshHostKeyRecord | undefined>;
  pinSshHostKey(key: SshHostKeyRecord): Promise<SshHostKeyRecord>;
}

/** How the target's host key was trusted. */
export interface HostKeyCheck {
  readonly fingerprint: string;
  /** config: matches `hostKey`; tofu-first: first seen now and pinned; tofu: matches the key pinned earlier. */
  readonly trust: 'config' | 'tofu-first' | 'tofu';
}

export class HostKeyMismatchError extends AirlockError {
  constructor(
    readonly connection: string,
    readonly target: string,
    readonly expected: string,
    readonly presented: string,
    readonly source: 'config' | 'tofu',
  ) {
    super(
      ErrorCodes.target,
      `the host key of ${connection} (${target}) does not match the ${source === 'config' ? 'configured hostKey' : 'key pinned at first use'}: ` +
        `expected ${expected}, got ${presented}; refusing to connect (possible man-in-the-middle)`,
      { expose: true },
    );
    this.name = 'HostKeyMismatchError';
  }
}

export interface TargetConnection {
  readonly client: Client;
  readonly hostKey: HostKeyCheck;
}

export interface ConnectTargetOptions {
  readonly name: string;
  readonly connection: SshConnectionConfig;
  readonly hostKeys: HostKeyStore;
  readonly readyTimeoutMs?: number;
  readonly now?: () => number;
}

/**
 * Opens the SSH connection to the target with the credential the gateway holds. The host key is checked
 * against `hostKey` from the config, or else trusted on first use: the first key seen for `host:port`
 * is stored and every later connection must present the same one.
 */
export async function connectTarget(o: ConnectTargetOptions): Promise<TargetConnection> {
  const { connection: c, name } = o;
  const target = `${c.host}:${c.port}`;
  let expected: { type: string; blob: Buffer; source: 'config' | 'tofu' } | undefined;
  if (c.hostKey) {
    const parsed = parseKeyLine(c.hostKey);
    if (!parsed) throw new AirlockError(ErrorCodes.config, `connection ${name}: hostKey must look like "ssh-ed25519 AAAA…"`, { expose: true });
    expected = { ...parsed, source: 'config' };
  } else {
    const pinned = await o.hostKeys.getSshHostKey(target);
    const parsed = pinned && parseKeyLine(pinned.publicKey);
    if (parsed) expected = { ...parsed, source: 'tofu' };
  }

  let mismatch: HostKeyMismatchError | undefined;
  let verifyError: Error | undefined;
  let check: HostKeyCheck | undefined;
  const verify = async (key: Buffer): Promise<boolean> => {
    const fingerprint = fingerprintOf(key);
    if (expected) {
      if (!key.equals(expected.blob)) {
        mismatch = new HostKeyMismatchError(name, target, fingerprintOf(expected.blob), fingerprint, expected.source);
        return false;
      }
      check = { fingerprint, trust: expected.source === 'config' ? 'config' : 'tofu' };
      return true;
    }
    const mine: SshHostKeyRecord = { target, publicKey: publicKeyLine(key), fingerprint, firstSeenAt: (o.now ?? Date.now)(), connection: name };
    const onRecord = await o.hostKeys.pinSshHostKey(mine);
    if (onRecord.publicKey !== mine.publicKey) {
      // Another gateway pinned a different key between our read and our write.
      mismatch = new HostKeyMismatchError(name, target, onRecord.fingerprint, fingerprint, 'tofu');
      return false;
    }
    check = { fingerprint, trust: onRecord.firstSeenAt === mine.firstSeenAt ? 'tofu-first' : 'tofu' };
    return true;
  };

  const client = new ssh2.Client();
  // Small SFTP requests and keystrokes must not wait for Nagle's algorithm.
  client.once('connect', () => client.setNoDelay(true));
  const config: ConnectConfig = {
    host: c.host,
    port: c.port,
    username: c.user,
    password: c.password,
    privateKey: c.privateKey,
    tryKeyboard: false,
    readyTimeout: o.readyTimeoutMs ?? 20_000,
    keepaliveInterval: 15_000,
    keepaliveCountMax: 3,
    hostVerifier: (key: Buffer, done: (valid: boolean) => void) => {
      verify(key).then(done, (err: Error) => {
        mismatch = undefined;
        verifyError = err;
        done(false);
      });
    },
  };
  if (expected) config.algorithms = { serverHostKey: hostKeyAlgorithmsFor(expected.type) as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] };

  return new Promise<TargetConnection>((resolve, reject) => {
    const fail = (err: Error) => {
      client.removeAllListeners('ready');
      client.on('error', () => {});
      client.end();
      if (mismatch) return reject(mismatch);
      if (verifyError) return reject(new AirlockError(ErrorCodes.store, `cannot check the host key of ${name}: ${verifyError.message}`, { cause: verifyError, expose: true }));
      const code = (err as NodeJS.ErrnoException).code;
      const level = (err as { level?: string }).level;
      const what = level === 'client-authentication' ? `the target refused the gateway's credential for user ${c.user}` : `cannot connect to ${target}: ${code ?? err.message}`;
      reject(new AirlockError(ErrorCodes.target, what, { cause: err, expose: true }));
    };
    client.once('error', fail);
    client.once('close', () => fail(new Error('connection closed during the handshake')));
    client.once('ready', () => {
      client.removeListener('error', fail);
      client.removeAllListeners('close');
      if (!check) check = { fingerprint: 'unknown', trust: 'tofu' };
      resolve({ client, hostKey: check });
    });
    try {
      client.connect(config);
    } catch (err) {
      fail(err as Error);
    }
  });
}

