import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { startPostgres, type PgServer } from '../harness/postgres.ts';
import { startGateway, pgConnection, type TestGateway } from '../harness/gateway.ts';
import { psql } from '../harness/clients.ts';
import { freePort } from '../harness/ports.ts';
import { signPayload } from '../../src/reviews/webhooks.ts';

const PII = {
  email: 'jane.roe@example.org',
  card: '4111 1111 1111 1111',
  ssn: '123-45-6789',
  iban: 'DE89370400440532013000',
};
const WEBHOOK_SECRET = 'test-webhook-secret-0123456789';

let server: PgServer;
let gw: TestGateway;
let hook: Server;
const received: { headers: IncomingMessage['headers']; body: string }[] = [];

beforeAll(async () => {
  server = await startPostgres();
  await server.sql('CREATE TABLE customers (id int primary key, full_name text, email text, card_number text, ssn text, iban text, note text)');
  await server.sql(`INSERT INTO customers VALUES (1, 'Jane Roe', '${PII.email}', '${PII.card}', '${PII.ssn}', '${PII.iban}', 'order 4111111111111112 shipped 2024-01-15')`);
  await server.sql('CREATE TABLE t (id int)');
  await server.sql('INSERT INTO t VALUES (1), (2), (3)');
  const hookPort = await freePort();
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => hook.listen(hookPort, '127.0.0.1', () => r()));
  gw = await startGateway({
    listen: { postgres: '127.0.0.1:0', api: '127.0.0.1:0' },
    identity: { roles: { approver: ['dba-leads'], admin: ['platform'] } },
    reviews: { timeout: '2s', webhooks: [{ url: `http://127.0.0.1:${hookPort}/hook`, secret: WEBHOOK_SECRET }] },
    connections: {
      app: pgConnection(server, {
        allow: ['dba', 'agents'],
        policy: {
          mask: { stored: ['all'], live: { groups: ['agents'] } },
          deny: [{ name: 'no-drops', statements: ['drop_table', 'drop_database', 'truncate', 'delete_without_where'] }],
          review: [{ name: 'updates-need-review', statements: ['update'], approvers: ['dba-leads'] }],
        },
      }),
    },
  });
});

afterAll(async () => {
  await gw?.stop();
  await server?.stop();
  hook?.close();
});

function client(user: string, token: string): pg.Client {
  return new pg.Client({ host: '127.0.0.1', port: gw.pgPort, user, password: token, database: 'app' });
}

async function api(token: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const port = gw.gw.listeners.get('api')!.port;
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function pendingReview(approverToken: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const { json } = await api(approverToken, 'GET', '/api/reviews?status=pending');
    const list = json.reviews as { id: string }[];
    if (list.length) return list[0].id;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('no pending review');
}

describe('masking', () => {
  it('agents see masked rows; dba sees real data', async () => {
    const agent = client('bot', await gw.token('bot', ['agents'], { service: true }));
    const dba = client('alice', await gw.token('alice', ['dba']));
    await agent.connect();
    await dba.connect();
    const a = (await agent.query('select * from customers')).rows[0];
    const d = (await dba.query('select * from customers')).rows[0];
    expect(d).toMatchObject({ email: PII.email, card_number: PII.card, ssn: PII.ssn, iban: PII.iban, full_name: 'Jane Roe' });
    for (const v of Object.values(PII)) expect(JSON.stringify(a)).not.toContain(v);
    expect(a.full_name).not.toBe('Jane Roe');
    expect(a.note).toContain('4111111111111112'); // fails Luhn: an order number, not a card
    // Text protocol with the same client (simple query) is masked too.
    const simple = await agent.query({ text: 'select email from customers', rowMode: 'array' });
    expect(simple.rows[0][0]).not.toContain('@example.org');
    await agent.end();
    await dba.end();
  });

  it('the stored record holds none of the fixture PII (raw store bytes)', async () => {
    const c = client('alice', await gw.token('alice', ['dba']));
    await c.connect();
    await c.query(`select * from customers where email = '${PII.email}'`);
    await c.query('select * from customers where ssn = $1', [PII.ssn]);
    await c.end();
    await new Promise((r) => setTimeout(r, 100));
    await gw.gw.recorder.flush();
    (gw.gw.store as unknown as { db: { pragma(s: string): unknown } }).db.pragma('wal_checkpoint(TRUNCATE)');
    const files = readdirSync(gw.dataDir).filter((f) => f.startsWith('airlock.db'));
    const bytes = Buffer.concat(files.map((f) => readFileSync(join(gw.dataDir, f))));
    expect(bytes.length).toBeGreaterThan(0);
    for (const v of Object.values(PII)) expect(bytes.includes(Buffer.from(v))).toBe(false);
    expect(bytes.includes(Buffer.from('[EMAIL]'))).toBe(true);
  });
});

describe('guardrails', () => {
  const attempts = [
    'DROP TABLE t',
    'dRoP tAbLe t',
    'DROP/**/TABLE t',
    '-- harmless\nDROP TABLE t',
    'select 1; drop table t',
    'DROP TABLE "t"',
    'TRUNCATE t',
    'DELETE FROM t',
    "DO $$ BEGIN EXECUTE 'DROP TABLE t'; END $$",
  ];
  it.each(attempts)('blocks %j with 42501, the session goes on', async (sql) => {
    const token = await gw.token('alice', ['dba']);
    const r = await psql({ port: gw.pgPort, user: 'alice', password: token, database: 'app' }, ['-v', 'ON_ERROR_STOP=0', '-At', '-c', sql, '-c', 'select count(*) from t']);
    expect(r.stderr).toMatch(/Airlock: .*(no-drops|blocked)/);
    expect(r.stdout.trim()).toBe('3');
  });

  it('blocks extended-protocol statements exactly like simple ones, and the transaction aborts', async () => {
    const c = client('alice', await gw.token('alice', ['dba']));
    await c.connect();
    await expect(c.query('DELETE FROM t', [])).rejects.toMatchObject({ code: '42501' });
    await c.query('BEGIN');
    await c.query('INSERT INTO t VALUES (99)');
    await expect(c.query('TRUNCATE t')).rejects.toMatchObject({ code: '42501' });
    await expect(c.query('select 1')).rejects.toMatchObject({ code: '25P02' });
    const commit = await c.query('COMMIT');
    expect(commit.command).toBe('ROLLBACK');
    expect((await c.query('select count(*)::int as n from t')).rows[0].n).toBe(3);
    await c.end();
  });

  it('allows legitimate statements', async () => {
    const c = client('alice', await gw.token('alice', ['dba']));
    await c.connect();
    expect((await c.query("select 'drop table t' as s")).rows[0].s).toBe('drop table t');
    await c.query('DELETE FROM t WHERE id = 42');
    await c.end();
  });
});

describe('review', () => {
  it('a held statement approved by another identity executes; the client sees its result', async () => {
    const lead = await gw.token('lena', ['dba-leads']);
    const c = client('alice', await gw.token('alice', ['dba']));
    await c.connect();
    const held = c.query('UPDATE t SET id = id WHERE id = 1');
    const id = await pendingReview(lead);
    // the requester cannot approve their own statement
    const self = await api(await gw.token('alice', ['dba', 'dba-leads']), 'POST', `/api/reviews/${id}/approve`, {});
    expect(self.status).toBe(403);
    const outsider = await api(await gw.token('olga', ['dba']), 'POST', `/api/reviews/${id}/approve`, {});
    expect(outsider.status).toBe(403);
    const ok = await api(lead, 'POST', `/api/reviews/${id}/approve`, { reason: 'looks fine' });
    expect(ok.status).toBe(200);
    expect((await held).rowCount).toBe(1);
    await c.end();
  });

  it('deny returns the reviewer reason; expiry denies', async () => {
    const lead = await gw.token('lena', ['dba-leads']);
    const c = client('alice', await gw.token('alice', ['dba']));
    await c.connect();
    const held = c.query('UPDATE t SET id = id WHERE id = 2').catch((e: Error) => e);
    const id = await pendingReview(lead);
    await api(lead, 'POST', `/api/reviews/${id}/deny`, { reason: 'not during business hours' });
    expect(String(await held)).toContain('not during business hours');
    const expiring = await c.query('UPDATE t SET id = id WHERE id = 3').catch((e: Error) => e);
    expect(String(expiring)).toMatch(/expired/);
    expect((await c.query('select 1 as n')).rows[0].n).toBe(1);
    await c.end();
  });

  it('an approval for a window covers the identical statement', async () => {
    const lead = await gw.token('lena', ['dba-leads']);
    const c = client('alice', await gw.token('alice', ['dba']));
    await c.connect();
    const held = c.query('UPDATE t SET id = id WHERE id = 1');
    const id = await pendingReview(lead);
    await api(lead, 'POST', `/api/reviews/${id}/approve`, { for: '30m' });
    await held;
    const again = await c.query('UPDATE t SET id = id WHERE id = 1');
    expect(again.rowCount).toBe(1);
    await c.end();
  });

  it('several held statements at once, across sessions, are decided independently', async () => {
    const lead = await gw.token('lena', ['dba-leads']);
    const a = client('alice', await gw.token('alice', ['dba']));
    const b = client('bob', await gw.token('bob', ['dba']));
    await a.connect();
    await b.connect();
    const heldA = a.query('UPDATE t SET id = id WHERE id = 2').then((r) => r.rowCount, (e: Error) => e.message);
    const heldB = b.query('UPDATE t SET id = id WHERE id = 3').then((r) => r.rowCount, (e: Error) => e.message);
    let pending: { id: string; requester: string }[] = [];
    for (let i = 0; i < 100 && pending.length < 2; i++) {
      pending = (await api(lead, 'GET', '/api/reviews?status=pending')).json.reviews as { id: string; requester: string }[];
      if (pending.length < 2) await new Promise((r) => setTimeout(r, 20));
    }
    expect(pending.map((r) => r.requester).sort()).toEqual(['alice', 'bob']);
    const ofBob = pending.find((r) => r.requester === 'bob')!;
    const ofAlice = pending.find((r) => r.requester === 'alice')!;
    await api(lead, 'POST', `/api/reviews/${ofBob.id}/deny`, { reason: 'bob waits' });
    expect(await heldB).toContain('bob waits');
    await api(lead, 'POST', `/api/reviews/${ofAlice.id}/approve`, {});
    expect(await heldA).toBe(1);
    await a.end();
    await b.end();
  });

  it('webhooks arrive signed', async () => {
    await gw.gw.reviews.webhooks.idle();
    expect(received.length).toBeGreaterThan(0);
    for (const r of received) {
      const ts = String(r.headers['x-airlock-timestamp']);
      expect(r.headers['x-airlock-signature']).toBe(signPayload(WEBHOOK_SECRET, ts, r.body));
    }
    const events = received.map((r) => JSON.parse(r.body).event);
    expect(events).toContain('review.requested');
    expect(events).toContain('review.decided');
  });
});
