// Compaction of ended sessions' recordings, run by compactor-worker.mjs in its own thread and connection (plain
// JavaScript so the worker loads it without a TypeScript loader).
//
// Block format: `event_blocks.data` is the brotli stream (text mode, any quality) of the stored JSON payloads of
// some of one session's events, as UTF-8, concatenated in seq order with nothing between them; `raw_bytes` is
// the length once decompressed. Each of those events keeps its row (hash, search text, outcome) with `data` ''
// and `data_z` NULL, and names its block and its byte range in the decompressed block (`block`, `block_offset`,
// `block_length`). The bytes are the JSON text the event writer stored, never parsed and re-serialised, so
// verification recomputes the same hashes from them, and an altered block or reference shows as a break.
import { createHash } from 'node:crypto';
import { brotliCompressSync, constants, inflateRawSync } from 'node:zlib';

/** A block is closed once its payloads reach this many bytes: big enough for brotli to find the repetition across chunks, small enough that reading a page of events decompresses a few milliseconds' worth. */
export const BLOCK_TARGET = 2 * 1024 * 1024;

/** About 9.7% of raw terminal output at under 1 MB/s of one core; quality 10 is 3× faster but lands at 10.0%. */
export const BLOCK_QUALITY = 11;
/** For a compactor that has fallen behind (compactor-worker.mjs): about 15× faster, about 11% of raw. */
export const CATCH_UP_QUALITY = 9;

const brotliOptions = (quality) => ({
  params: {
    [constants.BROTLI_PARAM_QUALITY]: quality,
    [constants.BROTLI_PARAM_LGWIN]: 24,
    [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
  },
});

const PAGE = 500;

// Which events go into blocks: terminal streams of any size (each small keystroke event still shares the
// session's redundancy) and whatever the writer deflated (a payload of 1 KiB or more). A small db.* payload is a
// minor part of its row, beside the hash, search text and index entries, so moving it would save little, and
// those sessions, often millions of short statements, would then take a block decompression to read.
const CANDIDATES = `SELECT id, seq, data, data_z FROM events
  WHERE session_key = ? AND session_id = ? AND seq >= ? AND block IS NULL AND (data_z IS NOT NULL OR type IN ('ssh.output', 'ssh.input'))
  ORDER BY seq LIMIT ${PAGE}`;

/** Adds a row's stored payload, exactly as stored, to the digest that tells whether rows changed since they were read. */
function digestRow(hash, row) {
  const stored = row.data_z ?? Buffer.from(row.data, 'utf8');
  hash.update(`${row.id} ${row.data_z ? 'z' : 't'} ${stored.length}\n`);
  hash.update(stored);
}

/** Lets the thread's messages (a close) in between two blocks' compression. */
const turn = () => new Promise((resolve) => setImmediate(resolve));

/**
 * Compaction over one connection. `due` walks the sessions ended before a cutoff and not compacted yet (an index
 * holds only those), `compact` re-encodes one session: the slow part reads and compresses outside any
 * transaction, then one short IMMEDIATE transaction checks that the rows still hold what was compressed and
 * swaps them over, so a crash or a concurrent change leaves the old form whole.
 */
export function createCompactor(db, { blockTarget = BLOCK_TARGET } = {}) {
  const candidates = db.prepare(CANDIDATES);
  const keyOf = db.prepare('SELECT key FROM sessions WHERE id = ?').pluck();
  const dueStmt = db.prepare(
    `SELECT id, ended_at FROM sessions WHERE compacted_at IS NULL AND ended_at <= ? AND (ended_at > ? OR (ended_at = ? AND id > ?))
     ORDER BY ended_at, id LIMIT 1`,
  );
  const nextStmt = db.prepare('SELECT min(ended_at) FROM sessions WHERE compacted_at IS NULL AND ended_at > ?').pluck();
  const sessionState = db.prepare('SELECT ended_at, compacted_at FROM sessions WHERE id = ?');
  const insertBlock = db.prepare('INSERT INTO event_blocks (session_id, raw_bytes, data) VALUES (?, ?, ?)');
  const moveEvent = db.prepare("UPDATE events SET data = '', data_z = NULL, block = ?, block_offset = ?, block_length = ? WHERE id = ?");
  const markCompacted = db.prepare('UPDATE sessions SET compacted_at = ? WHERE id = ?');

  // Every session row has a key (schema.ts); events are found through it and the (session_key, seq) index.
  function* rowsOf(sessionId) {
    const key = keyOf.get(sessionId);
    for (let next = 0; ; ) {
      const rows = candidates.all(key, sessionId, next);
      yield* rows;
      if (rows.length < PAGE) return;
      next = rows[rows.length - 1].seq + 1;
    }
  }

  const swap = db.transaction((sessionId, digest, blocks, refs, now) => {
    const s = sessionState.get(sessionId);
    if (!s) return 'gone';
    if (s.compacted_at !== null || s.ended_at === null) return 'changed';
    const hash = createHash('sha256');
    for (const row of rowsOf(sessionId)) digestRow(hash, row);
    if (hash.digest('hex') !== digest) return 'changed';
    const ids = blocks.map((b) => insertBlock.run(sessionId, b.raw, b.data).lastInsertRowid);
    for (let i = 0; i < refs.length; i += 4) moveEvent.run(ids[refs[i + 1]], refs[i + 2], refs[i + 3], refs[i]);
    markCompacted.run(now, sessionId);
    return 'compacted';
  });

  return {
    /** The first session after (`afterEndedAt`, `afterId`), in end order, that ended by `cutoff` and is not compacted. */
    due(cutoff, afterEndedAt = -Number.MAX_VALUE, afterId = '') {
      const r = dueStmt.get(cutoff, afterEndedAt, afterEndedAt, afterId);
      return r && { id: r.id, endedAt: r.ended_at };
    },

    /** When the earliest session not yet due (ended after `cutoff`) ended, if any. */
    nextEnd(cutoff) {
      return nextStmt.get(cutoff) ?? undefined;
    },

    /**
     * Compacts one ended session. Outcomes: 'compacted'; 'changed' (its rows or record changed since they were
     * read, or another process compacted it: nothing written, tried again next round); 'gone' (deleted);
     * 'stopped' (`stopped()` turned true between two blocks).
     */
    async compact(sessionId, stopped = () => false, now = Date.now, quality = BLOCK_QUALITY) {
      const started = performance.now();
      const brotli = brotliOptions(quality);
      const hash = createHash('sha256');
      const blocks = [];
      const refs = []; // per event: row id, block index, offset, length
      let parts = [];
      let size = 0;
      let rawBytes = 0;
      let replacedBytes = 0;
      const close = () => {
        if (parts.length === 0) return;
        blocks.push({ data: brotliCompressSync(Buffer.concat(parts, size), brotli), raw: size });
        parts = [];
        size = 0;
      };
      for (const row of rowsOf(sessionId)) {
        digestRow(hash, row);
        const payload = row.data_z ? inflateRawSync(row.data_z) : Buffer.from(row.data, 'utf8');
        replacedBytes += row.data_z ? row.data_z.length : payload.length;
        refs.push(row.id, blocks.length, size, payload.length);
        parts.push(payload);
        size += payload.length;
        rawBytes += payload.length;
        if (size >= blockTarget) {
          close();
          await turn();
          if (stopped()) return { outcome: 'stopped' };
        }
      }
      close();
      const compressMs = performance.now() - started;
      const outcome = swap.immediate(sessionId, hash.digest('hex'), blocks, refs, now());
      return {
        outcome,
        quality,
        events: refs.length / 4,
        blocks: blocks.length,
        rawBytes,
        replacedBytes,
        blockBytes: blocks.reduce((n, b) => n + b.data.length, 0),
        compressMs,
        writeMs: performance.now() - started - compressMs,
      };
    },
  };
}
