import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSshd, type SshdServer } from '../harness/sshd.ts';
import { startGateway, type TestGateway } from '../harness/gateway.ts';
import { clientOptions, endedSession, makeClientKey, registerKey, run, sessionEvents, sshConnection, type ClientKey } from './helpers.ts';

let sshd: SshdServer;
let gw: TestGateway;
let key: ClientKey;

beforeAll(async () => {
  sshd = await startSshd();
  gw = await startGateway({
    listen: { ssh: '127.0.0.1:0' },
    connections: { 'web-01': await sshConnection(sshd), 'with-lc': await sshConnection(sshd, { env: ['LANG', 'LC_X'] }) },
  });
  key = await makeClientKey();
  await registerKey(gw.gw.store, key, 'alice', ['ops']);
});

afterAll(async () => {
  await gw?.stop();
  await sshd?.stop();
  await key?.remove();
});

/** `ssh -o SendEnv=…` with LC_X carrying a command, as `SendEnv LC_*` (OpenSSH's usual config) would. */
function sendEnv(login: string, command: string) {
  return run('ssh', [...clientOptions(gw.sshPort, key.file), '-o', 'SendEnv=LANG LC_X', `${login}@127.0.0.1`, command], {
    env: { LANG: 'C.UTF-8', LC_X: 'echo SMUGGLED' },
  });
}

describe('environment variables sent by the client', () => {
  it('forwards only the ones the connection allows (TERM and LANG by default), and records every one with its value', async () => {
    const since = Date.now();
    const r = await sendEnv('alice+web-01', 'eval "$LC_X"; echo "lang=[$LANG] lc=[$LC_X]"');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain('SMUGGLED');
    expect(r.stdout).toContain('lang=[C.UTF-8] lc=[]');
    const s = await endedSession(gw.gw.store, 'alice', since);
    const env = (await sessionEvents(gw.gw.store, s.id)).filter((e) => e.type === 'ssh.env');
    expect(env.map((e) => e.data)).toEqual(expect.arrayContaining([
      expect.objectContaining({ name: 'LANG', value: 'C.UTF-8', forwarded: true }),
      expect.objectContaining({ name: 'LC_X', value: 'echo SMUGGLED', forwarded: false }),
    ]));
    expect(env.find((e) => e.data.name === 'LC_X')?.outcome).toBe('denied');
  });

  it('forwards a variable a connection lists in env', async () => {
    const r = await sendEnv('alice+with-lc', 'echo "lc=[$LC_X]"');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('lc=[echo SMUGGLED]');
  });
});
