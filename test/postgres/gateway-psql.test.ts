import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { pgBinDir, run, startPostgres, type PgServer } from '../harness/postgres.ts';
import { startGateway, pgConnection, type TestGateway } from '../harness/gateway.ts';
import { psql } from '../harness/clients.ts';

let pg: PgServer;
let gw: TestGateway;

beforeAll(async () => {
  pg = await startPostgres();
  await pg.sql('CREATE TABLE items (id int primary key, name text, email text)');
  await pg.sql("INSERT INTO items SELECT g, 'item ' || g, 'user' || g || '@example.com' FROM generate_series(1, 50) g");
  gw = await startGateway({
    connections: {
      'pg-main': pgConnection(pg),
      'pg-md5': pgConnection(pg, {}, 'md5'),
      'pg-clear': pgConnection(pg, {}, 'cleartext'),
      'pg-trust': pgConnection(pg, {}, 'trust'),
      'pg-scram': pgConnection(pg, {}, 'scram'),
      'pg-ops': pgConnection(pg, { allow: ['ops'] }),
      'pg-guarded': pgConnection(pg, { policy: { deny: [{ name: 'no-role-change', patterns: ['(?i)^SET\\s+role\\b'] }] } }),
      'pg-no-set': pgConnection(pg, { policy: { deny: [{ name: 'no-set', statements: ['set'] }] } }),
    },
  });
});

afterAll(async () => {
  await gw?.stop();
  await pg?.stop();
});

describe('psql through the gateway', () => {
  it('runs a query with a valid token and records it', async () => {
    const token = await gw.token('alice', ['dba']);
    const r = await psql({ port: gw.pgPort, user: 'alice', password: token, database: 'pg-main' }, ['-At', '-c', 'select count(*) from items']);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('50');
    await waitSessions(1);
    const [s] = await gw.gw.store.listSessions({ user: 'alice' });
    expect(s.connection).toBe('pg-main');
    expect(s.endReason).toBe('client_terminated');
    const events = [];
    for await (const e of gw.gw.store.readEvents(s.id)) events.push(e);
    const q = events.find((e) => e.type === 'db.query');
    expect(q?.data.text).toBe('select count(*) from items');
    const res = events.find((e) => e.type === 'db.result');
    expect(res?.data).toMatchObject({ tag: 'SELECT 1', rows: 1, columns: ['count'], sample: [['50']] });
    expect(JSON.stringify(events)).not.toContain(token);
    expect(JSON.stringify(events)).not.toContain(pg.password);
  });

  it.each(['pg-md5', 'pg-clear', 'pg-trust', 'pg-scram'])('authenticates to the target with the held credential (%s)', async (db) => {
    const token = await gw.token('bob', ['dba']);
    const r = await psql({ port: gw.pgPort, user: 'bob', password: token, database: db }, ['-At', '-c', 'select current_user']);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toMatch(/^u_/);
  });

  it('refuses a bad token with SQLSTATE 28P01', async () => {
    const r = await psql({ port: gw.pgPort, user: 'alice', password: 'alk_nottherealtokenatallxxxxxxx_yyy', database: 'pg-main' }, ['-c', 'select 1']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('password authentication failed for user "alice"');
  });

  it('refuses an expired token and a revoked token', async () => {
    const expired = await gw.token('carol', ['dba'], { ttlMs: 1 });
    await new Promise((r) => setTimeout(r, 5));
    const r1 = await psql({ port: gw.pgPort, user: 'carol', password: expired, database: 'pg-main' }, ['-c', 'select 1']);
    expect(r1.stderr).toContain('token expired');
    const issued = await gw.gw.tokens.issue({ subject: 'dave', groups: ['dba'], ttlMs: 60_000 });
    const ok = await psql({ port: gw.pgPort, user: 'dave', password: issued.token, database: 'pg-main' }, ['-At', '-c', 'select 1']);
    expect(ok.stdout.trim()).toBe('1');
    await gw.gw.tokens.revoke(issued.record.id);
    const r2 = await psql({ port: gw.pgPort, user: 'dave', password: issued.token, database: 'pg-main' }, ['-c', 'select 1']);
    expect(r2.stderr).toContain('token revoked');
  });

  it('refuses a user name that is not the token subject', async () => {
    const token = await gw.token('alice', ['dba']);
    const r = await psql({ port: gw.pgPort, user: 'mallory', password: token, database: 'pg-main' }, ['-c', 'select 1']);
    expect(r.stderr).toContain('the token belongs to another identity');
  });

  it('refuses a group that is not allowed as it refuses a connection that does not exist (28000)', async () => {
    const token = await gw.token('alice', ['dba']);
    const r = await psql({ port: gw.pgPort, user: 'alice', password: token, database: 'pg-ops' }, ['-c', 'select 1'], { env: { PGOPTIONS: '' } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('connection "pg-ops" does not exist or you may not use it');
  });

  it('puts startup settings to the policy as SET statements: options=-c role=… cannot get round a rule', async () => {
    await pg.sql('CREATE ROLE boss');
    const token = await gw.token('alice', ['dba']);
    const t = (database: string) => ({ port: gw.pgPort, user: 'alice', password: token, database });
    const refused = await psql(t("pg-guarded options='-c role=boss'"), ['-At', '-c', 'select current_user']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('Airlock: startup setting role refused');
    // The same database without the rule: the role is taken, as PostgreSQL does with PGOPTIONS.
    const direct = await psql(t("pg-main options='-c role=boss'"), ['-At', '-c', 'select current_user']);
    expect(direct.stdout.trim()).toBe('boss');
    // Other settings pass through unchanged.
    const allowed = await psql(t("pg-guarded options='-c search_path=pg_catalog'"), ['-At', '-c', 'show search_path']);
    expect(allowed.stderr).toBe('');
    expect(allowed.stdout.trim()).toBe('pg_catalog');
    // The refusal is recorded, with the rule, and the session ends before the target is reached.
    let s;
    for (let i = 0; i < 200 && !s; i++) {
      s = (await gw.gw.store.listSessions({ user: 'alice', connection: 'pg-guarded' })).find((x) => x.endReason === 'startup_setting_denied');
      if (!s) await new Promise((r) => setTimeout(r, 20));
    }
    const events = [];
    for await (const e of gw.gw.store.readEvents(s!.id)) events.push(e);
    expect(events.find((e) => e.type === 'policy.deny')?.data).toMatchObject({ text: "SET role TO 'boss'", rule: 'no-role-change', startup: true });
    // A rule against every SET leaves the wire-format settings psql sends on every connection alone.
    const plain = await psql(t('pg-no-set'), ['-At', '-c', 'select 1']);
    expect(plain.stderr).toBe('');
    expect((await psql(t("pg-no-set options='-c work_mem=64MB'"), ['-At', '-c', 'select 1'])).stderr).toContain('startup setting work_mem refused');
  });

  it('reads options as the server does (getopt): bundled and short switches are settings too, unknown ones are refused', async () => {
    await pg.sql('DO $$ BEGIN CREATE ROLE boss; EXCEPTION WHEN duplicate_object THEN NULL; END $$');
    const token = await gw.token('alice', ['dba']);
    const t = (database: string) => ({ port: gw.pgPort, user: 'alice', password: token, database });
    // Without the gateway's reading, -ec is not -c: PostgreSQL takes `-e` then `-c role=boss`.
    const direct = await psql(t("pg-main options='-ec role=boss'"), ['-At', '-c', 'select current_user']);
    expect(direct.stdout.trim()).toBe('boss');
    const bundled = await psql(t("pg-guarded options='-ec role=boss'"), ['-At', '-c', 'select current_user']);
    expect(bundled.code).not.toBe(0);
    expect(bundled.stderr).toContain('Airlock: startup setting role refused');
    for (const options of ['-P', '-S 64MB', '-Pcwork_mem=1MB']) {
      const r = await psql(t(`pg-no-set options='${options}'`), ['-At', '-c', 'select 1']);
      expect(r.stderr, options).toMatch(/Airlock: startup setting (ignore_system_indexes|work_mem) refused/);
    }
    for (const options of ['-d 5', '-b', '-Z']) {
      const r = await psql(t(`pg-main options='${options}'`), ['-At', '-c', 'select 1']);
      expect(r.stderr, options).toContain('Airlock: startup options refused');
    }
  });

  it('refuses replication connections (physical and logical) before asking for a token', async () => {
    const token = await gw.token('alice', ['dba']);
    for (const mode of ['database', 'true']) {
      const r = await psql({ port: gw.pgPort, user: 'alice', password: token, database: `pg-main replication=${mode}` }, ['-c', 'IDENTIFY_SYSTEM']);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`Airlock does not relay replication connections (replication=${mode})`);
    }
    const backup = await run(join(pgBinDir(), 'pg_basebackup'), ['-h', '127.0.0.1', '-p', String(gw.pgPort), '-U', 'alice', '-d', 'dbname=pg-main', '-D', '-', '-Ft', '-X', 'none'], {
      env: { PGPASSWORD: token },
    });
    expect(backup.code).not.toBe(0);
    expect(backup.stderr).toContain('Airlock does not relay replication connections');
    // replication=false is an ordinary session.
    const plain = await psql({ port: gw.pgPort, user: 'alice', password: token, database: 'pg-main replication=false' }, ['-At', '-c', 'select 1']);
    expect(plain.stdout.trim()).toBe('1');
  });

  it('works over TLS with the generated certificate', async () => {
    const token = await gw.token('alice', ['dba']);
    const r = await psql({ port: gw.pgPort, user: 'alice', password: token, database: 'pg-main', sslmode: 'require' }, ['-At', '-c', 'select 42']);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('42');
  });

  it('passes startup parameters through unchanged', async () => {
    const token = await gw.token('alice', ['dba']);
    const r = await psql({ port: gw.pgPort, user: 'alice', password: token, database: 'pg-main' }, ['-At', '-c', "select current_setting('application_name'), current_setting('statement_timeout')"], {
      env: { PGAPPNAME: 'my-app', PGOPTIONS: '-c statement_timeout=1234' },
    });
    expect(r.stdout.trim()).toBe('my-app|1234ms');
  });
});

async function waitSessions(n: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const list = await gw.gw.store.listSessions({ open: false });
    if (list.length >= n) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('sessions did not close');
}
