import { createServer, type Server } from 'node:net';
import ssh2 from 'ssh2';
import type { Client, ClientChannel } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../harness/gateway.ts';
import { startSshd, type SshdServer } from '../harness/sshd.ts';
import { endedSession, gatewayClient, sessionEvents, sshConnection } from './helpers.ts';

let sshd: SshdServer;
let gw: TestGateway;
let echo: Server;
let echoPort = 0;

beforeAll(async () => {
  sshd = await startSshd();
  echo = createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  echoPort = (echo.address() as { port: number }).port;
  gw = await startGateway({
    listen: { ssh: '127.0.0.1:0' },
    connections: {
      'web-01': await sshConnection(sshd),
      small: await sshConnection(sshd, { allowPortForwarding: true, channels: { sessions: 2, forwards: 1 } }),
    },
  });
});

afterAll(async () => {
  await gw?.stop();
  await sshd?.stop();
  echo?.close();
});

/** One password login from `localAddress`; resolves with how long the gateway took to answer and whether it let in. */
function attempt(username: string, password: string, localAddress: string): Promise<{ ms: number; ok: boolean }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const client = new ssh2.Client();
    const done = (ok: boolean) => {
      client.end();
      resolve({ ms: Date.now() - started, ok });
    };
    client.once('ready', () => done(true));
    client.once('error', () => done(false));
    client.connect({ host: '127.0.0.1', port: gw.sshPort, localAddress, username, password, readyTimeout: 60_000, hostVerifier: () => true });
  });
}

describe('authentication throttling', () => {
  it('slows guesses down per source and per subject, with backoff, without locking the subject out', async () => {
    const token = await gw.token('alice', ['ops']);
    const wrong = `${token.slice(0, -4)}xxxx`;
    const times: number[] = [];
    for (let i = 0; i < 7; i++) {
      const r = await attempt('alice+web-01', wrong, '127.0.0.1');
      expect(r.ok).toBe(false);
      times.push(r.ms);
    }
    // Five free failures, then 0.5 s, 1 s for the sixth and seventh (lower bounds: a loaded machine adds).
    expect(times[5]).toBeGreaterThanOrEqual(450);
    expect(times[6]).toBeGreaterThanOrEqual(950);
    // Another source guessing at the same subject waits too (2 s).
    const elsewhere = await attempt('alice+web-01', wrong, '127.0.0.2');
    expect(elsewhere.ok).toBe(false);
    expect(elsewhere.ms).toBeGreaterThanOrEqual(1_950);
    // Someone else from another source is not slowed down.
    const bob = await attempt('bob+web-01', await gw.token('bob', ['ops']), '127.0.0.3');
    expect(bob.ok).toBe(true);
    // alice with her real token still gets in (after the wait, 4 s), and that clears the count.
    const alice = await attempt('alice+web-01', token, '127.0.0.4');
    expect(alice.ok).toBe(true);
    expect(alice.ms).toBeGreaterThanOrEqual(3_950);
    expect(bob.ms).toBeLessThan(alice.ms - 2_000);
    expect((await attempt('alice+web-01', token, '127.0.0.4')).ms).toBeLessThan(alice.ms - 2_000);
  }, 60_000);
});

describe('channels per connection', () => {
  it('caps open session channels and port forwards per connection (channels: sessions, forwards)', async () => {
    const since = Date.now();
    const client: Client = await gatewayClient(gw.sshPort, 'alice+small', { password: await gw.token('alice', ['ops']) });
    try {
      const exec = () => new Promise<ClientChannel>((resolve, reject) => client.exec('sleep 5', (err, ch) => (err ? reject(err) : resolve(ch))));
      const forward = () => new Promise<ClientChannel>((resolve, reject) => client.forwardOut('127.0.0.1', 1, '127.0.0.1', echoPort, (err, ch) => (err ? reject(err) : resolve(ch))));
      const [a, b] = [await exec(), await exec()];
      await expect(exec()).rejects.toThrow(/open failure/i);
      const f = await forward();
      await expect(forward()).rejects.toThrow(/open failure/i);
      // Closing one makes room again.
      a.close();
      f.close();
      await new Promise((r) => setTimeout(r, 500));
      const c = await exec();
      c.close();
      (await forward()).close();
      b.close();
    } finally {
      client.end();
    }
    const s = await endedSession(gw.gw.store, 'alice', since);
    const refused = (await sessionEvents(gw.gw.store, s.id)).filter((e) => e.type === 'ssh.channel_refused').map((e) => e.data.type);
    expect(refused).toEqual(['session', 'direct-tcpip']);
  }, 30_000);
});
