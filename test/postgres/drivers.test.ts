import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import postgres from 'postgres';
import { startPostgres, run, pgBinDir, type PgServer } from '../harness/postgres.ts';
import { startGateway, pgConnection, type TestGateway } from '../harness/gateway.ts';
import { psql } from '../harness/clients.ts';
import type { StoredEvent } from '../../src/store/types.ts';
import { join } from 'node:path';

let server: PgServer;
let gw: TestGateway;
let token: string;

beforeAll(async () => {
  server = await startPostgres();
  await server.sql('CREATE TABLE accounts (id int primary key, owner text, balance numeric)');
  await server.sql("INSERT INTO accounts SELECT g, 'owner' || g, g * 10 FROM generate_series(1, 20) g");
  gw = await startGateway({ connections: { app: pgConnection(server) } });
  token = await gw.token('alice', ['dba']);
});

afterAll(async () => {
  await gw?.stop();
  await server?.stop();
});

async function eventsOf(sessionId: string): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for await (const e of gw.gw.store.readEvents(sessionId)) out.push(e);
  return out;
}

/** The newest session of `user` once it has closed and nothing newer is still open (sealing is asynchronous). */
async function lastSession(user = 'alice') {
  for (let i = 0; i < 200; i++) {
    const [s] = await gw.gw.store.listSessions({ user, limit: 1 });
    if (s?.endedAt) return s;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('no closed session');
}

describe('drivers through the gateway', () => {
  it('node-postgres: extended protocol with bound parameters, recorded with its parameters', async () => {
    const client = new pg.Client({ host: '127.0.0.1', port: gw.pgPort, user: 'alice', password: token, database: 'app' });
    await client.connect();
    const r = await client.query('SELECT owner, balance FROM accounts WHERE id = $1 OR owner = $2 ORDER BY id', [3, 'owner5']);
    expect(r.rows).toEqual([{ owner: 'owner3', balance: '30' }, { owner: 'owner5', balance: '50' }]);
    await expect(client.query('SELECT * FROM no_such_table WHERE id = $1', [1])).rejects.toThrow(/does not exist/);
    const again = await client.query({ name: 'by-id', text: 'SELECT owner FROM accounts WHERE id = $1', values: [7] });
    const again2 = await client.query({ name: 'by-id', text: 'SELECT owner FROM accounts WHERE id = $1', values: [8] });
    expect([again.rows[0].owner, again2.rows[0].owner]).toEqual(['owner7', 'owner8']);
    await client.end();
    const s = await lastSession();
    const events = await eventsOf(s.id);
    const queries = events.filter((e) => e.type === 'db.query');
    expect(queries[0].data).toMatchObject({ mode: 'extended', params: ['3', 'owner5'] });
    const results = events.filter((e) => e.type === 'db.result');
    expect(results[0].data).toMatchObject({ tag: 'SELECT 2', rows: 2, columns: ['owner', 'balance'], sample: [['owner3', '30'], ['owner5', '50']] });
    const err = events.find((e) => e.type === 'db.error');
    expect(err?.data).toMatchObject({ code: '42P01' });
    expect(queries.at(-1)?.data).toMatchObject({ params: ['8'], statement: 'by-id' });
    expect(results.at(-1)?.data).toMatchObject({ sample: [['owner8']], columns: ['owner'] });
  });

  it('postgres (porsager) package: pipelined extended queries and transactions', async () => {
    const sql = postgres({ host: '127.0.0.1', port: gw.pgPort, user: 'alice', password: token, database: 'app', max: 1, onnotice: () => {} });
    const [a, b] = await Promise.all([sql`select ${1}::int + 1 as x`, sql`select owner from accounts where id = ${2}`]);
    expect(a[0].x).toBe(2);
    expect(b[0].owner).toBe('owner2');
    await sql.begin(async (tx) => {
      await tx`update accounts set balance = balance + 1 where id = ${1}`;
    });
    const [c] = await sql`select balance from accounts where id = 1`;
    expect(c.balance).toBe('11');
    await sql.end();
  });

  it('psycopg2 (Debian python3-psycopg2)', async () => {
    const script = [
      'import psycopg2, sys',
      `c = psycopg2.connect(host="127.0.0.1", port=${gw.pgPort}, user="alice", password=sys.argv[1], dbname="app")`,
      'cur = c.cursor()',
      'cur.execute("select owner from accounts where id = %s", (4,))',
      'print(cur.fetchone()[0])',
      'c.close()',
    ].join('\n');
    const r = await run('/usr/bin/python3', ['-c', script, token]);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('owner4');
  });

  it('pgbench runs simple and prepared modes through the gateway', async () => {
    const conn = { PGPASSWORD: token };
    const init = await run(join(pgBinDir(), 'pgbench'), ['-i', '-s', '1', '-q', '-h', '127.0.0.1', '-p', String(gw.pgPort), '-U', 'alice', 'app'], { env: conn });
    expect(init.code, init.stderr).toBe(0);
    for (const mode of ['simple', 'extended', 'prepared']) {
      const r = await run(join(pgBinDir(), 'pgbench'), ['-n', '-t', '50', '-c', '2', '-M', mode, '-h', '127.0.0.1', '-p', String(gw.pgPort), '-U', 'alice', 'app'], { env: conn });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/number of transactions actually processed: 100\/100/);
    }
  });

  it('COPY in and out', async () => {
    const t = { port: gw.pgPort, user: 'alice', password: token, database: 'app' };
    await psql(t, ['-c', 'create table copied (id int, note text)']);
    const rows = Array.from({ length: 1000 }, (_, i) => `${i}\tnote ${i}`).join('\n') + '\n';
    const inn = await psql(t, ['-c', '\\copy copied from stdin'], { input: rows });
    expect(inn.stderr).toBe('');
    const copiedIn = (await eventsOf((await lastSession()).id)).find((e) => e.type === 'db.result');
    expect(copiedIn?.data).toMatchObject({ tag: 'COPY 1000', rows: 1000 });
    expect(Number(copiedIn?.data.copyBytes)).toBe(Buffer.byteLength(rows));
    const out = await psql(t, ['-At', '-c', 'copy (select * from copied order by id) to stdout']);
    expect(out.stdout).toBe(rows);
    const s = await lastSession();
    const events = await eventsOf(s.id);
    const res = events.find((e) => e.type === 'db.result');
    expect(res?.data).toMatchObject({ tag: 'COPY 1000', rows: 1000 });
    expect(Number(res?.data.copyBytes)).toBe(Buffer.byteLength(rows));
  });

  it('leaves COPY mode where the protocol does: a failed COPY in, and a COPY out followed by a query', async () => {
    const t = { port: gw.pgPort, user: 'alice', password: token, database: 'app' };
    await psql(t, ['-c', 'create table copy_modes (id int)']);
    // A bad line ends COPY in with an error while psql still sends data; the same session goes on.
    const lines = (n: number) => Array.from({ length: n }, (_, i) => `${i}\n`).join('');
    const script = `copy copy_modes from stdin;\n${lines(500)}not a number\n${lines(500)}\\.\ninsert into copy_modes select generate_series(1, 3000);\nselect count(*) from copy_modes;\n`;
    const failed = await psql(t, ['-At', '-v', 'ON_ERROR_STOP=0'], { input: script });
    expect(failed.stderr).toMatch(/invalid input syntax for type integer/);
    expect(failed.stdout.trim().split('\n').at(-1)).toBe('3000');
    const afterFailure = (await eventsOf((await lastSession()).id)).filter((e) => e.type === 'db.error' || e.type === 'db.result');
    expect(afterFailure.map((e) => e.type)).toEqual(['db.error', 'db.result', 'db.result']);
    expect(afterFailure[2]?.data).toMatchObject({ tag: 'SELECT 1', sample: [['3000']] });
    // COPY out and a query in one simple-query message: the rows after CopyDone are DataRows again.
    const both = await psql(t, ['-At', '-c', 'copy (select id from copy_modes order by id) to stdout; select 41 + 1']);
    expect(both.stdout.trim().split('\n').at(-1)).toBe('42');
    const results = (await eventsOf((await lastSession()).id)).filter((e) => e.type === 'db.result');
    expect(results[0]?.data).toMatchObject({ tag: 'COPY 3000', rows: 3000 });
    expect(Number(results[0]?.data.copyBytes)).toBe(Array.from({ length: 3000 }, (_, i) => `${i + 1}\n`).join('').length);
    expect(results[1]?.data).toMatchObject({ tag: 'SELECT 1', rows: 1, sample: [['42']] });
  });

  it('cancels a running pg_sleep through the gateway-issued key', async () => {
    const client = new pg.Client({ host: '127.0.0.1', port: gw.pgPort, user: 'alice', password: token, database: 'app' });
    await client.connect();
    const started = Date.now();
    const sleeping = client.query('select pg_sleep(30)');
    await new Promise((r) => setTimeout(r, 300));
    const canceller = new pg.Client({ host: '127.0.0.1', port: gw.pgPort, user: 'alice', password: token, database: 'app' });
    // node-postgres cancels by sending a CancelRequest with the key the gateway handed out.
    await (canceller as unknown as { cancel(c: pg.Client, q: unknown): void }).cancel(client, (client as unknown as { activeQuery: unknown }).activeQuery);
    await expect(sleeping).rejects.toThrow(/canceling statement due to user request/);
    expect(Date.now() - started).toBeLessThan(10_000);
    const ok = await client.query('select 1 as one');
    expect(ok.rows[0].one).toBe(1);
    await client.end();
  });
});
