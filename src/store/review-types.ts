/** Review requests, access requests and the audit trail of who looked at what. */

export type ReviewStatus = 'pending' | 'approved' | 'denied' | 'expired';

export interface ReviewRecord {
  readonly id: string;
  readonly kind: 'command' | 'access';
  readonly sessionId: string | null;
  readonly connection: string;
  readonly requester: string;
  readonly requesterKind: 'user' | 'service';
  readonly requesterGroups: readonly string[];
  /** Masked command text, or the access request's reason. */
  readonly text: string;
  /** SHA-256 of the normalised command (window approvals match on it). */
  readonly textHash: string | null;
  readonly rule: string;
  readonly approvers: readonly string[];
  readonly status: ReviewStatus;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly decidedAt: number | null;
  readonly reviewer: string | null;
  readonly reason: string | null;
  /** Approved for this long: identical commands (command review) or sessions (access) pass until then. */
  readonly validUntil: number | null;
}

export interface ReviewFilter {
  readonly status?: ReviewStatus;
  readonly kind?: 'command' | 'access';
  readonly requester?: string;
  readonly connection?: string;
  readonly limit?: number;
}

export interface AuditRecord {
  readonly time: number;
  readonly subject: string;
  readonly action: string;
  readonly target: string | null;
  readonly detail: Readonly<Record<string, unknown>>;
}

export interface ReviewStore {
  insertReview(r: ReviewRecord): Promise<void>;
  getReview(id: string): Promise<ReviewRecord | undefined>;
  listReviews(filter?: ReviewFilter): Promise<ReviewRecord[]>;
  /** Sets the decision only while the review is still pending; returns whether it did. */
  decideReview(id: string, d: { status: ReviewStatus; decidedAt: number; reviewer: string | null; reason: string | null; validUntil: number | null }): Promise<boolean>;
  /** An approved, unexpired window covering this command or access. */
  findValidApproval(q: { kind: 'command' | 'access'; connection: string; requester: string; textHash: string | null; now: number }): Promise<ReviewRecord | undefined>;
  appendAudit(a: AuditRecord): Promise<void>;
  listAudit(filter?: { subject?: string; target?: string; limit?: number }): Promise<AuditRecord[]>;
}
