import { randomInt, timingSafeEqual } from 'node:crypto';
import { connect } from 'node:net';
import { encodeCancelRequest } from './codec/frontend.ts';

interface Entry {
  readonly secret: number;
  readonly targetHost: string;
  readonly targetPort: number;
  readonly targetPid: number;
  readonly targetSecret: number;
  readonly sessionId: string;
}

/**
 * The gateway hands each client its own BackendKeyData (pid, secret) and maps it to the target's, so a
 * client never learns the target's key and a CancelRequest is forwarded only for a live session.
 */
export class CancelKeys {
  private readonly entries = new Map<number, Entry>();

  issue(target: Omit<Entry, 'secret'>): { pid: number; secret: number } {
    let pid: number;
    do pid = randomInt(1, 2 ** 31 - 1);
    while (this.entries.has(pid));
    const secret = randomInt(0, 2 ** 31 - 1) | 0;
    this.entries.set(pid, { ...target, secret });
    return { pid, secret };
  }

  release(pid: number): void {
    this.entries.delete(pid);
  }

  lookup(pid: number, secret: number): Entry | undefined {
    const e = this.entries.get(pid);
    const a = Buffer.alloc(4);
    const b = Buffer.alloc(4);
    a.writeInt32BE(secret | 0);
    b.writeInt32BE(e ? e.secret : ~secret);
    return timingSafeEqual(a, b) && e ? e : undefined;
  }

  /** Sends the target's own CancelRequest for a mapped key. Resolves whether one was sent. */
  async cancel(pid: number, secret: number): Promise<Entry | undefined> {
    const e = this.lookup(pid, secret);
    if (!e) return undefined;
    await new Promise<void>((resolve) => {
      const s = connect({ host: e.targetHost, port: e.targetPort }, () => s.end(encodeCancelRequest(e.targetPid, e.targetSecret)));
      s.on('close', () => resolve());
      s.on('error', () => resolve());
      s.setTimeout(5000, () => s.destroy());
    });
    return e;
  }
}
