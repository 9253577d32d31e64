import type { Identity } from '../../core/identity.ts';

/** A live session as the gateway's control plane sees it, whatever its protocol. */
export interface LiveSession {
  /** The recording's session id. */
  readonly id: string;
  readonly protocol: string;
  readonly identity: Identity;
  /**
   * Ends the session from the gateway side: the client is told `message` in its protocol (a FATAL error, a line
   * on stderr), and `reason` is recorded as the session's end reason.
   */
  terminate(message: string, reason: string): void;
}

/**
 * Every live session of this gateway, by id, with the way to end it. Each engine adds its sessions once recorded
 * and removes them when they end; the gateway ends them on revocation, a lock or a terminate request
 * (server/session-control.ts), so a new protocol gains all of that by registering here.
 */
export class LiveSessions {
  private readonly byId = new Map<string, LiveSession>();

  /** Adds a session; returns the function that removes it (call it when the session ends). */
  add(session: LiveSession): () => void {
    this.byId.set(session.id, session);
    return () => {
      if (this.byId.get(session.id) === session) this.byId.delete(session.id);
    };
  }

  get(id: string): LiveSession | undefined {
    return this.byId.get(id);
  }

  list(): LiveSession[] {
    return [...this.byId.values()];
  }

  /** Ends a session once: it leaves the registry first, so a later check does not end it again. */
  end(session: LiveSession, message: string, reason: string): void {
    if (this.byId.get(session.id) !== session) return;
    this.byId.delete(session.id);
    session.terminate(message, reason);
  }
}
