import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { AirlockError, ErrorCodes } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { Config } from '../config/schema.ts';
import type { Identity } from '../core/identity.ts';
import type { Store, TokenRecord } from '../store/types.ts';
import { maxTokenTtl } from './token-ttl.ts';

/** Gateway-issued access tokens: `alk_<id>_<secret>`. Only SHA-256 of the secret is stored. */
const PREFIX = 'alk_';
const ID_LENGTH = 26;
const DUMMY_HASH = Buffer.alloc(32);
/** Lifetime of a token issued without one, and of a browser session. */
export const DEFAULT_TTL_MS = 8 * 3600_000;
/**
 * AuthContext.protocol of the gateway's own control plane (the HTTP API and web console): the only place a
 * console-scoped token is valid. Not `http`, the name an HTTP-proxying protocol adapter would use.
 */
export const CONTROL_PLANE = 'api';

export interface IssueOptions {
  readonly subject: string;
  readonly groups: readonly string[];
  /** Default: 8 hours, or less where `identity.maxTokenTtl` says so. Longer than that limit is refused. */
  readonly ttlMs?: number;
  readonly service?: boolean;
  readonly description?: string;
  readonly now?: number;
}

/** What limits token lifetimes: `identity.maxTokenTtl` and the roles it may name. */
export type TokenPolicy = Pick<Config['identity'], 'maxTokenTtl' | 'roles'>;

export interface IssuedToken {
  readonly token: string;
  readonly record: TokenRecord;
}

function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}

export function looksLikeGatewayToken(text: string): boolean {
  return text.startsWith(PREFIX) && text.length > PREFIX.length + ID_LENGTH + 1;
}

export class TokenService {
  constructor(
    private readonly store: Store,
    private readonly policy: TokenPolicy = { roles: { admin: [], auditor: [], approver: [] } },
    private readonly now: () => number = Date.now,
  ) {}

  /** Issues a token usable everywhere (databases, SSH, API); refuses a lifetime over `identity.maxTokenTtl`. */
  async issue(opts: IssueOptions): Promise<IssuedToken> {
    if (!/^[^\s\x00-\x1f]{1,128}$/.test(opts.subject)) throw new AirlockError(ErrorCodes.usage, "subject must be 1-128 characters without spaces");
    const groups = [...new Set(opts.groups)];
    const limit = maxTokenTtl(groups, this.policy);
    const ttlMs = opts.ttlMs ?? Math.min(DEFAULT_TTL_MS, limit?.ms ?? Infinity);
    if (!(ttlMs > 0)) throw new AirlockError(ErrorCodes.usage, 'ttl must be positive');
    if (limit && ttlMs > limit.ms) {
      throw new AirlockError(ErrorCodes.usage, `ttl too long: tokens with ${limit.because} may live at most ${limit.text} (identity.maxTokenTtl)`, { expose: true });
    }
    const createdAt = opts.now ?? this.now();
    return this.insert({ subject: opts.subject, groups, kind: opts.service ? 'service' : 'user', createdAt, expiresAt: createdAt + ttlMs, description: opts.description ?? null, parentId: null, scope: 'all' });
  }

  /**
   * A browser session's own token for an identity that just proved itself (a pasted token, OIDC, SAML). It may be
   * used only on the HTTP API and console (scope `console`), lives at most 8 hours and never past the credential
   * it came from (its expiry, `identity.maxTokenTtl`), and when that credential is a gateway token it names it as
   * its parent: revoking the parent ends it too. A session's token cannot be exchanged again.
   */
  async issueWebSession(identity: Identity, description: string): Promise<IssuedToken> {
    const now = this.now();
    let expiresAt = Math.min(now + DEFAULT_TTL_MS, now + (maxTokenTtl(identity.groups, this.policy)?.ms ?? Infinity), identity.expiresAt ?? Infinity);
    let parentId: string | null = null;
    if (identity.authMethod === 'token' && identity.credentialId) {
      const parent = await this.store.getToken(identity.credentialId);
      if (!parent) throw new AirlockError(ErrorCodes.authFailed, 'invalid token', { expose: true });
      if (parent.scope === 'console') throw new AirlockError(ErrorCodes.authFailed, "a browser session's token cannot be exchanged for another session", { expose: true });
      parentId = parent.id;
      expiresAt = Math.min(expiresAt, parent.expiresAt);
    }
    if (!(expiresAt > now)) throw new AirlockError(ErrorCodes.authFailed, 'the credential has expired', { expose: true });
    return this.insert({ subject: identity.subject, groups: [...new Set(identity.groups)], kind: identity.kind, createdAt: now, expiresAt, description, parentId, scope: 'console' });
  }

  private async insert(fields: Omit<TokenRecord, 'id' | 'secretHash' | 'revokedAt'>): Promise<IssuedToken> {
    const id = newId();
    const secret = randomBytes(32).toString('base64url');
    const record: TokenRecord = { id, ...fields, secretHash: hashSecret(secret).toString('hex'), revokedAt: null };
    await this.store.insertToken(record);
    return { token: `${PREFIX}${id}_${secret}`, record };
  }

  /**
   * Resolves a presented token to its identity. Always compares a hash, in constant time, even for
   * unknown ids, so timing does not tell which ids exist. Every failure is the same expose-safe error.
   */
  async verify(presented: string, protocol: string = CONTROL_PLANE): Promise<Identity> {
    const fail = (why: string) => new AirlockError(ErrorCodes.authFailed, why, { expose: true });
    let id = '';
    let secret = '';
    if (looksLikeGatewayToken(presented)) {
      id = presented.slice(PREFIX.length, PREFIX.length + ID_LENGTH);
      secret = presented.slice(PREFIX.length + ID_LENGTH + 1);
    }
    const record = id ? await this.store.getToken(id) : undefined;
    const expected = record ? Buffer.from(record.secretHash, 'hex') : DUMMY_HASH;
    const matches = timingSafeEqual(hashSecret(secret), expected) && record !== undefined;
    if (!matches || !record) throw fail('invalid token');
    if (record.revokedAt !== null) throw fail('token revoked');
    if (record.expiresAt <= this.now()) throw fail('token expired');
    if (record.scope === 'console' && protocol !== CONTROL_PLANE) throw fail("this is a browser session's token, valid only for the web console and API");
    if (record.parentId !== null) await this.checkParent(record.parentId, fail);
    return {
      subject: record.subject,
      groups: record.groups,
      kind: record.kind,
      authMethod: 'token',
      credentialId: record.id,
      expiresAt: record.expiresAt,
    };
  }

  /** A token exchanged for another is only as good as the one it came from (a chain of at most a few). */
  private async checkParent(parentId: string, fail: (why: string) => AirlockError): Promise<void> {
    let id: string | null = parentId;
    for (let depth = 0; id !== null; depth++) {
      const parent: TokenRecord | undefined = depth < 4 ? await this.store.getToken(id) : undefined;
      if (!parent || parent.revokedAt !== null) throw fail('token revoked (the credential it was exchanged for is revoked)');
      if (parent.expiresAt <= this.now()) throw fail('token expired (the credential it was exchanged for has expired)');
      id = parent.parentId;
    }
  }

  /** The stored record of a token id (never its secret's hash to callers outside the gateway). */
  get(id: string): Promise<TokenRecord | undefined> {
    return this.store.getToken(id);
  }

  list(): Promise<TokenRecord[]> {
    return this.store.listTokens();
  }

  /** Revokes the token; tokens exchanged for it stop working with it (verify checks the parent). */
  revoke(id: string): Promise<boolean> {
    return this.store.revokeToken(id, this.now());
  }
}
