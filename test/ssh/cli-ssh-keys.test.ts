import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sshKeysCommand } from '../../src/cli/ssh-keys.ts';
import { openStore } from '../../src/store/open.ts';
import { makeClientKey, type ClientKey } from './helpers.ts';

let dir: string;
let config: string;
let key: ClientKey;

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await sshKeysCommand([...argv, '--config', config], { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-cli-keys-'));
  config = join(dir, 'airlock.yaml');
  await writeFile(config, `dataDir: ${join(dir, 'data')}\n`);
  await openStore(join(dir, 'data')).close(); // the store a gateway makes (the CLI creates none)
  key = await makeClientKey('alice@laptop');
});

afterAll(async () => {
  await key?.remove();
  await rm(dir, { recursive: true, force: true });
});

describe('airlock ssh-keys', () => {
  it('adds, lists and removes a key', async () => {
    const added = await cli('add', '--subject', 'alice', '--groups', 'ops,dev', `${key.file}.pub`);
    expect(added).toMatchObject({ code: 0, out: key.fingerprint });
    expect(added.err).toContain('registered ssh-ed25519 key for alice');

    const again = await cli('add', '--subject', 'bob', `${key.file}.pub`).catch((e: Error) => e);
    expect(String(again)).toContain('already registered to alice');

    const list = await cli('list');
    expect(list.out).toContain(`${key.fingerprint}\talice\tuser\tops,dev\tssh-ed25519`);
    expect(list.out).toContain('alice@laptop');
    const json = JSON.parse((await cli('list', '--json')).out);
    expect(json[0]).toMatchObject({ fingerprint: key.fingerprint, subject: 'alice', groups: ['ops', 'dev'], kind: 'user' });

    expect(await cli('remove', key.fingerprint)).toMatchObject({ code: 0 });
    expect(await cli('remove', key.fingerprint)).toMatchObject({ code: 1 });
    expect((await cli('list', '--json')).out).toBe('[]');
  });

  it('refuses a private key and bad subjects', async () => {
    await expect(cli('add', '--subject', 'alice', key.file)).rejects.toThrow(/private key/);
    await expect(cli('add', '--subject', 'a+b', `${key.file}.pub`)).rejects.toThrow(/subject/);
    await expect(cli('add', `${key.file}.pub`)).rejects.toThrow(/--subject/);
  });

  it('lists and forgets pinned target host keys', async () => {
    const store = openStore(join(dir, 'data'));
    await store.pinSshHostKey({ target: '10.0.0.7:22', publicKey: key.publicKey.split(' ').slice(0, 2).join(' '), fingerprint: key.fingerprint, firstSeenAt: 1, connection: 'web-01' });
    await store.close();
    expect((await cli('hosts')).out).toContain(`10.0.0.7:22\t${key.fingerprint}\tssh-ed25519`);
    expect(await cli('forget-host', '10.0.0.7:22')).toMatchObject({ code: 0 });
    expect(await cli('forget-host', '10.0.0.7:22')).toMatchObject({ code: 1 });
  });
});
