import { createHash } from 'node:crypto';
import type { Logger } from '../../core/logger.ts';
import { fetchJson, HttpJsonError } from './http.ts';

export interface IntrospectionOptions {
  readonly endpoint: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** How long an answer is reused (default 30 s; 0 disables). Never longer than the token's own `exp`. */
  readonly cacheTtlMs?: number;
  readonly maxEntries?: number;
  readonly timeoutMs?: number;
  readonly now?: () => number;
  readonly log?: Logger;
}

export class IntrospectionError extends Error {
  override readonly name = 'IntrospectionError';
}

interface Entry {
  readonly expiresAt: number;
  readonly answer: Record<string, unknown>;
}

/**
 * RFC 7662 token introspection with client_secret_basic, plus a short cache keyed by SHA-256 of the token
 * (the token itself is never kept). Concurrent look-ups of the same token share one request.
 */
export class Introspector {
  private readonly cache = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<Record<string, unknown>>>();
  private readonly cacheTtlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(private readonly options: IntrospectionOptions) {
    this.cacheTtlMs = options.cacheTtlMs ?? 30_000;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  get endpoint(): string {
    return this.options.endpoint;
  }

  /** The provider's answer (`active` true or false); throws IntrospectionError when it cannot be asked. */
  async introspect(token: string): Promise<Record<string, unknown>> {
    const key = createHash('sha256').update(token).digest('hex');
    const hit = this.cache.get(key);
    if (hit && hit.expiresAt > this.now()) return hit.answer;
    if (hit) this.cache.delete(key);
    let p = this.inflight.get(key);
    if (!p) {
      p = this.ask(token).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    const answer = await p;
    this.remember(key, answer);
    return answer;
  }

  private remember(key: string, answer: Record<string, unknown>): void {
    if (this.cacheTtlMs <= 0) return;
    let expiresAt = this.now() + this.cacheTtlMs;
    if (answer.active === true && typeof answer.exp === 'number') expiresAt = Math.min(expiresAt, answer.exp * 1000);
    if (expiresAt <= this.now()) return;
    if (this.cache.size >= this.maxEntries) {
      // Drop expired entries first, then the oldest.
      const t = this.now();
      for (const [k, e] of this.cache) if (e.expiresAt <= t) this.cache.delete(k);
      while (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value as string);
    }
    this.cache.set(key, { expiresAt, answer });
  }

  private async ask(token: string): Promise<Record<string, unknown>> {
    const { clientId, clientSecret, endpoint } = this.options;
    // RFC 6749 §2.3.1: form-encode id and secret before Basic.
    const basic = Buffer.from(`${formEncode(clientId)}:${formEncode(clientSecret)}`).toString('base64');
    let answer: Record<string, unknown>;
    try {
      answer = await fetchJson(endpoint, {
        method: 'POST',
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
        timeoutMs: this.options.timeoutMs,
      });
    } catch (err) {
      const status = err instanceof HttpJsonError ? err.status : undefined;
      const why = status === 401 || status === 403 ? 'the provider refused the introspection client credentials' : (err as Error).message;
      this.options.log?.warn({ endpoint, err: why }, 'token introspection failed');
      throw new IntrospectionError(why);
    }
    if (typeof answer.active !== 'boolean') throw new IntrospectionError('introspection answer has no boolean "active"');
    return answer;
  }
}

function formEncode(s: string): string {
  return encodeURIComponent(s).replace(/%20/g, '+');
}
