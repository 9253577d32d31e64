import type { Logger } from '../core/logger.ts';
import { lockEndReason, lockMessage } from '../identity/locks.ts';
import type { LiveSession, LiveSessions } from '../protocols/common/live-sessions.ts';
import type { Store } from '../store/types.ts';

/** How often the store is read for revocations, locks and terminate requests. */
export const CONTROL_INTERVAL_MS = 1_000;

export interface SessionControlOptions {
  readonly store: Store;
  readonly live: LiveSessions;
  readonly log: Logger;
  readonly intervalMs?: number;
  readonly now?: () => number;
}

/** The end reason of a session ended by a terminate request. */
export function terminatedReason(by: string, reason: string | null): string {
  return `terminated by ${by}${reason ? `: ${reason}` : ''}`;
}

/**
 * Ends live sessions whose identity lost its right to them, from what the store says (so a CLI writing the data
 * dir, or another gateway on the same store, reaches this one): a revoked token, a removed SSH key, a lock on the
 * subject, a terminate request naming the session. One pass reads a few rows; it runs every CONTROL_INTERVAL_MS.
 */
export async function controlPass(o: SessionControlOptions): Promise<void> {
  const { store, live } = o;
  const now = (o.now ?? Date.now)();
  const end = (s: LiveSession, message: string, reason: string) => {
    o.log.info({ session: s.id, subject: s.identity.subject, protocol: s.protocol, reason }, 'ending live session');
    live.end(s, message, reason);
  };

  for (const request of await store.pendingTerminations()) {
    const s = live.get(request.sessionId);
    if (s) {
      const reason = terminatedReason(request.requestedBy, request.reason);
      end(s, `the session was ${reason}`, reason);
    } else {
      // Another gateway may hold it; once it has ended (or never existed) the request is done.
      const record = await store.getSession(request.sessionId);
      if (record && record.endedAt === null) continue;
    }
    await store.completeTermination(request.sessionId, now);
  }

  const sessions = live.list();
  if (sessions.length === 0) return;
  const locks = await store.listLocks({ activeAt: now });
  const tokenState = new Map<string, boolean>();
  const keyState = new Map<string, boolean>();
  for (const s of sessions) {
    const lock = locks.find((l) => l.subject === s.identity.subject);
    if (lock) {
      end(s, lockMessage(lock), lockEndReason(lock));
      continue;
    }
    const credential = s.identity.credentialId;
    if (!credential) continue;
    if (s.identity.authMethod === 'token') {
      if (!tokenState.has(credential)) {
        const t = await store.getToken(credential);
        tokenState.set(credential, !!t && t.revokedAt === null);
      }
      if (!tokenState.get(credential)) end(s, 'your token was revoked', 'token_revoked');
    } else if (s.identity.authMethod === 'ssh-key') {
      if (!keyState.has(credential)) keyState.set(credential, (await store.getSshKey(credential))?.subject === s.identity.subject);
      if (!keyState.get(credential)) end(s, 'your SSH key was removed', 'ssh_key_removed');
    }
  }
}

/** Runs controlPass every interval until stopped; a failed pass is logged and the next one tries again. */
export function startSessionControl(o: SessionControlOptions): () => Promise<void> {
  let stopped = false;
  let running: Promise<void> | undefined;
  let timer: NodeJS.Timeout;
  const tick = () => {
    running = controlPass(o)
      .catch((err: Error) => o.log.warn({ err: err.message }, 'session control pass failed'))
      .finally(() => {
        running = undefined;
        if (!stopped) schedule();
      });
  };
  const schedule = () => {
    timer = setTimeout(tick, o.intervalMs ?? CONTROL_INTERVAL_MS);
    timer.unref();
  };
  schedule();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await running;
  };
}
