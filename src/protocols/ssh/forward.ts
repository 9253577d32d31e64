import type { AcceptConnection, ClientChannel, RejectConnection, ServerChannel, TcpipRequestInfo } from 'ssh2';
import { addressesOf, hostPort, isLoopback, policyTexts, resolveDestination, type ForwardDestination } from './forward-address.ts';
import { warnIfConnectionTarget } from './forward-targets.ts';
import { pump } from './pump.ts';
import type { SshSession } from './session.ts';

/**
 * Local port forwarding (`ssh -L`, `-W`, a `direct-tcpip` channel). The destination is resolved once
 * (forward-address.ts) and decided on as an address: refused unless the connection has
 * `allowPortForwarding: true` (off by default), when it is the target's own SSH server, or when the policy (kind
 * `forward`) denies `ADDRESS:PORT` or the `NAME:PORT` the client asked for; otherwise opened from the
 * target to exactly that address with `forwardOut` and relayed with backpressure. Recorded as
 * `ssh.forward` when it closes, with the bytes each way. The contents are not recorded. Unless the connection
 * has `allowSshHops: true`, a destination whose first bytes are an SSH identification line (`SSH-`) is cut
 * off before anything it sent reaches the client: a hop to any SSH server, the target's own through another
 * of its addresses included, would carry sessions the gateway never sees. A forward to another
 * connection's target is allowed but logged and recorded (forward-targets.ts).
 */
export async function handleForward(
  s: SshSession,
  accept: AcceptConnection<ServerChannel>,
  reject: RejectConnection,
  info: TcpipRequestInfo,
  channel: number,
  onClosed: () => void = () => {},
): Promise<void> {
  const target = await s.ready;
  if (!target || s.isEnded) return reject();
  const asked = hostPort(String(info.destIP), info.destPort);
  const refuse = (status: 'denied' | 'failed', reason: string, extra: Record<string, unknown> = {}) => {
    s.rec?.record('ssh.forward', { channel, host: String(info.destIP), port: info.destPort, ...extra, status, reason }, { searchText: asked, outcome: status === 'denied' ? 'denied' : 'error' });
    reject();
  };
  if (!s.o.connection.allowPortForwarding) {
    s.recordDenial('forward', asked, 'allowPortForwarding', `port forwarding is disabled on connection ${s.o.name}`);
    return refuse('denied', 'port forwarding is disabled');
  }
  let dest: ForwardDestination;
  try {
    dest = await resolveDestination(String(info.destIP), info.destPort);
  } catch (err) {
    return refuse('failed', `cannot resolve the destination: ${(err as Error).message}`);
  }
  const base = { channel, host: dest.name, address: dest.address, port: dest.port };
  const text = hostPort(dest.address, dest.port);
  // A hop to the target's own SSH server (`ssh -J`, `-W`, ProxyCommand) would carry sessions the gateway
  // never sees. From the target, its loopback is itself too.
  if (dest.port === s.o.connection.port && (isLoopback(dest.address) || (await addressesOf(s.o.connection.host)).has(dest.address))) {
    const reason = `a forward to the target's own SSH server (${text}) would carry sessions Airlock does not see`;
    s.recordDenial('forward', text, 'own-target', reason);
    return refuse('denied', reason, { address: dest.address });
  }
  let outcome: 'allowed' | 'reviewed' = 'allowed';
  for (const t of policyTexts(dest)) {
    const auth = await s.authorize('forward', t);
    if (!auth.ok) return refuse('denied', auth.reason, { address: dest.address });
    if (auth.outcome === 'reviewed') outcome = 'reviewed';
  }
  if (s.isEnded) return reject();
  await warnIfConnectionTarget(s, channel, dest);
  let remote: ClientChannel;
  try {
    remote = await new Promise<ClientChannel>((resolve, rej) =>
      target.client.forwardOut(info.srcIP, info.srcPort, dest.address, dest.port, (err, ch) => (err ? rej(err) : resolve(ch))),
    );
  } catch (err) {
    s.rec?.record('ssh.forward', { ...base, status: 'failed', reason: (err as Error).message }, { searchText: text, outcome: 'error' });
    return reject();
  }
  if (s.isEnded) {
    remote.close();
    return reject();
  }
  const local: ServerChannel | undefined = accept();
  if (!local) {
    remote.close();
    return onClosed();
  }
  let bytesIn = 0;
  let bytesOut = 0;
  local.on('error', () => {});
  remote.on('error', () => {});
  let refusal: string | undefined;
  pump(local, remote, (b) => (bytesIn += b.length), () => s.targetRoom?.room());
  const relayBack = () => pump(remote, local, (b) => (bytesOut += b.length), () => s.clientRoom.room());
  if (s.o.connection.allowSshHops) relayBack();
  else {
    // Nothing the destination sends reaches the client before its first bytes are seen not to be an SSH server's.
    sniffSsh(remote, (head, ssh) => {
      if (ssh) {
        refusal = `the destination ${text} is an SSH server: a hop through it would carry sessions Airlock does not see`;
        s.recordDenial('forward', text, 'allowSshHops', refusal);
        local.close();
        remote.close();
        return;
      }
      if (head.length > 0) {
        bytesOut += head.length;
        local.write(head);
      }
      relayBack();
      remote.resume();
    });
  }
  local.on('end', () => remote.end());
  remote.on('end', () => local.end());
  let recorded = false;
  const done = () => {
    if (recorded) return;
    recorded = true;
    onClosed();
    local.close();
    remote.close();
    const rec = s.rec;
    if (!rec) return;
    rec.bytesIn += bytesIn;
    rec.bytesOut += bytesOut;
    if (refusal) rec.record('ssh.forward', { ...base, bytesIn, status: 'denied', reason: refusal }, { searchText: text, outcome: 'denied' });
    else rec.record('ssh.forward', { ...base, bytesIn, bytesOut }, { searchText: text, outcome });
  };
  local.on('close', done);
  remote.on('close', done);
}

const SSH_IDENT = Buffer.from('SSH-');

/**
 * Calls `decided` once with the destination's first bytes (at least four, or all it sent before it ended)
 * and whether they begin an SSH identification line; `from` is left paused.
 */
function sniffSsh(from: ClientChannel, decided: (head: Buffer, ssh: boolean) => void): void {
  let head = Buffer.alloc(0);
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    from.off('data', onData);
    from.pause();
    decided(head, head.subarray(0, SSH_IDENT.length).equals(SSH_IDENT));
  };
  const onData = (chunk: Buffer) => {
    head = Buffer.concat([head, chunk]);
    if (head.length < SSH_IDENT.length && SSH_IDENT.subarray(0, head.length).equals(head)) return;
    finish();
  };
  from.on('data', onData);
  from.once('end', finish);
}
