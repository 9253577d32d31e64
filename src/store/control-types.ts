/** Control-plane state every gateway of a fleet reads from the store: locks, termination requests, one-time ids. */

/** A lock on a subject: while active, it may not authenticate anywhere and its live sessions are ended. */
export interface LockRecord {
  readonly id: string;
  readonly subject: string;
  readonly reason: string | null;
  /** Who placed it (an admin's subject, or `local:USER` from the gateway host). */
  readonly createdBy: string;
  readonly createdAt: number;
  /** Null: until removed. */
  readonly expiresAt: number | null;
}

/** A request to end a live session, picked up by whichever gateway holds it. */
export interface TerminationRequest {
  readonly sessionId: string;
  readonly requestedBy: string;
  readonly reason: string | null;
  readonly requestedAt: number;
  /** When a gateway ended the session (or found it already ended); null while pending. */
  readonly doneAt: number | null;
}

export interface ControlStore {
  insertLock(lock: LockRecord): Promise<void>;
  /** Every lock, or only those active at `activeAt` (not expired). */
  listLocks(filter?: { readonly activeAt?: number }): Promise<LockRecord[]>;
  deleteLock(id: string): Promise<boolean>;
  /** Records the request unless one is pending for the session; returns whether it did. */
  requestTermination(r: Omit<TerminationRequest, 'doneAt'>): Promise<boolean>;
  pendingTerminations(): Promise<TerminationRequest[]>;
  completeTermination(sessionId: string, at: number): Promise<void>;
  /**
   * Records `key` as used until `until` and returns true, or returns false when it is already recorded and not
   * expired: one atomic step, so two gateways on one store cannot both accept it (SAML assertion ids).
   */
  useOnce(key: string, until: number, now: number): Promise<boolean>;
}
