import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from 'node:net';
import { startPostgres, type PgServer } from '../harness/postgres.ts';
import { startGateway, pgConnection, type TestGateway } from '../harness/gateway.ts';
import { psql } from '../harness/clients.ts';
import { startPgTunnel } from '../../src/cli/pg-tunnel.ts';

let server: PgServer;
let gw: TestGateway;
let tunnel: Server;

beforeAll(async () => {
  server = await startPostgres();
  gw = await startGateway({ connections: { app: pgConnection(server) } });
  const token = await gw.token('alice', ['dba']);
  tunnel = await startPgTunnel({ gatewayHost: '127.0.0.1', gatewayPort: gw.pgPort, connection: 'app', subject: 'alice', credential: async () => token }, 0);
});

afterAll(async () => {
  tunnel?.close();
  await gw?.stop();
  await server?.stop();
});

describe('airlock connect tunnel', () => {
  it('an unmodified client connects without any token and runs as the logged-in identity', async () => {
    const port = (tunnel.address() as { port: number }).port;
    const r = await psql({ port, user: 'whoever', password: '', database: 'anything' }, ['-At', '-c', 'select 40 + 2']);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('42');
    let s;
    for (let i = 0; i < 100 && !s; i++) {
      [s] = await gw.gw.store.listSessions({ user: 'alice', open: false });
      if (!s) await new Promise((res) => setTimeout(res, 20));
    }
    expect(s?.connection).toBe('app');
  });

  it('with a revoked credential the client gets the gateway error', async () => {
    const issued = await gw.gw.tokens.issue({ subject: 'bob', groups: ['dba'], ttlMs: 60_000 });
    await gw.gw.tokens.revoke(issued.record.id);
    const t = await startPgTunnel({ gatewayHost: '127.0.0.1', gatewayPort: gw.pgPort, connection: 'app', subject: 'bob', credential: async () => issued.token }, 0);
    try {
      const r = await psql({ port: (t.address() as { port: number }).port, user: 'x', password: '', database: 'x' }, ['-c', 'select 1']);
      expect(r.stderr, r.stderr).toContain('token revoked');
    } finally {
      t.close();
    }
  });
});
