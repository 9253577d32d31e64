import type Database from 'better-sqlite3';
import { brotliDecompressSync } from 'node:zlib';

type Row = Record<string, unknown>;

interface Block {
  readonly sessionId: string;
  readonly bytes: Buffer;
}

/** Larger than any block the compactor writes (compaction.mjs BLOCK_TARGET plus one event), so a doctored `raw_bytes` cannot make a read allocate without bound. */
const MAX_BLOCK_BYTES = 64 * 1024 * 1024;

/**
 * The read side of compaction (compaction.mjs has the block format): fills in the payload of event rows kept in
 * blocks, decompressing each block once for all the rows that use it. Decompressed blocks are kept, most
 * recently used first, up to `maxBytes`, so paging through a session or a later page of it does not decompress
 * them again. The cache is dropped whenever another connection has committed (`PRAGMA data_version`), so a
 * block altered by anyone but this connection is read as it now is: blocks never change otherwise (ids are
 * never reused), and verification must see what is stored, not what was.
 */
export class EventBlocks {
  private readonly cache = new Map<number, Block>();
  private cachedBytes = 0;
  private version: unknown;
  private readonly dataVersion: Database.Statement;
  private readonly blockStmt: Database.Statement;
  private readonly readPage: (read: () => Row[]) => Row[];

  constructor(
    db: Database.Database,
    private readonly maxBytes = 16 * 1024 * 1024,
  ) {
    this.dataVersion = db.prepare('PRAGMA data_version').pluck();
    this.blockStmt = db.prepare('SELECT session_id, raw_bytes, data FROM event_blocks WHERE id = ?');
    this.readPage = db.transaction((read: () => Row[]) => {
      const rows = read();
      const version = this.dataVersion.get();
      if (version !== this.version) this.clear();
      this.version = version;
      const failed = new Map<number, Error>();
      for (const r of rows) if (r.block != null) this.fill(r, failed);
      return rows;
    });
  }

  /**
   * Runs `read` (a page of event rows) and sets `data` of every row that names a block to its JSON text, in one
   * read transaction so the rows and their blocks are of one moment. A row whose block is missing, belongs to
   * another session, does not decompress or does not hold the row's range gets `block_error` instead, so the
   * read fails at that event (verification names it) and not at the start of its page.
   */
  page(read: () => Row[]): Row[] {
    return this.readPage(read);
  }

  /** Forgets a session's blocks (this connection deleted them). */
  forget(sessionId: string): void {
    for (const [id, b] of this.cache) if (b.sessionId === sessionId) this.evict(id, b);
  }

  private fill(r: Row, failed: Map<number, Error>): void {
    const id = Number(r.block);
    const where = `event ${String(r.session_id)}/${String(r.seq)}`;
    try {
      let block: Block;
      try {
        const known = failed.get(id);
        if (known) throw known;
        block = this.block(id);
      } catch (err) {
        failed.set(id, err as Error);
        throw err;
      }
      const offset = Number(r.block_offset);
      const length = Number(r.block_length);
      if (block.sessionId !== r.session_id) throw new Error(`belongs to session ${block.sessionId}`);
      if (!(offset >= 0 && length >= 0 && offset + length <= block.bytes.length)) throw new Error(`does not hold bytes ${offset}–${offset + length}`);
      r.data = block.bytes.toString('utf8', offset, offset + length);
    } catch (err) {
      r.block_error = `${where}: its payload block ${id} ${(err as Error).message}`;
    }
    r.data_z = null;
  }

  private block(id: number): Block {
    const hit = this.cache.get(id);
    if (hit) {
      this.cache.delete(id); // re-inserted: most recently used last
      this.cache.set(id, hit);
      return hit;
    }
    const row = this.blockStmt.get(id) as { session_id: string; raw_bytes: number; data: Buffer } | undefined;
    if (!row) throw new Error('is missing');
    let bytes: Buffer;
    try {
      bytes = brotliDecompressSync(row.data, { maxOutputLength: Math.min(Math.max(1, row.raw_bytes), MAX_BLOCK_BYTES) });
    } catch (err) {
      throw new Error(`does not decompress (${(err as Error).message})`, { cause: err });
    }
    if (bytes.length !== row.raw_bytes) throw new Error(`holds ${bytes.length} bytes, not ${row.raw_bytes}`);
    const block = { sessionId: row.session_id, bytes };
    this.cache.set(id, block);
    this.cachedBytes += bytes.length;
    for (const [oldId, old] of this.cache) {
      if (this.cachedBytes <= this.maxBytes || oldId === id) break;
      this.evict(oldId, old);
    }
    return block;
  }

  private evict(id: number, b: Block): void {
    this.cache.delete(id);
    this.cachedBytes -= b.bytes.length;
  }

  private clear(): void {
    this.cache.clear();
    this.cachedBytes = 0;
  }
}
