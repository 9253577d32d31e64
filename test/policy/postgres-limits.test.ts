import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PgServer } from '../harness/postgres.ts';
import { startGateway, pgConnection, type TestGateway } from '../harness/gateway.ts';
import { psql } from '../harness/clients.ts';
import { RawPgClient } from '../harness/raw-pg-client.ts';
import { decodeErrorFields } from '../../src/protocols/postgres/codec/backend.ts';

/** Whatever the classifier does not fully see is unknown, and unknown is not allowed; over-long statements are refused. */
let pg: PgServer;
let gw: TestGateway;
let token: string;

beforeAll(async () => {
  pg = await startPostgres();
  await pg.sql('CREATE TABLE victim (id int)');
  gw = await startGateway({
    connections: {
      app: pgConnection(pg, { allow: ['dba'], policy: { deny: [{ name: 'no-drops', statements: ['drop_table'] }] } }),
      small: pgConnection(pg, { allow: ['dba'], policy: { maxStatementBytes: 4096 } }),
    },
  });
  token = await gw.token('alice', ['dba']);
}, 60_000);

afterAll(async () => {
  await gw?.stop();
  await pg?.stop();
});

const target = (database: string) => ({ port: gw.pgPort, user: 'alice', password: token, database });

async function victimExists(): Promise<boolean> {
  return (await pg.sql("SELECT to_regclass('public.victim') IS NOT NULL")).trim() === 't';
}

async function deniedEvents(connection: string): Promise<{ rule: string; reason: string; text: string }[]> {
  const out: { rule: string; reason: string; text: string }[] = [];
  for (const s of await gw.gw.store.listSessions({ user: 'alice', connection })) {
    for await (const e of gw.gw.store.readEvents(s.id)) if (e.type === 'policy.deny') out.push(e.data as { rule: string; reason: string; text: string });
  }
  return out;
}

describe('limits fail closed', () => {
  it('a PL/pgSQL body too large to walk is unknown: the function hiding a DROP is not created', async () => {
    const body = `BEGIN DROP TABLE victim; ${'PERFORM 1; '.repeat(60_000)}END`;
    const sql = `CREATE FUNCTION hide() RETURNS void LANGUAGE plpgsql AS $$ ${body} $$;\nSELECT hide();\n`;
    const r = await psql(target('app'), ['-f', '-'], { input: sql });
    expect(r.stderr).toContain('PL/pgSQL function body too large to check');
    expect(await victimExists()).toBe(true);
  }, 60_000);

  it('refuses a statement over policy.maxStatementBytes with 54000 and records the refusal', async () => {
    const c = await RawPgClient.login(gw.pgPort, 'alice', 'small', token);
    c.query(`SELECT length('${'x'.repeat(5000)}')`);
    const err = await c.until('E');
    expect(decodeErrorFields(err.body)).toMatchObject({ C: '54000', M: expect.stringContaining('over this connection\'s limit of 4096 (policy.maxStatementBytes)') });
    await c.until('Z');
    c.query('SELECT 1');
    expect((await c.until('C', 'E')).code).toBe(0x43);
    c.end();
    await c.closed;
    let denied: Awaited<ReturnType<typeof deniedEvents>> = [];
    for (let i = 0; i < 100 && denied.length === 0; i++) {
      denied = await deniedEvents('small');
      if (!denied.length) await new Promise((r) => setTimeout(r, 20));
    }
    expect(denied[0]).toMatchObject({ rule: 'maxStatementBytes' });
    expect(denied[0]!.text.length).toBeLessThan(300);
  });

  it('the default limit is 1 MiB', async () => {
    const r = await psql(target('app'), ['-f', '-'], { input: `SELECT length('${'x'.repeat(1024 * 1024)}');\n` });
    expect(r.stderr).toContain('over this connection\'s limit of 1048576');
  });
});
