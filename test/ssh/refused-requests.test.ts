import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../harness/gateway.ts';
import { startSshd, type SshdServer } from '../harness/sshd.ts';
import { gatewayClient, sshConnection } from './helpers.ts';
import { RawChannels, wire } from './raw-ssh.ts';

/**
 * A request refused on a session channel that has already started (a second shell, exec or subsystem, a
 * pty-req after the start) is answered with SSH_MSG_CHANNEL_FAILURE when the client asked for a reply:
 * replies come in request order, so a client left without one would wait for ever.
 */
let sshd: SshdServer;
let gw: TestGateway;

beforeAll(async () => {
  sshd = await startSshd();
  gw = await startGateway({ listen: { ssh: '127.0.0.1:0' }, connections: { 'web-01': await sshConnection(sshd) } });
});

afterAll(async () => {
  await gw?.stop();
  await sshd?.stop();
});

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const u32 = (n: number) => ({ u32: n });

describe('requests refused on a started channel', () => {
  it('answers each one that wants a reply with SSH_MSG_CHANNEL_FAILURE, in order', async () => {
    const client = await gatewayClient(gw.sshPort, 'alice+web-01', { password: await gw.token('alice', ['ops']) });
    client.on('error', () => {});
    try {
      const r = new RawChannels(client);
      const { id, remote } = await r.open('session');
      if (remote === undefined) throw new Error('the gateway refused a session channel');
      r.request(remote, 'exec', true, wire('sleep 2'));
      r.request(remote, 'exec', true, wire('echo second'));
      r.request(remote, 'shell', true);
      r.request(remote, 'subsystem', true, wire('sftp'));
      r.request(remote, 'subsystem', true, wire('no-such-subsystem'));
      r.request(remote, 'exec', false, wire('echo unanswered'));
      r.request(remote, 'pty-req', true, wire('xterm', u32(80), u32(24), u32(0), u32(0), Buffer.from([0])));
      const replies = () => (r.seen.get(id) ?? []).filter((s) => s === 'CHANNEL_SUCCESS' || s === 'CHANNEL_FAILURE');
      const until = Date.now() + 5_000;
      while (replies().length < 6 && Date.now() < until) await pause(50);
      await pause(200);
      expect(replies()).toEqual(['CHANNEL_SUCCESS', ...Array<string>(5).fill('CHANNEL_FAILURE')]);
    } finally {
      client.end();
    }
  }, 60_000);
});
