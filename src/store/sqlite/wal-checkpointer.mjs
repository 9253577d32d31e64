// The checkpointer thread, started by the event writer thread: copies committed pages from the WAL into the
// store file (with its fsyncs) on a connection of its own, so the writer goes on writing meanwhile instead of
// checkpointing at the end of a commit. Messages: 'committed' (a batch is in) | 'close'.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

/** Least time between two checkpoints: each copies everything committed since the last. */
const INTERVAL_MS = 200;

const db = new Database(workerData.file);
db.pragma('busy_timeout = 10000');
let last = 0;
let timer;

function checkpoint() {
  timer = undefined;
  last = Date.now();
  try {
    // PASSIVE: never waits for or blocks the writer; frames it cannot copy yet are copied next time.
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // The writer's own checkpoints (wal_autocheckpoint) still bound the WAL.
  }
}

parentPort.on('message', (msg) => {
  if (msg === 'close') {
    clearTimeout(timer);
    db.close();
    parentPort.close();
    return;
  }
  timer ??= setTimeout(checkpoint, Math.max(0, last + INTERVAL_MS - Date.now()));
});
