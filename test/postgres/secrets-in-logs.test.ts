import { Writable } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLogger } from '../../src/core/logger.ts';
import { startPostgres, type PgServer } from '../harness/postgres.ts';
import { startGateway, pgConnection, type TestGateway } from '../harness/gateway.ts';
import { psql } from '../harness/clients.ts';

// The gateway's own logger at its most verbose, as configured in production (redaction included), into memory.
const lines: string[] = [];
const memory = new Writable({
  write(chunk: Buffer, _enc, cb) {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    cb();
  },
});

let server: PgServer;
let gw: TestGateway;

beforeAll(async () => {
  server = await startPostgres();
  gw = await startGateway(
    {
      listen: { postgres: '127.0.0.1:0', api: '127.0.0.1:0' },
      connections: {
        scram: pgConnection(server, {}, 'scram'),
        clear: pgConnection(server, {}, 'cleartext'),
        md5: pgConnection(server, {}, 'md5'),
        // The target refuses the held credential: its error goes to the client and the log.
        refused: pgConnection(server, { password: 'held-but-wrong-9f2c' }, 'scram'),
      },
    },
    { log: createLogger({ level: 'trace', destination: memory }) },
  );
});

afterAll(async () => {
  await gw?.stop();
  await server?.stop();
});

it('no token, held credential or refused token reaches the gateway log, whatever happens', async () => {
  const token = await gw.token('alice', ['dba']);
  const badToken = `${token.slice(0, -6)}zzzzzz`;
  const revoked = await gw.token('bob', ['dba']);
  const [revokedRecord] = (await gw.gw.store.listTokens()).filter((t) => t.subject === 'bob');
  await gw.gw.tokens.revoke(revokedRecord!.id);
  const t = (database: string, user = 'alice', password = token) => ({ port: gw.pgPort, user, password, database });

  for (const db of ['scram', 'clear', 'md5']) expect((await psql(t(db), ['-At', '-c', 'select 1'])).stdout.trim()).toBe('1');
  expect((await psql(t('scram', 'alice', badToken), ['-c', 'select 1'])).code).not.toBe(0);
  expect((await psql(t('scram', 'bob', revoked), ['-c', 'select 1'])).code).not.toBe(0);
  expect((await psql(t('scram', 'mallory'), ['-c', 'select 1'])).code).not.toBe(0);
  expect((await psql(t('refused'), ['-c', 'select 1'])).stderr).toMatch(/target refused the session/);
  // A statement error, a cancel, and the HTTP API with the token as a bearer credential (good and bad).
  const client = new pg.Client({ host: '127.0.0.1', port: gw.pgPort, user: 'alice', password: token, database: 'scram' });
  await client.connect();
  await expect(client.query('select * from no_such_table')).rejects.toThrow(/does not exist/);
  await client.end();
  const api = `http://127.0.0.1:${gw.gw.listeners.get('api')!.port}`;
  expect((await fetch(`${api}/api/sessions`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  expect((await fetch(`${api}/api/sessions`, { headers: { authorization: `Bearer ${badToken}` } })).status).toBe(401);
  await new Promise((r) => setTimeout(r, 100));

  const log = lines.join('\n');
  // The log did see the refusals, by user and reason.
  expect(log.match(/postgres connection refused/g)).toHaveLength(3);
  expect(log).toMatch(/user \\"alice\\": invalid token/);
  const secrets = {
    token, badToken, revoked,
    // alk_<id>_<secret>: the secret is 32 random bytes in base64url (43 characters, which may include '_').
    tokenSecret: token.slice(-43),
    scram: server.users.scram.password, clear: server.users.cleartext.password, md5: server.users.md5.password,
    superuser: server.password, wrongHeld: 'held-but-wrong-9f2c',
  };
  for (const [name, secret] of Object.entries(secrets)) expect(log.includes(secret!), name).toBe(false);
});
