import { createServer, type AddressInfo, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { PostgresConnectionConfig } from '../../config/schema.ts';
import { encodeAuthenticationOk, encodeAuthenticationSasl, encodeReadyForQuery } from './codec/backend.ts';
import { connectTarget } from './target.ts';

let server: Server | undefined;
afterEach(() => server?.close());

/** A stand-in target that answers the startup with `first`, and whatever comes next with `then`. */
async function fakeTarget(first: Buffer, then: Buffer): Promise<number> {
  server = createServer((s) => {
    let n = 0;
    s.on('data', () => s.write(n++ === 0 ? first : then));
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  return (server.address() as AddressInfo).port;
}

const config = (port: number) =>
  ({ type: 'postgres', host: '127.0.0.1', port, database: 'app', user: 'app', password: 'held', tls: { mode: 'disable' } }) as unknown as PostgresConnectionConfig;

describe('target authentication', () => {
  it('refuses a server that ends SCRAM without its signature: it has not shown that it is the target', async () => {
    const port = await fakeTarget(encodeAuthenticationSasl(['SCRAM-SHA-256']), Buffer.concat([encodeAuthenticationOk(), encodeReadyForQuery('I')]));
    await expect(connectTarget(config(port), new Map(), 1 << 20, 5_000)).rejects.toThrow('the target ended SCRAM authentication without proving its identity');
  });

  it('takes a server that asks for no password (trust)', async () => {
    const port = await fakeTarget(Buffer.concat([encodeAuthenticationOk(), encodeReadyForQuery('I')]), Buffer.alloc(0));
    const t = await connectTarget(config(port), new Map(), 1 << 20, 5_000);
    expect(t.readyFrame.code).toBe(0x5a);
    t.socket.destroy();
  });
});
