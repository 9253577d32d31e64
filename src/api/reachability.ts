import { connect } from 'node:net';

export type Reach = 'up' | 'down' | 'unknown';

interface Entry {
  status: Reach;
  checkedAt: number | null;
  probing?: Promise<void>;
}

/**
 * Whether targets accept TCP connections: a connect-and-close probe, cached for `ttlMs`. Asking never waits
 * for a probe longer than the caller allows; a stale answer is served while a fresh probe runs.
 */
export class Reachability {
  private readonly cache = new Map<string, Entry>();

  constructor(
    private readonly ttlMs = 30_000,
    private readonly timeoutMs = 3_000,
    private readonly now: () => number = Date.now,
    private readonly probe: (host: string, port: number, timeoutMs: number) => Promise<boolean> = tcpProbe,
  ) {}

  /** Statuses of the targets, waiting at most `waitMs` for probes that are due. */
  async check(targets: readonly { host: string; port: number }[], waitMs: number): Promise<{ status: Reach; checkedAt: number | null }[]> {
    const entries = targets.map((t) => this.entry(t.host, t.port));
    const probes = entries.flatMap((e) => (e.probing ? [e.probing] : []));
    if (probes.length) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(probes), new Promise((r) => (timer = setTimeout(r, waitMs)))]);
      clearTimeout(timer);
    }
    return entries.map((e) => ({ status: e.status, checkedAt: e.checkedAt }));
  }

  private entry(host: string, port: number): Entry {
    const key = `${host}:${port}`;
    let e = this.cache.get(key);
    if (!e) this.cache.set(key, (e = { status: 'unknown', checkedAt: null }));
    const due = e.checkedAt === null || this.now() - e.checkedAt >= this.ttlMs;
    if (due && !e.probing) {
      const entry = e;
      entry.probing = this.probe(host, port, this.timeoutMs).then((up) => {
        entry.status = up ? 'up' : 'down';
        entry.checkedAt = this.now();
        entry.probing = undefined;
      });
    }
    return e;
  }
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    const done = (up: boolean) => {
      socket.destroy();
      resolve(up);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}
