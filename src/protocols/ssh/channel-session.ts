import type { Client, ClientChannel, PseudoTtyInfo, PseudoTtyOptions, ServerChannel, Session } from 'ssh2';
import { expandCommandLine } from '../../policy/commands/match.ts';
import { flushed, pump } from './pump.ts';
import { roomIn } from './socket-room.ts';
import { tell } from './refuse.ts';
import type { SshSession } from './session.ts';
import { refuseRequest } from './channel-failure.ts';
import { parseRsync } from './rsync-exec.ts';
import { decideScp, parseScp } from './scp-exec.ts';
import { SftpRelay } from './sftp-relay.ts';
import { ShellInput } from './shell-input.ts';
import { StreamLog } from './stream-log.ts';

type Kind = 'shell' | 'exec' | 'sftp';

interface ExitInfo {
  readonly code?: number;
  readonly signal?: string;
  readonly dump?: boolean;
  readonly desc?: string;
}

/**
 * One `session` channel: PTY and env requests are remembered and replayed on the target when the shell,
 * command or sftp subsystem starts; window changes and signals are forwarded; output and input are
 * recorded; the target's exit status or signal is passed back once all output has been delivered.
 */
export class SessionChannel {
  private pty: PseudoTtyInfo | undefined;
  private started = false;
  private readonly env: Record<string, string> = {};
  private client: ServerChannel | undefined;
  private target: ClientChannel | undefined;
  private log: StreamLog | undefined;
  private exit: ExitInfo | undefined;
  private finished = false;
  private clientClosed = false;
  private targetClosed = false;
  private onTargetExit: (() => void) | undefined;
  private resolveDone!: () => void;
  /** Resolves when the channel is over (reported, closed, or aborted). */
  readonly done = new Promise<void>((resolve) => (this.resolveDone = resolve));
  /** Refuses a request on this channel, answering it when a reply was asked for. */
  private readonly refuse: (reject: (() => void) | undefined) => void;

  constructor(
    private readonly s: SshSession,
    session: Session,
    readonly id: number,
  ) {
    // Requests that set up the channel count only before it starts; a second shell, exec or subsystem
    // on a started channel is refused (ssh2's accept() would give nothing), with a reply when one is asked for.
    this.refuse = (reject) => refuseRequest(s.o.client, session, reject);
    session.on('pty', (accept, reject, info) => {
      if (this.started) return this.refuse(reject);
      this.pty = info;
      accept?.();
    });
    // Only the variables the connection lets through reach the target (a value is data a later line
    // can run: `eval "$LC_X"`); each one asked for is recorded with its value, masked.
    session.on('env', (accept, reject, info) => {
      const key = String(info.key);
      const value = String(info.val);
      const forwarded = !this.started && this.s.o.connection.env.includes(key);
      const masked = this.s.mask(value);
      this.s.rec?.record('ssh.env', { channel: id, name: key, value: masked, forwarded }, { searchText: `${key}=${masked}`, outcome: forwarded ? 'allowed' : 'denied' });
      if (!forwarded) return this.refuse(reject);
      this.env[key] = value;
      accept?.();
    });
    session.on('window-change', (accept, _reject, info) => {
      this.resize(info.cols, info.rows, info.width, info.height);
      accept?.();
    });
    session.on('signal', (accept, _reject, info) => {
      this.signal(info.name);
      accept?.();
    });
    session.on('shell', (accept, reject) => this.begin('shell', accept, reject));
    session.on('exec', (accept, reject, info) => this.begin('exec', accept, reject, info.command));
    session.on('subsystem', (accept, reject, info) => {
      if (info.name === 'sftp') return this.begin('sftp', accept, reject);
      this.s.rec?.record('ssh.subsystem', { channel: id, name: info.name }, { outcome: 'denied' });
      this.refuse(reject);
    });
    session.on('close', () => this.onClientClose());
  }

  private begin(kind: Kind, accept: () => ServerChannel | undefined, reject: (() => void) | undefined, command = ''): void {
    if (this.started || this.finished) {
      this.s.rec?.record('ssh.request_refused', { channel: this.id, request: kind, why: 'the channel has already started' }, { outcome: 'denied' });
      return this.refuse(reject);
    }
    const ch = accept();
    if (!ch) return;
    this.started = true;
    // `sftp -s /usr/lib/openssh/sftp-server` runs the SFTP server as a command: it gets the SFTP relay.
    const sftpServer = kind === 'exec' && /^\s*(\S*\/)?sftp-server(\s|$)/.test(command);
    this.s.guard(this.start(sftpServer ? 'sftp' : kind, ch, command), `${kind} channel`);
  }

  private async start(kind: Kind, ch: ServerChannel, command: string): Promise<void> {
    this.client = ch;
    ch.on('error', () => {});
    ch.stderr.on('error', () => {});
    ch.on('close', () => {
      this.clientClosed = true;
      this.onClientClose();
    });
    const target = await this.s.ready;
    if (this.finished) return;
    if (!target) {
      const f = this.s.failure ?? { message: 'the target is unavailable', exitCode: 255 };
      await tell(ch, f.message, f.exitCode);
      this.complete();
      this.s.channelReported();
      return;
    }
    const rec = this.s.rec;
    if (kind === 'exec') {
      const masked = this.s.mask(command);
      const scp = parseScp(command);
      const rsync = scp ? undefined : parseRsync(command);
      let scpRefusal: string | undefined;
      if (scp) scpRefusal = await decideScp(this.s, scp, this.s.paths(), this.id);
      else if (rsync) scpRefusal = await decideScp(this.s, rsync, this.s.paths(), this.id, 'rsync');
      const auth = scpRefusal ? { ok: false as const, reason: scpRefusal } : await this.s.authorize('exec', command, (line) => {
        if (ch.writable) ch.stderr.write(`${line}\n`);
      });
      if (this.finished) return;
      rec?.record('ssh.exec', { channel: this.id, command: masked, pty: this.pty !== undefined }, { searchText: masked, outcome: auth.ok ? auth.outcome : 'denied' });
      if (!auth.ok) {
        await tell(ch, auth.reason, 126);
        this.recordExit({ code: 126 });
        return this.complete();
      }
    } else if (kind === 'shell') {
      if (this.pty && this.s.listsCommands) {
        // Keystrokes in a terminal cannot be checked exactly; an allow-list is only as good as its exactness.
        const message = 'this connection allows only listed commands, so an interactive terminal is refused; run them as `ssh HOST COMMAND`';
        rec?.record('ssh.shell.start', { channel: this.id, term: this.pty.term }, { outcome: 'denied' });
        await tell(ch, message, 126);
        this.recordExit({ code: 126 });
        return this.complete();
      }
      rec?.record('ssh.shell.start', { channel: this.id, term: this.pty?.term ?? null, cols: this.pty?.cols ?? null, rows: this.pty?.rows ?? null });
    } else {
      rec?.record('ssh.subsystem', { channel: this.id, name: 'sftp' }, { outcome: 'allowed' });
    }
    let tch: ClientChannel;
    try {
      tch = await this.openTarget(target.client, kind, command);
    } catch (err) {
      const message = `the target refused the ${kind === 'sftp' ? 'sftp subsystem' : kind}: ${(err as Error).message}`;
      rec?.record('ssh.target_refused', { channel: this.id, kind, message }, { outcome: 'error' });
      await tell(ch, message, 255);
      return this.complete();
    }
    if (this.finished) {
      tch.close();
      return;
    }
    this.target = tch;
    // A shell or interpreter reading the channel's input (`ssh host bash`) gets it checked line by line.
    this.relay(kind, ch, tch, kind === 'exec' && expandCommandLine(command).readsInput === true);
  }

  private openTarget(client: Client, kind: Kind, command: string): Promise<ClientChannel> {
    const pty: PseudoTtyOptions | undefined = this.pty && {
      rows: this.pty.rows, cols: this.pty.cols, height: this.pty.height, width: this.pty.width, term: this.pty.term, modes: this.pty.modes,
    };
    const env = Object.keys(this.env).length ? this.env : undefined;
    return new Promise((resolve, reject) => {
      const cb = (err: Error | undefined, ch: ClientChannel) => {
        if (err) return reject(err);
        // Listen now: a quick command's exit-status can arrive in the same read as the reply to exec,
        // and is emitted before an awaiting caller would get to attach listeners.
        ch.on('exit', (code: number | null, signal?: string, dump?: boolean, desc?: string) => {
          this.exit = code !== null && code !== undefined ? { code } : { signal: signal ?? 'KILL', dump: !!dump, desc: desc ?? '' };
          this.onTargetExit?.();
        });
        ch.once('close', () => {
          this.targetClosed = true;
          this.onTargetExit?.();
        });
        resolve(ch);
      };
      if (kind === 'exec') client.exec(command, { ...(pty ? { pty } : {}), ...(env ? { env } : {}) }, cb);
      else if (kind === 'shell') client.shell(pty ?? false, env ? { env } : {}, cb);
      else client.subsys('sftp', cb);
    });
  }

  private relay(kind: Kind, c: ServerChannel, t: ClientChannel, inputIsCommands: boolean): void {
    const log = new StreamLog({
      rec: this.s.rec!, masker: this.s.storedMask, maskCounts: this.s.maskCounts, channel: this.id,
      // A terminal session is kept whole (it is the screen recording); other streams up to the limit.
      limit: this.pty ? undefined : this.s.limits.maxBytes,
      indexed: this.s.limits.indexOutput,
    });
    this.log = log;
    t.on('error', () => {});
    // Done when both output streams have ended and the exit status (or the channel close, which follows
    // it) has arrived: EOF and exit-status can come in separate reads, in either order.
    let waiting = 3;
    const step = () => {
      if (--waiting === 0) this.s.guard(this.finishChannel(), 'channel end');
    };
    let exitSeen = false;
    this.onTargetExit = () => {
      if (exitSeen) return;
      exitSeen = true;
      step();
    };
    if (this.exit || this.targetClosed) this.onTargetExit();
    t.once('end', step);
    t.stderr.once('end', step);
    // Output waits while the recording is too far behind the store (a full disk), and while the socket it
    // goes to holds more than it should (a peer that grants a huge window and stops reading): held, never
    // dropped.
    const recRoom = () => this.s.rec?.room();
    const room = () => roomIn(recRoom, () => this.s.clientRoom.room());
    const inputRoom = () => roomIn(recRoom, () => this.s.targetRoom?.room());
    pump(t.stderr, c.stderr, (b) => log.add('stderr', b), room);

    if (kind === 'sftp') {
      new SftpRelay({ session: this.s, channel: this.id, client: c, target: t, paths: this.s.paths() }).start();
      c.on('end', () => t.end());
      return;
    }
    // Typed lines are checked in shells, in any command run with a terminal (`ssh -t host sudo -i`), and
    // in a shell reading the channel's input (`ssh host bash < script`).
    if (kind === 'shell' || this.pty || inputIsCommands) {
      const input = new ShellInput({
        session: this.s, channel: this.id, client: c, target: t, log, pty: this.pty !== undefined, close: (message) => this.s.guard(this.abort(message), 'shell end'),
      });
      pump(t, c, (b) => {
        log.add('stdout', b);
        input.observeOutput(b);
      }, room);
      input.start();
      return;
    }
    pump(t, c, (b) => log.add('stdout', b), room);
    pump(c, t, (b) => log.add('stdin', b), inputRoom);
    c.on('end', () => t.end());
  }

  private resize(cols: number, rows: number, width: number, height: number): void {
    if (this.pty) this.pty = { ...this.pty, cols, rows, width, height };
    this.target?.setWindow(rows, cols, height, width);
    this.s.rec?.record('ssh.resize', { channel: this.id, cols, rows });
  }

  private signal(name: string): void {
    this.s.rec?.record('ssh.signal', { channel: this.id, name });
    try {
      this.target?.signal(name);
    } catch {
      // not a signal name ssh2 knows; nothing to forward
    }
  }

  /** The target's side is over: deliver the rest of the output, then the exit status, then close. */
  private async finishChannel(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    const c = this.client!;
    this.log?.flush(true);
    let exit = this.exit;
    if (!exit) {
      const why = this.s.failure?.message ?? 'the connection to the target was lost';
      if (c.writable) c.stderr.write(`\r\nAirlock: ${why}\r\n`);
      exit = { code: 255 };
    }
    this.recordExit(exit);
    if (c.writable) {
      await Promise.all([flushed(c), flushed(c.stderr)]);
      if (exit.code !== undefined) c.exit(exit.code);
      else c.exit(exit.signal ?? 'KILL', exit.dump, exit.desc);
      c.end();
      await this.clientClose();
    }
    this.complete();
  }

  private recordExit(exit: ExitInfo | { closedBy: string }): void {
    const totals = this.log?.totals();
    const truncated = this.log?.truncated() ?? [];
    const data: Record<string, unknown> = { channel: this.id };
    if ('closedBy' in exit) data.closedBy = exit.closedBy;
    else if (exit.code !== undefined) data.code = exit.code;
    else data.signal = exit.signal;
    if (totals) Object.assign(data, { bytesIn: totals.stdin, bytesOut: totals.stdout, bytesErr: totals.stderr });
    if (truncated.length) data.truncated = truncated;
    this.s.rec?.record('ssh.exit', data);
    if (totals) {
      const rec = this.s.rec;
      if (rec) {
        rec.bytesIn += totals.stdin;
        rec.bytesOut += totals.stdout + totals.stderr;
      }
    }
  }

  private onClientClose(): void {
    if (this.finished) return;
    this.finished = true;
    this.log?.flush(true);
    if (this.target) this.recordExit(this.exit ?? { closedBy: 'client' });
    this.target?.close();
    this.complete();
  }

  /** Ends the channel from the gateway side; with a message, the client is told first. */
  abort(message?: string): Promise<void> {
    if (this.finished) return this.done;
    this.finished = true;
    this.log?.flush(true);
    if (this.target) this.recordExit(this.exit ?? { closedBy: 'gateway' });
    this.target?.close();
    const c = this.client;
    if (message && c?.writable) return tell(c, message, 255).finally(() => this.complete());
    this.complete();
    return this.done;
  }

  /** Waits until the client has closed its side of the channel (bounded). */
  private clientClose(timeoutMs = 2_000): Promise<void> {
    const c = this.client;
    if (!c || this.clientClosed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      c.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private complete(): void {
    this.resolveDone();
  }
}
