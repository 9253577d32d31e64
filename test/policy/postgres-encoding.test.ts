import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, run, pgBinDir, type PgServer } from '../harness/postgres.ts';
import { startGateway, pgConnection, type TestGateway } from '../harness/gateway.ts';
import { RawPgClient } from '../harness/raw-pg-client.ts';
import { decodeErrorFields } from '../../src/protocols/postgres/codec/backend.ts';
import { encodeBind, encodeExecute, encodeSync } from '../../src/protocols/postgres/codec/frontend.ts';
import { join } from 'node:path';

/**
 * The server reads statement text in the session's client_encoding; the gateway must read it the same way. In SJIS,
 * BIG5 and GBK the second byte of a character can be `\`: read as UTF-8, `E'<lead>\'` leaves the string open and the
 * statements after it look like string content.
 */
let pg: PgServer;
let gw: TestGateway;
let token: string;

/**
 * Lead bytes whose character ends in 0x5c (`\`), per encoding, and how the gateway answers: it sees the DROP, or (UHC,
 * whose extended characters Node's decoder does not read as the server does) refuses the text unread.
 */
const TRICKS: [string, string, string][] = [
  ['SJIS', '\\x83', 'blocked by rule no-drops'],
  ['BIG5', '\\xa4', 'blocked by rule no-drops'],
  ['GBK', '\\x81', 'blocked by rule no-drops'],
  ['GB18030', '\\x81', 'blocked by rule no-drops'],
  ['UHC', '\\x81', 'that the gateway cannot read exactly as the server does'],
];

beforeAll(async () => {
  pg = await startPostgres();
  await pg.sql('CREATE TABLE victim (id int); CREATE TABLE secrets (v text); INSERT INTO secrets VALUES ($$s3cret$$)');
  gw = await startGateway({
    connections: {
      app: pgConnection(pg, {
        allow: ['dba'],
        policy: { deny: [{ name: 'no-drops', statements: ['drop_table', 'truncate'] }, { name: 'no-secrets', tables: ['secrets'] }] },
      }),
    },
  });
  token = await gw.token('alice', ['dba']);
});

afterAll(async () => {
  await gw?.stop();
  await pg?.stop();
});

async function victimExists(): Promise<boolean> {
  return (await pg.sql("SELECT to_regclass('public.victim') IS NOT NULL")).trim() === 't';
}

/** psql -c with a command given as a bash $'…' string (raw bytes, not UTF-8), in the environment given. */
function psqlBytes(command: string, env: Record<string, string>): ReturnType<typeof run> {
  const conninfo = `host=127.0.0.1 port=${gw.pgPort} dbname=app user=alice sslmode=disable`;
  return run('bash', ['-c', `"$PSQL" -X -At -v ON_ERROR_STOP=1 -d "$CONNINFO" -c $'${command}'`], {
    env: { PSQL: join(pgBinDir(), 'psql'), CONNINFO: conninfo, PGPASSWORD: token, ...env },
  });
}

function frame(code: string, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(5);
  head.write(code, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}
const cstr = (b: Buffer | string): Buffer => Buffer.concat([Buffer.from(b as string), Buffer.from([0])]);
const rawQuery = (text: Buffer): Buffer => frame('Q', cstr(text));
const rawParse = (text: Buffer): Buffer => frame('P', cstr(''), cstr(text), Buffer.from([0, 0]));

async function errorOrOk(c: RawPgClient): Promise<string> {
  const f = await c.until('C', 'E');
  return f.code === 0x45 ? `${decodeErrorFields(f.body).C}: ${decodeErrorFields(f.body).M}` : 'ok';
}

describe('client_encoding: statements are read as the server reads them', () => {
  it.each(TRICKS)('%s set at startup: a DROP after a character ending in a backslash is refused', async (encoding, lead, answer) => {
    const r = await psqlBytes(`SELECT E\\'${lead}\\x5c\\'; DROP TABLE victim; -- \\'`, { PGCLIENTENCODING: encoding });
    expect(r.stderr).toContain(answer);
    expect(await victimExists()).toBe(true);
  });

  it('sees TRUNCATE and reads of a denied table behind the same trick, and options -c client_encoding', async () => {
    const t = await psqlBytes(`SELECT E\\'\\x83\\x5c\\'; TRUNCATE victim; -- \\'`, { PGCLIENTENCODING: 'SJIS' });
    expect(t.stderr).toContain('blocked by rule no-drops');
    const s = await psqlBytes(`SELECT E\\'\\xa4\\x5c\\'; SELECT * FROM secrets; -- \\'`, { PGCLIENTENCODING: 'BIG5' });
    expect(s.stderr).toContain('blocked by rule no-secrets');
    expect(s.stdout).not.toContain('s3cret');
    const o = await psqlBytes(`SELECT E\\'\\x83\\x5c\\'; DROP TABLE victim; -- \\'`, { PGOPTIONS: '-c client_encoding=SJIS' });
    expect(o.stderr).toContain('blocked by rule no-drops');
    expect(await victimExists()).toBe(true);
  });

  it('allows ordinary text in those encodings and returns it', async () => {
    const r = await psqlBytes(`SELECT length(E\\'\\x83\\x5c\\')`, { PGCLIENTENCODING: 'SJIS' });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('1');
  });

  it('follows SET and set_config: a statement pipelined behind them waits for the server to report the encoding', async () => {
    const c = await RawPgClient.login(gw.pgPort, 'alice', 'app', token);
    const sjis = Buffer.from("SELECT E'\x83\x5c'; DROP TABLE victim; -- '", 'latin1');
    c.socket.write(Buffer.concat([rawQuery(Buffer.from("SET client_encoding TO 'SJIS'")), rawQuery(sjis)]));
    expect(await errorOrOk(c)).toBe('ok');
    expect(await errorOrOk(c)).toMatch(/^42501: .*no-drops/);
    await c.until('Z');
    c.socket.write(Buffer.concat([rawQuery(Buffer.from("SELECT set_config('client_encoding', 'BIG5', false)")), rawQuery(Buffer.from("SELECT E'\xa4\x5c'; DROP TABLE victim; -- '", 'latin1'))]));
    expect(await errorOrOk(c)).toBe('ok');
    expect(await errorOrOk(c)).toMatch(/^42501: .*no-drops/);
    await c.until('Z');
    c.end();
    expect(await victimExists()).toBe(true);
  });

  it('reads a whole Query in the encoding in effect when it arrives, as the server does', async () => {
    const c = await RawPgClient.login(gw.pgPort, 'alice', 'app', token);
    c.socket.write(rawQuery(Buffer.from("SET client_encoding TO 'SJIS'; SELECT E'\x83\x5c'; DROP TABLE victim; -- '", 'latin1')));
    expect(await errorOrOk(c)).toMatch(/^22021: /);
    await c.until('Z');
    c.end();
    expect(await victimExists()).toBe(true);
  });

  it('refuses non-ASCII text after an Execute in the same extended-protocol pipeline', async () => {
    const c = await RawPgClient.login(gw.pgPort, 'alice', 'app', token);
    c.socket.write(Buffer.concat([
      rawParse(Buffer.from("SET client_encoding TO 'SJIS'")), encodeBind('', '', []), encodeExecute('', 0),
      rawParse(Buffer.from("SELECT E'\x83\x5c'; DROP TABLE victim; -- '", 'latin1')), encodeSync(),
    ]));
    expect(await errorOrOk(c)).toBe('ok');
    expect(await errorOrOk(c)).toMatch(/^0A000: .*send a Sync first/);
    await c.until('Z');
    c.end();
    expect(await victimExists()).toBe(true);
  });

  it('refuses non-ASCII text in an encoding it cannot read exactly, and reads ASCII in it', async () => {
    const bad = await psqlBytes(`SELECT E\\'\\x84\\x5c\\'; DROP TABLE victim; -- \\'`, { PGCLIENTENCODING: 'JOHAB' });
    expect(bad.stderr).toContain('cannot be checked in client_encoding JOHAB');
    const ascii = await psqlBytes('SELECT 41 + 1', { PGCLIENTENCODING: 'JOHAB' });
    expect(ascii.stdout.trim()).toBe('42');
    expect(await victimExists()).toBe(true);
  });
});
