import Database from 'better-sqlite3';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { inflateRawSync } from 'node:zlib';
import { chmodSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { AirlockError, ErrorCodes } from '../../core/errors.ts';
import type {
  InstanceLease, LedgerEntry, MerkleNode, MerkleNodeRef, OpenSessionOwner, SearchFilter, SearchHit, SessionEnd, SessionFilter, SessionRecord, StoredEvent, Store, TokenRecord,
} from '../types.ts';
import { MIGRATIONS } from './schema.ts';
import { NOT_INDEXED, createEventWriter, metaToken, sessionMeta, type EventRows } from './event-writer.mjs';
import { EventWriterThread } from './event-writer-thread.ts';
import { EventIdRange } from './event-id-range.ts';
import { EventBlocks } from './event-blocks.ts';
import { CompactorThread, type CompactorOptions } from './compactor-thread.ts';
import type { SessionEvent } from '../types.ts';
import { SqliteReviewStore } from './review-store.ts';
import { SqliteSshKeyStore } from './ssh-key-store.ts';
import { SqliteControlStore } from './control-store.ts';
import type { LockRecord, TerminationRequest } from '../control-types.ts';
import { SqliteInstanceStore } from './instance-store.ts';
import { PermanentStoreError, isPermanentSqliteCode } from '../errors.ts';
import type { SshHostKeyRecord, SshKeyRecord } from '../types.ts';
import type { AuditRecord, ReviewFilter, ReviewRecord, ReviewStatus } from '../review-types.ts';

const PAGE = 500;
export const GENESIS_HASH = '0'.repeat(64);

type Row = Record<string, unknown>;

/**
 * The key a new session's events are indexed by: past every key in use, by sessions and by events (both maxima
 * are one index seek), so events left behind by a session row deleted by hand never collide with a new session.
 */
const NEXT_SESSION_KEY = '(SELECT max(coalesce((SELECT max(key) FROM sessions), 0), coalesce((SELECT max(session_key) FROM events), 0)) + 1)';

/** `PRAGMA auto_vacuum` of a store that can give free pages back. */
const INCREMENTAL_VACUUM = 2;
/** Pages handed back per step of reclaimSpace(): 1 MiB at the default page size (steps took up to 14 ms here). */
const RECLAIM_STEP_PAGES = 256;

/** Events deleted per write transaction when a session is deleted (up to 17 ms when the FTS index merges; bench/retention.ts). */
const DELETE_STEP_EVENTS = 500;
/** Compacted blocks (a few hundred KB each) deleted per write transaction. */
const DELETE_STEP_BLOCKS = 8;

/** Embedded store: one SQLite file (WAL), FTS5 for search. Synchronous underneath, async at the interface. */
export class SqliteStore implements Store {
  readonly backend = 'sqlite';
  readonly db: Database.Database;
  /** Event batches go to a writer thread (its own connection) unless the store is in memory. */
  private readonly writer: EventWriterThread | { write(rows: EventRows): void };
  private readonly idRange: EventIdRange;
  private readonly blocks: EventBlocks;
  private compactor: CompactorThread | undefined;
  private readonly instances: SqliteInstanceStore;

  constructor(file: string, options: { writerThread?: boolean } = {}) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    try {
      this.db = new Database(file);
    } catch (err) {
      throw new AirlockError(ErrorCodes.store, `cannot open store ${file}: ${(err as Error).message}`, { cause: err });
    }
    if (file !== ':memory:') chmodSync(file, 0o600); // recordings: owner only (the data dir is 0700 too)
    // A new store keeps track of its free pages so that reclaimSpace() can hand them back after a retention purge;
    // this can only be chosen before the first table exists.
    if (this.db.pragma('user_version', { simple: true }) === 0) this.db.pragma('auto_vacuum = INCREMENTAL');
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
    this.idRange = new EventIdRange(this.db);
    this.instances = new SqliteInstanceStore(this.db);
    this.blocks = new EventBlocks(this.db);
    if (file !== ':memory:' && options.writerThread !== false) {
      this.writer = new EventWriterThread(file);
      // Checkpoints (copying the WAL into the file, with fsyncs) are the writer thread's job: run by this
      // connection they would stall the event loop for milliseconds on a session start or end.
      this.db.pragma('wal_autocheckpoint = 0');
    } else {
      this.writer = { write: createEventWriter(this.db) };
    }
  }

  /** Batches may be handed over while one is being written: the writer thread takes them in order. */
  get pipelinedWrites(): boolean {
    return this.writer instanceof EventWriterThread;
  }

  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    for (let v = version; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  async insertToken(t: TokenRecord): Promise<void> {
    this.db
      .prepare(
        'INSERT INTO tokens (id, subject, groups, kind, secret_hash, created_at, expires_at, revoked_at, description, parent_id, scope) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(t.id, t.subject, JSON.stringify(t.groups), t.kind, t.secretHash, t.createdAt, t.expiresAt, t.revokedAt, t.description, t.parentId, t.scope);
  }

  async getToken(id: string): Promise<TokenRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM tokens WHERE id = ?').get(id) as Row | undefined;
    return row && toToken(row);
  }

  async listTokens(): Promise<TokenRecord[]> {
    return (this.db.prepare('SELECT * FROM tokens ORDER BY created_at').all() as Row[]).map(toToken);
  }

  async revokeToken(id: string, at: number): Promise<boolean> {
    return this.db.prepare('UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(at, id).changes > 0;
  }

  async insertSession(s: SessionRecord, instanceId?: string): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO sessions (id, protocol, connection, subject, groups, kind, auth_method, credential_id, client_address,
          application, started_at, ended_at, end_reason, bytes_in, bytes_out, event_count, last_hash, legal_hold, instance_id, key)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ${NEXT_SESSION_KEY})`,
      )
      .run(
        s.id, s.protocol, s.connection, s.subject, JSON.stringify(s.groups), s.kind, s.authMethod, s.credentialId,
        s.clientAddress, s.application, s.startedAt, s.endedAt, s.endReason, s.bytesIn, s.bytesOut, s.eventCount,
        s.lastHash, s.legalHold ? 1 : 0, instanceId ?? null,
      );
  }

  async openSessionOwners(): Promise<OpenSessionOwner[]> {
    return this.instances.openSessionOwners();
  }

  async claimInstance(lease: InstanceLease, isLive: (other: InstanceLease) => boolean, exclusive: boolean): Promise<InstanceLease | undefined> {
    return this.instances.claim(lease, isLive, exclusive);
  }
  async renewInstance(id: string, heartbeatAt: number, expiresAt: number): Promise<boolean> {
    return this.instances.renew(id, heartbeatAt, expiresAt);
  }
  async releaseInstance(id: string): Promise<void> {
    if (this.db.open) this.instances.release(id);
  }
  async listInstances(): Promise<InstanceLease[]> {
    return this.instances.list();
  }

  async endSession(id: string, e: SessionEnd): Promise<void> {
    this.db
      .prepare('UPDATE sessions SET ended_at = ?, end_reason = ?, bytes_in = ?, bytes_out = ?, event_count = ?, last_hash = ? WHERE id = ?')
      .run(e.endedAt, e.endReason, e.bytesIn, e.bytesOut, e.eventCount, e.lastHash, id);
    this.compactor?.ended(e.endedAt);
  }

  async getSession(id: string): Promise<SessionRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM sessions WHERE id = ?').get(id) as Row | undefined;
    return row && toSession(row);
  }

  async listSessions(filter: SessionFilter = {}): Promise<SessionRecord[]> {
    const { where, args } = sessionWhere(filter, 's');
    const sql = `SELECT s.* FROM sessions s ${where} ORDER BY s.started_at DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, filter.limit ?? 1000) as Row[]).map(toSession);
  }

  async setLegalHold(id: string, hold: boolean): Promise<void> {
    this.db.prepare('UPDATE sessions SET legal_hold = ? WHERE id = ?').run(hold ? 1 : 0, id);
  }

  /**
   * Deletes a session in steps of DELETE_STEP_EVENTS events (each step one short write transaction, the event loop
   * free in between), then its blocks and its row: a large session does not stall the sessions being recorded.
   * Retention calls it after the tombstone, and calls it again if a purge was interrupted part way.
   */
  async deleteSession(id: string): Promise<void> {
    // Index entries are deleted with the values they were indexed with: the text from the row, the session's
    // facts derived again from the session where the row says '' (event-writer.mjs), else as the row holds them.
    const session = this.db.prepare('SELECT key, subject, connection, protocol, groups FROM sessions WHERE id = ?').get(id) as
      | { key: number | null; subject: string; connection: string; protocol: string; groups: string }
      | undefined;
    const meta = session ? sessionMeta(session) : '';
    const where = `${eventsWhere(session?.key)} AND seq >= ? AND seq < ?`;
    const unindex = this.db.prepare(
      `INSERT INTO events_fts (events_fts, rowid, search_text, search_meta) SELECT 'delete', id, search_text, iif(search_meta = '', ?, search_meta) FROM events WHERE ${where} AND search_text IS NOT NULL AND search_meta IS NOT '${NOT_INDEXED}'`,
    );
    const remove = this.db.prepare(`DELETE FROM events WHERE ${where}`);
    const step = this.db.transaction((from: number) => {
      unindex.run(meta, id, from, from + DELETE_STEP_EVENTS);
      remove.run(id, from, from + DELETE_STEP_EVENTS);
    });
    const last = this.db.prepare(`SELECT max(seq) FROM events WHERE ${eventsWhere(session?.key)}`).pluck().get(id) as number | null;
    for (let from = 0; last !== null && from <= last; from += DELETE_STEP_EVENTS) {
      step(from);
      await nextTurn();
    }
    const blocks = this.db.prepare(`DELETE FROM event_blocks WHERE id IN (SELECT id FROM event_blocks WHERE session_id = ? LIMIT ${DELETE_STEP_BLOCKS})`);
    while (blocks.run(id).changes === DELETE_STEP_BLOCKS) await nextTurn();
    this.db.transaction(() => {
      // Events recorded meanwhile (there are none for an ended session) go with the row.
      unindex.run(meta, id, 0, Number.MAX_SAFE_INTEGER);
      remove.run(id, 0, Number.MAX_SAFE_INTEGER);
      this.db.prepare('DELETE FROM sessions WHERE id = ?').run(id);
      // What retention removes goes everywhere: the reviews raised in the session (their statement text) and the
      // audit rows naming it or those reviews (views, exports, holds, terminations, decisions).
      this.db.prepare('DELETE FROM audit_log WHERE target = ? OR target IN (SELECT id FROM reviews WHERE session_id = ?)').run(id, id);
      this.db.prepare('DELETE FROM reviews WHERE session_id = ?').run(id);
    })();
    this.blocks.forget(id);
  }

  /**
   * Moves free pages to the end of the file and truncates it, RECLAIM_STEP_PAGES at a time (each step one short
   * write transaction; the event loop and the writer thread get their turns between steps). The file shrinks at
   * the next checkpoint. A store created before incremental auto-vacuum only reuses its free pages.
   */
  async reclaimSpace(): Promise<number> {
    if (this.db.pragma('auto_vacuum', { simple: true }) !== INCREMENTAL_VACUUM) return 0;
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    let released = 0;
    while (this.db.open && (this.db.pragma('freelist_count', { simple: true }) as number) > 0) {
      const before = this.db.pragma('page_count', { simple: true }) as number;
      this.db.pragma(`incremental_vacuum(${RECLAIM_STEP_PAGES})`);
      const shrunk = before - (this.db.pragma('page_count', { simple: true }) as number);
      if (shrunk <= 0) break;
      released += shrunk * pageSize;
      await nextTurn();
    }
    return released;
  }

  async appendEvents(events: readonly StoredEvent[]): Promise<void> {
    if (events.length === 0) return;
    // Filled by push, not preallocated: an array made with `new Array(n)` has holes as far as V8 knows, and the
    // structured clone then copies it element by element as a sparse array (8% of the writer thread's time).
    const rows: EventRows = [];
    for (const e of events) {
      rows.push(e.sessionId, e.seq, e.time, e.type, e.dataJson ?? JSON.stringify(e.data), e.hash, e.searchText ?? null, e.outcome ?? null);
    }
    try {
      await this.writer.write(rows);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      const permanent = !(err instanceof PermanentStoreError) && typeof code === 'string' && isPermanentSqliteCode(code);
      const cause = permanent ? new PermanentStoreError((err as Error).message, { cause: err, code }) : err;
      throw new AirlockError(ErrorCodes.store, `cannot write events: ${(err as Error).message}`, { cause });
    }
  }

  /**
   * The condition that selects a session's events, with one `?` for its id: through the session's key and the
   * (session_key, seq) index, or, when the session's row is gone (a break verify reports), by scanning for the id.
   */
  private eventsOf(sessionId: string): string {
    return eventsWhere(this.db.prepare('SELECT key FROM sessions WHERE id = ?').pluck().get(sessionId) as number | null | undefined);
  }

  async *readEvents(sessionId: string, fromSeq = 0): AsyncIterable<StoredEvent> {
    const stmt = this.db.prepare(`SELECT * FROM events WHERE ${this.eventsOf(sessionId)} AND seq >= ? ORDER BY seq LIMIT ?`);
    let next = fromSeq;
    for (;;) {
      const rows = this.blocks.page(() => stmt.all(sessionId, next, PAGE) as Row[]);
      for (const row of rows) yield toEvent(row);
      if (rows.length < PAGE) return;
      next = Number(rows[rows.length - 1].seq) + 1;
    }
  }

  async *readEventsSince(since: number, until?: number): AsyncIterable<SessionEvent> {
    // Keyset pages over the rowid (recording order) through the id ranges that hold the time window (one per
    // stretch where time does not decrease, event-id-range.ts). Each row's time is still checked: with no
    // `until` the last range stays open, and a batch appended meanwhile may start a new stretch.
    const stmt = this.db.prepare(
      `SELECT e.*, s.protocol, s.connection, s.subject, s.groups, s.kind, s.auth_method, s.credential_id, s.client_address, s.application
       FROM events e JOIN sessions s ON s.id = e.session_id
       WHERE e.id >= ? AND e.id < ? AND e.time >= ? ${until === undefined ? '' : 'AND e.time < ?'}
       ORDER BY e.id LIMIT ?`,
    );
    for (const { lo, hi } of this.idRange.ranges(since, until)) {
      for (let from = lo; ;) {
        const args = until === undefined ? [from, hi, since, PAGE] : [from, hi, since, until, PAGE];
        const rows = this.blocks.page(() => stmt.all(...args) as Row[]);
        for (const r of rows) {
          yield {
            ...toEvent(r), protocol: String(r.protocol), connection: String(r.connection), subject: String(r.subject),
            groups: JSON.parse(String(r.groups)), kind: r.kind as SessionEvent['kind'], authMethod: String(r.auth_method),
            credentialId: r.credential_id == null ? null : String(r.credential_id), clientAddress: String(r.client_address),
            application: r.application == null ? null : String(r.application),
          };
        }
        if (rows.length < PAGE) break;
        from = Number(rows[rows.length - 1].id) + 1;
      }
    }
  }

  /**
   * Newest matches first, walking the FTS doclist backwards by rowid (events are inserted in recording order), so
   * a search stops after `limit` hits instead of sorting every match. A time range becomes a rowid range: the
   * span from the first to the last of its id ranges (one per stretch where time does not decrease,
   * event-id-range.ts), a superset where there are several, whose rows' times the query checks.
   */
  async search(filter: SearchFilter): Promise<SearchHit[]> {
    const { where, args } = sessionWhere({ ...filter, since: undefined, until: undefined, outcome: undefined }, 's');
    const cond: string[] = where ? [where.replace(/^WHERE /, '')] : [];
    const condArgs: unknown[] = [...args];
    if (filter.outcome) (cond.push('e.outcome = ?'), condArgs.push(filter.outcome));
    if (filter.since !== undefined) (cond.push('e.time >= ?'), condArgs.push(filter.since));
    if (filter.until !== undefined) (cond.push('e.time <= ?'), condArgs.push(filter.until));
    let lo = 0;
    let hi = Number.MAX_SAFE_INTEGER;
    if (filter.since !== undefined || filter.until !== undefined) {
      const ranges = this.idRange.ranges(filter.since, filter.until, true);
      if (ranges.length === 0) return [];
      lo = ranges[0].lo;
      hi = ranges[ranges.length - 1].hi - 1;
    }
    const sql = `SELECT e.session_id, e.seq, e.time, e.type, snippet(events_fts, 0, '[', ']', '…', 16) AS snippet, s.subject, s.connection
      FROM events_fts CROSS JOIN events e ON e.id = events_fts.rowid CROSS JOIN sessions s ON s.id = e.session_id
      WHERE events_fts MATCH ? AND events_fts.rowid BETWEEN ? AND ? ${cond.length ? `AND ${cond.join(' AND ')}` : ''}
      ORDER BY events_fts.rowid DESC LIMIT ?`;
    const meta = [
      filter.user && metaToken('u', filter.user), filter.connection && metaToken('c', filter.connection),
      filter.protocol && metaToken('p', filter.protocol), filter.group && metaToken('g', filter.group),
    ].filter(Boolean);
    const match = [`search_text : ${ftsPhrase(filter.text)}`, ...meta.map((t) => `search_meta : ${t}`)].join(' AND ');
    const rows = this.db.prepare(sql).all(match, lo, hi, ...condArgs, filter.limit ?? 100) as Row[];
    return rows.map((r) => ({
      sessionId: String(r.session_id), seq: Number(r.seq), time: Number(r.time), type: String(r.type),
      snippet: String(r.snippet), subject: String(r.subject), connection: String(r.connection),
    }));
  }

  async appendLedger(entry: Omit<LedgerEntry, 'seq' | 'prevHash' | 'hash'>, hash: (prevHash: string, seq: number) => string): Promise<LedgerEntry> {
    // Immediate: it reads the head before it writes, and the writer thread commits in between (see event-writer.mjs).
    return this.db.transaction(() => {
      const head = this.db.prepare('SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1').get() as Row | undefined;
      const seq = head ? Number(head.seq) + 1 : 1;
      const prevHash = head ? String(head.hash) : GENESIS_HASH;
      const full: LedgerEntry = { ...entry, seq, prevHash, hash: hash(prevHash, seq) };
      this.db
        .prepare('INSERT INTO ledger (seq, kind, session_id, time, data, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(full.seq, full.kind, full.sessionId, full.time, JSON.stringify(full.data), full.prevHash, full.hash);
      return full;
    }).immediate();
  }

  async *readLedger(fromSeq = 1): AsyncIterable<LedgerEntry> {
    const stmt = this.db.prepare('SELECT * FROM ledger WHERE seq >= ? ORDER BY seq LIMIT ?');
    let next = fromSeq;
    for (;;) {
      const rows = stmt.all(next, PAGE) as Row[];
      for (const row of rows) yield toLedger(row);
      if (rows.length < PAGE) return;
      next = Number(rows[rows.length - 1].seq) + 1;
    }
  }

  async ledgerHead(): Promise<LedgerEntry | undefined> {
    const row = this.db.prepare('SELECT * FROM ledger ORDER BY seq DESC LIMIT 1').get() as Row | undefined;
    return row && toLedger(row);
  }

  async findSeal(sessionId: string): Promise<LedgerEntry | undefined> {
    const row = this.db.prepare("SELECT * FROM ledger WHERE session_id = ? AND kind = 'seal' ORDER BY seq LIMIT 1").get(sessionId) as Row | undefined;
    return row && toLedger(row);
  }

  async getMerkleNodes(refs: readonly MerkleNodeRef[]): Promise<(Buffer | undefined)[]> {
    const stmt = this.db.prepare('SELECT hash FROM merkle_nodes WHERE level = ? AND idx = ?').pluck();
    return this.db.transaction(() => refs.map((r) => (stmt.get(r.level, r.index) as Buffer | undefined) ?? undefined))();
  }

  async putMerkleNodes(nodes: readonly MerkleNode[]): Promise<void> {
    const stmt = this.db.prepare('INSERT OR IGNORE INTO merkle_nodes (level, idx, hash) VALUES (?, ?, ?)');
    this.db.transaction(() => {
      for (const n of nodes) stmt.run(n.level, n.index, n.hash);
    })();
  }

  async merkleLeafCount(): Promise<number> {
    const max = this.db.prepare('SELECT max(idx) FROM merkle_nodes WHERE level = 0').pluck().get() as number | null;
    return max === null ? 0 : Number(max) + 1;
  }

  async *readSessions(afterId = ''): AsyncIterable<SessionRecord> {
    const stmt = this.db.prepare('SELECT * FROM sessions WHERE id > ? ORDER BY id LIMIT ?');
    let next = afterId;
    for (;;) {
      const rows = stmt.all(next, PAGE) as Row[];
      for (const row of rows) yield toSession(row);
      if (rows.length < PAGE) return;
      next = String(rows[rows.length - 1].id);
    }
  }

  private get reviews(): SqliteReviewStore {
    return (this.reviewStore ??= new SqliteReviewStore(this.db));
  }
  private reviewStore: SqliteReviewStore | undefined;

  insertReview(r: ReviewRecord): Promise<void> {
    return this.reviews.insertReview(r);
  }
  getReview(id: string): Promise<ReviewRecord | undefined> {
    return this.reviews.getReview(id);
  }
  listReviews(f?: ReviewFilter): Promise<ReviewRecord[]> {
    return this.reviews.listReviews(f);
  }
  decideReview(id: string, d: { status: ReviewStatus; decidedAt: number; reviewer: string | null; reason: string | null; validUntil: number | null }): Promise<boolean> {
    return this.reviews.decideReview(id, d);
  }
  findValidApproval(q: { kind: 'command' | 'access'; connection: string; requester: string; textHash: string | null; now: number }): Promise<ReviewRecord | undefined> {
    return this.reviews.findValidApproval(q);
  }
  appendAudit(a: AuditRecord): Promise<void> {
    return this.reviews.appendAudit(a);
  }
  listAudit(f?: { subject?: string; target?: string; limit?: number }): Promise<AuditRecord[]> {
    return this.reviews.listAudit(f);
  }

  private get sshKeys(): SqliteSshKeyStore {
    return (this.sshKeyStore ??= new SqliteSshKeyStore(this.db));
  }
  private sshKeyStore: SqliteSshKeyStore | undefined;

  async insertSshKey(k: SshKeyRecord): Promise<void> {
    this.sshKeys.insertSshKey(k);
  }
  async getSshKey(fingerprint: string): Promise<SshKeyRecord | undefined> {
    return this.sshKeys.getSshKey(fingerprint);
  }
  async listSshKeys(subject?: string): Promise<SshKeyRecord[]> {
    return this.sshKeys.listSshKeys(subject);
  }
  async deleteSshKey(fingerprint: string): Promise<boolean> {
    return this.sshKeys.deleteSshKey(fingerprint);
  }
  async getSshHostKey(target: string): Promise<SshHostKeyRecord | undefined> {
    return this.sshKeys.getSshHostKey(target);
  }
  async pinSshHostKey(k: SshHostKeyRecord): Promise<SshHostKeyRecord> {
    return this.sshKeys.pinSshHostKey(k);
  }
  async listSshHostKeys(): Promise<SshHostKeyRecord[]> {
    return this.sshKeys.listSshHostKeys();
  }
  async deleteSshHostKey(target: string): Promise<boolean> {
    return this.sshKeys.deleteSshHostKey(target);
  }

  private get control(): SqliteControlStore {
    return (this.controlStore ??= new SqliteControlStore(this.db));
  }
  private controlStore: SqliteControlStore | undefined;

  insertLock(l: LockRecord): Promise<void> {
    return this.control.insertLock(l);
  }
  listLocks(f?: { readonly activeAt?: number }): Promise<LockRecord[]> {
    return this.control.listLocks(f);
  }
  deleteLock(id: string): Promise<boolean> {
    return this.control.deleteLock(id);
  }
  requestTermination(r: Omit<TerminationRequest, 'doneAt'>): Promise<boolean> {
    return this.control.requestTermination(r);
  }
  pendingTerminations(): Promise<TerminationRequest[]> {
    return this.control.pendingTerminations();
  }
  completeTermination(sessionId: string, at: number): Promise<void> {
    return this.control.completeTermination(sessionId, at);
  }
  useOnce(key: string, until: number, now: number): Promise<boolean> {
    return this.control.useOnce(key, until, now);
  }

  async ping(): Promise<void> {
    try {
      this.db.prepare('SELECT 1').get();
    } catch (err) {
      throw new AirlockError(ErrorCodes.store, 'store unavailable', { cause: err });
    }
  }

  /**
   * Starts the compactor thread (compactor-worker.mjs): sessions ended at least `afterMs` ago get their stored
   * payloads re-encoded in large brotli blocks. Only for a store in a file (the thread opens its own connection).
   */
  startCompaction(o: CompactorOptions): void {
    if (this.db.memory || this.compactor) return;
    this.compactor = new CompactorThread(this.db.name, o);
  }

  async close(): Promise<void> {
    await this.compactor?.close();
    if (this.writer instanceof EventWriterThread) await this.writer.close();
    if (this.db.open) this.db.close();
  }
}

/** See SqliteStore.eventsOf: `key` is the session row's key, absent when the row is gone. */
function eventsWhere(key: number | null | undefined): string {
  return key == null ? 'session_id = ?' : `session_key = ${Number(key)} AND session_id = ?`;
}

/** Quotes user text as one FTS5 phrase, so operators and punctuation are taken literally. */
function ftsPhrase(text: string): string {
  return `"${text.replace(/"/g, '""')}"`;
}

function sessionWhere(f: SessionFilter, alias: string): { where: string; args: unknown[] } {
  const parts: string[] = [];
  const args: unknown[] = [];
  const add = (sql: string, v: unknown) => {
    parts.push(sql);
    args.push(v);
  };
  if (f.user) add(`${alias}.subject = ?`, f.user);
  if (f.connection) add(`${alias}.connection = ?`, f.connection);
  if (f.protocol) add(`${alias}.protocol = ?`, f.protocol);
  if (f.group) add(`EXISTS (SELECT 1 FROM json_each(${alias}.groups) WHERE value = ?)`, f.group);
  if (f.since !== undefined) add(`${alias}.started_at >= ?`, f.since);
  if (f.until !== undefined) add(`${alias}.started_at <= ?`, f.until);
  if (f.open !== undefined) parts.push(f.open ? `${alias}.ended_at IS NULL` : `${alias}.ended_at IS NOT NULL`);
  // Sessions with at least one statement or command of that outcome (through the (session_key, seq) index).
  if (f.outcome) add(`EXISTS (SELECT 1 FROM events o WHERE o.session_key = ${alias}.key AND o.outcome = ?)`, f.outcome);
  return { where: parts.length ? `WHERE ${parts.join(' AND ')}` : '', args };
}

function toToken(r: Row): TokenRecord {
  return {
    id: String(r.id), subject: String(r.subject), groups: JSON.parse(String(r.groups)), kind: r.kind as TokenRecord['kind'],
    secretHash: String(r.secret_hash), createdAt: Number(r.created_at), expiresAt: Number(r.expires_at),
    revokedAt: r.revoked_at == null ? null : Number(r.revoked_at), description: r.description == null ? null : String(r.description),
    parentId: r.parent_id == null ? null : String(r.parent_id), scope: r.scope === 'console' ? 'console' : 'all',
  };
}

function toSession(r: Row): SessionRecord {
  return {
    id: String(r.id), protocol: String(r.protocol), connection: String(r.connection), subject: String(r.subject),
    groups: JSON.parse(String(r.groups)), kind: r.kind as SessionRecord['kind'], authMethod: String(r.auth_method),
    credentialId: r.credential_id == null ? null : String(r.credential_id), clientAddress: String(r.client_address),
    application: r.application == null ? null : String(r.application), startedAt: Number(r.started_at),
    endedAt: r.ended_at == null ? null : Number(r.ended_at), endReason: r.end_reason == null ? null : String(r.end_reason),
    bytesIn: Number(r.bytes_in), bytesOut: Number(r.bytes_out), eventCount: Number(r.event_count),
    lastHash: r.last_hash == null ? null : String(r.last_hash), legalHold: Number(r.legal_hold) === 1,
  };
}

function eventData(r: Row): Record<string, unknown> {
  if (r.block_error) throw new Error(String(r.block_error)); // event-blocks.ts
  return JSON.parse(r.data_z ? inflateRawSync(r.data_z as Buffer).toString('utf8') : String(r.data));
}

function toEvent(r: Row): StoredEvent {
  return {
    sessionId: String(r.session_id), seq: Number(r.seq), time: Number(r.time), type: String(r.type),
    data: eventData(r), hash: String(r.hash),
    searchText: r.search_text == null ? null : String(r.search_text), outcome: r.outcome == null ? null : String(r.outcome),
  };
}

function toLedger(r: Row): LedgerEntry {
  return {
    seq: Number(r.seq), kind: r.kind as LedgerEntry['kind'], sessionId: r.session_id == null ? null : String(r.session_id),
    time: Number(r.time), data: JSON.parse(String(r.data)), prevHash: String(r.prev_hash), hash: String(r.hash),
  };
}
