import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSshd, type SshdServer } from '../harness/sshd.ts';
import { startGateway, type TestGateway } from '../harness/gateway.ts';
import { waitFor } from '../harness/wait.ts';
import { makeClientKey, registerKey, sessionEvents, ssh, sshConnection, type ClientKey } from './helpers.ts';

let sshd: SshdServer;
let gw: TestGateway;
let key: ClientKey;

beforeAll(async () => {
  sshd = await startSshd();
  key = await makeClientKey();
  gw = await startGateway({ listen: { ssh: '127.0.0.1:0' }, connections: { web: await sshConnection(sshd) } });
  await registerKey(gw.gw.store, key, 'alice', ['ops']);
}, 60_000);

afterAll(async () => {
  await gw?.stop();
  await sshd?.stop();
  await key?.remove();
});

describe('draining SSH sessions', () => {
  it('lets a running command finish, refuses new connections meanwhile, and stops once it has', async () => {
    const running = ssh(gw, key, 'alice+web', ['echo started; sleep 2; echo finished']);
    await waitFor(async () => {
      const [s] = await gw.gw.store.listSessions({ user: 'alice' });
      return s && (await sessionEvents(gw.gw.store, s.id)).some((e) => e.type === 'ssh.output');
    }, { description: 'the command to start' });
    const started = Date.now();
    const drained = gw.gw.drain(10_000);
    const late = await ssh(gw, key, 'alice+web', ['echo late'], { timeoutMs: 10_000 });
    expect(late.code).toBe(255);
    expect(late.stdout).not.toContain('late');
    const r = await running;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('finished');
    await drained;
    const took = Date.now() - started;
    expect(took).toBeGreaterThan(1000);
    expect(took).toBeLessThan(8000);
  }, 60_000);
});
