import type { ConnectionConfig } from '../../config/schema.ts';
import { addressesOf, isLoopback, type ForwardDestination } from './forward-address.ts';
import type { SshSession } from './session.ts';

/**
 * The other connections of this gateway whose target a forward to `dest` reaches: same port, and an address of the
 * connection's host is the destination's address (the forward is opened from the SSH target, so a loopback
 * destination is that host, whose addresses count too).
 */
export async function connectionsReached(dest: ForwardDestination, from: { readonly name: string; readonly host: string }, connections: Readonly<Record<string, ConnectionConfig>>): Promise<string[]> {
  const candidates = Object.entries(connections).filter(([name, c]) => name !== from.name && c.port === dest.port);
  if (candidates.length === 0) return [];
  const reached = new Set([dest.address]);
  if (isLoopback(dest.address)) for (const a of await addressesOf(from.host)) reached.add(a);
  const out: string[] = [];
  for (const [name, c] of candidates) {
    const addresses = await addressesOf(c.host);
    if ([...addresses].some((a) => reached.has(a))) out.push(name);
  }
  return out;
}

/**
 * A forward to another connection's target goes around that connection's policy and recording: it is allowed
 * (the connection opted in to forwarding) but logged as a warning and recorded as `ssh.forward_to_connection`.
 */
export async function warnIfConnectionTarget(s: SshSession, channel: number, dest: ForwardDestination): Promise<void> {
  const reached = await connectionsReached(dest, { name: s.o.name, host: s.o.connection.host }, s.o.ctx.config.connections);
  if (reached.length === 0) return;
  const { name: host, address, port } = dest;
  s.o.ctx.log.warn({ session: s.rec?.id, subject: s.identity.subject, connection: s.o.name, host, address, port, reaches: reached }, 'ssh port forward reaches the target of another connection, around its policy');
  s.rec?.record('ssh.forward_to_connection', { channel, host, address, port, connections: reached }, { searchText: `${host}:${port} ${reached.join(' ')}`, outcome: 'allowed' });
}
