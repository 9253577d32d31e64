import type { Socket } from 'node:net';
import { AirlockError, ErrorCodes } from '../../core/errors.ts';

export interface PreAuthLimits {
  /** From accept to authenticated: TLS handshake, startup, authentication exchange. */
  readonly timeoutMs: number;
  /** Connections not authenticated yet from one source (an IPv4 address, an IPv6 /64). */
  readonly perSource: number;
  /** Connections not authenticated yet, in all. */
  readonly total: number;
}

/** How long a connection past its deadline may take to read its error before it is destroyed. */
const GRACE_MS = 1000;

/** The source a connection counts against: its IPv4 address (also when IPv4-mapped), or its IPv6 /64. */
export function sourceOf(address: string | undefined): string {
  if (!address) return '?';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!address.includes(':')) return address;
  const [head, tail = ''] = address.split('::');
  const groups = head.split(':').filter(Boolean);
  const fill = 8 - groups.length - tail.split(':').filter(Boolean).length;
  const full = [...groups, ...Array<string>(Math.max(0, fill)).fill('0'), ...tail.split(':').filter(Boolean)];
  return `${full.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/**
 * One connection's time before authentication. `signal` aborts at the deadline (the engine then tells the client
 * in its protocol, where it can); the socket is destroyed shortly after whatever the engine does. `passed()`
 * once the client is authenticated stops the clock and frees its place under the caps.
 */
export class PreAuth {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private released = false;

  constructor(
    private readonly socket: Socket,
    timeoutMs: number,
    private readonly release: () => void,
  ) {
    this.timer = setTimeout(() => {
      this.controller.abort(new AirlockError(ErrorCodes.protocol, `not authenticated within ${timeoutMs / 1000}s; closing the connection`, { expose: true }));
      this.timer = setTimeout(() => socket.destroy(), GRACE_MS);
      this.timer.unref();
    }, timeoutMs);
    this.timer.unref();
    socket.once('close', () => this.done());
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Throws the deadline's error once it has passed. */
  check(): void {
    this.controller.signal.throwIfAborted();
  }

  /** Resolves with `work`, or rejects with the deadline's error once it passes first. */
  race<T>(work: Promise<T>): Promise<T> {
    const signal = this.controller.signal;
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      work.then(
        (v) => (signal.removeEventListener('abort', onAbort), resolve(v)),
        (e) => (signal.removeEventListener('abort', onAbort), reject(e)),
      );
    });
  }

  /** The client is authenticated: no deadline any more, and it no longer counts against the caps. */
  passed(): void {
    this.check();
    this.done();
  }

  private done(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.released) return;
    this.released = true;
    this.release();
  }
}

/** Counts connections that have not authenticated yet, per source and in all, and gives each its deadline. */
export class PreAuthGate {
  private readonly bySource = new Map<string, number>();
  private readonly sockets = new Set<Socket>();
  private total = 0;

  constructor(private readonly limits: PreAuthLimits) {}

  /** The connection's PreAuth, or why it is refused (a cap is reached). */
  admit(socket: Socket): PreAuth | string {
    const source = sourceOf(socket.remoteAddress);
    const n = this.bySource.get(source) ?? 0;
    if (n >= this.limits.perSource) return `too many connections from ${source} are not authenticated yet; try again shortly`;
    if (this.total >= this.limits.total) return 'too many connections are not authenticated yet; try again shortly';
    this.bySource.set(source, n + 1);
    this.total++;
    this.sockets.add(socket);
    return new PreAuth(socket, this.limits.timeoutMs, () => {
      this.sockets.delete(socket);
      this.total--;
      const left = (this.bySource.get(source) ?? 1) - 1;
      if (left > 0) this.bySource.set(source, left);
      else this.bySource.delete(source);
    });
  }

  /** Connections not authenticated yet (metrics, tests). */
  get pending(): number {
    return this.total;
  }

  /** Closes every connection not authenticated yet (the gateway stops). */
  closeAll(): void {
    for (const s of this.sockets) s.destroy();
  }
}

/** Destroys `socket` after the grace period unless it closed by itself (a refused client that never reads). */
export function destroySoon(socket: Socket): void {
  if (socket.destroyed) return;
  const timer = setTimeout(() => socket.destroy(), GRACE_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}
