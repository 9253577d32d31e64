import { createHash } from 'node:crypto';
import type { ClientChannel, ServerChannel } from 'ssh2';
import { visibleKeys } from '../../core/visible.ts';
import type { Decision } from '../../policy/types.ts';
import { LineTracker, type InputPiece } from './line-tracker.ts';
import { HoldableWriter } from './pump.ts';
import { ScriptLines, type ScriptPiece } from './script-lines.ts';
import type { SshSession } from './session.ts';
import type { StreamLog } from './stream-log.ts';

type Enter = Extract<InputPiece, { kind: 'enter' }>;
type Piece = InputPiece | ScriptPiece | { readonly kind: 'eof' };

/** The prompt before a line the terminal may not echo: its keystrokes are not stored (the line is still checked). */
const SECRET_PROMPT = /(pass(word|phrase|code)|\bpin\b|token|secret)[^\n:]*:\s*$/i;
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[()][A-Za-z0-9]|\x1b[=>]/g;
const ALT_ON = [Buffer.from('\x1b[?1049h'), Buffer.from('\x1b[?1047h'), Buffer.from('\x1b[?47h')];
const ALT_OFF = [Buffer.from('\x1b[?1049l'), Buffer.from('\x1b[?1047l'), Buffer.from('\x1b[?47l')];

export interface ShellInputOptions {
  readonly session: SshSession;
  readonly channel: number;
  readonly client: ServerChannel;
  readonly target: ClientChannel;
  readonly log: StreamLog;
  /** With a PTY the remote line editor has the keystrokes as they are typed; without one, lines are held. */
  readonly pty: boolean;
  /** Ends the channel, telling the client why: in a terminal, the only answer to a denied line that is safe. */
  readonly close: (message: string) => void;
}

interface Line {
  readonly text: string;
  readonly unknown?: string;
  /** The keystrokes, control characters visible: what a reviewer is shown when the text is unknown. */
  readonly keys: string;
  readonly abandoned?: string;
  /** Keys were typed before the one that ends it (an Enter alone is no line). */
  readonly typed: boolean;
}

/**
 * Input of an interactive shell, checked line by line (kind `shell-line`).
 *
 * With a PTY, keys go to the target as typed (the remote editor echoes and edits them), except a key that
 * can run the line (Enter, or a checkpoint key: see line-tracker.ts): it passes only once the line has
 * been allowed, and everything typed after it waits meanwhile. A denied line is still in the remote
 * editor, and no key sequence is sure to clear it (`stty`, `bind` change them), so the gateway ends the
 * shell instead: the line's Enter never reaches it.
 *
 * Without a PTY (a script piped into `ssh -T`, or `ssh host bash`), each line is held until its newline
 * and decided; only allowed lines are passed on, so a denied one never reaches the shell.
 *
 * Lines typed at a password-like prompt are checked like any other; their keystrokes are not stored and
 * the line event keeps a salted SHA-256 digest instead of the text (the terminal's echo, when it echoes,
 * is in the output recording). Lines typed in a full-screen program (alternate screen) are unknown.
 */
export class ShellInput {
  private readonly tracker = new LineTracker();
  private readonly script = new ScriptLines();
  private holding = false;
  private closed = false;
  private readonly out: HoldableWriter;
  private queue: Piece[] = [];
  /** Without a PTY: whether the rest of an over-long line may pass. */
  private overlong: boolean | undefined;
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
      if (!this.o.pty) {
        const last = this.script.end();
        if (last) this.queue.push(last);
      }
      this.queue.push({ kind: 'eof' });
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
    if (this.closed) return;
    this.queue.push(...(this.o.pty ? this.tracker.push(chunk) : this.script.push(chunk)));
    this.drain();
  }

  private drain(): void {
    while (!this.holding && !this.closed && this.queue.length) {
      const piece = this.queue.shift() as Piece;
      if (piece.kind === 'eof') {
        this.o.target.end();
      } else if (piece.kind === 'data') {
        this.startLine();
        this.o.log.add('stdin', piece.bytes, this.secret);
        this.out.write(piece.bytes);
      } else if (piece.kind === 'more') {
        this.o.log.add('stdin', piece.bytes, this.secret);
        if (this.overlong) this.out.write(piece.bytes);
        if (piece.end) this.overlong = undefined;
      } else if (piece.kind === 'line') {
        this.startLine();
        this.o.log.add('stdin', piece.bytes, this.secret);
        const typed = piece.text !== '';
        this.check({ text: piece.text, keys: visibleKeys(piece.text), typed, ...(piece.unknown ? { unknown: piece.unknown } : {}) }, piece.bytes, piece.partial === true);
      } else {
        this.startLine();
        this.o.log.add('stdin', piece.bytes, this.secret);
        const line = { text: piece.line, keys: piece.keys, unknown: piece.unknown, typed: piece.keys !== visibleKeys(piece.bytes) };
        this.check(piece.abandoned ? { ...line, abandoned: piece.abandoned } : line, piece.bytes, piece.checkpoint === true);
      }
    }
  }

  private startLine(): void {
    if (this.lineStarted) return;
    this.lineStarted = true;
    this.secret = SECRET_PROMPT.test(this.tail.replace(ANSI, ''));
  }

  /** Decides a line; `bytes` (the Enter or checkpoint key, or without a PTY the whole line) pass only if it is allowed. */
  private check(line: Line, bytes: Buffer, goesOn: boolean): void {
    const secret = this.secret;
    if (!goesOn) {
      this.lineStarted = false;
      this.secret = false;
    }
    const unknown = line.unknown ?? (this.o.pty && this.altScreen && line.typed ? 'typed in a full-screen program' : undefined);
    if (!unknown && line.text.trim() === '' && !line.abandoned) return this.pass(bytes, goesOn);
    const s = this.o.session;
    const shown = unknown ? line.keys : line.text;
    const record = (outcome: string) => {
      const data: Record<string, unknown> = { channel: this.o.channel };
      if (secret) Object.assign(data, { hidden: true, digest: digest(s.rec?.id ?? '', line.text) });
      else data.line = s.mask(line.text);
      if (unknown) Object.assign(data, { unknown, ...(secret ? {} : { keys: s.mask(line.keys) }) });
      if (goesOn) data.checkpoint = true;
      s.rec?.record('ssh.shell.line', data, { searchText: secret ? '' : s.mask(shown), outcome });
    };
    const d = this.decide(line, unknown);
    if (d.action === 'allow') {
      if (!goesOn || unknown) record('allowed');
      return this.pass(bytes, goesOn);
    }
    if (d.action === 'deny') {
      record('denied');
      return this.refuse(d.reason);
    }
    this.holding = true;
    this.o.client.pause();
    const decided = s.review('shell-line', shown, d, (note) => this.o.client.stderr.write(this.o.pty ? `\r\n${note}\r\n` : `${note}\n`)).then((r) => {
      if (this.closed) return;
      record(r.approved ? 'reviewed' : 'denied');
      this.holding = false;
      if (r.approved) this.pass(bytes, goesOn);
      else this.refuse(r.reason);
      if (!this.out.blocked && !this.closed) this.o.client.resume();
      this.drain();
    });
    s.guard(decided, 'shell line review');
  }

  /**
   * The decision for a line; with text abandoned by a ^C that may still be in the editor (`stty intr undef`),
   * the text both ways. A denial is recorded by the session.
   */
  private decide(line: Line, unknown: string | undefined): Decision {
    const s = this.o.session;
    if (line.abandoned) {
      const joined = s.decide('shell-line', line.abandoned + line.text);
      if (joined.action !== 'allow') return joined;
    }
    return s.decide('shell-line', line.text, unknown);
  }

  private pass(bytes: Buffer, goesOn: boolean): void {
    if (!this.o.pty && goesOn) this.overlong = true;
    if (bytes.length) this.out.write(bytes);
  }

  private refuse(reason: string): void {
    if (!this.o.pty) {
      this.overlong = false;
      this.o.client.stderr.write(`Airlock: ${reason}\n`);
      return;
    }
    // The line is in the remote editor; only ending the shell keeps it from ever running.
    this.closed = true;
    this.queue = [];
    this.o.session.rec?.record('ssh.shell.closed', { channel: this.o.channel, reason: 'a line was denied while in the remote line editor' }, { outcome: 'denied' });
    this.o.close(`${reason}\r\nAirlock: the shell is closed, so the denied line never runs`);
  }
}

/** A digest of a line typed at a password-like prompt, salted with the session id (so equal secrets differ across sessions). */
function digest(salt: string, text: string): string {
  return `sha256:${createHash('sha256').update(salt).update('\0').update(text).digest('hex')}`;
}
