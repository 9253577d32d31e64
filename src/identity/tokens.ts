import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { AirlockError, ErrorCodes } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { Identity } from '../core/identity.ts';
import type { Store, TokenRecord } from '../store/types.ts';

/** Gateway-issued access tokens: `alk_<id>_<secret>`. Only SHA-256 of the secret is stored. */
const PREFIX = 'alk_';
const ID_LENGTH = 26;
const DUMMY_HASH = Buffer.alloc(32);

export interface IssueOptions {
  readonly subject: string;
  readonly groups: readonly string[];
  readonly ttlMs: number;
  readonly service?: boolean;
  readonly description?: string;
  readonly now?: number;
}

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
    private readonly now: () => number = Date.now,
  ) {}

  async issue(opts: IssueOptions): Promise<IssuedToken> {
    if (!/^[^\s\x00-\x1f]{1,128}$/.test(opts.subject)) throw new AirlockError(ErrorCodes.usage, "subject must be 1-128 characters without spaces");
    if (!(opts.ttlMs > 0)) throw new AirlockError(ErrorCodes.usage, 'ttl must be positive');
    const id = newId();
    const secret = randomBytes(32).toString('base64url');
    const createdAt = opts.now ?? this.now();
    const record: TokenRecord = {
      id,
      subject: opts.subject,
      groups: [...new Set(opts.groups)],
      kind: opts.service ? 'service' : 'user',
      secretHash: hashSecret(secret).toString('hex'),
      createdAt,
      expiresAt: createdAt + opts.ttlMs,
      revokedAt: null,
      description: opts.description ?? null,
    };
    await this.store.insertToken(record);
    return { token: `${PREFIX}${id}_${secret}`, record };
  }

  /**
   * Resolves a presented token to its identity. Always compares a hash, in constant time, even for
   * unknown ids, so timing does not tell which ids exist. Every failure is the same expose-safe error.
   */
  async verify(presented: string): Promise<Identity> {
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
    return {
      subject: record.subject,
      groups: record.groups,
      kind: record.kind,
      authMethod: 'token',
      credentialId: record.id,
    };
  }

  list(): Promise<TokenRecord[]> {
    return this.store.listTokens();
  }

  revoke(id: string): Promise<boolean> {
    return this.store.revokeToken(id, this.now());
  }
}
