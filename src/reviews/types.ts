import type { Identity } from '../core/identity.ts';
import type { Command } from '../policy/types.ts';

export interface ReviewRequest {
  readonly sessionId: string;
  readonly connection: string;
  readonly requester: Identity;
  readonly command: Command;
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

/** Holds a command until an approver decides or the request expires (expiry is a denial). */
export interface ReviewGate {
  request(req: ReviewRequest, signal?: AbortSignal): Promise<ReviewOutcome>;
  /** Whether the identity holds an approved access request for the connection (JIT access). */
  hasAccess?(identity: Identity, connection: string): Promise<boolean>;
}
