import type { AcceptConnection, ClientChannel, RejectConnection, ServerChannel, TcpipRequestInfo } from 'ssh2';
import { pump } from './pump.ts';
import type { SshSession } from './session.ts';

/**
 * Local port forwarding (`ssh -L`, a `direct-tcpip` channel): refused when the connection has
 * `allowPortForwarding: false` or the policy denies `HOST:PORT` (kind `forward`); otherwise opened from
 * the target with `forwardOut` and relayed with backpressure. Recorded as `ssh.forward` when it closes,
 * with the bytes each way. The contents are not recorded.
 */
export async function handleForward(
  s: SshSession,
  accept: AcceptConnection<ServerChannel>,
  reject: RejectConnection,
  info: TcpipRequestInfo,
  channel: number,
): Promise<void> {
  const target = await s.ready;
  if (!target || s.isEnded) return reject();
  const text = `${info.destIP}:${info.destPort}`;
  const base = { channel, host: info.destIP, port: info.destPort };
  if (!s.o.connection.allowPortForwarding) {
    s.recordDenial('forward', text, 'allowPortForwarding', `port forwarding is disabled on connection ${s.o.name}`);
    s.rec?.record('ssh.forward', { ...base, status: 'denied' }, { searchText: text, outcome: 'denied' });
    return reject();
  }
  const auth = await s.authorize('forward', text);
  if (!auth.ok) {
    s.rec?.record('ssh.forward', { ...base, status: 'denied', reason: auth.reason }, { searchText: text, outcome: 'denied' });
    return reject();
  }
  let remote: ClientChannel;
  try {
    remote = await new Promise<ClientChannel>((resolve, rej) =>
      target.client.forwardOut(info.srcIP, info.srcPort, info.destIP, info.destPort, (err, ch) => (err ? rej(err) : resolve(ch))),
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
    return;
  }
  let bytesIn = 0;
  let bytesOut = 0;
  local.on('error', () => {});
  remote.on('error', () => {});
  pump(local, remote, (b) => (bytesIn += b.length), () => s.targetRoom?.room());
  pump(remote, local, (b) => (bytesOut += b.length), () => s.clientRoom.room());
  local.on('end', () => remote.end());
  remote.on('end', () => local.end());
  let recorded = false;
  const done = () => {
    if (recorded) return;
    recorded = true;
    local.close();
    remote.close();
    const rec = s.rec;
    if (!rec) return;
    rec.bytesIn += bytesIn;
    rec.bytesOut += bytesOut;
    rec.record('ssh.forward', { ...base, bytesIn, bytesOut }, { searchText: text, outcome: auth.outcome });
  };
  local.on('close', done);
  remote.on('close', done);
}
