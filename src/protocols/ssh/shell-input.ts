import type { ClientChannel, ServerChannel } from 'ssh2';
import { LineTracker, type InputPiece } from './line-tracker.ts';
import type { SshSession } from './session.ts';
import { HoldableWriter } from './pump.ts';
import type { StreamLog } from './stream-log.ts';

type Enter = Extract<InputPiece, { kind: 'enter' }>;

/** The prompt before a line that the terminal does not echo: what is typed is a secret, not a command. */
const SECRET_PROMPT = /(pass(word|phrase|code)|\bpin\b|token|secret)[^\n:]*:\s*$/i;
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[()][A-Za-z0-9]|\x1b[=>]/g;
const ALT_ON = [Buffer.from('\x1b[?1049h'), Buffer.from('\x1b[?1047h'), Buffer.from('\x1b[?47h')];
const ALT_OFF = [Buffer.from('\x1b[?1049l'), Buffer.from('\x1b[?1047l'), Buffer.from('\x1b[?47l')];
const MAX_HELD_LINE = 64 * 1024;

export interface ShellInputOptions {
  readonly session: SshSession;
  readonly channel: number;
  readonly client: ServerChannel;
  readonly target: ClientChannel;
  readonly log: StreamLog;
  /** With a PTY the remote line editor has the keystrokes as they are typed; without one, lines are held. */
  readonly pty: boolean;
}

/**
 * Keystrokes of an interactive shell, checked line by line at Enter (kind `shell-line`), best effort.
 *
 * With a PTY every key goes to the target as typed (the remote shell echoes and edits); at Enter the
 * line reconstructed from the keys is checked, and a denied line gets Ctrl-C instead of the Enter, so
 * the shell discards it, plus the reason on the terminal. Without a PTY (a script piped into `ssh -T`)
 * each line is held until its newline and a denied line is dropped, with the reason on stderr.
 * Lines typed at a password prompt or inside a full-screen program are neither checked nor stored.
 */
export class ShellInput {
  private readonly tracker = new LineTracker();
  private holding = false;
  private readonly out: HoldableWriter;
  private ending = false;
  private queue: InputPiece[] = [];
  private held: Buffer[] = [];
  private heldBytes = 0;
  private lineStarted = false;
  private secret = false;
  private altScreen = false;
  private tail = '';

  constructor(private readonly o: ShellInputOptions) {
    this.out = new HoldableWriter(o.target, o.client, () => this.holding);
  }

  start(): void {
    this.o.client.on('data', (chunk: Buffer) => this.push(chunk));
    this.o.client.on('end', () => {
      this.ending = true;
      this.drain();
    });
  }

  /** Watches the target's output for password prompts and the alternate screen. */
  observeOutput(chunk: Buffer): void {
    for (const seq of ALT_ON) if (chunk.includes(seq)) this.altScreen = true;
    for (const seq of ALT_OFF) if (chunk.includes(seq)) this.altScreen = false;
    const text = chunk.subarray(Math.max(0, chunk.length - 512)).toString('utf8');
    this.tail = (this.tail + text).slice(-512);
  }

  private push(chunk: Buffer): void {
    for (const piece of this.tracker.push(chunk)) this.queue.push(piece);
    this.drain();
  }

  private drain(): void {
    while (!this.holding && this.queue.length) {
      const piece = this.queue.shift()!;
      if (piece.kind === 'data') this.data(piece.bytes);
      else this.enter(piece);
    }
    if (this.holding || !this.ending) return;
    this.ending = false;
    if (!this.o.pty && this.heldBytes > 0) {
      // A last line without a newline.
      const { line, unknown } = this.tracker.current;
      this.queue.push({ kind: 'enter', bytes: Buffer.alloc(0), line, ...(unknown ? { unknown } : {}) });
      this.ending = true;
      return this.drain();
    }
    this.o.target.end();
  }

  private data(bytes: Buffer): void {
    if (!this.lineStarted) {
      this.lineStarted = true;
      this.secret = SECRET_PROMPT.test(this.tail.replace(ANSI, ''));
    }
    this.o.log.add('stdin', bytes, this.secret);
    if (this.o.pty) return this.out.write(bytes);
    this.held.push(bytes);
    this.heldBytes += bytes.length;
    if (this.heldBytes > MAX_HELD_LINE) this.release(Buffer.alloc(0));
  }

  private enter(p: Enter): void {
    const secret = this.secret;
    this.lineStarted = false;
    this.secret = false;
    this.o.log.add('stdin', p.bytes, secret);
    if (secret || this.altScreen || (!p.unknown && p.line.trim() === '')) return this.release(p.bytes);
    const s = this.o.session;
    const masked = s.mask(p.line);
    const record = (outcome: string) =>
      s.rec?.record('ssh.shell.line', { channel: this.o.channel, line: masked, ...(p.unknown ? { unknown: p.unknown } : {}) }, { searchText: masked, outcome });
    if (p.unknown) {
      // Edited with cursor keys or completion: the real line cannot be known from keystrokes.
      record('allowed');
      return this.release(p.bytes);
    }
    const d = s.decide('shell-line', p.line);
    if (d.action === 'allow') {
      record('allowed');
      return this.release(p.bytes);
    }
    if (d.action === 'deny') {
      record('denied');
      return this.refuse(d.reason);
    }
    this.holding = true;
    this.o.client.pause();
    void s.review('shell-line', p.line, d).then((r) => {
      record(r.approved ? 'reviewed' : 'denied');
      if (r.approved) this.release(p.bytes);
      else this.refuse(r.reason);
      this.holding = false;
      if (!this.out.blocked) this.o.client.resume();
      this.drain();
    });
  }

  /** Lets the line run: the Enter (and, without a PTY, the held line) goes to the target. */
  private release(enter: Buffer): void {
    if (!this.o.pty && this.held.length) {
      this.out.write(Buffer.concat([...this.held, enter]));
      this.held = [];
      this.heldBytes = 0;
      return;
    }
    if (enter.length) this.out.write(enter);
  }

  private refuse(reason: string): void {
    if (this.o.pty) {
      this.out.write(Buffer.from([0x03]));
      this.o.client.write(`\r\nAirlock: ${reason}\r\n`);
    } else {
      this.held = [];
      this.heldBytes = 0;
      this.o.client.stderr.write(`Airlock: ${reason}\n`);
    }
  }


}
