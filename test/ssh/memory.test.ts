import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueToken } from '../harness/gateway-child.ts';
import { startGatewayProcess, type GatewayProcess } from '../harness/gateway-process.ts';
import { startSshd, type SshdServer } from '../harness/sshd.ts';
import { waitFor } from '../harness/wait.ts';
import { gatewayClient, sshConnection } from './helpers.ts';
import { RawChannels, wire } from './raw-ssh.ts';

/**
 * What the gateway buffers for a client is bounded whatever window the client advertises: a client that
 * grants a 4 GiB window and then stops reading its socket must not make the gateway hold the target's
 * output. Measured on the gateway as its own process (RSS from /proc).
 */

let sshd: SshdServer;
let gw: GatewayProcess;
let token = '';
const MiB = 1024 * 1024;

beforeAll(async () => {
  sshd = await startSshd();
  gw = await startGatewayProcess(
    { listen: { ssh: '127.0.0.1:0' }, connections: { 'web-01': await sshConnection(sshd) } },
    async (config) => void (token = await issueToken(config, 'alice', 'ops')),
  );
}, 60_000);

afterAll(async () => {
  await gw?.stop();
  await sshd?.stop();
});

describe('a client that advertises a huge window and stops reading', () => {
  it('does not make the gateway buffer the target output without bound, and the stream resumes when it reads again', async () => {
    const client = await gatewayClient(gw.ports.get('ssh')!, 'alice+web-01', { password: token });
    client.on('error', () => {});
    const socket = (client as unknown as { _sock: Socket })._sock;
    try {
      const raw = new RawChannels(client);
      let received = 0;
      raw.onData = (_id, bytes) => (received += bytes);
      const { remote } = await raw.open('session', Buffer.alloc(0), 0xffffffff);
      expect(remote).toBeDefined();
      const before = await gw.rss();
      raw.request(remote!, 'exec', true, wire('cat /dev/zero'));
      await waitFor(() => received > 0, { timeoutMs: 10_000, description: 'output flowing' });
      socket.pause();
      let peak = before;
      for (let i = 0; i < 16; i++) {
        await new Promise((r) => setTimeout(r, 500));
        peak = Math.max(peak, await gw.rss());
      }
      // Without the bound the gateway grew by hundreds of MiB here (the output it could not send).
      expect((peak - before) / MiB, `RSS ${Math.round(before / MiB)} → ${Math.round(peak / MiB)} MiB`).toBeLessThan(64);
      const sofar = received;
      socket.resume();
      await waitFor(() => received > sofar + 8 * MiB, { timeoutMs: 20_000, description: 'the stream to resume' });
      raw.close(remote!);
    } finally {
      client.end();
    }
    expect(gw.alive()).toBe(true);
  }, 60_000);
});
