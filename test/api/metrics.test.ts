import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/store/types.ts';
import { psql } from '../harness/clients.ts';
import { pgConnection, startGateway, type TestGateway } from '../harness/gateway.ts';
import { startPostgres, type PgServer } from '../harness/postgres.ts';

let server: PgServer;
let gw: TestGateway;
let api: string;
let admin: string;
let alice: string;

beforeAll(async () => {
  server = await startPostgres();
  await server.sql('CREATE TABLE t (id int)');
  gw = await startGateway({
    listen: { postgres: '127.0.0.1:0', api: '127.0.0.1:0' },
    identity: { roles: { admin: ['platform'], approver: ['dba-leads'] } },
    reviews: { timeout: '20s' },
    connections: {
      app: pgConnection(server, {
        allow: ['dba'],
        policy: { deny: [{ name: 'no-drops', statements: ['drop_table'] }], review: [{ name: 'updates', statements: ['update'], approvers: ['dba-leads'] }] },
      }),
    },
  });
  api = `http://127.0.0.1:${gw.gw.listeners.get('api')!.port}`;
  admin = await gw.token('root', ['platform']);
  alice = await gw.token('alice', ['dba']);
});

afterAll(async () => {
  await gw?.stop();
  await server?.stop();
});

/** Samples of the Prometheus text format: `name{labels} value`. */
async function scrape(): Promise<Map<string, number>> {
  const res = await fetch(`${api}/metrics`, { headers: { authorization: `Bearer ${admin}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  const out = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    const m = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

const value = (m: Map<string, number>, key: string) => m.get(key) ?? 0;

async function until(fn: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('metrics after real traffic', () => {
  it('counts sessions, statements, denials, bytes and recorder writes per protocol', async () => {
    const before = await scrape();
    const t = { port: gw.pgPort, user: 'alice', password: alice, database: 'app' };
    const r = await psql(t, ['-c', 'select 1', '-c', 'select 2', '-c', 'select 3']);
    expect(r.code, r.stderr).toBe(0);
    const denied = await psql(t, ['-c', 'drop table t']);
    expect(denied.stderr).toContain('no-drops');
    let after = new Map<string, number>();
    await until(async () => {
      after = await scrape();
      return value(after, 'airlock_sessions_total{protocol="postgres"}') - value(before, 'airlock_sessions_total{protocol="postgres"}') === 2
        && value(after, 'airlock_sessions_open{protocol="postgres"}') === 0;
    }, 'both sessions to be counted and closed');
    const delta = (k: string) => value(after, k) - value(before, k);
    expect(delta('airlock_statements_total{protocol="postgres",outcome="allowed"}')).toBe(3);
    expect(delta('airlock_denials_total{protocol="postgres"}')).toBe(1);
    expect(delta('airlock_bytes_total{protocol="postgres",direction="in"}')).toBeGreaterThan(30);
    expect(delta('airlock_bytes_total{protocol="postgres",direction="out"}')).toBeGreaterThan(30);
    expect(delta('airlock_recorded_events_total{protocol="postgres"}')).toBeGreaterThanOrEqual(2 * 2 + 3 * 2 + 1);
    expect(delta('airlock_recorder_write_seconds_count')).toBeGreaterThan(0);
    expect(after.has('airlock_recorder_queue_depth')).toBe(true);
    expect(value(after, 'airlock_recorder_healthy')).toBe(1);
    expect(after.has('airlock_process_cpu_user_seconds_total')).toBe(true);
  });

  it('shows an open session and a pending review while they last', async () => {
    const client = new pg.Client({ host: '127.0.0.1', port: gw.pgPort, user: 'alice', password: alice, database: 'app' });
    await client.connect();
    await until(async () => value(await scrape(), 'airlock_sessions_open{protocol="postgres"}') === 1, 'the open session');
    const held = client.query('update t set id = 1');
    await until(async () => value(await scrape(), 'airlock_reviews_pending{kind="command"}') === 1, 'the pending review');
    const [review] = await gw.gw.store.listReviews({ status: 'pending' });
    await gw.gw.reviews.decide(review.id, { subject: 'lena', groups: ['dba-leads'], kind: 'user', authMethod: 'token' }, true);
    await held;
    const m = await scrape();
    expect(value(m, 'airlock_reviews_pending{kind="command"}')).toBe(0);
    expect(value(m, 'airlock_reviews_decided_total{kind="command",status="approved"}')).toBe(1);
    await client.end();
    await until(async () => value(await scrape(), 'airlock_sessions_open{protocol="postgres"}') === 0, 'the session to close');
  });

  it('refuses scrapers without a token or role', async () => {
    expect((await fetch(`${api}/metrics`)).status).toBe(401);
    expect((await fetch(`${api}/metrics`, { headers: { authorization: `Bearer ${alice}` } })).status).toBe(403);
  });
});

describe('health', () => {
  it('readyz turns 503 with the reason while the store fails, and back to 200 after', async () => {
    expect((await fetch(`${api}/healthz`)).status).toBe(200);
    const ok = await fetch(`${api}/readyz`);
    expect([ok.status, await ok.json()]).toEqual([200, { status: 'ready' }]);

    const store = gw.gw.store as unknown as { ping: () => Promise<void>; appendEvents: (e: readonly StoredEvent[]) => Promise<void> };
    const ping = store.ping.bind(store);
    store.ping = async () => {
      throw new Error('database is locked');
    };
    const down = await fetch(`${api}/readyz`);
    expect(down.status).toBe(503);
    const body = await down.json();
    expect(body).toEqual({ status: 'not ready', reason: 'the store is unreachable' });
    expect((await fetch(`${api}/healthz`)).status).toBe(200);
    store.ping = ping;

    // A store that answers but refuses writes: the recorder turns unhealthy, readiness follows.
    const append = store.appendEvents.bind(store);
    store.appendEvents = async () => {
      throw new Error('disk full');
    };
    // Under durable acknowledgement a statement that ran waits for its record: psql finishes once writes work again.
    const client = psql({ port: gw.pgPort, user: 'alice', password: alice, database: 'app' }, ['-c', 'select 1']);
    await until(async () => (await fetch(`${api}/readyz`)).status === 503, 'readiness to fail');
    expect((await (await fetch(`${api}/readyz`)).json()).reason).toContain('refuses writes');
    expect(value(await scrape(), 'airlock_recorder_healthy')).toBe(0);
    store.appendEvents = append;
    await until(async () => (await fetch(`${api}/readyz`)).status === 200, 'readiness to recover');
    await client;
  });
});
