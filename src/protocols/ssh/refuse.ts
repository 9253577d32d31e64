import type { Connection, ServerChannel, Session } from 'ssh2';
import type { Boundary } from './boundary.ts';
import { flushed } from './pump.ts';

/**
 * SSH authentication failures cannot carry a message, so a client whose identity is proven but who may
 * not use the connection is let in and told why on each session channel: `Airlock: <reason>` on stderr,
 * exit status `exitCode`, then the connection is closed. Port forwards are refused. The same path
 * reports a target that cannot be reached.
 */
export async function tell(channel: ServerChannel, message: string, exitCode: number): Promise<void> {
  channel.on('error', () => {});
  channel.stderr.on('error', () => {});
  const closed = new Promise<void>((resolve) => {
    channel.once('close', resolve);
    setTimeout(resolve, 2_000).unref();
  });
  channel.stderr.write(`Airlock: ${message}\r\n`);
  await flushed(channel.stderr);
  channel.exit(exitCode);
  channel.end();
  // Only once the client has closed its side too: a disconnect before that loses the exit status.
  await closed;
}

/** Serves an authenticated connection that gets nothing but the reason it was refused. */
export function refuseAfterAuth(client: Connection, message: string, exitCode: number, guard: Boundary, graceMs = 2_000): void {
  // A client with nothing to ask (`ssh -N`) is disconnected after the grace period; one that asked
  // has been told, and OpenSSH leaves by itself when its last channel closes.
  let timer: NodeJS.Timeout | undefined = setTimeout(() => client.end(), graceMs);
  const done = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => client.end(), 500);
  };
  client.on('session', (accept) => {
    const session: Session | undefined = accept();
    if (!session) return;
    // accept() gives nothing for a second shell/exec/subsystem on the same channel: nothing to tell.
    const answer = (ch: ServerChannel | undefined) => ch && guard(tell(ch, message, exitCode).finally(done), 'refusal');
    session.on('pty', (ok) => ok?.());
    session.on('shell', (ok) => answer(ok()));
    session.on('exec', (ok) => answer(ok()));
    session.on('subsystem', (ok) => answer(ok()));
  });
  client.on('tcpip', (_accept, reject) => reject());
  client.on('close', () => timer && clearTimeout(timer));
}
