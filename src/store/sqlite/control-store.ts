import type Database from 'better-sqlite3';
import type { ControlStore, LockRecord, TerminationRequest } from '../control-types.ts';

type Row = Record<string, unknown>;

/** The `locks`, `session_terminations` and `used_once` tables (migration in schema.ts); SqliteStore delegates here. */
export class SqliteControlStore implements ControlStore {
  private lastSweep = 0;

  constructor(private readonly db: Database.Database) {}

  async insertLock(l: LockRecord): Promise<void> {
    this.db
      .prepare('INSERT INTO locks (id, subject, reason, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(l.id, l.subject, l.reason, l.createdBy, l.createdAt, l.expiresAt);
  }

  async listLocks(f: { readonly activeAt?: number } = {}): Promise<LockRecord[]> {
    const rows = f.activeAt === undefined
      ? this.db.prepare('SELECT * FROM locks ORDER BY created_at, id').all()
      : this.db.prepare('SELECT * FROM locks WHERE expires_at IS NULL OR expires_at > ? ORDER BY created_at, id').all(f.activeAt);
    return (rows as Row[]).map(toLock);
  }

  async deleteLock(id: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM locks WHERE id = ?').run(id).changes > 0;
  }

  async requestTermination(r: Omit<TerminationRequest, 'doneAt'>): Promise<boolean> {
    const pending = this.db.prepare('SELECT 1 FROM session_terminations WHERE session_id = ? AND done_at IS NULL').get(r.sessionId);
    if (pending) return false;
    this.db
      .prepare('INSERT INTO session_terminations (session_id, requested_by, reason, requested_at) VALUES (?, ?, ?, ?)')
      .run(r.sessionId, r.requestedBy, r.reason, r.requestedAt);
    return true;
  }

  async pendingTerminations(): Promise<TerminationRequest[]> {
    return (this.db.prepare('SELECT * FROM session_terminations WHERE done_at IS NULL ORDER BY requested_at').all() as Row[]).map((r) => ({
      sessionId: String(r.session_id), requestedBy: String(r.requested_by), reason: r.reason == null ? null : String(r.reason),
      requestedAt: Number(r.requested_at), doneAt: null,
    }));
  }

  async completeTermination(sessionId: string, at: number): Promise<void> {
    this.db.prepare('UPDATE session_terminations SET done_at = ? WHERE session_id = ? AND done_at IS NULL').run(at, sessionId);
  }

  async useOnce(key: string, until: number, now: number): Promise<boolean> {
    if (now - this.lastSweep > 60_000) {
      this.lastSweep = now;
      this.db.prepare('DELETE FROM used_once WHERE until <= ?').run(now);
    }
    // One statement: an expired entry is taken over, a live one is kept and reported.
    const r = this.db
      .prepare('INSERT INTO used_once (key, until) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET until = excluded.until WHERE used_once.until <= ?')
      .run(key, until, now);
    return r.changes > 0;
  }
}

function toLock(r: Row): LockRecord {
  return {
    id: String(r.id), subject: String(r.subject), reason: r.reason == null ? null : String(r.reason), createdBy: String(r.created_by),
    createdAt: Number(r.created_at), expiresAt: r.expires_at == null ? null : Number(r.expires_at),
  };
}
