import type { CacheItem, CacheProvider } from '@node-saml/node-saml';

/**
 * Ids of the AuthnRequests we sent, each answerable until `ttlMs` after it was issued. Bounded: the login
 * endpoint is public, so past `maxEntries` the oldest pending request is forgotten (its login then has to be
 * started again) instead of memory growing without limit. Expired entries are dropped lazily, no timers.
 */
export class RequestIdCache implements CacheProvider {
  private readonly entries = new Map<string, CacheItem>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 20_000,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  async saveAsync(key: string, value: string): Promise<CacheItem | null> {
    this.sweep();
    if (this.entries.has(key)) return null;
    while (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    const item = { value, createdAt: this.now() };
    this.entries.set(key, item);
    return item;
  }

  async getAsync(key: string): Promise<string | null> {
    const item = this.entries.get(key);
    if (!item) return null;
    if (this.now() >= item.createdAt + this.ttlMs) {
      this.entries.delete(key);
      return null;
    }
    return item.value;
  }

  async removeAsync(key: string | null): Promise<string | null> {
    if (key === null) return null;
    const item = this.entries.get(key);
    this.entries.delete(key);
    return item?.value ?? null;
  }

  /** Entries are in insertion order, so expired ones are at the front. */
  private sweep(): void {
    const now = this.now();
    for (const [key, item] of this.entries) {
      if (now < item.createdAt + this.ttlMs) break;
      this.entries.delete(key);
    }
  }
}

/**
 * Assertion ids already used, each remembered until the assertion could no longer be accepted anyway (its
 * NotOnOrAfter plus clock skew). Only assertions that passed signature and every other check get here, so
 * the set grows with real logins, not with what strangers post.
 */
export class ReplayCache {
  private readonly used = new Map<string, number>();
  private lastSweep = 0;

  constructor(private readonly now: () => number = Date.now) {}

  get size(): number {
    return this.used.size;
  }

  /** Records the id and returns true, or returns false when it was seen before and is still remembered. Synchronous, so check and record cannot interleave. */
  firstUse(id: string, rememberUntil: number): boolean {
    const now = this.now();
    this.sweep(now);
    const until = this.used.get(id);
    if (until !== undefined && now < until) return false;
    this.used.set(id, rememberUntil);
    return true;
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < 60_000 && this.used.size < 10_000) return;
    this.lastSweep = now;
    for (const [id, until] of this.used) if (until <= now) this.used.delete(id);
  }
}
