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
