import type { Socket } from 'node:net';

/** Whether the peer is on this host (127.0.0.0/8, ::1, or IPv4-mapped loopback). */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
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
