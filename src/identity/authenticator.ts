import { AirlockError, ErrorCodes } from '../core/errors.ts';
import type { Identity } from '../core/identity.ts';

/** Turns what a client presented as its secret into an Identity, or throws an expose-safe auth error. */
export interface Authenticator {
  authenticate(credential: string, context: AuthContext): Promise<Identity>;
  /** Checks an identity proven another way (an SSH key) against what refuses any login (locks); throws when refused. */
  admit?(identity: Identity): Promise<void>;
}

export interface AuthContext {
  readonly protocol: string;
  readonly clientAddress: string;
}

/** A credential source that may decline (return undefined) when the credential is not its kind. */
export interface CredentialVerifier {
  readonly name: string;
  accepts(credential: string): boolean;
  verify(credential: string, context: AuthContext): Promise<Identity>;
}

/** Tries each verifier that accepts the credential's shape; deny by default. */
export class ChainAuthenticator implements Authenticator {
  constructor(private readonly verifiers: readonly CredentialVerifier[]) {}

  async authenticate(credential: string, context: AuthContext): Promise<Identity> {
    for (const v of this.verifiers) {
      if (v.accepts(credential)) return v.verify(credential, context);
    }
    throw new AirlockError(ErrorCodes.authFailed, 'invalid token', { expose: true });
  }
}
