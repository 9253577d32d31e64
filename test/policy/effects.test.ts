/**
 * Rules name effects, not syntax, through psql against a real PostgreSQL: every statement that deletes,
 * updates, sets, drops, grants, reads a table by name or reaches server files is caught by the rule naming that
 * effect. Also allow-list mode and superuser targets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/core/logger.ts';
import { startPostgres, type PgServer } from '../harness/postgres.ts';
import { startGateway, pgConnection, type TestGateway } from '../harness/gateway.ts';
import { psql } from '../harness/clients.ts';

let pg: PgServer;
let gw: TestGateway;
const logLines: string[] = [];

beforeAll(async () => {
  pg = await startPostgres();
  await pg.sql(`CREATE TABLE payments (id int primary key, card text);
    INSERT INTO payments SELECT g, '4111 1111 1111 1111' FROM generate_series(1, 3) g;
    CREATE TABLE t (id int primary key, note int);
    INSERT INTO t SELECT g, g FROM generate_series(1, 3) g;
    CREATE SCHEMA attic; CREATE TABLE attic.box (id int);
    GRANT SELECT, INSERT ON payments, t TO ${pg.users.scram.user};
    CREATE ROLE climber LOGIN PASSWORD 'climber-pw' IN ROLE admin;`);
  const log = createLogger({ level: 'warn', destination: new Writable({ write: (c, _e, cb) => (logLines.push(String(c)), cb()) }) });
  gw = await startGateway(
    {
      connections: {
        guarded: pgConnection(pg, {
          policy: {
            deny: [
              { name: 'no-deletes', statements: ['delete'] },
              { name: 'no-updates', statements: ['update'] },
              { name: 'no-set', statements: ['set'] },
              { name: 'no-drops', statements: ['drop_table'] },
              { name: 'no-grants', statements: ['grant'] },
              { name: 'no-payments', tables: ['payments'] },
              { name: 'no-server-files', statements: ['file_read', 'file_write', 'large_object', 'load', 'server_admin'] },
            ],
          },
        }),
        'superuser-refused': pgConnection(pg, { allowSuperuser: false }),
        plain: pgConnection(pg, {}, 'scram'),
        climber: pgConnection(pg, { user: 'climber', password: 'climber-pw' }, 'scram'),
        agent: pgConnection(pg, { policy: { allow: ['select', 'set', 'transaction', 'explain'] } }, 'scram'),
      },
    },
    { log },
  );
});

afterAll(async () => {
  await gw?.stop();
  await pg?.stop();
});

async function run(db: string, sql: string) {
  const token = await gw.token('alice', ['dba']);
  return psql({ port: gw.pgPort, user: 'alice', password: token, database: db }, ['-At', '-c', sql]);
}

const state = async (): Promise<string> =>
  (await pg.sql(`SELECT (SELECT string_agg(id || ':' || note, ',' ORDER BY id) FROM t) || ' ' || (SELECT count(*) FROM payments)
    || ' ' || (SELECT count(*) FROM pg_tables WHERE schemaname = 'attic') || ' ' || current_setting('datestyle')`)).trim();

describe('a rule naming an effect covers every statement with it', () => {
  const blocked: [string, string][] = [
    ['no-deletes', 'MERGE INTO t USING t AS s ON true WHEN MATCHED THEN DELETE'],
    ['no-updates', 'MERGE INTO t USING t AS s ON true WHEN MATCHED THEN UPDATE SET note = 0'],
    ['no-updates', 'INSERT INTO t SELECT * FROM t ON CONFLICT (id) DO UPDATE SET note = 0'],
    ['no-updates', 'ALTER TABLE t ALTER COLUMN note TYPE bigint USING 0'],
    ['no-set', "SELECT set_config('datestyle', 'SQL, DMY', false)"],
    ['no-drops', 'DROP SCHEMA attic CASCADE'],
    ['no-drops', 'DROP OWNED BY CURRENT_USER'],
    ['no-drops', 'ALTER TABLE attic.box RENAME TO crate'],
    ['no-grants', 'ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO PUBLIC'],
    ['no-payments', "SELECT table_to_xml('payments', true, false, '')"],
    ['no-payments', "SELECT query_to_xml('SELECT card FROM payments', true, false, '')"],
    ['no-payments', `DO $$ DECLARE "a b" text; BEGIN "a b" := (SELECT string_agg(card, ',') FROM payments); RAISE NOTICE '%', "a b"; END $$`],
    ['no-server-files', "COPY (SELECT 'shared_preload_libraries = ''x''') TO 'postgresql.auto.conf'"],
    ['no-server-files', 'SELECT pg_reload_conf()'],
    ['no-server-files', "SELECT lo_export(lo_from_bytea(0, 'x'), '/tmp/airlock-test.so')"],
    ['no-server-files', "LOAD '/tmp/airlock-test.so'"],
    ['no-server-files', "SELECT pg_read_file('postgresql.conf')"],
  ];
  it.each(blocked)('%s blocks %s', async (rule, sql) => {
    const before = await state();
    const r = await run('guarded', sql);
    expect(r.stderr).toContain(`Airlock: `);
    expect(r.stderr).toContain(rule);
    expect(r.stdout).not.toContain('4111');
    expect(await state()).toBe(before);
  });

  it('a table or SQL named at run time is unknown, and refused', async () => {
    const r = await run('guarded', "SELECT query_to_xml('SELECT card FROM ' || 'payments', true, false, '')");
    expect(r.stderr).toMatch(/Airlock: .*cannot be checked/);
  });

  it('what has none of the effects goes through', async () => {
    expect((await run('guarded', 'SELECT sum(note) FROM t')).stdout.trim()).toBe('6');
    expect((await run('guarded', "SELECT length(table_to_xml('t', true, false, '')::text) > 0")).stdout.trim()).toBe('t');
  });
});

describe('allow-list mode', () => {
  it('lets through what is listed and nothing else', async () => {
    expect((await run('agent', 'SELECT count(*) FROM t')).stdout.trim()).toBe('3');
    for (const sql of ['INSERT INTO t VALUES (9, 9)', "SELECT pg_read_file('postgresql.conf')", 'DO $$ BEGIN PERFORM 1; END $$', 'COPY t TO STDOUT']) {
      const r = await run('agent', sql);
      expect(r.stderr, sql).toMatch(/Airlock: .*allow list/);
    }
    expect((await pg.sql('SELECT count(*) FROM t')).trim()).toBe('3');
  });
});

describe('superuser targets', () => {
  it('are refused unless the connection allows them', async () => {
    const r = await run('superuser-refused', 'SELECT 1');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Airlock: session refused: the target role is a superuser.*allowSuperuser: true/);
  });

  it('a non-superuser target is relayed', async () => {
    expect((await run('plain', 'SELECT current_setting($$is_superuser$$)')).stdout.trim()).toBe('off');
  });

  it('an allowed one is warned about in the log, once per connection', async () => {
    await run('guarded', 'SELECT 1');
    await run('guarded', 'SELECT 1');
    const warnings = logLines.filter((l) => l.includes('superuser') && l.includes('"connection":"guarded"'));
    expect(warnings).toHaveLength(1);
  });

  it('a session that becomes a superuser (SET ROLE) ends', async () => {
    const token = await gw.token('alice', ['dba']);
    const r = await psql({ port: gw.pgPort, user: 'alice', password: token, database: 'climber' }, ['-At', '-v', 'ON_ERROR_STOP=0'], {
      input: "SET ROLE admin;\nSELECT 'still here';\n",
    });
    expect(r.stderr).toMatch(/Airlock: the session became a superuser/);
    expect(r.stdout).not.toContain('still here');
  });
});
