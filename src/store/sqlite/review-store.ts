import type Database from 'better-sqlite3';
import type { AuditRecord, ReviewFilter, ReviewRecord, ReviewStatus, ReviewStore } from '../review-types.ts';

type Row = Record<string, unknown>;

/** SQLite implementation of the review and audit tables; SqliteStore delegates to it. */
export class SqliteReviewStore implements ReviewStore {
  constructor(private readonly db: Database.Database) {}

  async insertReview(r: ReviewRecord): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO reviews (id, kind, session_id, connection, requester, requester_kind, requester_groups, text, text_hash, rule,
          approvers, status, created_at, expires_at, decided_at, reviewer, reason, valid_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        r.id, r.kind, r.sessionId, r.connection, r.requester, r.requesterKind, JSON.stringify(r.requesterGroups), r.text, r.textHash, r.rule,
        JSON.stringify(r.approvers), r.status, r.createdAt, r.expiresAt, r.decidedAt, r.reviewer, r.reason, r.validUntil,
      );
  }

  async getReview(id: string): Promise<ReviewRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM reviews WHERE id = ?').get(id) as Row | undefined;
    return row && toReview(row);
  }

  async listReviews(f: ReviewFilter = {}): Promise<ReviewRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.status) (where.push('status = ?'), args.push(f.status));
    if (f.kind) (where.push('kind = ?'), args.push(f.kind));
    if (f.requester) (where.push('requester = ?'), args.push(f.requester));
    if (f.connection) (where.push('connection = ?'), args.push(f.connection));
    const sql = `SELECT * FROM reviews ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, f.limit ?? 500) as Row[]).map(toReview);
  }

  async decideReview(id: string, d: { status: ReviewStatus; decidedAt: number; reviewer: string | null; reason: string | null; validUntil: number | null }): Promise<boolean> {
    return (
      this.db
        .prepare("UPDATE reviews SET status = ?, decided_at = ?, reviewer = ?, reason = ?, valid_until = ? WHERE id = ? AND status = 'pending'")
        .run(d.status, d.decidedAt, d.reviewer, d.reason, d.validUntil, id).changes > 0
    );
  }

  async findValidApproval(q: { kind: 'command' | 'access'; connection: string; requester: string; textHash: string | null; now: number }): Promise<ReviewRecord | undefined> {
    const row = this.db
      .prepare(
        `SELECT * FROM reviews WHERE kind = ? AND connection = ? AND requester = ? AND status = 'approved' AND valid_until > ?
          AND (? IS NULL OR text_hash = ?) ORDER BY valid_until DESC LIMIT 1`,
      )
      .get(q.kind, q.connection, q.requester, q.now, q.textHash, q.textHash) as Row | undefined;
    return row && toReview(row);
  }

  async appendAudit(a: AuditRecord): Promise<void> {
    this.db.prepare('INSERT INTO audit_log (time, subject, action, target, detail) VALUES (?, ?, ?, ?, ?)').run(a.time, a.subject, a.action, a.target, JSON.stringify(a.detail));
  }

  async listAudit(f: { subject?: string; target?: string; limit?: number } = {}): Promise<AuditRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.subject) (where.push('subject = ?'), args.push(f.subject));
    if (f.target) (where.push('target = ?'), args.push(f.target));
    const sql = `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY time DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, f.limit ?? 500) as Row[]).map((r) => ({
      time: Number(r.time), subject: String(r.subject), action: String(r.action), target: r.target == null ? null : String(r.target), detail: JSON.parse(String(r.detail)),
    }));
  }
}

function toReview(r: Row): ReviewRecord {
  const n = (v: unknown) => (v == null ? null : Number(v));
  return {
    id: String(r.id), kind: r.kind as ReviewRecord['kind'], sessionId: r.session_id == null ? null : String(r.session_id), connection: String(r.connection),
    requester: String(r.requester), requesterKind: r.requester_kind as ReviewRecord['requesterKind'], requesterGroups: JSON.parse(String(r.requester_groups)),
    text: String(r.text), textHash: r.text_hash == null ? null : String(r.text_hash), rule: String(r.rule), approvers: JSON.parse(String(r.approvers)),
    status: r.status as ReviewStatus, createdAt: Number(r.created_at), expiresAt: Number(r.expires_at), decidedAt: n(r.decided_at),
    reviewer: r.reviewer == null ? null : String(r.reviewer), reason: r.reason == null ? null : String(r.reason), validUntil: n(r.valid_until),
  };
}
