import { AirlockError, ErrorCodes } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { IssueOptions, IssuedToken, TokenService } from '../identity/tokens.ts';
import type { LockRecord } from '../store/control-types.ts';
import type { SessionRecord, SshKeyRecord, Store } from '../store/types.ts';

/** Who acts, and through what: an admin's identity on the API, or `local:USER` on the gateway host's CLI. */
export interface Actor {
  readonly subject: string;
  readonly via: 'api' | 'cli';
}

export type TerminateOutcome = 'requested' | 'already_requested' | 'ended' | 'not_found';

/**
 * Every administrative change, made the same way and audited the same way whether it comes from the CLI or the
 * API: one audit row per action (`audit_log`, `GET /api/audit`), written after the change took effect, naming
 * the actor, the target and what changed (never a secret).
 */
export class AdminActions {
  constructor(
    private readonly store: Store,
    private readonly tokens: TokenService,
    private readonly now: () => number = Date.now,
  ) {}

  private audit(actor: Actor, action: string, target: string | null, detail: Record<string, unknown>): Promise<void> {
    return this.store.appendAudit({ time: this.now(), subject: actor.subject, action, target, detail: { via: actor.via, ...detail } });
  }

  async issueToken(actor: Actor, opts: IssueOptions): Promise<IssuedToken> {
    const issued = await this.tokens.issue(opts);
    const r = issued.record;
    await this.audit(actor, 'token.issue', r.id, { subject: r.subject, groups: r.groups, kind: r.kind, expiresAt: r.expiresAt });
    return issued;
  }

  async revokeToken(actor: Actor, id: string): Promise<boolean> {
    const revoked = await this.tokens.revoke(id);
    await this.audit(actor, 'token.revoke', id, { revoked });
    return revoked;
  }

  async addSshKey(actor: Actor, key: SshKeyRecord): Promise<void> {
    const existing = await this.store.getSshKey(key.fingerprint);
    if (existing) throw new AirlockError(ErrorCodes.usage, `key ${key.fingerprint} is already registered to ${existing.subject}; remove it first`, { expose: true });
    await this.store.insertSshKey(key);
    await this.audit(actor, 'ssh-key.add', key.fingerprint, { subject: key.subject, groups: key.groups, kind: key.kind });
  }

  async removeSshKey(actor: Actor, fingerprint: string): Promise<boolean> {
    const removed = await this.store.deleteSshKey(fingerprint);
    await this.audit(actor, 'ssh-key.remove', fingerprint, { removed });
    return removed;
  }

  async forgetHostKey(actor: Actor, target: string): Promise<boolean> {
    const forgotten = await this.store.deleteSshHostKey(target);
    await this.audit(actor, 'ssh-host-key.forget', target, { forgotten });
    return forgotten;
  }

  /** Places or releases a legal hold; returns the session as it was, or undefined when there is none. */
  async setHold(actor: Actor, sessionId: string, hold: boolean): Promise<SessionRecord | undefined> {
    const session = await this.store.getSession(sessionId);
    if (!session) return undefined;
    await this.store.setLegalHold(sessionId, hold);
    await this.audit(actor, hold ? 'session.hold' : 'session.unhold', sessionId, { was: session.legalHold });
    return session;
  }

  /**
   * Asks for a live session to be ended: the gateway holding it (this one or another on the same store) ends it
   * within a couple of seconds, recording `terminated by ACTOR: REASON` as its end reason.
   */
  async terminate(actor: Actor, sessionId: string, reason: string | null): Promise<TerminateOutcome> {
    const session = await this.store.getSession(sessionId);
    if (!session) return 'not_found';
    if (session.endedAt !== null) return 'ended';
    const requested = await this.store.requestTermination({ sessionId, requestedBy: actor.subject, reason, requestedAt: this.now() });
    await this.audit(actor, 'session.terminate', sessionId, { reason, subject: session.subject, connection: session.connection });
    return requested ? 'requested' : 'already_requested';
  }

  /** Locks a subject out: no new login anywhere, and its live sessions end within a couple of seconds. */
  async addLock(actor: Actor, o: { subject: string; reason?: string; ttlMs?: number }): Promise<LockRecord> {
    if (!/^[^\s\x00-\x1f]{1,128}$/.test(o.subject)) throw new AirlockError(ErrorCodes.usage, 'subject must be 1-128 characters without spaces', { expose: true });
    if (o.ttlMs !== undefined && !(o.ttlMs > 0)) throw new AirlockError(ErrorCodes.usage, 'ttl must be positive', { expose: true });
    const createdAt = this.now();
    const lock: LockRecord = {
      id: newId(), subject: o.subject, reason: o.reason ?? null, createdBy: actor.subject, createdAt, expiresAt: o.ttlMs === undefined ? null : createdAt + o.ttlMs,
    };
    await this.store.insertLock(lock);
    await this.audit(actor, 'lock.add', lock.id, { subject: lock.subject, reason: lock.reason, expiresAt: lock.expiresAt });
    return lock;
  }

  async removeLock(actor: Actor, id: string): Promise<boolean> {
    const removed = await this.store.deleteLock(id);
    await this.audit(actor, 'lock.remove', id, { removed });
    return removed;
  }
}
