/** Shapes of the API's answers (src/store/types.ts, src/reviews/service.ts publicView). */

export type Role = 'user' | 'approver' | 'auditor' | 'admin';

export interface Me {
  readonly subject: string;
  readonly groups: readonly string[];
  readonly kind: 'user' | 'service';
  readonly authMethod?: string;
  readonly roles: readonly Role[];
}

export interface Providers {
  readonly token: boolean;
  readonly oidc: { readonly loginUrl: string } | null;
  readonly saml: { readonly loginUrl: string } | null;
}

export interface Session {
  readonly id: string;
  readonly protocol: string;
  readonly connection: string;
  readonly subject: string;
  readonly groups: readonly string[];
  readonly kind: 'user' | 'service';
  readonly authMethod: string;
  readonly clientAddress: string;
  readonly application: string | null;
  readonly startedAt: number;
  readonly endedAt: number | null;
  readonly endReason: string | null;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly eventCount: number;
  readonly legalHold: boolean;
  readonly live?: boolean;
}

export interface StoredEvent {
  readonly sessionId: string;
  readonly seq: number;
  readonly time: number;
  readonly type: string;
  readonly data: Readonly<Record<string, unknown>>;
  readonly hash: string;
  readonly outcome?: string | null;
}

export interface SearchHit {
  readonly sessionId: string;
  readonly seq: number;
  readonly time: number;
  readonly type: string;
  readonly snippet: string;
  readonly subject: string;
  readonly connection: string;
}

export interface Verification {
  readonly sessionId: string;
  readonly ok: boolean;
  readonly sealed: boolean;
  readonly events: number;
  readonly breaks: readonly { readonly seq: number; readonly problem: string }[];
}

export interface Review {
  readonly id: string;
  readonly kind: 'command' | 'access';
  readonly sessionId: string | null;
  readonly connection: string;
  readonly requester: string;
  readonly text: string;
  /** `text` with control and invisible characters shown as notation: what is displayed. */
  readonly visibleText?: string;
  readonly rule: string;
  readonly approvers: readonly string[];
  readonly status: 'pending' | 'approved' | 'denied' | 'expired';
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly decidedAt: string | null;
  readonly reviewer: string | null;
  readonly reason: string | null;
  /** Approved with a window (`for`): until when identical statements pass; access requests: until when access lasts. */
  readonly validUntil: string | null;
}

export interface Connection {
  readonly name: string;
  readonly type: string;
  readonly allowed: boolean;
  readonly openSessions: number;
  readonly status: 'up' | 'down' | 'unknown';
  /** ms since the epoch of the last reachability probe */
  readonly checkedAt: number | null;
}

export interface TokenInfo {
  readonly id: string;
  readonly subject: string;
  readonly groups: readonly string[];
  readonly kind: 'user' | 'service';
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly revokedAt: number | null;
  readonly description: string | null;
}
