import type { Identity } from '../core/identity.ts';
import type { Command } from '../policy/types.ts';

export interface ReviewRequest {
  readonly sessionId: string;
  readonly connection: string;
  readonly requester: Identity;
  /** The command as shown to approvers and stored (masked). */
  readonly command: Command;
  /**
   * The command exactly as the client sent it, unmasked. Never stored: only a salted digest of it, which an
   * approval window must match (see `windowDigest`).
   */
  readonly exact: string;
  readonly rule: string;
  readonly approvers: readonly string[];
  readonly reason: string;
}

export interface ReviewOutcome {
  readonly approved: boolean;
  readonly reviewer?: string;
  readonly reason?: string;
  readonly reviewId: string;
}

/** What a client is told the moment its command is held: which review, who may decide it, until when. */
export interface HeldNotice {
  readonly reviewId: string;
  /** The groups that may approve; empty: anyone holding the approver role. */
  readonly approvers: readonly string[];
  readonly expiresAt: number;
}

/** The one line a client is shown while its command waits (a PostgreSQL notice, a line on the SSH channel's stderr). */
export function heldLine(h: HeldNotice): string {
  const who = h.approvers.length ? `a member of ${h.approvers.join(', ')}` : 'an approver';
  return `waiting for review ${h.reviewId}: ${who} (not you) must approve it before ${new Date(h.expiresAt).toISOString()}; \`airlock reviews approve ${h.reviewId}\``;
}

/** Holds a command until an approver decides or the request expires (expiry is a denial). */
export interface ReviewGate {
  /** `onHeld` is called once the command is held (not when an approval window lets it through at once). */
  request(req: ReviewRequest, signal?: AbortSignal, onHeld?: (h: HeldNotice) => void): Promise<ReviewOutcome>;
  /** Whether the identity holds an approved access request for the connection (JIT access). */
  hasAccess?(identity: Identity, connection: string): Promise<boolean>;
}
