// The writer thread: owns a second connection to the store file and writes event batches, so hashing on
// the main thread and SQLite work here use both cores. Messages: { id, epoch, rows } → { id, epoch } |
// { id, epoch, error }. After a failed batch, batches of its epoch (posted before the failure was known) are
// failed unwritten, so nothing commits after a batch that did not.
import { parentPort, Worker, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { createEventWriter } from './event-writer.mjs';

const db = new Database(workerData.file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('busy_timeout = 10000');
db.pragma('cache_size = -65536');
// Checkpoints are the checkpointer thread's job. Under a steady load its passive checkpoints never find the WAL
// fully copied at a moment it could start over, so past this size (64 MiB) a commit here finishes the copy
// (mostly done already) and the WAL is reused from its start.
db.pragma('wal_autocheckpoint = 16384');
const write = createEventWriter(db);
const checkpointer = new Worker(new URL('./wal-checkpointer.mjs', import.meta.url), { workerData: { file: workerData.file } });

let failedEpoch = -1;

parentPort.on('message', (msg) => {
  if (msg === 'close') {
    checkpointer.once('exit', () => {
      db.close();
      parentPort.close();
    });
    checkpointer.postMessage('close');
    return;
  }
  if (msg.epoch <= failedEpoch) {
    parentPort.postMessage({ id: msg.id, epoch: msg.epoch, error: 'not written: an earlier batch failed' });
    return;
  }
  try {
    write(msg.rows);
    parentPort.postMessage({ id: msg.id, epoch: msg.epoch });
    checkpointer.postMessage('committed');
  } catch (err) {
    failedEpoch = msg.epoch;
    parentPort.postMessage({ id: msg.id, epoch: msg.epoch, error: err instanceof Error ? err.message : String(err), code: err?.code });
  }
});
