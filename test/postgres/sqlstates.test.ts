import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startPostgres, type PgServer } from '../harness/postgres.ts';
import { startGateway, pgConnection, type TestGateway } from '../harness/gateway.ts';

/**
 * The SQLSTATE a driver sees when a login is refused or the target is lost: drivers and poolers branch on the
 * code (retry on 08006, never on 28P01), so the code is the contract, not the message.
 */
let server: PgServer;
let gw: TestGateway;

beforeAll(async () => {
  server = await startPostgres();
  gw = await startGateway({
    connections: {
      app: pgConnection(server, { allow: ['dba'] }),
      'app-gone': pgConnection(server, { allow: ['dba'], database: 'no_such_database' }),
    },
  });
});

afterAll(async () => {
  await gw?.stop();
  await server?.stop();
});

async function connectError(user: string, password: string, database: string): Promise<{ code?: string; message: string }> {
  const c = new pg.Client({ host: '127.0.0.1', port: gw.pgPort, user, password, database, connectionTimeoutMillis: 10_000 });
  c.on('error', () => {});
  try {
    await c.connect();
  } catch (err) {
    return err as { code?: string; message: string };
  }
  await c.end();
  throw new Error('the login was accepted');
}

describe('SQLSTATE of refused logins and lost targets', () => {
  it('28P01 for a token that is not valid', async () => {
    expect((await connectError('alice', 'alk_nottherealtokenatallxxxxxxx_yyy', 'app')).code).toBe('28P01');
  });

  it('28000 for a connection the identity may not use, and the same for one that does not exist', async () => {
    const token = await gw.token('alice', ['ops']);
    expect((await connectError('alice', token, 'app')).code).toBe('28000');
    const dba = await gw.token('alice', ['dba']);
    expect((await connectError('alice', dba, 'no-such-connection')).code).toBe('28000');
  });

  it('3D000 when the target has no such database', async () => {
    const e = await connectError('alice', await gw.token('alice', ['dba']), 'app-gone');
    expect(e.code).toBe('3D000');
  });

  it('08006 when the target connection is lost mid-session', async () => {
    const c = new pg.Client({ host: '127.0.0.1', port: gw.pgPort, user: 'alice', password: await gw.token('alice', ['dba']), database: 'app' });
    const lost = new Promise<{ code?: string }>((resolve) => c.on('error', (e) => resolve(e as { code?: string })));
    await c.connect();
    const pid = Number((await c.query('select pg_backend_pid() as pid')).rows[0].pid);
    // The backend dies without a word (no FATAL of its own): only the gateway can tell the client.
    process.kill(pid, 'SIGKILL');
    const failed = await c.query('select 1').then(() => undefined, (e: { code?: string }) => e);
    const code = failed?.code ?? (await lost).code;
    expect(code).toBe('08006');
    await c.end().catch(() => {});
  });
});
