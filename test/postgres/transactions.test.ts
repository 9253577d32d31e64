/**
 * A denied statement fails where it stands in the client's stream, as a failed statement does on PostgreSQL:
 * pipelined (one write) or not, simple or extended protocol, the target's own transaction state decides.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startPostgres, type PgServer } from '../harness/postgres.ts';
import { startGateway, pgConnection, type TestGateway } from '../harness/gateway.ts';
import { psql } from '../harness/clients.ts';
import { RawPgClient } from '../harness/raw-pg-client.ts';
import { encodeBind, encodeExecute, encodeParse, encodeQuery, encodeSync } from '../../src/protocols/postgres/codec/frontend.ts';
import { decodeCommandComplete, decodeErrorFields } from '../../src/protocols/postgres/codec/backend.ts';
import type { Frame } from '../../src/protocols/postgres/codec/frame-reader.ts';

let pg: PgServer;
let gw: TestGateway;

beforeAll(async () => {
  pg = await startPostgres();
  await pg.sql('CREATE TABLE ledger (id int)');
  await pg.sql('CREATE TABLE victim (id int)');
  gw = await startGateway({
    connections: { app: pgConnection(pg, { policy: { deny: [{ name: 'no-drops', statements: ['drop_table'] }] } }) },
  });
});

afterAll(async () => {
  await gw?.stop();
  await pg?.stop();
});

beforeEach(async () => {
  await pg.sql('TRUNCATE ledger');
});

async function ledger(): Promise<string> {
  return (await pg.sql('SELECT coalesce(string_agg(id::text, \',\' ORDER BY id), \'\') FROM ledger')).trim();
}

/** Frames up to and including the `n`th ReadyForQuery, as (letter, detail) pairs: the tag, the SQLSTATE, or the status. */
async function answers(c: RawPgClient, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let seen = 0; seen < n; ) {
    const f: Frame = await c.next();
    const letter = String.fromCharCode(f.code);
    if (letter === 'C') out.push(`C ${decodeCommandComplete(f.body).tag}`);
    else if (letter === 'E') out.push(`E ${decodeErrorFields(f.body).C}`);
    else if (letter === 'Z') {
      out.push(`Z ${String.fromCharCode(f.body[0]!)}`);
      seen++;
    }
  }
  return out;
}

async function login(): Promise<RawPgClient> {
  return RawPgClient.login(gw.pgPort, 'alice', 'app', await gw.token('alice', ['dba']));
}

const extended = (text: string, name = ''): Buffer[] => [encodeParse(name, text), encodeBind('', name, []), encodeExecute('', 0)];

describe('a denial inside a pipelined stream', () => {
  it('BEGIN; INSERT; <denied>; COMMIT as four Queries in one write rolls the INSERT back', async () => {
    const c = await login();
    c.socket.write(Buffer.concat(['BEGIN', 'INSERT INTO ledger VALUES (1)', 'DROP TABLE victim', 'COMMIT'].map(encodeQuery)));
    expect(await answers(c, 4)).toEqual(['C BEGIN', 'Z T', 'C INSERT 0 1', 'Z T', 'E 42501', 'Z E', 'C ROLLBACK', 'Z I']);
    expect(await ledger()).toBe('');
    c.end();
  });

  it('after a denial, COMMIT through Parse/Bind/Execute rolls back and statements parsed before fail', async () => {
    const c = await login();
    c.socket.write(Buffer.concat([
      encodeParse('early', 'INSERT INTO ledger VALUES (2)'), encodeSync(),
      encodeQuery('BEGIN'), encodeQuery('INSERT INTO ledger VALUES (1)'),
      ...extended('DROP TABLE victim'), encodeSync(),
      encodeBind('', 'early', []), encodeExecute('', 0), encodeSync(),
      ...extended('COMMIT'), encodeSync(),
    ]));
    expect(await answers(c, 6)).toEqual(['Z I', 'C BEGIN', 'Z T', 'C INSERT 0 1', 'Z T', 'E 42501', 'Z E', 'E 25P02', 'Z E', 'C ROLLBACK', 'Z I']);
    expect(await ledger()).toBe('');
    c.end();
  });

  it('a denied Parse rolls back the statements before it in the same extended batch (its implicit transaction)', async () => {
    const c = await login();
    c.socket.write(Buffer.concat([...extended('INSERT INTO ledger VALUES (1)'), ...extended('DROP TABLE victim'), ...extended('INSERT INTO ledger VALUES (3)'), encodeSync()]));
    expect(await answers(c, 1)).toEqual(['C INSERT 0 1', 'E 42501', 'Z I']);
    expect(await ledger()).toBe('');
    c.socket.write(encodeQuery('SELECT 1'));
    expect(await answers(c, 1)).toEqual(['C SELECT 1', 'Z I']);
    c.end();
  });

  it('an earlier error of the batch is the one the client sees; the denied statement never runs', async () => {
    const c = await login();
    c.socket.write(Buffer.concat([...extended('SELECT 1/0'), ...extended('DROP TABLE victim'), encodeSync(), encodeQuery('SELECT 2')]));
    expect(await answers(c, 2)).toEqual(['E 22012', 'Z I', 'C SELECT 1', 'Z I']);
    expect((await pg.sql("SELECT count(*) FROM pg_tables WHERE tablename = 'victim'")).trim()).toBe('1');
    c.end();
  });

  it('a multi-statement Query with a denied statement runs none of it (its implicit transaction), in or out of a block', async () => {
    const c = await login();
    c.socket.write(Buffer.concat([
      encodeQuery('INSERT INTO ledger VALUES (1); DROP TABLE victim'),
      encodeQuery('BEGIN'), encodeQuery('INSERT INTO ledger VALUES (2); COMMIT; DROP TABLE victim'), encodeQuery('COMMIT'),
    ]));
    expect(await answers(c, 4)).toEqual(['E 42501', 'Z I', 'C BEGIN', 'Z T', 'E 42501', 'Z E', 'C ROLLBACK', 'Z I']);
    expect(await ledger()).toBe('');
    c.end();
  });

  it('ROLLBACK TO SAVEPOINT recovers from a denial as from any error (psql)', async () => {
    const token = await gw.token('alice', ['dba']);
    const script = [
      'BEGIN;', 'INSERT INTO ledger VALUES (1);', 'SAVEPOINT a;', 'INSERT INTO ledger VALUES (2);',
      'DROP TABLE victim;', 'ROLLBACK TO SAVEPOINT a;', 'INSERT INTO ledger VALUES (3);', 'COMMIT;',
    ].join('\n');
    const r = await psql({ port: gw.pgPort, user: 'alice', password: token, database: 'app' }, ['-v', 'ON_ERROR_STOP=0', '-At'], { input: script });
    expect(r.stderr).toMatch(/Airlock: .*no-drops/);
    expect(r.stdout).toContain('COMMIT');
    expect(await ledger()).toBe('1,3');
  });

  it('psql in one transaction (-1): a denied statement rolls everything back', async () => {
    const token = await gw.token('alice', ['dba']);
    const r = await psql({ port: gw.pgPort, user: 'alice', password: token, database: 'app' }, ['-v', 'ON_ERROR_STOP=0', '-1', '-At'], {
      input: 'INSERT INTO ledger VALUES (1);\nDROP TABLE victim;\nINSERT INTO ledger VALUES (2);\n',
    });
    expect(r.stderr).toMatch(/Airlock: .*no-drops/);
    expect(await ledger()).toBe('');
  });
});
