import { isLoopbackHost } from '../../core/loopback.ts';
import type { Socket } from 'node:net';

/** Whether the peer is on this host (127.0.0.0/8, ::1, or IPv4-mapped loopback). */
export function isLoopback(address: string | undefined): boolean {
  if (!address || address === 'localhost') return false; // a socket address, never a name
  return isLoopbackHost(address.startsWith('::ffff:') ? address.slice(7) : address);
}

export function peerAddress(socket: Socket): string {
  const host = socket.remoteAddress ?? 'unknown';
  return `${host.includes(':') ? `[${host}]` : host}:${socket.remotePort ?? 0}`;
}

/** Pipe-like relay step with backpressure: writes, and pauses `from` until `to` drains. */
export function writeWithBackpressure(to: Socket, from: Socket, data: Buffer): void {
  if (!to.write(data) && !from.isPaused()) {
    from.pause();
    to.once('drain', () => from.resume());
  }
}
