// The writer thread: owns a second connection to the store file and writes event batches, so hashing on
// the main thread and SQLite work here use both cores. Messages: { id, rows } → { id } | { id, error }.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { createEventWriter } from './event-writer.mjs';

const db = new Database(workerData.file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('busy_timeout = 10000');
// Index pages are rewritten by every batch: a larger cache and fewer, larger checkpoints write each once.
db.pragma('cache_size = -65536');
db.pragma('wal_autocheckpoint = 8192');
const write = createEventWriter(db);

parentPort.on('message', (msg) => {
  if (msg === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  try {
    write(msg.rows);
    parentPort.postMessage({ id: msg.id });
  } catch (err) {
    parentPort.postMessage({ id: msg.id, error: err instanceof Error ? err.message : String(err) });
  }
});
