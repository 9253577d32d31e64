import { beforeAll, describe, expect, it } from 'vitest';
import type { PolicyConfig } from '../config/schema.ts';
import type { Identity } from '../core/identity.ts';
import { compilePolicy } from './compile.ts';
import { initSqlParser } from './sql/classify.ts';
import { regclassName } from './sql/functions.ts';
import type { ConnectionPolicy } from './types.ts';

beforeAll(async () => {
  await initSqlParser();
});

const alice: Identity = { subject: 'alice', groups: ['dev'], kind: 'user', authMethod: 'oidc' };

function compile(p: Partial<PolicyConfig>): ConnectionPolicy {
  return compilePolicy({ deny: [], review: [], ...p }, { protocol: 'postgres' });
}

function decide(pol: ConnectionPolicy, text: string) {
  return pol.decide({ protocol: 'postgres', kind: 'query', text }, alice);
}

describe('rules name effects, not syntax', () => {
  const cases: [string[], string][] = [
    [['delete'], 'MERGE INTO t USING t s ON true WHEN MATCHED THEN DELETE'],
    [['delete_without_where'], 'MERGE INTO t USING (SELECT 1 AS id) s ON t.id = s.id WHEN MATCHED THEN DELETE'],
    [['update'], 'MERGE INTO t USING t s ON true WHEN MATCHED THEN UPDATE SET id = 0'],
    [['update_without_where'], 'INSERT INTO t SELECT * FROM t ON CONFLICT (id) DO UPDATE SET note = 0'],
    [['update'], 'INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET note = 0'],
    [['update_without_where'], 'ALTER TABLE t ALTER COLUMN note TYPE text USING NULL'],
    [['set'], "SELECT set_config('role', 'x', false)"],
    [['set'], "SELECT pg_catalog.set_config('search_path', 'evil', false)"],
    [['set'], "UPDATE pg_settings SET setting = 'x' WHERE name = 'role'"],
    [['drop_table'], 'DROP SCHEMA s CASCADE'],
    [['drop_table'], 'DROP OWNED BY alice'],
    [['drop_table'], 'DROP TYPE mood CASCADE'],
    [['drop_table'], 'ALTER TABLE payments RENAME TO old_payments'],
    [['drop_table'], 'ALTER TABLE payments SET SCHEMA attic'],
    [['drop'], 'ALTER TABLE payments DROP COLUMN card'],
    [['grant'], 'ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO PUBLIC'],
    [['grant'], 'ALTER ROLE alice SUPERUSER'],
    [['grant'], 'CREATE ROLE mallory LOGIN IN ROLE admin'],
    [['grant'], 'ALTER TABLE payments OWNER TO alice'],
    [['grant'], 'ALTER FUNCTION f() OWNER TO alice'],
    [['grant'], 'REASSIGN OWNED BY admin TO alice'],
    [['set'], "ALTER ROLE alice SET role = 'admin'"],
    [['set'], "ALTER DATABASE app SET search_path = evil"],
    [['set'], "ALTER SYSTEM SET shared_preload_libraries = 'x'"],
    [['delete_without_where'], 'TRUNCATE t'],
    [['file_write'], "COPY (SELECT 1) TO '/var/lib/postgresql/data/postgresql.auto.conf'"],
    [['file_read'], "COPY t FROM '/etc/passwd'"],
    [['file_read'], "SELECT pg_read_file('postgresql.conf')"],
    [['file_read'], "SELECT * FROM pg_ls_dir('.')"],
    [['file_write', 'large_object'], "SELECT lo_export(1234, '/tmp/x.so')"],
    [['load'], "LOAD '/tmp/x.so'"],
    [['load'], "CREATE FUNCTION f() RETURNS int LANGUAGE c AS '/tmp/x.so', 'f'"],
    [['load'], 'CREATE EXTENSION dblink'],
    [['server_admin'], 'SELECT pg_reload_conf()'],
    [['server_admin'], 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity'],
    [['remote'], "CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'x')"],
  ];
  it.each(cases)('a rule naming %j blocks %s', (names, sql) => {
    for (const name of names) {
      const d = decide(compile({ deny: [{ name: 'r', statements: [name], onUnknown: 'allow' }] }), sql);
      expect(d.action, `${name}: ${sql}`).toBe('deny');
    }
  });

  it('role changes that take privileges away are not grants', () => {
    const pol = compile({ deny: [{ name: 'r', statements: ['grant'] }] });
    expect(decide(pol, 'ALTER ROLE alice NOSUPERUSER NOCREATEDB').action).toBe('allow');
    expect(decide(pol, 'CREATE ROLE reader LOGIN').action).toBe('allow');
  });

  it('upserts of literal rows are not updates without WHERE', () => {
    const pol = compile({ deny: [{ name: 'r', statements: ['update_without_where'] }] });
    expect(decide(pol, 'INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET note = 0').action).toBe('allow');
  });

  it('the reason names the effect', () => {
    const d = decide(compile({ deny: [{ name: 'no-deletes', statements: ['delete'] }] }), 'MERGE INTO t USING t s ON true WHEN MATCHED THEN DELETE');
    expect(d).toMatchObject({ action: 'deny', reason: expect.stringContaining('MERGE (DELETE without WHERE)') });
  });

  const tables: string[] = [
    "SELECT table_to_xml('payments', true, false, '')",
    "SELECT table_to_xml('public.PAYMENTS'::regclass, true, false, '')",
    'SELECT table_to_xml(\'"public"."payments"\', true, false, \'\')',
    "SELECT query_to_xml('SELECT card FROM payments', true, false, '')",
    "SELECT xmlserialize(document query_to_xml_and_xmlschema('select * from payments', true, false, '') as text)",
    "SELECT * FROM ts_stat('SELECT to_tsvector(card) FROM payments')",
    'DO $$ DECLARE "a b" text; BEGIN "a b" := (SELECT card FROM payments); RAISE NOTICE \'%\', "a b"; END $$',
    'CREATE FUNCTION f() RETURNS text LANGUAGE plpgsql AS $$ DECLARE "a b" text; BEGIN "a b" := (SELECT card FROM payments); RETURN "a b"; END $$',
    'CREATE FUNCTION f() RETURNS text LANGUAGE plpgsql AS $$ DECLARE r record; BEGIN "r"."x" := (SELECT card FROM payments); RETURN 1; END $$',
  ];
  it.each(tables)('a table rule covers %s', (sql) => {
    const d = decide(compile({ deny: [{ name: 'no-payments', tables: ['payments'], onUnknown: 'allow' }] }), sql);
    expect(d.action).toBe('deny');
  });

  const unknown: string[] = [
    'SELECT query_to_xml($1, true, false, \'\')',
    "SELECT set_config(name, 'x', false) FROM pg_settings",
    'SELECT table_to_xml(16384, true, false, \'\')',
    "SELECT table_to_xml(relname::regclass, true, false, '') FROM pg_class",
    "SELECT schema_to_xml('public', true, false, '')",
    "SELECT database_to_xml(true, false, '')",
    "SELECT dblink_exec('dbname=postgres', 'DROP TABLE payments')",
    "SELECT query_to_xml('SELECT ' || 'card FROM payments', true, false, '')",
  ];
  it.each(unknown)('an argument that is not a literal makes %s unknown', (sql) => {
    const d = decide(compile({ deny: [{ name: 'no-payments', tables: ['payments'] }] }), sql);
    expect(d).toMatchObject({ action: 'deny', reason: expect.stringContaining('cannot be checked') });
  });

  it('calls of functions not in the catalogue are no effect', () => {
    const pol = compile({ deny: [{ name: 'r', statements: ['set', 'file_read', 'file_write', 'server_admin', 'drop'] }] });
    for (const sql of ['SELECT my_func(1)', "SELECT current_setting('role')", 'SELECT lower(x) FROM t', "SELECT format('%s', 1)"]) {
      expect(decide(pol, sql).action, sql).toBe('allow');
    }
  });

  it('reads regclass names as PostgreSQL does', () => {
    expect(regclassName('Payments')).toBe('payments');
    expect(regclassName(' public . payments ')).toBeUndefined();
    expect(regclassName('"pub""lic".payments')).toBe('pub"lic.payments');
    expect(regclassName('db.public.payments')).toBe('public.payments');
    expect(regclassName('"unterminated')).toBeUndefined();
  });
});

describe('allow-list mode', () => {
  const pol = (): ConnectionPolicy => compile({ allow: ['select', 'set', 'transaction', 'explain'] });

  it('allows what is listed, kind and every effect', () => {
    for (const sql of ['SELECT 1', 'BEGIN', 'SET search_path = app', "SELECT set_config('statement_timeout', '5s', false)", 'EXPLAIN SELECT * FROM t', 'SELECT my_func()']) {
      expect(decide(pol(), sql).action, sql).toBe('allow');
    }
  });

  it('denies everything else, effects and unknowns included', () => {
    const refused = [
      'INSERT INTO t VALUES (1)', 'DELETE FROM t WHERE id = 1', "SELECT pg_read_file('x')", 'SELECT pg_reload_conf()',
      "COPY t TO '/tmp/x'", 'COPY t TO STDOUT', 'DO $$ BEGIN PERFORM 1; END $$', 'not sql', 'SELECT 1; DROP TABLE t',
      "SELECT query_to_xml($1, true, false, '')", 'WITH d AS (DELETE FROM t RETURNING 1) SELECT * FROM d', 'EXPLAIN ANALYZE DELETE FROM t',
      "LOAD 'x'", 'CALL p()',
    ];
    for (const sql of refused) expect(decide(pol(), sql), sql).toMatchObject({ action: 'deny', rule: 'allow-list' });
  });

  it('otherwise: review holds what is not listed for the approvers', () => {
    const p = compile({ allow: ['select'], otherwise: 'review', approvers: ['dba-leads'] });
    expect(decide(p, 'DELETE FROM t')).toMatchObject({ action: 'review', rule: 'allow-list', approvers: ['dba-leads'] });
  });

  it('explicit deny rules still win; bad lists are refused when compiled', () => {
    const p = compile({ allow: ['any'], deny: [{ name: 'no-drops', statements: ['drop'] }] });
    expect(decide(p, 'DROP TABLE t')).toMatchObject({ action: 'deny', rule: 'no-drops' });
    expect(() => compile({ allow: ['selects'] })).toThrow(/unknown statement "selects"/);
    expect(() => compile({ allow: ['select'], otherwise: 'review' })).toThrow(/approvers/);
    expect(() => compile({ otherwise: 'review' })).toThrow(/go with `allow`/);
    // On SSH connections the list holds command globs (commands/allow-list.ts); other protocols have none.
    expect(() => compilePolicy({ deny: [], review: [], allow: ['select'] }, { protocol: 'mysql' })).toThrow(/does not apply/);
  });
});
