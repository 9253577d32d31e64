import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../store/sqlite/sqlite-store.ts';
import type { SessionEvent, SessionRecord, StoredEvent } from '../store/types.ts';
import { OCSF_VERSION, OcsfMapper, datastoreActivity, streamEvents, toJsonl, type OcsfEvent } from './events-export.ts';

const T0 = 1_700_000_000_000;

function session(id: string, over: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id, protocol: 'postgres', connection: 'pg-main', subject: 'alice', groups: ['dba', 'ops'], kind: 'user', authMethod: 'token',
    credentialId: 'tok_1', clientAddress: '10.1.2.3:51234', application: 'psql', startedAt: T0, endedAt: null, endReason: null,
    bytesIn: 0, bytesOut: 0, eventCount: 0, lastHash: null, legalHold: false, ...over,
  };
}

function ev(sessionId: string, seq: number, time: number, type: string, data: Record<string, unknown> = {}): StoredEvent {
  return { sessionId, seq, time, type, data, hash: `${sessionId}-${seq}` };
}

function joined(e: StoredEvent, s = session(e.sessionId)): SessionEvent {
  return {
    ...e, protocol: s.protocol, connection: s.connection, subject: s.subject, groups: s.groups, kind: s.kind, authMethod: s.authMethod,
    credentialId: s.credentialId, clientAddress: s.clientAddress, application: s.application,
  };
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

let store: SqliteStore;
beforeEach(() => {
  store = new SqliteStore(':memory:');
});
afterEach(async () => {
  await store.close();
});

describe('readEventsSince', () => {
  it('merges sessions in recording order, with since inclusive and until exclusive, and joins session fields', async () => {
    await store.insertSession(session('ses_a'));
    await store.insertSession(session('ses_b', { subject: 'bob', groups: [], connection: 'pg-other', kind: 'service' }));
    await store.appendEvents([ev('ses_a', 0, T0 + 1, 'session.start'), ev('ses_b', 0, T0 + 10, 'session.start')]);
    await store.appendEvents([ev('ses_b', 1, T0 + 30, 'db.query', { text: 'select 2' }), ev('ses_a', 1, T0 + 30, 'db.query', { text: 'select 1' }), ev('ses_b', 2, T0 + 50, 'session.end')]);
    const all = await collect(store.readEventsSince(0));
    expect(all.map((e) => `${e.sessionId}/${e.seq}`)).toEqual(['ses_a/0', 'ses_b/0', 'ses_b/1', 'ses_a/1', 'ses_b/2']);
    expect(all[1]).toMatchObject({ subject: 'bob', groups: [], connection: 'pg-other', kind: 'service', protocol: 'postgres', clientAddress: '10.1.2.3:51234' });
    const window = await collect(store.readEventsSince(T0 + 10, T0 + 50));
    expect(window.map((e) => `${e.sessionId}/${e.seq}`)).toEqual(['ses_b/0', 'ses_b/1', 'ses_a/1']);
  });

  it('pages through many events with equal times without losing or repeating any', async () => {
    await store.insertSession(session('ses_a'));
    await store.insertSession(session('ses_b'));
    const recorded: StoredEvent[] = [];
    for (let i = 0; i < 700; i++) recorded.push(ev('ses_a', i, T0 + Math.floor(i / 3), 'db.notice'), ev('ses_b', i, T0 + Math.floor(i / 3), 'db.notice'));
    await store.appendEvents(recorded.slice(0, 900));
    await store.appendEvents(recorded.slice(900));
    const all = await collect(store.readEventsSince(T0));
    expect(all.map((e) => `${e.sessionId}/${e.seq}`)).toEqual(recorded.map((e) => `${e.sessionId}/${e.seq}`));
  });
});

describe('streamEvents (jsonl)', () => {
  it('writes one JSON object per event with the session fields joined', async () => {
    await store.insertSession(session('ses_a'));
    await store.appendEvents([ev('ses_a', 0, T0 + 1.5, 'session.start'), ev('ses_a', 1, T0 + 2, 'db.query', { text: 'select 1', mode: 'simple' })]);
    const lines = await collect(streamEvents(store, { since: 0 }));
    expect(lines).toHaveLength(2);
    const second = JSON.parse(lines[1]);
    expect(second).toEqual({
      time: T0 + 2, timestamp: new Date(T0 + 2).toISOString(), sessionId: 'ses_a', seq: 1, type: 'db.query', outcome: null,
      subject: 'alice', groups: ['dba', 'ops'], kind: 'user', authMethod: 'token', credentialId: 'tok_1', connection: 'pg-main',
      protocol: 'postgres', clientAddress: '10.1.2.3:51234', application: 'psql', data: { text: 'select 1', mode: 'simple' }, hash: 'ses_a-1',
    });
    expect(toJsonl(joined(ev('ses_a', 0, T0, 'x'))).timestamp).toBe(new Date(T0).toISOString());
  });

  it('--follow polls for new events until aborted, without repeating any', async () => {
    await store.insertSession(session('ses_a'));
    await store.appendEvents([ev('ses_a', 0, T0, 'session.start')]);
    const controller = new AbortController();
    let polls = 0;
    const lines = await collect(
      streamEvents(store, {
        since: T0 - 1000, follow: true, signal: controller.signal, pollMs: 1000, lagMs: 10_000,
        sleep: async (ms) => {
          expect(ms).toBe(1000);
          polls++;
          // a late-written event from before the newest one, and a new one
          if (polls === 1) await store.appendEvents([ev('ses_a', 1, T0 - 500, 'db.notice'), ev('ses_a', 2, T0 + 500, 'db.notice')]);
          if (polls === 2) await store.appendEvents([ev('ses_a', 3, T0 + 900, 'session.end', { reason: 'client_terminated' })]);
          if (polls === 3) controller.abort();
        },
      }),
    );
    expect(lines.map((l) => JSON.parse(l).seq)).toEqual([0, 1, 2, 3]);
    expect(polls).toBe(3);
  });

  it('--follow with --until stops once the window has passed', async () => {
    await store.insertSession(session('ses_a'));
    await store.appendEvents([ev('ses_a', 0, T0, 'session.start'), ev('ses_a', 1, T0 + 5000, 'db.notice')]);
    let clock = T0;
    const lines = await collect(
      streamEvents(store, { since: 0, until: T0 + 1000, follow: true, lagMs: 100, now: () => clock, sleep: async () => void (clock += 1000) }),
    );
    expect(lines.map((l) => JSON.parse(l).seq)).toEqual([0]);
  });
});

function ocsfLines(lines: string[]): OcsfEvent[] {
  return lines.map((l) => JSON.parse(l) as OcsfEvent);
}

/** Every OCSF event carries the base attributes with their OCSF types. */
function expectOcsfBase(o: OcsfEvent) {
  for (const k of ['category_uid', 'class_uid', 'activity_id', 'type_uid', 'time', 'severity_id', 'status_id']) expect(Number.isInteger(o[k]), k).toBe(true);
  expect(o.type_uid).toBe(o.class_uid * 100 + o.activity_id);
  expect(typeof o.status).toBe('string');
  expect(typeof o.severity).toBe('string');
  expect(typeof o.message).toBe('string');
  expect(typeof o.activity_name).toBe('string');
  expect(typeof o.class_name).toBe('string');
  expect(o.metadata).toMatchObject({ version: OCSF_VERSION, product: { name: 'Airlock', vendor_name: 'Airlock' } });
  expect(typeof (o.metadata.product as Record<string, unknown>).version).toBe('string');
  expect(typeof o.metadata.uid).toBe('string');
  const actor = o.actor as { user: Record<string, unknown>; session: Record<string, unknown> };
  expect(actor.user.name).toBe('alice');
  expect(actor.user.groups).toEqual([{ name: 'dba' }, { name: 'ops' }]);
  expect(actor.user.type_id).toBe(1);
  expect(actor.session.uid).toMatch(/^ses_/);
  expect(o.src_endpoint).toEqual({ ip: '10.1.2.3', port: 51234 });
  expect(typeof o.unmapped).toBe('object');
}

describe('OCSF', () => {
  it('maps a PostgreSQL session: logon, statements with outcome, denial, error, logoff', async () => {
    await store.insertSession(session('ses_a'));
    await store.appendEvents([
      ev('ses_a', 0, T0, 'session.start', { protocol: 'postgres' }),
      ev('ses_a', 1, T0 + 100, 'db.query', { text: 'select * from items where id = $1', mode: 'extended', params: ['7'] }),
      ev('ses_a', 2, T0 + 102.5, 'db.result', { query: 1, tag: 'SELECT 1', rows: 1, columns: ['id'], sample: [['7']], durationMs: 2.5 }),
      ev('ses_a', 3, T0 + 200, 'policy.deny', { text: 'drop table items', rule: 'no-drops', reason: 'dropping tables is not allowed' }),
      ev('ses_a', 4, T0 + 300, 'db.query', { text: 'insert into nope values (1)', mode: 'simple' }),
      ev('ses_a', 5, T0 + 301, 'db.error', { query: 4, code: '42P01', severity: 'ERROR', message: 'relation "nope" does not exist' }),
      ev('ses_a', 6, T0 + 400, 'db.query', { text: 'update items set name = 1', mode: 'simple' }),
      ev('ses_a', 7, T0 + 500, 'db.notice', { severity: 'NOTICE', code: '00000', message: 'hello' }),
      ev('ses_a', 8, T0 + 600, 'session.end', { reason: 'client_terminated', bytesIn: 10, bytesOut: 20 }),
    ]);
    const events = ocsfLines(await collect(streamEvents(store, { since: 0, format: 'ocsf' })));
    for (const o of events) expectOcsfBase(o);
    expect(events.map((o) => [o.class_uid, o.activity_id, o.status_id])).toEqual([
      [3002, 1, 1], // logon
      [6005, 4, 1], // select → Query, success
      [6005, 7, 2], // denied drop → Delete, failure
      [6005, 5, 2], // failed insert → Write, failure
      [0, 99, 0], // notice → base event
      [6005, 2, 0], // update without an outcome → Update, unknown (reported at session end)
      [3002, 2, 1], // logoff
    ]);
    const [logon, select, deny, error, , unresolved, logoff] = events;
    expect(logon).toMatchObject({ category_uid: 3, type_uid: 300201, user: { name: 'alice' }, service: { name: 'pg-main' }, auth_protocol_id: 99, session: { uid: 'ses_a' } });
    expect(select).toMatchObject({
      category_uid: 6, type_uid: 600504, severity_id: 1, status: 'Success', status_code: '00000',
      query_info: { query_string: 'select * from items where id = $1', uid: 'ses_a/1' },
      database: { name: 'pg-main', type_id: 1 }, type_id: 1, action_id: 1, disposition_id: 1,
      start_time: T0 + 100, end_time: T0 + 102, duration: 3, time: T0 + 102,
      unmapped: { event_type: 'db.result', tag: 'SELECT 1', rows: 1, params: ['7'], query_seq: 1 },
    });
    expect(select.unmapped).not.toHaveProperty('sample');
    expect(deny).toMatchObject({
      severity_id: 3, status: 'Failure', status_detail: 'dropping tables is not allowed', action_id: 2, action: 'Denied', disposition_id: 2,
      authorizations: [{ decision: 'Denied', policy: { name: 'no-drops' } }], query_info: { query_string: 'drop table items' },
    });
    expect(error).toMatchObject({ status_id: 2, status_code: '42P01', status_detail: 'relation "nope" does not exist', severity_id: 2 });
    expect(unresolved).toMatchObject({ status: 'Unknown', query_info: { query_string: 'update items set name = 1', uid: 'ses_a/6' } });
    expect(logoff).toMatchObject({ type_uid: 300202, status_detail: 'client_terminated', unmapped: { reason: 'client_terminated', bytes_in: 10, bytes_out: 20 } });
    expect(new Set(events.map((o) => o.metadata.uid)).size).toBe(events.length);
  });

  it('finds the statement of a result whose db.query lies before the export window', async () => {
    await store.insertSession(session('ses_a'));
    await store.appendEvents([
      ev('ses_a', 0, T0, 'session.start'),
      ev('ses_a', 1, T0 + 100, 'db.query', { text: 'select pg_sleep(10)', mode: 'simple' }),
      ev('ses_a', 2, T0 + 10_100, 'db.result', { query: 1, tag: 'SELECT 1', rows: 1, durationMs: 10_000 }),
    ]);
    const [o] = ocsfLines(await collect(streamEvents(store, { since: T0 + 5000, format: 'ocsf' })));
    expect(o).toMatchObject({ class_uid: 6005, query_info: { query_string: 'select pg_sleep(10)' }, start_time: T0 + 100, duration: 10_000 });
  });

  it('a simple query with several statements gives one event per result; unresolved ones flush at the end', async () => {
    const m = new OcsfMapper();
    const e = (seq: number, type: string, data: Record<string, unknown>) => joined(ev('ses_a', seq, T0 + seq, type, data));
    expect(await m.map(e(1, 'db.query', { text: 'create table t (a int); insert into t values (1); select * from t' }))).toEqual([]);
    const outs = [
      ...(await m.map(e(2, 'db.result', { query: 1, tag: 'CREATE TABLE', rows: 0 }))),
      ...(await m.map(e(3, 'db.result', { query: 1, tag: 'INSERT 0 1', rows: 1 }))),
      ...(await m.map(e(4, 'db.result', { query: 1, tag: 'SELECT 1', rows: 1 }))),
    ];
    expect(outs.map((o) => o.activity_name)).toEqual(['Create', 'Write', 'Query']);
    await m.map(e(5, 'db.query', { text: 'select 2' }));
    const flushed = m.flush();
    expect(flushed).toHaveLength(1);
    expect(flushed[0]).toMatchObject({ status_id: 0, query_info: { query_string: 'select 2' } });
  });

  it('maps SSH sessions to SSH Activity, skips terminal bytes, and service identities', async () => {
    const m = new OcsfMapper();
    const s = session('ses_s', { protocol: 'ssh', connection: 'box', kind: 'service', clientAddress: '[::1]:2222' });
    const open = await m.map(joined(ev('ses_s', 0, T0, 'session.start'), s));
    expect(open[0]).toMatchObject({ class_uid: 4007, category_uid: 4, activity_id: 1, type_uid: 400701, src_endpoint: { ip: '::1', port: 2222 }, actor: { user: { type_id: 99, type: 'Service' } } });
    expect(await m.map(joined(ev('ses_s', 1, T0 + 1, 'ssh.output', { data: 'aGkK', encoding: 'base64' }), s))).toEqual([]);
    const close = await m.map(joined(ev('ses_s', 2, T0 + 2, 'session.end', { reason: 'client_disconnected' }), s));
    expect(close[0]).toMatchObject({ class_uid: 4007, activity_id: 2, type_uid: 400702 });
  });

  it('classifies statements into Datastore Activity activities', () => {
    expect(datastoreActivity('SELECT 1')).toEqual([4, 'Query']);
    expect(datastoreActivity('  -- hi\n insert into t values (1)')).toEqual([5, 'Write']);
    expect(datastoreActivity('copy t to stdout')).toEqual([4, 'Query']);
    expect(datastoreActivity('copy t from stdin')).toEqual([5, 'Write']);
    expect(datastoreActivity('truncate t')).toEqual([7, 'Delete']);
    expect(datastoreActivity('grant select on t to x')).toEqual([99, 'GRANT']);
    expect(datastoreActivity('with x as (select 1) select * from x')).toEqual([4, 'Query']);
    expect(datastoreActivity('whatever', 'UPDATE 3')).toEqual([2, 'Update']);
    expect(datastoreActivity('')).toEqual([0, 'Unknown']);
  });
});
