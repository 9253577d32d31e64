import type { AuthContext } from 'ssh2';
import { clientMessage } from '../../core/errors.ts';
import type { Identity } from '../../core/identity.ts';
import type { Logger } from '../../core/logger.ts';
import type { Authenticator } from '../../identity/authenticator.ts';
import type { SshKeyRecord } from '../../store/types.ts';
import { fingerprintOf, verifySignature } from './keys.ts';

/** `SUBJECT+CONNECTION`: who the client says it is and which connection it wants. */
export interface LoginName {
  readonly subject: string;
  readonly connection: string;
}

export function parseLoginName(username: string): LoginName | undefined {
  const i = username.indexOf('+');
  if (i <= 0 || i === username.length - 1) return undefined;
  return { subject: username.slice(0, i), connection: username.slice(i + 1) };
}

export interface SshKeyLookup {
  getSshKey(fingerprint: string): Promise<SshKeyRecord | undefined>;
}

export type AuthOutcome =
  /** Proven: `identity` is who the client is. */
  | { readonly result: 'accept'; readonly identity: Identity; readonly login: LoginName }
  /** The publickey "query" step: the key is registered to this subject; the client may now sign. */
  | { readonly result: 'key-ok' }
  | { readonly result: 'reject'; readonly why: string };

export const AUTH_METHODS = ['publickey', 'password'] as const;

/**
 * Client authentication, two ways:
 * - publickey: the key must be registered (`airlock ssh-keys add`) to the subject named in the user
 *   name; the signature over the session id is verified against the registered key, not the presented one;
 * - password: the password is a gateway access token (or any credential the authenticator accepts),
 *   whose subject must be the one named in the user name.
 * Never logs the password.
 */
export class ClientAuth {
  constructor(
    private readonly keys: SshKeyLookup,
    private readonly authenticator: Authenticator,
    private readonly log: Logger,
  ) {}

  async check(ctx: AuthContext, clientAddress: string): Promise<AuthOutcome> {
    const login = parseLoginName(ctx.username);
    if (!login) return { result: 'reject', why: 'user name is not SUBJECT+CONNECTION' };
    if (ctx.method === 'publickey') {
      const fingerprint = fingerprintOf(ctx.key.data);
      const record = await this.keys.getSshKey(fingerprint);
      if (!record || record.subject !== login.subject) return { result: 'reject', why: `key ${fingerprint} is not registered to ${login.subject}` };
      if (!ctx.signature || !ctx.blob) return { result: 'key-ok' };
      if (!verifySignature(record.publicKey, ctx.key.data, ctx.blob, ctx.signature, ctx.hashAlgo)) {
        return { result: 'reject', why: `bad signature for key ${fingerprint}` };
      }
      const identity: Identity = { subject: record.subject, groups: record.groups, kind: record.kind, authMethod: 'ssh-key', credentialId: fingerprint };
      try {
        await this.authenticator.admit?.(identity);
      } catch (err) {
        return { result: 'reject', why: clientMessage(err, 'refused') };
      }
      return { result: 'accept', login, identity };
    }
    if (ctx.method === 'password') {
      let identity: Identity;
      try {
        identity = await this.authenticator.authenticate(ctx.password, { protocol: 'ssh', clientAddress });
      } catch (err) {
        return { result: 'reject', why: clientMessage(err, 'invalid token') };
      }
      if (identity.subject !== login.subject) return { result: 'reject', why: 'the token belongs to another identity' };
      return { result: 'accept', identity, login };
    }
    return { result: 'reject', why: `method ${ctx.method} is not offered` };
  }

  /** Logs a refusal without anything secret. */
  logRefusal(ctx: AuthContext, clientAddress: string, why: string): void {
    if (ctx.method === 'none') return;
    this.log.info({ client: clientAddress, user: ctx.username, method: ctx.method, why }, 'ssh authentication refused');
  }
}
