// Event insertion shared by the in-process path and the writer thread (plain JavaScript so a worker can
// load it without a TypeScript loader). A row: [sessionId, seq, time, type, dataJson, hash, searchText, outcome].
import { deflateRawSync } from 'node:zlib';

/** Event payloads at least this long (characters of JSON) are stored deflated. */
export const COMPRESS_FROM = 1024;

export function createEventWriter(db) {
  const insertEvent = db.prepare(
    'INSERT INTO events (session_id, seq, time, type, data, data_z, hash, search_text, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const insertFts = db.prepare('INSERT INTO events_fts (rowid, search_text) VALUES (?, ?)');
  return db.transaction((rows) => {
    for (const [sessionId, seq, time, type, json, hash, search, outcome] of rows) {
      const z = json.length >= COMPRESS_FROM ? deflateRawSync(json) : null;
      const info = insertEvent.run(sessionId, seq, time, type, z ? '' : json, z, hash, search, outcome);
      if (search) insertFts.run(info.lastInsertRowid, search);
    }
  });
}
