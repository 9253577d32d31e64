import { readFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgBinDir, run, startPostgres, type PgServer } from '../harness/postgres.ts';
import { startGateway, pgConnection, type TestGateway } from '../harness/gateway.ts';
import { psql } from '../harness/clients.ts';
import { encodeAuthenticationCleartext } from '../../src/protocols/postgres/codec/backend.ts';
import { encodePassword, encodeStartup } from '../../src/protocols/postgres/codec/frontend.ts';
import { GSSENC_REQUEST } from '../../src/protocols/postgres/codec/codes.ts';

// A client that is not on the gateway host: this host's own non-loopback address, so the gateway sees a peer that
// is not 127.0.0.0/8 or ::1 (the listener binds that address only, not every interface).
const hostAddress = Object.values(networkInterfaces()).flat().find((i) => i && !i.internal && i.family === 'IPv4')?.address;
if (!hostAddress) console.warn('non-loopback client test skipped: this host has no non-loopback IPv4 address');

let server: PgServer;
let local: TestGateway;
let exposed: TestGateway | undefined;
let token: string;

beforeAll(async () => {
  server = await startPostgres();
  local = await startGateway({ connections: { app: pgConnection(server) } });
  token = await local.token('alice', ['dba']);
  if (hostAddress) {
    exposed = await startGateway({ listen: { postgres: `${hostAddress}:0` }, connections: { app: pgConnection(server) } });
  }
});

afterAll(async () => {
  await exposed?.stop();
  await local?.stop();
  await server?.stop();
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

  it('psql, pgbench, node-postgres and psycopg2 over TLS, verifying the generated certificate', async () => {
    const rootcert = join(local.dataDir, 'tls', 'gateway.crt');
    const p = await psql({ port: local.pgPort, user: 'alice', password: token, database: 'app', sslmode: 'verify-full', sslrootcert: rootcert }, ['-At', '-c', 'select ssl from pg_stat_ssl where pid = pg_backend_pid()']);
    expect(p.stderr).toBe('');
    // The gateway's own connection to this target is plain; TLS is between the client and the gateway.
    expect(p.stdout.trim()).toBe('f');
    const env = { PGPASSWORD: token, PGSSLMODE: 'verify-full', PGSSLROOTCERT: rootcert };
    const init = await run(join(pgBinDir(), 'pgbench'), ['-i', '-s', '1', '-q', '-h', '127.0.0.1', '-p', String(local.pgPort), '-U', 'alice', 'app'], { env });
    expect(init.code, init.stderr).toBe(0);
    const bench = await run(join(pgBinDir(), 'pgbench'), ['-n', '-S', '-t', '20', '-c', '2', '-M', 'extended', '-h', '127.0.0.1', '-p', String(local.pgPort), '-U', 'alice', 'app'], { env });
    expect(bench.code, bench.stderr).toBe(0);
    expect(bench.stdout).toMatch(/number of transactions actually processed: 40\/40/);
    const client = new pg.Client({ host: '127.0.0.1', port: local.pgPort, user: 'alice', password: token, database: 'app', ssl: { ca: readFileSync(rootcert, 'utf8') } });
    await client.connect();
    expect((await client.query('select $1::int * 2 as n', [21])).rows[0].n).toBe(42);
    await client.end();
    const py = [
      'import psycopg2, sys',
      `c = psycopg2.connect(host="127.0.0.1", port=${local.pgPort}, user="alice", password=sys.argv[1], dbname="app", sslmode="verify-full", sslrootcert=sys.argv[2])`,
      'cur = c.cursor()',
      'cur.execute("select %s::int + 1", (41,))',
      'print(cur.fetchone()[0])',
    ].join('\n');
    const r = await run('/usr/bin/python3', ['-c', py, token, rootcert]);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('42');
  });

  it.skipIf(!hostAddress)('never sends the held password in clear to a target off this host without TLS', async () => {
    // A stand-in for whatever answers at the target's address (a spoofed server): it asks for the password in clear.
    const received: Buffer[] = [];
    const fake = createServer((s) => {
      s.on('data', (d: Buffer) => {
        received.push(d);
        if (received.length === 1) s.write(encodeAuthenticationCleartext());
      });
      s.on('error', () => {});
    });
    await new Promise<void>((r) => fake.listen(0, hostAddress, () => r()));
    const secret = 'held-secret-7c1e9a';
    const g = await startGateway({
      connections: { spoofed: { type: 'postgres', host: hostAddress, port: (fake.address() as AddressInfo).port, database: 'x', user: 'x', password: secret, allow: ['dba'] } },
    });
    try {
      const t = await g.token('alice', ['dba']);
      const r = await psql({ port: g.pgPort, user: 'alice', password: t, database: 'spoofed' }, ['-c', 'select 1']);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('the target asks for the password in clear over an unencrypted connection');
      expect(received.length).toBeGreaterThan(0); // the startup message reached it
      expect(Buffer.concat(received).includes(secret)).toBe(false);
    } finally {
      await g.stop();
      fake.close();
    }
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

    // The generated certificate names this host's addresses: the client verifies it against a copy of it.
    const rootcert = join(gw.dataDir, 'tls', 'gateway.crt');
    const secure = await psql({ ...target, sslmode: 'verify-full', sslrootcert: rootcert }, ['-At', '-c', 'select 42']);
    expect(secure.stderr).toBe('');
    expect(secure.stdout.trim()).toBe('42');
    const [s] = await gw.gw.store.listSessions({ user: 'alice' });
    expect(s?.clientAddress.startsWith(`${hostAddress}:`)).toBe(true);
  });
});
