import { createLocalJWKSet, errors, type FlattenedJWSInput, type JSONWebKeySet, type JWSHeaderParameters, type JWTVerifyGetKey } from 'jose';
import type { Logger } from '../../core/logger.ts';
import { fetchJson } from './http.ts';

type KeyLike = Awaited<ReturnType<JWTVerifyGetKey>>;

export interface JwksCacheOptions {
  /** Keys older than this are refetched before use (default 10 min). */
  readonly maxAgeMs?: number;
  /** Least time between refetches forced by an unknown `kid` (default 30 s). */
  readonly cooldownMs?: number;
  /** Least time between retries after a failed fetch (default 5 s, never more than the cooldown). */
  readonly retryMs?: number;
  /** A failed refresh keeps serving the last good keys for this long (default 24 h). */
  readonly staleMs?: number;
  readonly timeoutMs?: number;
  readonly now?: () => number;
  readonly log?: Logger;
}

export class JwksUnavailableError extends Error {
  override readonly name = 'JwksUnavailableError';
}

/**
 * An issuer's JSON Web Key Set, fetched lazily and cached. Key rotation: a token whose `kid` is not in the
 * cached set triggers one refetch, at most once per cooldown, so forged kids cannot make Airlock hammer the
 * provider. Key selection (kid, kty for the alg, `use`) is jose's `createLocalJWKSet`.
 */
export class JwksCache {
  private local: ReturnType<typeof createLocalJWKSet> | undefined;
  private fetchedAt = Number.NEGATIVE_INFINITY;
  private lastFailureAt = Number.NEGATIVE_INFINITY;
  private lastForcedAt = Number.NEGATIVE_INFINITY;
  private lastError: string | undefined;
  private pending: Promise<void> | undefined;
  private readonly maxAgeMs: number;
  private readonly cooldownMs: number;
  private readonly retryMs: number;
  private readonly staleMs: number;
  private readonly now: () => number;

  constructor(
    readonly uri: string,
    private readonly options: JwksCacheOptions = {},
  ) {
    this.maxAgeMs = options.maxAgeMs ?? 10 * 60_000;
    this.cooldownMs = options.cooldownMs ?? 30_000;
    this.retryMs = options.retryMs ?? Math.min(this.cooldownMs, 5_000);
    this.staleMs = options.staleMs ?? 24 * 3_600_000;
    this.now = options.now ?? Date.now;
  }

  /** The key for a JWS header; jose's `jwtVerify` calls this. */
  getKey = async (header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<KeyLike> => {
    await this.ensureFresh();
    try {
      return await this.local!(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
      // Unknown kid: the provider may have rotated. Refetch once per cooldown.
      if (this.now() - this.lastForcedAt < this.cooldownMs) throw err;
      this.lastForcedAt = this.now();
      await this.reload(true);
      return this.local!(header, token);
    }
  };

  /** Fetches now (used at start-up so the first login does not wait). */
  async prefetch(): Promise<void> {
    await this.reload(true);
  }

  /** Key ids currently cached (for diagnostics and tests). */
  get kids(): string[] {
    return (this.local?.jwks().keys ?? []).map((k) => k.kid ?? '').filter(Boolean);
  }

  private async ensureFresh(): Promise<void> {
    const age = this.now() - this.fetchedAt;
    if (this.local && age < this.maxAgeMs) return;
    const inCooldown = this.now() - this.lastFailureAt < this.retryMs;
    if (this.local && age < this.staleMs) {
      // Refresh, but keep serving the last good keys if the provider is unreachable.
      if (!inCooldown) await this.reload(false).catch(() => undefined);
      return;
    }
    if (inCooldown) throw new JwksUnavailableError(`signing keys unavailable (${this.lastError ?? 'fetch failed'})`);
    await this.reload(true);
  }

  private reload(throwOnError: boolean): Promise<void> {
    this.pending ??= this.fetch().finally(() => {
      this.pending = undefined;
    });
    return throwOnError ? this.pending : this.pending.catch(() => undefined);
  }

  private async fetch(): Promise<void> {
    try {
      const json = await fetchJson(this.uri, { timeoutMs: this.options.timeoutMs });
      if (!Array.isArray(json.keys)) throw new Error('answer has no "keys" array');
      this.local = createLocalJWKSet(json as unknown as JSONWebKeySet);
      this.fetchedAt = this.now();
      this.lastError = undefined;
      this.options.log?.debug({ jwksUri: this.uri, kids: this.kids }, 'fetched OIDC signing keys');
    } catch (err) {
      this.lastFailureAt = this.now();
      this.lastError = (err as Error).message;
      this.options.log?.warn({ jwksUri: this.uri, err: this.lastError }, 'cannot fetch OIDC signing keys');
      throw new JwksUnavailableError(`signing keys unavailable (${this.lastError})`);
    }
  }
}
