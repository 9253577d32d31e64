/**
 * Slows down credential guessing. Failed attempts are counted per source address and per subject named
 * (a bearer token names none before it is checked: those count per source only);
 * once either has failed `free` times within `windowMs`, every further attempt for it (right or wrong)
 * waits first: `baseMs`, doubling with each failure, at most `maxMs`. Parallel connections gain nothing,
 * since each attempt waits for the count of its source and its subject. A success clears both counts.
 *
 * Waiting rather than locking out: someone guessing at alice's token slows alice's logins down, but
 * cannot lock her out. Memory is bounded (`maxKeys`, least recently failed forgotten first).
 */
export interface AuthThrottleOptions {
  readonly free?: number;
  readonly baseMs?: number;
  readonly maxMs?: number;
  readonly windowMs?: number;
  readonly maxKeys?: number;
  readonly now?: () => number;
}

interface Failures {
  count: number;
  last: number;
}

export class AuthThrottle {
  private readonly failures = new Map<string, Failures>();
  private readonly free: number;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly windowMs: number;
  private readonly maxKeys: number;
  private readonly now: () => number;

  constructor(o: AuthThrottleOptions = {}) {
    this.free = o.free ?? 5;
    this.baseMs = o.baseMs ?? 500;
    this.maxMs = o.maxMs ?? 30_000;
    this.windowMs = o.windowMs ?? 15 * 60_000;
    this.maxKeys = o.maxKeys ?? 50_000;
    this.now = o.now ?? Date.now;
  }

  /** How long an attempt from `source` for `subject` waits before it is checked. */
  delayMs(source: string, subject?: string): number {
    const n = Math.max(this.count(`src:${source}`), subject === undefined ? 0 : this.count(`sub:${subject}`));
    if (n < this.free) return 0;
    return Math.min(this.maxMs, this.baseMs * 2 ** (n - this.free));
  }

  failed(source: string, subject?: string): void {
    for (const key of subject === undefined ? [`src:${source}`] : [`src:${source}`, `sub:${subject}`]) {
      const f = { count: this.count(key) + 1, last: this.now() };
      this.failures.delete(key);
      this.failures.set(key, f);
    }
    while (this.failures.size > this.maxKeys) this.failures.delete(this.failures.keys().next().value!);
  }

  succeeded(source: string, subject?: string): void {
    this.failures.delete(`src:${source}`);
    if (subject !== undefined) this.failures.delete(`sub:${subject}`);
  }

  private count(key: string): number {
    const f = this.failures.get(key);
    if (!f) return 0;
    if (this.now() - f.last > this.windowMs) {
      this.failures.delete(key);
      return 0;
    }
    return f.count;
  }
}
