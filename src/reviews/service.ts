import { createHash } from 'node:crypto';
import type { Config } from '../config/schema.ts';
import { parseDuration } from '../core/duration.ts';
import { AirlockError, ErrorCodes } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import { inAnyGroup, type Identity } from '../core/identity.ts';
import type { Logger } from '../core/logger.ts';
import { visibleKeys } from '../core/visible.ts';
import { rolesOf } from '../identity/roles.ts';
import type { ReviewRecord } from '../store/review-types.ts';
import type { Store } from '../store/types.ts';
import type { HeldNotice, ReviewGate, ReviewOutcome, ReviewRequest } from './types.ts';
import { WebhookNotifier, type WebhookEvent } from './webhooks.ts';

/**
 * What an approval window matches: the command exactly as the client sent it (values included, before any
 * masking), salted with the review's id so the stored digest cannot be used to guess masked values. An
 * approver sees masked values; a window therefore lets through only the very command they approved, never
 * another one with the same shape (another email, another id). Not even whitespace or case is normalised:
 * `'A'` and `'a'` are different values.
 */
export function windowDigest(reviewId: string, exact: string): string {
  return createHash('sha256').update(`${reviewId}\n${exact}`).digest('hex');
}

interface Waiter {
  readonly resolve: (o: ReviewOutcome) => void;
  readonly timer: NodeJS.Timeout;
}

export interface DecideOptions {
  readonly reason?: string;
  /** Command review: identical commands pass for this long. */
  readonly forMs?: number;
}

/**
 * Just-in-time approval. A held command waits here (the client simply waits) until an approver —
 * never the requester, always in one of the rule's approver groups — decides, or the request expires
 * as denied. Decisions are persisted, so a decision taken through another gateway instance is seen by
 * polling the store.
 */
export class ReviewService implements ReviewGate {
  private readonly waiters = new Map<string, Waiter>();
  private poller: NodeJS.Timeout | undefined;
  private readonly timeoutMs: number;
  readonly webhooks: WebhookNotifier;
  /** Told when a review is created, decided or expires on this instance (live views, metrics). Must not throw. */
  onChange: ((r: ReviewRecord) => void) | undefined;

  constructor(
    private readonly store: Store,
    private readonly config: Config,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
    webhookOptions?: ConstructorParameters<typeof WebhookNotifier>[2],
  ) {
    this.timeoutMs = parseDuration(config.reviews.timeout);
    this.webhooks = new WebhookNotifier(config.reviews.webhooks, log, webhookOptions);
  }

  get pendingCount(): number {
    return this.waiters.size;
  }

  async request(req: ReviewRequest, signal?: AbortSignal, onHeld?: (h: HeldNotice) => void): Promise<ReviewOutcome> {
    const now = this.now();
    const window = await this.windowFor(req, now);
    if (window) {
      return { approved: true, reviewer: window.reviewer ?? undefined, reason: `approved until ${new Date(window.validUntil!).toISOString()} (review ${window.id})`, reviewId: window.id };
    }
    const id = newId('rev_');
    const textHash = windowDigest(id, req.exact);
    const record: ReviewRecord = {
      id, kind: 'command', sessionId: req.sessionId, connection: req.connection,
      requester: req.requester.subject, requesterKind: req.requester.kind, requesterGroups: req.requester.groups,
      text: req.command.text, textHash, rule: req.rule, approvers: req.approvers, status: 'pending',
      createdAt: now, expiresAt: now + this.timeoutMs, decidedAt: null, reviewer: null, reason: null, validUntil: null,
    };
    await this.store.insertReview(record);
    this.announce(record, 'review.requested');
    this.log.info({ review: record.id, connection: record.connection, requester: record.requester, rule: record.rule }, 'command held for review');
    onHeld?.({ reviewId: record.id, approvers: record.approvers, expiresAt: record.expiresAt });
    return new Promise<ReviewOutcome>((resolve) => {
      const timer = setTimeout(() => void this.expire(record.id, 'no decision before the request expired'), this.timeoutMs);
      this.waiters.set(record.id, { resolve, timer });
      signal?.addEventListener('abort', () => void this.expire(record.id, 'the session ended while waiting'), { once: true });
      this.startPolling();
    });
  }

  /** An approved, unexpired window of this requester on this connection for exactly this command. */
  private async windowFor(req: ReviewRequest, now: number): Promise<ReviewRecord | undefined> {
    const approved = await this.store.listReviews({ status: 'approved', kind: 'command', requester: req.requester.subject, connection: req.connection });
    return approved.find((r) => r.validUntil !== null && r.validUntil > now && r.textHash === windowDigest(r.id, req.exact));
  }

  /** Opens an access request (connections with `access.requireRequest`). */
  async requestAccess(identity: Identity, connection: string, forMs: number, reason: string): Promise<ReviewRecord> {
    const conn = this.config.connections[connection];
    if (!conn || !conn.allow.some((g) => identity.groups.includes(g))) {
      throw new AirlockError(ErrorCodes.forbidden, `connection "${connection}" does not exist or you may not use it`, { expose: true });
    }
    const max = parseDuration(conn.access?.maxDuration ?? '8h');
    if (forMs > max) throw new AirlockError(ErrorCodes.usage, `at most ${conn.access?.maxDuration ?? '8h'} may be requested for ${connection}`, { expose: true });
    const now = this.now();
    const record: ReviewRecord = {
      id: newId('acc_'), kind: 'access', sessionId: null, connection, requester: identity.subject, requesterKind: identity.kind,
      requesterGroups: identity.groups, text: reason, textHash: null, rule: 'access-request', approvers: conn.access?.approvers ?? [],
      status: 'pending', createdAt: now, expiresAt: now + this.timeoutMs, decidedAt: null, reviewer: null, reason: null,
      // While pending, validUntil holds the requested duration; approval turns it into an instant.
      validUntil: forMs,
    };
    await this.store.insertReview(record);
    this.announce(record, 'access.requested');
    return record;
  }

  /** Whether the identity holds an approved, unexpired access request for the connection. */
  async hasAccess(identity: Identity, connection: string): Promise<boolean> {
    return !!(await this.store.findValidApproval({ kind: 'access', connection, requester: identity.subject, textHash: null, now: this.now() }));
  }

  /** Approves or denies. Refuses self-approval and reviewers outside the approver groups. */
  async decide(id: string, reviewer: Identity, approve: boolean, opts: DecideOptions = {}): Promise<ReviewRecord> {
    const rec = await this.store.getReview(id);
    if (!rec) throw new AirlockError(ErrorCodes.notFound, `no review ${id}`, { expose: true });
    if (rec.status !== 'pending') throw new AirlockError(ErrorCodes.usage, `review ${id} is already ${rec.status}`, { expose: true });
    if (!this.mayDecide(rec, reviewer)) {
      throw new AirlockError(ErrorCodes.forbidden, rec.requester === reviewer.subject ? 'you cannot decide your own request' : `you are not an approver for rule ${rec.rule}`, { expose: true });
    }
    if (rec.expiresAt <= this.now()) {
      await this.expire(id, 'no decision before the request expired');
      throw new AirlockError(ErrorCodes.usage, `review ${id} has expired`, { expose: true });
    }
    const decidedAt = this.now();
    const validUntil = !approve ? null : rec.kind === 'access' ? decidedAt + (rec.validUntil ?? 0) : opts.forMs ? decidedAt + opts.forMs : null;
    const status = approve ? 'approved' : 'denied';
    const reason = opts.reason ?? null;
    if (!(await this.store.decideReview(id, { status, decidedAt, reviewer: reviewer.subject, reason, validUntil }))) {
      throw new AirlockError(ErrorCodes.usage, `review ${id} was decided by someone else`, { expose: true });
    }
    const decided: ReviewRecord = { ...rec, status, decidedAt, reviewer: reviewer.subject, reason, validUntil };
    this.settle(decided);
    this.announce(decided, rec.kind === 'access' ? 'access.decided' : 'review.decided');
    this.log.info({ review: id, status, reviewer: reviewer.subject }, 'review decided');
    return decided;
  }

  /** Reviews this identity may act on (approver) or has asked for (requester). */
  async visibleTo(identity: Identity, filter: { status?: ReviewRecord['status'] } = {}): Promise<ReviewRecord[]> {
    const all = await this.store.listReviews({ status: filter.status });
    const roles = rolesOf(identity, this.config.identity.roles);
    return all.filter((r) => roles.has('admin') || r.requester === identity.subject || this.mayDecide(r, identity));
  }

  mayDecide(rec: ReviewRecord, reviewer: Identity): boolean {
    if (rec.requester === reviewer.subject) return false;
    if (rec.approvers.length) return inAnyGroup(reviewer, rec.approvers);
    return rolesOf(reviewer, this.config.identity.roles).has('approver');
  }

  private async expire(id: string, why: string): Promise<void> {
    const decidedAt = this.now();
    const changed = await this.store.decideReview(id, { status: 'expired', decidedAt, reviewer: null, reason: why, validUntil: null }).catch(() => false);
    const rec = await this.store.getReview(id).catch(() => undefined);
    if (rec) this.settle(rec);
    if (changed && rec) this.announce(rec, 'review.decided');
  }

  /** Tells this instance's observers (live views, metrics) and the webhooks that a review was created or settled. */
  private announce(rec: ReviewRecord, event: WebhookEvent['event']): void {
    this.onChange?.(rec);
    this.webhooks.notify({ event, review: publicView(rec) });
  }

  private settle(rec: ReviewRecord): void {
    const w = this.waiters.get(rec.id);
    if (!w || rec.status === 'pending') return;
    this.waiters.delete(rec.id);
    clearTimeout(w.timer);
    if (this.waiters.size === 0) this.stopPolling();
    w.resolve({ approved: rec.status === 'approved', reviewer: rec.reviewer ?? undefined, reason: rec.reason ?? (rec.status === 'expired' ? 'expired' : undefined), reviewId: rec.id });
  }

  /** Picks up decisions made through another gateway instance sharing the store. */
  private startPolling(): void {
    if (this.poller) return;
    this.poller = setInterval(() => {
      for (const id of this.waiters.keys()) {
        void this.store.getReview(id).then((r) => r && r.status !== 'pending' && this.settle(r), () => {});
      }
    }, 1000);
    this.poller.unref();
  }

  private stopPolling(): void {
    if (this.poller) clearInterval(this.poller);
    this.poller = undefined;
  }

  close(): void {
    this.stopPolling();
    for (const [id, w] of this.waiters) {
      clearTimeout(w.timer);
      w.resolve({ approved: false, reason: 'the gateway is shutting down', reviewId: id });
    }
    this.waiters.clear();
  }
}

/** What a webhook or API client sees of a review. */
export function publicView(r: ReviewRecord): Record<string, unknown> {
  return {
    id: r.id, kind: r.kind, sessionId: r.sessionId, connection: r.connection, requester: r.requester, requesterKind: r.requesterKind,
    text: r.text, visibleText: visibleKeys(r.text), rule: r.rule, approvers: r.approvers, status: r.status, createdAt: new Date(r.createdAt).toISOString(),
    expiresAt: new Date(r.expiresAt).toISOString(), decidedAt: r.decidedAt ? new Date(r.decidedAt).toISOString() : null,
    reviewer: r.reviewer, reason: r.reason, validUntil: r.validUntil && r.status === 'approved' ? new Date(r.validUntil).toISOString() : null,
  };
}
