import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/store/sqlite/schema.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { SessionRecord, StoredEvent } from '../../src/store/types.ts';
import { storeConformance } from './conformance.ts';

storeConformance('sqlite', async () => new SqliteStore(':memory:'));

const session = (id: string): SessionRecord => ({
  id, protocol: 'postgres', connection: 'app', subject: 'alice', groups: [], kind: 'user', authMethod: 'token', credentialId: null, clientAddress: '127.0.0.1:1',
  application: null, startedAt: 1, endedAt: null, endReason: null, bytesIn: 0, bytesOut: 0, eventCount: 0, lastHash: null, legalHold: false,
});

const event = (sessionId: string, seq: number, time: number): StoredEvent => ({
  sessionId, seq, time, type: 'db.query', data: {}, hash: `h${seq}`, searchText: `select ${sessionId} ${seq}`, outcome: 'allowed',
});

/** Every event in the window, in recording (id) order, as `session/seq`: what a time-bounded read must return. */
function inWindow(s: SqliteStore, since: number, until: number, inclusive = false): string[] {
  const rows = s.db.prepare('SELECT session_id, seq, time FROM events ORDER BY id').all() as { session_id: string; seq: number; time: number }[];
  return rows.filter((r) => r.time >= since && (inclusive ? r.time <= until : r.time < until)).map((r) => `${r.session_id}/${r.seq}`);
}

/** A store file at the schema just before the migration that contains `marker`, to be upgraded by a test. */
function storeBefore(file: string, marker: string): Database.Database {
  const db = new Database(file);
  const version = MIGRATIONS.findIndex((m) => m.includes(marker));
  for (const sql of MIGRATIONS.slice(0, version)) db.exec(sql);
  db.pragma(`user_version = ${version}`);
  return db;
}

async function exported(s: SqliteStore, since: number, until?: number): Promise<string[]> {
  const read: string[] = [];
  for await (const e of s.readEventsSince(since, until)) read.push(`${e.sessionId}/${e.seq}`);
  return read;
}

async function searched(s: SqliteStore, since: number, until: number): Promise<string[]> {
  const hits = await s.search({ text: 'select', since, until, limit: 100_000 });
  return hits.map((h) => `${h.sessionId}/${h.seq}`).reverse(); // newest first by id
}

it('sqlite: keeps no index on event time, and a clock set back between runs leaves time-bounded reads exact', async () => {
  const s = new SqliteStore(':memory:');
  expect(s.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'").pluck().all()).not.toContain('events_time');
  await s.insertSession(session('a'));
  // Two runs of the gateway; the second started with the clock 50 ms behind where the first stopped.
  const times = [...Array.from({ length: 100 }, (_, i) => 100 + i), ...Array.from({ length: 100 }, (_, i) => 150 + i)];
  await s.appendEvents(times.map((time, seq) => event('a', seq, time)));
  expect(s.db.prepare('SELECT id FROM event_time_steps').pluck().all()).toEqual([101]);
  for (const [since, until] of [[120, 190], [170, 180], [160, 230], [0, 1000], [199, 200], [300, 400]]) {
    const expected = inWindow(s, since, until);
    expect(await exported(s, since, until), `${since}..${until}`).toEqual(expected);
    expect(await searched(s, since, until), `search ${since}..${until}`).toEqual(inWindow(s, since, until, true));
  }
  // A 10 ms window inside the overlapped span holds 10 events of each run.
  expect(await exported(s, 170, 180)).toHaveLength(20);
  expect(await exported(s, 170)).toEqual(inWindow(s, 170, Infinity));
  await s.close();
});

it('sqlite: two processes writing one store, their batches interleaved with overlapping times, leave time-bounded reads exact', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-steps-'));
  const file = join(dir, 'airlock.db');
  // The gateway (writer thread) and a replay (in-process writes), each stamping times from its own clock base.
  const gateway = new SqliteStore(file);
  const replay = new SqliteStore(file, { writerThread: false });
  try {
    await gateway.insertSession(session('g'));
    await replay.insertSession(session('r'));
    let g = 0;
    let r = 0;
    for (let batch = 0; batch < 20; batch++) {
      await gateway.appendEvents(Array.from({ length: 30 }, () => event('g', g, 1000 + g++)));
      await replay.appendEvents(Array.from({ length: 25 }, () => event('r', r, 1007.5 + r++ * 1.1)));
    }
    expect((gateway.db.prepare('SELECT count(*) FROM event_time_steps').pluck().get() as number)).toBeGreaterThanOrEqual(19);
    for (const [since, until] of [[1000, 1600], [1100, 1101], [1203.3, 1250], [1020, 1400], [0, 1020], [1500, 5000]]) {
      const expected = inWindow(gateway, since, until);
      expect(expected.length, `${since}..${until}`).toBeGreaterThan(0);
      for (const s of [gateway, replay]) {
        expect(await exported(s, since, until), `${since}..${until}`).toEqual(expected);
        expect(await searched(s, since, until), `search ${since}..${until}`).toEqual(inWindow(s, since, until, true));
      }
    }
  } finally {
    await replay.close();
    await gateway.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

it('sqlite: upgrading a store whose event time decreases records the step, so reads over it are exact', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-steps-'));
  const file = join(dir, 'airlock.db');
  try {
    const old = storeBefore(file, 'CREATE TABLE event_time_steps');
    old.prepare("INSERT INTO sessions (id, protocol, connection, subject, groups, kind, auth_method, client_address, started_at) VALUES ('a', 'postgres', 'app', 'alice', '[]', 'user', 'token', '127.0.0.1:1', 1)").run();
    const insert = old.prepare("INSERT INTO events (id, session_id, seq, time, type, data, hash) VALUES (?, 'a', ?, ?, 'db.notice', '{}', 'h')");
    // A clock set back 30 ms after event 40, and again (to the same time) after event 60.
    const times = Array.from({ length: 80 }, (_, i) => (i < 40 ? 100 + i : i < 60 ? 110 + (i - 40) : 110 + (i - 60)));
    times.forEach((time, seq) => insert.run(seq + 1, seq, time));
    old.close();
    const s = new SqliteStore(file, { writerThread: false });
    expect(s.db.prepare('SELECT id FROM event_time_steps').pluck().all()).toEqual([41, 61]);
    for (const [since, until] of [[115, 125], [100, 140], [129, 130], [110, 111]]) {
      expect(await exported(s, since, until), `${since}..${until}`).toEqual(inWindow(s, since, until));
    }
    expect(await exported(s, 115, 125)).toHaveLength(30);
    await s.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('migration to integer session keys keeps every event readable, searchable and unique, and the gone-session fallback', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-keys-'));
  const file = join(dir, 'airlock.db');
  try {
    const old = storeBefore(file, 'ALTER TABLE sessions ADD COLUMN key');
    const insertSession = old.prepare("INSERT INTO sessions (id, protocol, connection, subject, groups, kind, auth_method, client_address, started_at) VALUES (?, 'postgres', 'app', 'alice', '[]', 'user', 'token', '127.0.0.1:1', 1)");
    const insertEvent = old.prepare("INSERT INTO events (session_id, seq, time, type, data, hash, search_text, outcome) VALUES (?, ?, ?, 'db.query', '{}', 'h', ?, 'allowed')");
    const insertFts = old.prepare('INSERT INTO events_fts (rowid, search_text) VALUES (?, ?)');
    for (const id of ['ses_a', 'ses_b']) insertSession.run(id);
    for (let seq = 0; seq < 30; seq++) {
      for (const id of ['ses_a', 'ses_b', 'ses_gone']) {
        const text = `select ${id} ${seq}`;
        insertFts.run(insertEvent.run(id, seq, seq, text).lastInsertRowid, text);
      }
    }
    old.close();

    const s = new SqliteStore(file, { writerThread: false });
    const seqs = async (id: string) => {
      const read: number[] = [];
      for await (const e of s.readEvents(id, 10)) read.push(e.seq);
      return read;
    };
    const tail = Array.from({ length: 20 }, (_, i) => i + 10);
    expect(await seqs('ses_a')).toEqual(tail);
    expect(await seqs('ses_b')).toEqual(tail);
    expect(await seqs('ses_gone')).toEqual(tail); // its session row is gone: found by its id
    expect((await s.search({ text: 'select ses_b 17' })).map((h) => `${h.sessionId}/${h.seq}`)).toEqual(['ses_b/17']);
    await expect(s.appendEvents([event('ses_a', 5, 99)])).rejects.toThrow(/UNIQUE/);
    await s.insertSession(session('ses_c'));
    await s.appendEvents([event('ses_c', 0, 100), event('ses_c', 1, 101)]);
    expect(s.db.prepare('SELECT key FROM sessions ORDER BY key').pluck().all()).toEqual([1, 2, 3]);
    // A session row deleted by hand leaves its events: the next session's key is past theirs.
    s.db.prepare("DELETE FROM sessions WHERE id = 'ses_c'").run();
    await s.insertSession(session('ses_d'));
    await s.appendEvents([event('ses_d', 0, 102), event('ses_d', 1, 103)]);
    expect(await seqs('ses_d')).toEqual([]); // from seq 10 on
    expect(s.db.prepare("SELECT key FROM sessions WHERE id = 'ses_d'").pluck().get()).toBe(4);
    await s.deleteSession('ses_a');
    expect(await seqs('ses_a')).toEqual([]);
    expect(await seqs('ses_b')).toEqual(tail);
    await s.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
