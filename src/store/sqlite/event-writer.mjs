// Event insertion shared by the in-process path and the writer thread (plain JavaScript so a worker can
// load it without a TypeScript loader). A batch is one flat array, ROW_FIELDS values per event: sessionId, seq,
// time, type, dataJson, hash, searchText, outcome (one array, not one per event: less to copy to the writer
// thread and less garbage on both sides).
import { deflateRawSync } from 'node:zlib';

export const ROW_FIELDS = 8;

/** Event payloads at least this long (characters of JSON) are stored deflated. */
export const COMPRESS_FROM = 1024;

/** One FTS token per session fact: a letter for the field, then the value's UTF-8 as hex. */
export function metaToken(field, value) {
  return field + Buffer.from(String(value), 'utf8').toString('hex');
}

/** A session's facts as the FTS tokens indexed beside each of its statements (the `search_meta` column). */
export function sessionMeta(s) {
  const groups = typeof s.groups === 'string' ? JSON.parse(s.groups) : s.groups;
  return [metaToken('u', s.subject), metaToken('c', s.connection), metaToken('p', s.protocol), ...groups.map((g) => metaToken('g', g))].join(' ');
}

/**
 * The search_meta of a row whose search text is kept but not in the full-text index (a repeat, or a session with
 * no row): the text stays in the row because the event's hash covers it (chain version 2, recording/chain.ts).
 */
export const NOT_INDEXED = '-';

export function createEventWriter(db) {
  const sessionOf = db.prepare('SELECT key, subject, connection, protocol, groups FROM sessions WHERE id = ?');
  // Per session: its key (events are indexed by it) and its facts as FTS tokens, read once.
  const facts = new Map();
  const factsOf = (sessionId) => {
    let f = facts.get(sessionId);
    if (f === undefined) {
      const s = sessionOf.get(sessionId);
      if (!s) return { key: null, meta: null }; // not cached: the session's row may come later
      f = { key: s.key, meta: sessionMeta(s) };
      if (facts.size > 10000) facts.clear();
      facts.set(sessionId, f);
    }
    return f;
  };
  const insertEvent = db.prepare(
    'INSERT INTO events (session_id, session_key, seq, time, type, data, data_z, hash, search_text, search_meta, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const insertFts = db.prepare('INSERT INTO events_fts (rowid, search_text, search_meta) VALUES (?, ?, ?)');
  // Time-bounded reads binary-search the ids, so an event whose time is lower than the one before it (another
  // process's clock, a clock set back) is recorded as a step (event-id-range.ts). The last time is read inside
  // the write transaction, after any other writer's commit: one seek at the end of the rowid tree per batch.
  const lastTime = db.prepare('SELECT time FROM events ORDER BY id DESC LIMIT 1').pluck();
  // OR IGNORE: an id freed by deleting the newest events is used again, and its old step may still be there.
  const insertStep = db.prepare('INSERT OR IGNORE INTO event_time_steps (id) VALUES (?)');
  const write = db.transaction((rows) => {
    let prev = lastTime.get() ?? -Infinity;
    for (let i = 0; i < rows.length; i += ROW_FIELDS) {
      const sessionId = rows[i], seq = rows[i + 1], time = rows[i + 2], type = rows[i + 3], json = rows[i + 4], hash = rows[i + 5], text = rows[i + 6], outcome = rows[i + 7];
      const f = factsOf(sessionId);
      // The session's facts go to the index only; the row's search_meta is '' for "the session's facts", which
      // the store derives again to delete the entries (older rows hold the value itself, or NULL when they were
      // indexed without one, and NOT_INDEXED when they are not in the index). Events of a session without a row
      // are not indexed. Every execution is indexed, a statement repeated in a loop too: search finds each one.
      const search = text && f.meta !== null ? text : null;
      const z = json.length >= COMPRESS_FROM ? deflateRawSync(json) : null;
      const info = insertEvent.run(sessionId, f.key, seq, time, type, z ? '' : json, z, hash, text ?? null, search ? '' : text ? NOT_INDEXED : null, outcome);
      if (search) insertFts.run(info.lastInsertRowid, search, f.meta);
      if (time < prev) insertStep.run(info.lastInsertRowid);
      prev = time;
    }
  });
  // BEGIN IMMEDIATE: the batch may read (a session's facts) before it writes, and a deferred transaction that
  // reads first cannot become a writer once another connection has committed (SQLITE_BUSY_SNAPSHOT, which no
  // busy timeout retries); taking the write lock up front waits for it instead.
  return (rows) => write.immediate(rows);
}
