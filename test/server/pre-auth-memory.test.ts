import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { startGatewayProcess, type GatewayProcess } from '../harness/gateway-process.ts';
import { encodeStartup } from '../../src/protocols/postgres/codec/frontend.ts';

let gw: GatewayProcess;

beforeAll(async () => {
  gw = await startGatewayProcess({ listen: { postgres: '127.0.0.1:0' } });
}, 60_000);

afterAll(async () => {
  await gw?.stop();
});

/** Logs in up to the password, then sends a 60 MiB password message as fast as the gateway takes it. */
function oversizedPassword(port: number): Promise<void> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => s.write(encodeStartup({ user: 'alice', database: 'db' })));
    s.once('data', () => {
      const header = Buffer.alloc(5);
      header[0] = 0x70; // 'p'
      header.writeInt32BE(60 * 1024 * 1024, 1);
      s.write(header);
      const chunk = Buffer.alloc(1 << 20, 0x61);
      for (let i = 0; i < 60; i++) s.write(chunk);
    });
    s.on('data', () => {});
    s.on('error', () => {});
    s.once('close', () => resolve());
  });
}

describe('memory before authentication', () => {
  it('ten clients each sending a 60 MiB password message do not grow the gateway: refused from the header, the rest unread', async () => {
    const before = await gw.rss();
    const started = Date.now();
    await Promise.all(Array.from({ length: 10 }, () => oversizedPassword(gw.ports.get('postgres')!)));
    expect(Date.now() - started).toBeLessThan(5000);
    const grew = (await gw.rss()) - before;
    expect(grew).toBeLessThan(40 * 1024 * 1024);
    expect(gw.alive()).toBe(true);
  }, 60_000);
});
