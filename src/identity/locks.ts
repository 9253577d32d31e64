import { AirlockError, ErrorCodes } from '../core/errors.ts';
import type { Identity } from '../core/identity.ts';
import type { ControlStore, LockRecord } from '../store/control-types.ts';
import type { AuthContext, Authenticator } from './authenticator.ts';

/** The message a locked identity is given, at login or when its live sessions are ended. */
export function lockMessage(lock: LockRecord): string {
  return `access for ${lock.subject} is locked by ${lock.createdBy}${lock.reason ? `: ${lock.reason}` : ''}`;
}

/** The end reason recorded for a session ended by a lock. */
export function lockEndReason(lock: LockRecord): string {
  return `locked by ${lock.createdBy}${lock.reason ? `: ${lock.reason}` : ''}`;
}

/**
 * Refuses identities whose subject is locked (`airlock locks add`), however they proved themselves: wraps the
 * authenticator (tokens, OIDC: databases, SSH passwords, the API) and checks identities proven otherwise (SSH
 * keys) through `admit`. The store is read on each login, so a lock placed anywhere applies at once.
 */
export class LockingAuthenticator implements Authenticator {
  constructor(
    private readonly inner: Authenticator,
    private readonly locks: Pick<ControlStore, 'listLocks'>,
    private readonly now: () => number = Date.now,
  ) {}

  async authenticate(credential: string, context: AuthContext): Promise<Identity> {
    const identity = await this.inner.authenticate(credential, context);
    await this.admit(identity);
    return identity;
  }

  async admit(identity: Identity): Promise<void> {
    const lock = (await this.locks.listLocks({ activeAt: this.now() })).find((l) => l.subject === identity.subject);
    if (lock) throw new AirlockError(ErrorCodes.authFailed, lockMessage(lock), { expose: true });
  }
}
