import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import ssh2 from 'ssh2';
import { parseLoginName } from './auth.ts';
import { HOST_KEY_FILE, generateHostKey, loadHostKey } from './host-key.ts';
import { blobType, parseKeyLine, parsePublicKey } from './keys.ts';

const dir = mkdtempSync(join(tmpdir(), 'airlock-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SSH keys', () => {
  it('computes the same fingerprint as ssh-keygen -l', () => {
    for (const type of ['ed25519', 'rsa', 'ecdsa']) {
      const file = join(dir, `k-${type}`);
      execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', `c-${type}`, '-f', file]);
      const info = parsePublicKey(readFileSync(`${file}.pub`, 'utf8'));
      const expected = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`], { encoding: 'utf8' }).split(' ')[1];
      expect(info.fingerprint).toBe(expected);
      expect(info.comment).toBe(`c-${type}`);
      expect(parseKeyLine(info.line)?.type).toBe(info.type);
      expect(() => parsePublicKey(readFileSync(file, 'utf8'))).toThrow(/private key/);
    }
    expect(() => parsePublicKey('not a key')).toThrow(/not an SSH public key/);
  });

  it('reads the type from a key blob and rejects lines whose type and blob disagree', () => {
    const info = parsePublicKey(readFileSync(join(dir, 'k-ed25519.pub'), 'utf8'));
    expect(blobType(info.blob)).toBe('ssh-ed25519');
    expect(parseKeyLine(`ssh-rsa ${info.blob.toString('base64')}`)).toBeUndefined();
    expect(parseKeyLine('ssh-ed25519')).toBeUndefined();
  });

  it('keeps one stable gateway host key, mode 0600', () => {
    const a = loadHostKey(dir);
    const b = loadHostKey(dir);
    expect(a.file).toBe(join(dir, 'keys', HOST_KEY_FILE));
    expect(b.publicKey.fingerprint).toBe(a.publicKey.fingerprint);
    expect(statSync(a.file!).mode & 0o777).toBe(0o600);
    expect(readFileSync(`${a.file}.pub`, 'utf8')).toContain(a.publicKey.line.split(' ')[1]);
    expect(loadHostKey(undefined).file).toBeUndefined();
  });

  it('makes the host key again when the generator wrote one that cannot be read back', () => {
    const real = ssh2.utils.generateKeyPairSync('ed25519');
    const made = [{ private: '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n', public: '' }, real];
    let calls = 0;
    expect(generateHostKey(() => made[calls++]!)).toBe(real);
    expect(calls).toBe(2);
    expect(() => generateHostKey(() => made[0]!)).toThrow(/could not generate a readable SSH host key/);
  });

  it('parses SUBJECT+CONNECTION', () => {
    expect(parseLoginName('alice+web-01')).toEqual({ subject: 'alice', connection: 'web-01' });
    expect(parseLoginName('alice')).toBeUndefined();
    expect(parseLoginName('+web')).toBeUndefined();
    expect(parseLoginName('alice+')).toBeUndefined();
  });
});
