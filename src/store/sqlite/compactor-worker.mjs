// The compactor thread: owns a connection to the store file and compacts sessions ended at least `afterMs` ago
// (compaction.mjs), one at a time, then sleeps until the next one is due or `pollMs` has passed. A session that
// ends in this process is announced ({ endedAt }) and shortens the sleep; one that ends in another process is
// found by the next round. Messages in: 'close', { endedAt }; out: { thread } once (its id and niceness, when
// lowered), then one report per session tried and one { outcome: 'idle', waitMs } per round.
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { BLOCK_QUALITY, CATCH_UP_QUALITY, createCompactor } from './compaction.mjs';

/** Niceness of this thread where the OS lets one thread have its own (Linux): compression yields to live sessions. */
const NICE = 10;

/**
 * Lowers this thread's scheduling priority, so a long compression never takes a core from the relays. Linux
 * schedules threads as tasks: /proc/thread-self names this one's id. Elsewhere the thread keeps the process's.
 */
function lowerPriority() {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').at(-1));
    const nice = Math.max(getPriority(tid), NICE); // never raised: that needs privileges
    setPriority(tid, nice);
    return { tid, nice };
  } catch {
    return undefined;
  }
}

const { file, afterMs, pollMs, blockTarget } = workerData;
/** How far behind (past its due time) a session may be before the compactor switches to CATCH_UP_QUALITY. */
const CATCH_UP_AFTER_MS = 30 * 60_000;
const db = new Database(file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('busy_timeout = 10000');
const compactor = createCompactor(db, { blockTarget });
parentPort.postMessage({ thread: lowerPriority() ?? null });

let stopping = false;
/** While idle: when the sleep ends, its timer, and how to end it early. */
let sleeping;
const sleep = (ms) =>
  new Promise((resolve) => {
    sleeping = { until: Date.now() + ms, timer: setTimeout(resolve, ms), resolve };
  }).finally(() => {
    clearTimeout(sleeping.timer);
    sleeping = undefined;
  });
parentPort.on('message', (msg) => {
  if (msg === 'close') {
    stopping = true;
    sleeping?.resolve();
  } else if (sleeping && msg.endedAt + afterMs < sleeping.until) {
    // Sessions that end while a round runs are found by that round's nextEnd.
    clearTimeout(sleeping.timer);
    sleeping.until = msg.endedAt + afterMs;
    sleeping.timer = setTimeout(sleeping.resolve, Math.max(0, sleeping.until - Date.now()));
  }
});

// Sessions whose payload could not be read (a deflated payload that does not inflate): retrying each round would
// fail the same way, and verification reports them. SQLite errors (a lock held too long) are retried.
const unreadable = new Set();

while (!stopping) {
  const cutoff = Date.now() - afterMs;
  for (let s = compactor.due(cutoff); s && !stopping; s = compactor.due(cutoff, s.endedAt, s.id)) {
    if (unreadable.has(s.id)) continue;
    try {
      // A session due for longer than this means output is recorded faster than quality 11 compresses it (under
      // 1 MB/s): the faster quality keeps up, at about 11% of raw instead of 9.7%.
      const quality = cutoff - s.endedAt > CATCH_UP_AFTER_MS ? CATCH_UP_QUALITY : BLOCK_QUALITY;
      const r = await compactor.compact(s.id, () => stopping, Date.now, quality);
      if (r.outcome !== 'stopped') parentPort.postMessage({ sessionId: s.id, ...r });
    } catch (err) {
      if (!String(err.code).startsWith('SQLITE_')) unreadable.add(s.id);
      parentPort.postMessage({ sessionId: s.id, outcome: 'failed', error: err instanceof Error ? err.message : String(err) });
    }
  }
  if (stopping) break;
  const next = compactor.nextEnd(cutoff);
  const waitMs = next === undefined ? pollMs : Math.min(pollMs, Math.max(0, next + afterMs - Date.now()));
  parentPort.postMessage({ outcome: 'idle', waitMs });
  await sleep(waitMs);
}
db.close();
parentPort.close();
