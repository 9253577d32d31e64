/**
 * Variants of the policy bypasses: the same effects reached through other syntax (data-modifying CTEs, rules,
 * prepared statements, function bodies, cursors, EXPLAIN ANALYZE, renames, quoting…), through psql against a
 * real PostgreSQL. Each must be refused by the rule naming its effect, and leave the server unchanged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PgServer } from '../harness/postgres.ts';
import { startGateway, pgConnection, type TestGateway } from '../harness/gateway.ts';
import { psql } from '../harness/clients.ts';

let pg: PgServer;
let gw: TestGateway;

beforeAll(async () => {
  pg = await startPostgres();
  await pg.sql(`CREATE TABLE payments (id int primary key, card text);
    INSERT INTO payments SELECT g, '4111 1111 1111 1111' FROM generate_series(1, 3) g;
    CREATE TABLE t (id int primary key, note int);
    INSERT INTO t SELECT g, g FROM generate_series(1, 3) g;
    CREATE TABLE log (id int);`);
  gw = await startGateway({
    connections: {
      guarded: pgConnection(pg, {
        policy: {
          deny: [
            { name: 'no-deletes', statements: ['delete'] },
            { name: 'no-updates', statements: ['update'] },
            { name: 'no-set', statements: ['set'] },
            { name: 'no-drops', statements: ['drop_table'] },
            { name: 'no-payments', tables: ['payments'] },
            { name: 'no-server-files', statements: ['file_read', 'file_write', 'large_object', 'load', 'server_admin'] },
          ],
        },
      }),
      loose: pgConnection(pg, { policy: { deny: [{ name: 'no-drops', statements: ['drop_table'] }] } }),
    },
  });
});

afterAll(async () => {
  await gw?.stop();
  await pg?.stop();
});

async function run(sql: string, database = 'guarded') {
  const token = await gw.token('alice', ['dba']);
  return psql({ port: gw.pgPort, user: 'alice', password: token, database }, ['-At', '-v', 'ON_ERROR_STOP=0'], { input: sql });
}

const state = async (): Promise<string> =>
  (await pg.sql(`SELECT (SELECT string_agg(id || ':' || note, ',' ORDER BY id) FROM t) || ' ' || (SELECT count(*) FROM payments)
    || ' ' || (SELECT count(*) FROM pg_class WHERE relname IN ('t', 'payments')) || ' ' || current_setting('datestyle')
    || ' ' || (SELECT count(*) FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class WHERE c.relname = 'log')
    || ' ' || (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'log'::regclass)
    || ' ' || (SELECT count(*) FROM pg_subscription) || ' ' || (SELECT count(*) FROM pg_publication)`)).trim();

const blocked: [string, string][] = [
  ['no-deletes', 'WITH d AS (DELETE FROM t RETURNING *) SELECT count(*) FROM d;'],
  ['no-updates', 'WITH u AS (UPDATE t SET note = 0 RETURNING *) SELECT count(*) FROM u;'],
  ['no-deletes', 'COPY (DELETE FROM t RETURNING *) TO STDOUT;'],
  ['no-deletes', 'EXPLAIN ANALYZE DELETE FROM t;'],
  ['no-deletes', 'EXPLAIN (ANALYZE true, COSTS off) DELETE FROM t;'],
  ['no-deletes', 'PREPARE p AS DELETE FROM t;\nEXECUTE p;'],
  ['no-deletes', 'CREATE RULE r AS ON INSERT TO log DO ALSO DELETE FROM t;\nINSERT INTO log VALUES (1);'],
  ['no-deletes', 'CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$ DELETE FROM t $$;\nSELECT f();'],
  ['no-deletes', "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS 'DELETE FROM t';\nSELECT f();"],
  ['no-deletes', 'CREATE FUNCTION f() RETURNS void LANGUAGE sql BEGIN ATOMIC DELETE FROM t; END;\nSELECT f();'],
  ['no-deletes', 'CREATE PROCEDURE pr() LANGUAGE sql AS $$ DELETE FROM t $$;\nCALL pr();'],
  ['no-deletes', 'CREATE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN DELETE FROM t; RETURN NEW; END $$;\nCREATE TRIGGER g AFTER INSERT ON log FOR EACH ROW EXECUTE FUNCTION trg();\nINSERT INTO log VALUES (1);'],
  ['no-deletes', 'DO $$ BEGIN DELETE FROM t; END $$;'],
  ['no-deletes', 'DO $x$ BEGIN DELETE FROM t; END $x$;'],
  ['no-deletes', 'DECLARE c CURSOR WITH HOLD FOR WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d;\nFETCH ALL FROM c;'],
  ['no-deletes', 'TRUNCATE t;'],
  ['no-deletes', 'DELETE FROM U&"\\0074";'],
  ['no-deletes', '/* x */ DeLeTe /* y */ FROM "t";'],
  ['no-deletes', 'CREATE TABLE t2 AS WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d;'],
  ['no-payments', 'SELECT * INTO stolen FROM payments;'],
  ['no-payments', 'CREATE TABLE stolen AS SELECT * FROM payments;'],
  ['no-payments', 'CREATE MATERIALIZED VIEW stolen AS SELECT * FROM payments;'],
  ['no-payments', 'BEGIN;\nDECLARE c CURSOR FOR SELECT * FROM payments;\nFETCH ALL FROM c;\nCOMMIT;'],
  ['no-payments', 'SELECT * FROM U&"p\\0061yments";'],
  ['no-payments', 'SELECT * FROM "PAYMENTS";'],
  ['no-payments', 'TABLE public.payments;'],
  ['no-payments', 'SELECT * FROM guarded.public.payments;'],
  ['no-payments', 'PREPARE q AS SELECT * FROM payments;\nEXECUTE q;'],
  ['no-drops', 'ALTER TABLE payments RENAME TO p2;\nSELECT * FROM p2;'],
  ['no-payments', "SELECT * FROM query_to_xml($q$SELECT card FROM payments$q$, true, false, '');"],
  ['no-drops', 'ALTER TABLE payments RENAME TO p2;\nDROP TABLE p2;'],
  ['no-drops', 'ALTER INDEX t RENAME TO gone;'],
  ['no-drops', 'ALTER TABLE t SET SCHEMA pg_temp;'],
  ['no-drops', 'DO $$ BEGIN DROP TABLE t; END $$;'],
  ['no-set', "SET LOCAL datestyle = 'SQL, DMY';"],
  ['no-set', 'RESET ALL;'],
  ['no-set', 'DISCARD ALL;'],
  ['no-set', 'SET SESSION AUTHORIZATION DEFAULT;'],
  ['no-set', "SET datestyle TO 'SQL, DMY';"],
  ['no-set', "CREATE FUNCTION f() RETURNS int LANGUAGE sql SET datestyle = 'SQL, DMY' AS 'SELECT 1';"],
  ['no-set', "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$ SELECT set_config('datestyle', 'SQL, DMY', false) $$;\nSELECT f();"],
  ['no-set', "CREATE AGGREGATE sc(text, boolean) (SFUNC = set_config, STYPE = text, INITCOND = 'datestyle');\nSELECT sc('SQL, DMY', false);"],
  ['no-set', "SELECT pg_catalog.set_config('datestyle', 'SQL, DMY', false);"],
  ['no-updates', "UPDATE pg_settings SET setting = 'SQL, DMY' WHERE name = 'datestyle';"],
  ['no-server-files', "CREATE OPERATOR !!! (RIGHTARG = text, FUNCTION = pg_read_file);\nSELECT !!! 'postgresql.conf';"],
  ['no-server-files', "CREATE AGGREGATE rd(text) (SFUNC = textcat, STYPE = text, FINALFUNC = pg_read_file);\nSELECT rd('postgresql.conf');"],
  ['no-server-files', "SELECT * FROM pg_read_file('postgresql.conf');"],
  ['no-server-files', "SELECT \"pg_read_file\"('postgresql.conf');"],
  ['no-server-files', "SELECT PG_READ_FILE('postgresql.conf');"],
  ['cannot be checked', "CREATE SUBSCRIPTION s CONNECTION 'host=127.0.0.1 dbname=x' PUBLICATION p WITH (connect = false);"],
  ['cannot be checked', 'CREATE PUBLICATION p FOR ALL TABLES;'],
  ['cannot be checked', 'CREATE PUBLICATION p FOR TABLES IN SCHEMA public;'],
  ['no-payments', 'CREATE PUBLICATION p FOR TABLE payments;'],
  ['cannot be checked', 'EXPLAIN ANALYZE EXECUTE elsewhere;'],
  ['cannot be checked', 'CREATE TABLE copied AS EXECUTE elsewhere;'],
  ['cannot be checked', 'CALL some_procedure();'],
  ['cannot be checked', "SELECT * FROM bt_page_items('payments_pkey', 1);"],
];

describe('variants of the bypasses are refused by the rule naming their effect', () => {
  it.each(blocked)('%s blocks %s', async (rule, sql) => {
    const before = await state();
    const r = await run(sql);
    expect(r.stderr).toContain('Airlock: ');
    expect(r.stdout).not.toContain('4111');
    expect(r.stdout).not.toContain('listen_addresses');
    expect(await state()).toBe(before);
    expect(r.stderr).toContain(rule);
  });
});

describe('string literals read as the server reads them', () => {
  it.each([
    "SET standard_conforming_strings = off;\nSELECT 'a\\'; DROP TABLE t; --';",
    "SET standard_conforming_strings = off;\nSELECT 'a\\\\'; DROP TABLE t; --';",
    "SELECT E'a\\'; DROP TABLE t; --';",
    "SELECT $q$a'$q$; DROP TABLE t; --';",
    "SELECT U&'a\\0027'; DROP TABLE t; --';",
  ])('%j drops nothing', async (sql) => {
    await run(sql, 'loose');
    expect((await pg.sql("SELECT count(*) FROM pg_class WHERE relname = 't'")).trim()).toBe('1');
  });
});

describe('SQL-level prepared statements run later', () => {
  it('EXECUTE in a later query of a name prepared earlier is unknown (refused); a PREPARE of a denied statement is denied', async () => {
    const before = await state();
    const r = await run("PREPARE later AS SELECT count(*) FROM t;\nEXECUTE later;\nDEALLOCATE later;\nPREPARE later AS DELETE FROM t;\nEXECUTE later;\n");
    expect(r.stdout.split('\n')).not.toContain('3');
    expect(r.stderr).toMatch(/Airlock: .*cannot be checked/);
    expect(r.stderr).toContain('no-deletes');
    expect(await state()).toBe(before);
  });
});
