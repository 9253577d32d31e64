import type { Connection, Session } from 'ssh2';

interface SessionInternals {
  _channel?: unknown;
  _ending?: boolean;
  _chanInfo?: { outgoing?: { id?: unknown } };
}
interface ConnectionInternals {
  _protocol?: { channelFailure?: (recipient: number) => void };
}

/**
 * Refuses a request on a session channel. `reject` is ssh2's, undefined when the client asked for no reply.
 * Once the channel has started (a shell, exec or subsystem accepted), ssh2's reject() sends nothing, and a
 * client that asked for a reply would wait for it for ever: then SSH_MSG_CHANNEL_FAILURE is sent here, through
 * the connection's protocol, to the client's id for the channel. Nothing is sent on a channel that is closing.
 */
export function refuseRequest(client: Connection, session: Session, reject: (() => void) | undefined): void {
  if (!reject) return;
  const s = session as unknown as SessionInternals;
  if (s._channel === undefined) return reject();
  if (s._ending) return;
  const recipient = s._chanInfo?.outgoing?.id;
  const proto = (client as unknown as ConnectionInternals)._protocol;
  if (typeof recipient !== 'number' || typeof proto?.channelFailure !== 'function') return;
  proto.channelFailure(recipient);
}
