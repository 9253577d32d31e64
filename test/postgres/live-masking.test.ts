import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startPostgres, type PgServer } from '../harness/postgres.ts';
import { startGateway, pgConnection, type TestGateway } from '../harness/gateway.ts';
import { psql } from '../harness/clients.ts';
import { RawPgClient } from '../harness/raw-pg-client.ts';
import { encodeBind, encodeDescribe, encodeExecute, encodeParse, encodeQuery, encodeSync } from '../../src/protocols/postgres/codec/frontend.ts';
import { decodeDataRow, decodeErrorFields } from '../../src/protocols/postgres/codec/backend.ts';
import type { Frame } from '../../src/protocols/postgres/codec/frame-reader.ts';

// Everything a live-masked identity receives is checked byte for byte against these, in every spelling a
// client could get them in (text, and the raw bytes a binary format would carry).
const EMAIL = 'jane.roe@example.org';
const CARD = '4111111111111111';
const CARD2 = '5555555555554444';
const SSN = '123-45-6789';
const SECRETS = [EMAIL, CARD, CARD2, SSN];
/** Masked by its column's name only (no detector knows it). */
const PASSWORD = 'hunter2-correct-horse';

let server: PgServer;
let gw: TestGateway;

beforeAll(async () => {
  server = await startPostgres();
  await server.sql('CREATE TABLE customers (id int primary key, email text, card text, ssn text)');
  await server.sql(`INSERT INTO customers VALUES (1, '${EMAIL}', '${CARD}', '${SSN}'), (2, 'x', '${CARD2}', 'y')`);
  await server.sql(`CREATE FUNCTION notice_pii() RETURNS void LANGUAGE plpgsql AS $$ BEGIN
    RAISE NOTICE '% %', (SELECT email FROM customers WHERE id = 1), (SELECT card FROM customers WHERE id = 1); END $$`);
  await server.sql(`CREATE FUNCTION raise_pii() RETURNS void LANGUAGE plpgsql AS $$ BEGIN
    RAISE EXCEPTION 'x' USING DETAIL = (SELECT email FROM customers WHERE id = 1), HINT = (SELECT ssn FROM customers WHERE id = 1); END $$`);
  await server.sql(`CREATE TABLE accounts (id int, password text); INSERT INTO accounts VALUES (1, '${PASSWORD}')`);
  await server.sql('CREATE TABLE seen (email text UNIQUE)');
  gw = await startGateway({
    connections: { app: pgConnection(server, { allow: ['dba', 'agents'], policy: { mask: { stored: ['all'], live: { groups: ['agents'] } }, deny: [{ name: 'no-drops', statements: ['drop_table'] }] } }) },
  });
});

afterAll(async () => {
  await gw?.stop();
  await server?.stop();
});

async function agent(): Promise<RawPgClient> {
  return RawPgClient.login(gw.pgPort, 'bot', 'app', await gw.token('bot', ['agents'], { service: true }));
}

/** Sends `bytes`, then collects every frame until `ready` ReadyForQuery messages (or the end of the session). */
async function exchange(c: RawPgClient, bytes: Buffer, ready = 1): Promise<Frame[]> {
  c.socket.write(bytes);
  const frames: Frame[] = [];
  let seen = 0;
  const done = c.closed.then(() => 'closed' as const);
  while (seen < ready) {
    const f = await Promise.race([c.next(), done]);
    if (f === 'closed') break;
    frames.push(f);
    if (f.code === 0x5a) seen++;
  }
  return frames;
}

function expectNoSecret(frames: readonly Frame[] | string, secrets = SECRETS): void {
  const all = typeof frames === 'string' ? Buffer.from(frames) : Buffer.concat(frames.map((f) => f.bytes));
  for (const s of secrets) expect(all.includes(Buffer.from(s)), s).toBe(false);
}

function rows(frames: readonly Frame[]): string[][] {
  return frames.filter((f) => f.code === 0x44).map((f) => decodeDataRow(f.body).map((v) => (v === null ? '' : v.toString('utf8'))));
}

function errors(frames: readonly Frame[]): Record<string, string>[] {
  return frames.filter((f) => f.code === 0x45 || f.code === 0x4e).map((f) => decodeErrorFields(f.body));
}

const agentPsql = async (args: string[]) => psql({ port: gw.pgPort, user: 'bot', password: await gw.token('bot', ['agents'], { service: true }), database: 'app' }, args);

describe('COPY TO STDOUT to a live-masked identity', () => {
  it.each([
    'COPY customers TO STDOUT',
    'COPY customers TO STDOUT (FORMAT csv)',
    'COPY customers TO STDOUT (FORMAT csv, HEADER)',
    "COPY customers TO STDOUT (FORMAT csv, DELIMITER 'X', QUOTE '0', FORCE_QUOTE *)",
    "COPY customers TO STDOUT (DELIMITER 'X')",
    "COPY customers TO STDOUT (DELIMITER '@')",
    'COPY (SELECT array_agg(card) FROM customers) TO STDOUT',
    'COPY (SELECT email, email FROM customers) TO STDOUT',
  ])('%s is masked field by field', async (sql) => {
    const r = await agentPsql(['-c', sql]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\[(EMAIL|CREDIT_CARD)/);
    expectNoSecret(r.stdout);
  });

  it('binary COPY is refused with a clear error and the session goes on', async () => {
    const c = await agent();
    const frames = await exchange(c, encodeQuery('COPY customers TO STDOUT (FORMAT binary)'));
    expectNoSecret(frames);
    expect(errors(frames)[0]).toMatchObject({ C: '0A000', M: expect.stringMatching(/binary COPY/) });
    expect(rows(await exchange(c, encodeQuery('SELECT 1')))).toEqual([['1']]);
    c.end();
  });
});

describe('each row is masked by the description of its own result', () => {
  it('Execute without Describe after an earlier binary statement', async () => {
    const c = await agent();
    await exchange(c, Buffer.concat([encodeParse('n', 'SELECT id FROM customers'), encodeBind('', 'n', [], [1]), encodeDescribe('P', ''), encodeExecute('', 0), encodeSync()]));
    const frames = await exchange(c, Buffer.concat([encodeParse('', 'SELECT email, card FROM customers'), encodeBind('', '', []), encodeExecute('', 0), encodeSync()]));
    expectNoSecret(frames);
    expect(rows(frames)[0]).toEqual(['[EMAIL]', '[CREDIT_CARD]']);
    c.end();
  });

  it('Execute without Describe after described statements of other columns', async () => {
    const c = await agent();
    const pii = 'SELECT a.password, c.card, c.email, c.ssn FROM customers c, accounts a ORDER BY c.id';
    const frames = await exchange(
      c,
      Buffer.concat([
        encodeParse('ids', 'SELECT id FROM customers ORDER BY id'), encodeBind('p1', 'ids', []), encodeDescribe('P', 'p1'), encodeExecute('p1', 0),
        encodeParse('pii', pii), encodeBind('p2', 'pii', []), encodeExecute('p2', 0),
        encodeDescribe('S', 'ids'), encodeBind('p3', 'pii', []), encodeExecute('p3', 0),
        encodeBind('p4', 'ids', []), encodeBind('p5', 'pii', []), encodeDescribe('P', 'p4'), encodeExecute('p5', 0),
        encodeSync(),
      ]),
    );
    expectNoSecret(frames, [...SECRETS, PASSWORD]);
    expect(rows(frames).length).toBe(8);
    expect(rows(frames)[2][0]).toBe('[SECRET]');
    // The client sees the answers to its own Describes only: p1's, the statement's and p4's.
    expect(frames.filter((f) => f.code === 0x54).length).toBe(3);
    c.end();
  });

  it('around denials in one pipeline', async () => {
    const c = await agent();
    const exec = (sql: string) => [encodeParse('', sql), encodeBind('', '', []), encodeExecute('', 0), encodeSync()];
    const frames = await exchange(
      c,
      Buffer.concat([
        encodeQuery('DROP TABLE customers'), ...exec('SELECT email FROM customers WHERE id = 1'),
        encodeParse('', 'DROP TABLE customers'), encodeBind('', '', []), encodeDescribe('P', ''), encodeExecute('', 0), encodeSync(),
        ...exec('SELECT card, ssn FROM customers WHERE id = 1'), encodeQuery('SELECT email FROM customers WHERE id = 1'),
      ]),
      5,
    );
    expectNoSecret(frames);
    expect(rows(frames)).toEqual([['[EMAIL]'], ['[CREDIT_CARD]', '[SSN]'], ['[EMAIL]']]);
    expect(errors(frames).map((e) => e.M)).toEqual([expect.stringMatching(/no-drops|Airlock/), expect.stringMatching(/no-drops|Airlock/)]);
    c.end();
  });

  it('a rewritten row keeps its other bytes in a client_encoding other than UTF8', async () => {
    const c = await agent();
    await exchange(c, encodeQuery("SET client_encoding TO 'LATIN1'"));
    const frames = await exchange(c, encodeQuery("SELECT chr(252) || ' ' || email FROM customers WHERE id = 1"));
    const row = frames.find((f) => f.code === 0x44)!;
    expect(decodeDataRow(row.body)[0]).toEqual(Buffer.concat([Buffer.from([0xfc]), Buffer.from(' [EMAIL]')]));
    c.end();
  });

  it('binary result formats are refused at Bind; the session goes on', async () => {
    const c = await agent();
    for (const sql of ['SELECT email::bytea FROM customers', 'SELECT array_agg(email) FROM customers', 'SELECT card::int8 FROM customers']) {
      const frames = await exchange(c, Buffer.concat([encodeParse('', sql), encodeBind('', '', [], [1]), encodeExecute('', 0), encodeSync()]));
      expectNoSecret(frames);
      expect(errors(frames)[0]).toMatchObject({ C: '0A000', M: expect.stringMatching(/binary result formats/) });
    }
    const frames = await exchange(c, Buffer.concat([encodeParse('', 'SELECT email FROM customers'), encodeBind('', '', [], [0, 1]), encodeExecute('', 0), encodeSync()]));
    expect(errors(frames)[0]?.C).toBe('0A000');
    expect(rows(await exchange(c, encodeQuery('SELECT 2')))).toEqual([['2']]);
    c.end();
  });

  it('a BINARY cursor read by a simple query ends the session before a row is relayed', async () => {
    const c = await agent();
    const frames = await exchange(c, encodeQuery('BEGIN; DECLARE c BINARY CURSOR FOR SELECT email, card FROM customers; FETCH ALL FROM c'));
    expectNoSecret(frames);
    expect(rows(frames)).toEqual([]);
    expect(errors(frames).at(-1)).toMatchObject({ S: 'FATAL', M: expect.stringMatching(/binary result formats/) });
  });
});

describe('other ways rows come back', () => {
  it('a portal executed in parts is masked in every part', async () => {
    const c = await agent();
    const frames = await exchange(
      c,
      Buffer.concat([
        encodeQuery('BEGIN'), encodeParse('', 'SELECT email, card FROM customers ORDER BY id'), encodeBind('p', '', []), encodeDescribe('P', 'p'),
        encodeExecute('p', 1), encodeExecute('p', 1), encodeParse('', 'SELECT 1'), encodeExecute('p', 1), encodeSync(), encodeQuery('COMMIT'),
      ]),
      3,
    );
    expectNoSecret(frames);
    expect(rows(frames)).toEqual([['[EMAIL]', '[CREDIT_CARD]'], ['x', '[CREDIT_CARD]']]);
    c.end();
  });

  it('COPY TO STDOUT through the extended protocol is masked', async () => {
    const c = await agent();
    const frames = await exchange(c, Buffer.concat([encodeParse('', 'COPY customers TO STDOUT (FORMAT csv)'), encodeBind('', '', []), encodeExecute('', 0), encodeSync()]));
    expectNoSecret(frames);
    expect(frames.filter((f) => f.code === 0x64).length).toBe(2);
    c.end();
  });

  it('a fast-path function call is refused, so no FunctionCallResponse comes back', async () => {
    const c = await agent();
    // 'F': Int32 function OID (length(text) = 1257), Int16 0 argument formats, Int16 1 argument, Int32 len + bytes, Int16 result format
    const arg = Buffer.from(EMAIL);
    const body = Buffer.alloc(4 + 2 + 2 + 4 + arg.length + 2);
    body.writeInt32BE(1257, 0);
    body.writeInt16BE(0, 4);
    body.writeInt16BE(1, 6);
    body.writeInt32BE(arg.length, 8);
    arg.copy(body, 12);
    body.writeInt16BE(0, 12 + arg.length);
    const header = Buffer.alloc(5);
    header[0] = 0x46;
    header.writeInt32BE(4 + body.length, 1);
    const frames = await exchange(c, Buffer.concat([header, body]));
    expect(frames.some((f) => f.code === 0x56)).toBe(false);
    expect(errors(frames)[0]?.M).toMatch(/fast-path/);
    c.end();
  });
});

describe('text outside rows', () => {
  it.each([
    ['an error that quotes a value', 'SELECT email::int FROM customers'],
    ['a unique violation', 'INSERT INTO seen SELECT email FROM customers; INSERT INTO seen SELECT email FROM customers'],
    ['RAISE NOTICE', 'SELECT notice_pii()'],
    ['RAISE with detail and hint', 'SELECT raise_pii()'],
    ['an error context', "CREATE FUNCTION pg_temp.f(e text) RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN e::int; END $$; SELECT pg_temp.f(email) FROM customers"],
    ['a notification', "LISTEN ch; SELECT pg_notify('ch', (SELECT email || ' ' || card FROM customers WHERE id = 1))"],
    ['a reported setting', "SELECT set_config('application_name', (SELECT email FROM customers WHERE id = 1), false)"],
    ['a column name', `SELECT 1 AS "${EMAIL}"`],
  ])('%s is masked', async (_what, sql) => {
    const c = await agent();
    const frames = await exchange(c, encodeQuery(sql));
    expectNoSecret(frames);
    expect(frames.some((f) => /\[(EMAIL|CREDIT_CARD|SSN)/.test(f.bytes.toString('latin1')))).toBe(true);
    c.end();
  });
});

describe('at startup', () => {
  it("a setting the target reports at startup (a role's default application_name) is masked", async () => {
    await server.sql(`ALTER ROLE ${server.superuser} SET application_name = '${EMAIL}'`);
    try {
      const startup: Frame[] = [];
      const c = await RawPgClient.login(gw.pgPort, 'bot', 'app', await gw.token('bot', ['agents'], { service: true }), startup);
      expect(startup.some((f) => f.code === 0x53 && f.bytes.includes(Buffer.from('application_name')))).toBe(true);
      expectNoSecret(startup);
      c.end();
    } finally {
      await server.sql(`ALTER ROLE ${server.superuser} RESET application_name`);
    }
  });
});

describe('what is stored', () => {
  it('binary results and parameters are stored decoded and masked, never as raw bytes', async () => {
    const c = await RawPgClient.login(gw.pgPort, 'alice', 'app', await gw.token('alice', ['dba']));
    const sql = 'SELECT email, email::bytea, card::int8, array_agg(email) OVER (), $1::text FROM customers WHERE id = 1';
    const frames = await exchange(c, Buffer.concat([encodeParse('', sql), encodeBind('', '', [Buffer.from(SSN)], [1]), encodeDescribe('P', ''), encodeExecute('', 0), encodeSync()]));
    expect(Buffer.concat(frames.map((f) => f.bytes)).includes(Buffer.from(EMAIL))).toBe(true); // this identity sees real data
    // Once more without a Describe, after a statement of other columns was described under the same name.
    await exchange(c, Buffer.concat([encodeParse('', 'SELECT 1 AS one'), encodeDescribe('S', ''), encodeSync()]));
    await exchange(c, Buffer.concat([encodeParse('', sql), encodeBind('', '', [Buffer.from(SSN)], [1]), encodeExecute('', 0), encodeSync()]));
    // A statement whose rows only a column rule masks, executed without any Describe.
    await exchange(c, Buffer.concat([encodeParse('', 'SELECT password FROM accounts'), encodeBind('', '', []), encodeExecute('', 0), encodeSync()]));
    c.end();
    await c.closed;
    await new Promise((r) => setTimeout(r, 100));
    await gw.gw.recorder.flush();
    (gw.gw.store as unknown as { db: { pragma(s: string): unknown } }).db.pragma('wal_checkpoint(TRUNCATE)');
    const bytes = Buffer.concat(readdirSync(gw.dataDir).filter((f) => f.startsWith('airlock.db')).map((f) => readFileSync(join(gw.dataDir, f))));
    // The store also holds every session of the tests above (errors, notices, notifications, COPY, rows without a Describe).
    for (const s of [EMAIL, CARD, SSN, PASSWORD]) {
      expect(bytes.includes(Buffer.from(s)), s).toBe(false);
      expect(bytes.includes(Buffer.from(Buffer.from(s).toString('hex'))), `hex of ${s}`).toBe(false);
    }
    const int8 = Buffer.alloc(8);
    int8.writeBigInt64BE(BigInt(CARD));
    expect(bytes.includes(Buffer.from(int8.toString('hex'))), 'hex of the card as int8').toBe(false);
    expect(bytes.includes(Buffer.from('[CREDIT_CARD]'))).toBe(true);
  });
});
