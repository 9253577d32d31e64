import type { Writable } from 'node:stream';
import type { Client, Connection } from 'ssh2';

/**
 * Bytes that may wait in one peer's socket write buffer before the gateway stops reading what feeds it.
 *
 * ssh2 channels apply backpressure only through the SSH window the peer grants: a peer that advertises a
 * 4 GiB window and then stops reading its socket makes every channel write succeed at once, and the data
 * piles up in the gateway's socket buffer. So the relays also ask the socket itself: while more than this
 * waits in it, the side feeding it is paused (which stops granting that side window) until it drains.
 */
export const SOCKET_HIGH_WATER = 1024 * 1024;

/** Tells a relay whether one peer's socket has room; shared by every channel of the connection. */
export class SocketRoom {
  private waiting: Promise<void> | undefined;

  constructor(
    private readonly socket: Writable | undefined,
    private readonly limit = SOCKET_HIGH_WATER,
  ) {}

  /** The SSH connection's socket (ssh2 keeps it as `_sock`; the gateway injected it, or dialled it). */
  static of(conn: Connection | Client, limit?: number): SocketRoom {
    const sock = (conn as unknown as { _sock?: unknown })._sock;
    const writable = sock && typeof (sock as Writable).writableLength === 'number' ? (sock as Writable) : undefined;
    return new SocketRoom(writable, limit);
  }

  /** Undefined while there is room; else a promise that resolves once the socket drains (or closes). */
  room(): Promise<void> | undefined {
    const s = this.socket;
    if (!s || s.destroyed || s.writableLength <= this.limit) return undefined;
    this.waiting ??= new Promise<void>((resolve) => {
      const done = () => {
        s.off('drain', done);
        s.off('close', done);
        this.waiting = undefined;
        resolve();
      };
      s.on('drain', done);
      s.on('close', done);
    });
    return this.waiting;
  }
}

/** Room in all of them: undefined when every one has room, else a promise for when they all do. */
export function roomIn(...checks: (() => Promise<void> | undefined)[]): Promise<void> | undefined {
  const waits = checks.map((c) => c()).filter((w): w is Promise<void> => w !== undefined);
  if (waits.length === 0) return undefined;
  return Promise.all(waits).then(() => undefined);
}
