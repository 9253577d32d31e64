import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import pg from 'pg';
import { startPostgres, type PgServer } from '../harness/postgres.ts';
import { startGateway, pgConnection, type TestGateway } from '../harness/gateway.ts';
import { RawPgClient } from '../harness/raw-pg-client.ts';
import { CLIENT_ENCODINGS } from '../../src/protocols/postgres/client-encoding.ts';

/**
 * Generated statements that hide a DROP behind bytes which may or may not form multibyte characters, sent through the
 * gateway's session in every client encoding the server accepts. The oracle is the real server: whatever the gateway
 * lets through, the table must still be there. Statements the server reads as harmless may pass; none that drops may.
 */
let server: PgServer;
let gw: TestGateway;
let direct: pg.Client;
let client: RawPgClient;
let encodings: string[] = [];

beforeAll(async () => {
  server = await startPostgres();
  await server.sql('CREATE TABLE victim (id int)');
  direct = new pg.Client({ host: server.host, port: server.port, user: server.superuser, password: server.password, database: server.database });
  await direct.connect();
  // Every encoding this (UTF8) server takes as client_encoding: MULE_INTERNAL pairs only with other server encodings.
  for (const e of CLIENT_ENCODINGS) {
    const ok = await direct.query(`SELECT set_config('client_encoding', $1, false)`, [e]).then(() => true, () => false);
    if (ok) encodings.push(e);
  }
  await direct.query(`SET client_encoding TO 'UTF8'`);
  gw = await startGateway({ connections: { app: pgConnection(server, { allow: ['dba'], policy: { deny: [{ name: 'no-drops', statements: ['drop_table'] }] } }) } });
  const token = await gw.token('alice', ['dba']);
  client = await RawPgClient.login(gw.pgPort, 'alice', 'app', token);
}, 60_000);

afterAll(async () => {
  client?.end();
  await direct?.end();
  await gw?.stop();
  await server?.stop();
});

function query(bytes: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write('Q', 0, 'latin1');
  head.writeInt32BE(bytes.length + 5, 1);
  return Buffer.concat([head, bytes, Buffer.from([0])]);
}

async function run(bytes: Buffer): Promise<void> {
  client.socket.write(query(bytes));
  await client.until('Z');
}

/** An ASCII byte that ends or escapes a token (the backslash most often: it is a trail byte in SJIS, BIG5, GBK…). */
const ascii = fc.oneof(
  { arbitrary: fc.constant(0x5c), weight: 4 },
  { arbitrary: fc.constantFrom(0x27, 0x22, 0x24, 0x3b, 0x2d, 0x2f, 0x2a, 0x30, 0x41, 0x20, 0x0a), weight: 4 },
);
const high = fc.integer({ min: 0x80, max: 0xff });
/** Runs of a high byte followed by an ASCII byte (a character in some encodings, two in others), and lone bytes. */
const middle = fc
  .array(fc.oneof({ arbitrary: fc.tuple(high, ascii), weight: 3 }, { arbitrary: high.map((b) => [b]), weight: 1 }, { arbitrary: ascii.map((b) => [b]), weight: 1 }), {
    minLength: 1,
    maxLength: 4,
  })
  .map((units) => units.flat());
/** How the hidden statement is wrapped: after a string, an identifier, a dollar quote, a comment. */
const wrappers: [string, string][] = [
  ["SELECT E'", "'; DROP TABLE victim; -- '"],
  ["SELECT '", "'; DROP TABLE victim; -- '"],
  ['SELECT 1 AS "', '"; DROP TABLE victim; -- "'],
  ['SELECT $q$', '$q$; DROP TABLE victim; -- $q$'],
  ['SELECT 1 /* ', ' */; DROP TABLE victim; /* */'],
  ['SELECT 1 -- ', '\nDROP TABLE victim'],
];

describe('client_encoding property: a DROP hidden behind multibyte bytes never passes the gateway', () => {
  it('in every client encoding, for generated prefixes and wrappers', async () => {
    expect(encodings.length).toBeGreaterThan(35);
    for (const encoding of encodings) {
      await run(Buffer.from(`SET client_encoding TO '${encoding}'`));
      await fc.assert(
        fc.asyncProperty(middle, fc.constantFrom(...wrappers), async (middle, [head, tail]) => {
          await run(Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(middle), Buffer.from(tail, 'latin1')]));
          const exists = (await direct.query("SELECT to_regclass('public.victim') IS NOT NULL AS e")).rows[0].e as boolean;
          if (!exists) await direct.query('CREATE TABLE victim (id int)');
          expect({ encoding, bytes: Buffer.from(middle).toString('hex'), dropped: !exists }).toMatchObject({ dropped: false });
        }),
        { numRuns: 60 },
      );
    }
  }, 300_000);
});
