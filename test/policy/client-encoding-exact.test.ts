import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startPostgres, type PgServer } from '../harness/postgres.ts';
import { CLIENT_ENCODINGS, ClientEncoding } from '../../src/protocols/postgres/client-encoding.ts';

/**
 * The gateway reads statement text with its own decoders; the server with its conversion routines. They must split
 * bytes into characters alike wherever an ASCII byte follows a high byte, or a quote or backslash seen by one is part
 * of a character for the other. Checked here against the real server for every lead byte and every ASCII byte that
 * can end a token, in every client encoding the gateway reads.
 */
let server: PgServer;
let db: pg.Client;

/** Bytes that start, end or escape a token, plus a letter and a digit. */
const TRAILS = [...'\t\n\r "$\'()*-./;\\A0'].map((c) => c.charCodeAt(0));

beforeAll(async () => {
  server = await startPostgres();
  db = new pg.Client({ host: server.host, port: server.port, user: server.superuser, password: server.password, database: server.database });
  await db.connect();
  await db.query(`CREATE FUNCTION try_convert(b bytea, enc name) RETURNS text LANGUAGE plpgsql AS $$
    BEGIN RETURN convert_from(b, enc); EXCEPTION WHEN others THEN RETURN NULL; END $$`);
});

afterAll(async () => {
  await db?.end();
  await server?.stop();
});

/** ASCII characters kept, each run of other characters as one '·': what the lexer's token boundaries depend on. */
function skeleton(s: string): string {
  return s.replace(/[^\x00-\x7f]+/g, '·');
}

function sequences(): Buffer[] {
  const out: Buffer[] = [];
  for (let lead = 0x80; lead <= 0xff; lead++) {
    for (const t of TRAILS) {
      out.push(Buffer.from([lead, t]));
      for (const mid of [0x30, 0x81, 0xa1, 0xfe]) out.push(Buffer.from([lead, mid, t]));
      out.push(Buffer.from([lead, 0x30, 0x81, t])); // GB18030 four-byte forms hold ASCII digits
    }
  }
  return out;
}

describe('client_encoding: the gateway splits characters as PostgreSQL does', () => {
  it('knows every client encoding the server knows', async () => {
    const { rows } = await db.query<{ name: string }>(
      `SELECT pg_encoding_to_char(i) AS name FROM generate_series(0, 100) i WHERE pg_encoding_to_char(i) <> '' AND pg_char_to_encoding(pg_encoding_to_char(i)) >= 0`,
    );
    const valid: string[] = [];
    for (const { name } of rows) {
      const ok = await db.query('SELECT try_convert($1, $2) IS NOT NULL AS ok', [Buffer.from('a'), name]);
      if (ok.rows[0].ok) valid.push(name);
    }
    // MULE_INTERNAL only pairs with EUC and LATIN server encodings, not with this UTF8 one.
    expect([...CLIENT_ENCODINGS].filter((e) => e !== 'MULE_INTERNAL').sort()).toEqual(valid.sort());
  });

  it.each(CLIENT_ENCODINGS.filter((e) => e !== 'SQL_ASCII'))('%s', async (name) => {
    const enc = new ClientEncoding();
    enc.parameter('client_encoding', name);
    const bytes = sequences();
    const { rows } = await db.query<{ r: string | null }>('SELECT try_convert(b, $2) AS r FROM unnest($1::bytea[]) WITH ORDINALITY AS u(b, n) ORDER BY n', [bytes, name]);
    const mismatches: string[] = [];
    let refusedButValid = 0;
    rows.forEach(({ r }, i) => {
      if (r === null) return; // the server refuses the whole message: nothing runs
      const ours = enc.read(bytes[i]!);
      if ('error' in ours) {
        refusedButValid++; // refused by the gateway although the server would take it: safe, reported below
        return;
      }
      if (skeleton(ours.text) !== skeleton(r)) mismatches.push(`${bytes[i]!.toString('hex')}: server ${JSON.stringify(r)}, gateway ${JSON.stringify(ours.text)}`);
    });
    expect(mismatches).toEqual([]);
    if (refusedButValid) console.info(`${name}: ${refusedButValid} of ${rows.length} sequences the server accepts are refused by the gateway`);
  });
});
