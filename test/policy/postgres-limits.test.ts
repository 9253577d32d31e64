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
      big: pgConnection(pg, { allow: ['dba'], policy: { maxStatementBytes: 4 * 1024 * 1024, deny: [{ name: 'no-drops', statements: ['drop_table'] }] } }),
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

  it('pathological statements are classified off the event loop: they end unknown or classified, and other sessions go on', async () => {
    const MB = 1024 * 1024;
    // At the default limit the statements that exhausted the parser (16 MB of SELECT 1;, 8 MB of 1+1+…, a 60 MB literal) are refused unread.
    const plain = await RawPgClient.login(gw.pgPort, 'alice', 'app', token);
    for (const text of ['SELECT 1;'.repeat((16 * MB) / 9), `SELECT ${'1+'.repeat(4 * MB)}1`, `SELECT length('${'x'.repeat(60 * MB)}')`]) {
      plain.query(text);
      expect(decodeErrorFields((await plain.until('E')).body).C).toBe('54000');
      await plain.until('Z');
    }
    plain.end();
    // Under a raised limit they reach the parser, in its own process.
    const other = await RawPgClient.login(gw.pgPort, 'alice', 'big', token);
    let worst = 0;
    let stop = false;
    const probe = (async () => {
      while (!stop) {
        const t = performance.now();
        other.query('SELECT 1');
        const f = await other.until('C', 'E');
        expect(f.code === 0x45 ? decodeErrorFields(f.body).M : 'ok').toBe('ok');
        await other.until('Z');
        worst = Math.max(worst, performance.now() - t);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const attacker = await RawPgClient.login(gw.pgPort, 'alice', 'big', token);
    const answer = async (text: string): Promise<string> => {
      attacker.query(text);
      const f = await attacker.until('C', 'E');
      await attacker.until('Z');
      return f.code === 0x45 ? `${decodeErrorFields(f.body).C}: ${decodeErrorFields(f.body).M}` : 'ok';
    };
    expect(await answer(`DROP TABLE victim; ${'SELECT 1;'.repeat((4 * MB - 100) / 9)}`)).toMatch(/^42501: .*(no-drops|took longer than 10 s)/);
    expect(await answer(`SELECT ${'1+'.repeat(2 * MB - 100)}1`)).toMatch(/^42501: .*(too deeply nested|out of memory|took longer than 10 s)/);
    expect(await answer(`SELECT length('${'x'.repeat(4 * MB - 100)}')`)).toBe('ok');
    stop = true;
    await probe;
    // The parser still classifies for everyone, and nobody waited on the event loop meanwhile.
    other.query('DROP TABLE victim');
    expect(decodeErrorFields((await other.until('E')).body).M).toContain('blocked by rule no-drops');
    await other.until('Z');
    attacker.end();
    other.end();
    expect(await victimExists()).toBe(true);
    expect(worst).toBeLessThan(2000);
    console.info(`slowest SELECT 1 of another session during the attack: ${worst.toFixed(0)} ms`);
  }, 120_000);

  it('the default limit is 1 MiB', async () => {
    const r = await psql(target('app'), ['-f', '-'], { input: `SELECT length('${'x'.repeat(1024 * 1024)}');\n` });
    expect(r.stderr).toContain('over this connection\'s limit of 1048576');
  });
});
