import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PgServer } from '../harness/postgres.ts';
import { startGateway, pgConnection, type TestGateway } from '../harness/gateway.ts';
import { psql } from '../harness/clients.ts';
import { encodePassword, encodeStartup } from '../../src/protocols/postgres/codec/frontend.ts';
import { GSSENC_REQUEST } from '../../src/protocols/postgres/codec/codes.ts';

// A client that is not on the gateway host: this host's own non-loopback address, so the gateway sees a peer that
// is not 127.0.0.0/8 or ::1 (the listener binds that address only, not every interface).
const hostAddress = Object.values(networkInterfaces()).flat().find((i) => i && !i.internal && i.family === 'IPv4')?.address;
if (!hostAddress) console.warn('non-loopback client test skipped: this host has no non-loopback IPv4 address');

let pg: PgServer;
let local: TestGateway;
let exposed: TestGateway | undefined;
let token: string;

beforeAll(async () => {
  pg = await startPostgres();
  local = await startGateway({ connections: { app: pgConnection(pg) } });
  token = await local.token('alice', ['dba']);
  if (hostAddress) {
    exposed = await startGateway({ listen: { postgres: `${hostAddress}:0` }, connections: { app: pgConnection(pg) } });
  }
});

afterAll(async () => {
  await exposed?.stop();
  await local?.stop();
  await pg?.stop();
});

/** Reads from a raw socket until `n` bytes have arrived. */
function readBytes(socket: import('node:net').Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length >= n) {
        socket.off('data', onData);
        resolve(got);
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

describe('client transport', () => {
  it('refuses GSSAPI encryption with N and goes on with the same connection, as PostgreSQL does', async () => {
    const socket = connect(local.pgPort, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    const gssenc = Buffer.alloc(8);
    gssenc.writeInt32BE(8, 0);
    gssenc.writeInt32BE(GSSENC_REQUEST, 4);
    socket.write(gssenc);
    expect((await readBytes(socket, 1)).toString()).toBe('N');
    socket.write(encodeStartup({ user: 'alice', database: 'app' }));
    const auth = await readBytes(socket, 9);
    // AuthenticationCleartextPassword: the token is asked for next.
    expect([auth[0], auth.readInt32BE(5)]).toEqual(['R'.charCodeAt(0), 3]);
    socket.write(encodePassword(token));
    const ok = await readBytes(socket, 9);
    expect([ok[0], ok.readInt32BE(5)]).toEqual(['R'.charCodeAt(0), 0]);
    socket.destroy();
  });

  it.skipIf(!hostAddress)('refuses a token in clear from a client off the gateway host, and takes it over TLS', async () => {
    const gw = exposed!;
    const t = await gw.token('alice', ['dba']);
    const target = { host: hostAddress!, port: gw.pgPort, user: 'alice', password: t, database: 'app' };
    const clear = await psql({ ...target, sslmode: 'disable' }, ['-At', '-c', 'select 1']);
    expect(clear.code).not.toBe(0);
    expect(clear.stderr).toContain('Airlock requires TLS for clients that are not on the gateway host');
    // Refused before the password was asked for: no session, nothing recorded.
    expect(await gw.gw.store.listSessions({ user: 'alice' })).toEqual([]);

    const secure = await psql({ ...target, sslmode: 'require' }, ['-At', '-c', 'select 42']);
    expect(secure.stderr).toBe('');
    expect(secure.stdout.trim()).toBe('42');
    const [s] = await gw.gw.store.listSessions({ user: 'alice' });
    expect(s?.clientAddress.startsWith(`${hostAddress}:`)).toBe(true);
  });
});
