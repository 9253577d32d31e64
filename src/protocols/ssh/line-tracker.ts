/**
 * Best-effort reconstruction of the line being typed into an interactive shell, from the keystrokes
 * alone (the gateway does not emulate the terminal or the shell's line editor).
 *
 * Understood: printable text (UTF-8), Backspace (DEL / ^H), ^U (kill line), ^W (kill word), ^C (abandon),
 * bracketed paste markers, ^L (redraw). Anything that moves the cursor or recalls text — arrow keys,
 * Home/End, ^A ^E ^K ^R ^P ^N ^Y, Tab completion, Alt-key editing — makes the line *unknown*: its text
 * can no longer be known from keystrokes, and the tracker says so instead of guessing.
 */

export type InputPiece =
  /** Bytes to pass on as they are. */
  | { readonly kind: 'data'; readonly bytes: Buffer }
  /** An Enter key (`bytes` is the CR or LF itself) finishing `line`; `unknown` says why the text is not known. */
  | { readonly kind: 'enter'; readonly bytes: Buffer; readonly line: string; readonly unknown?: string };

const MAX_LINE = 16 * 1024;
const ESC = 0x1b;

type EscState = 'none' | 'esc' | 'csi' | 'ss3';

export class LineTracker {
  private line: number[] = [];
  private unknown: string | undefined;
  private esc: EscState = 'none';
  private csi = '';

  /** Splits input into pass-through data and Enter keys carrying the line they finish. */
  push(chunk: Buffer): InputPiece[] {
    const out: InputPiece[] = [];
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (this.esc !== 'none') {
        this.escape(b);
        continue;
      }
      if (b === 0x0d || b === 0x0a) {
        if (i > start) out.push({ kind: 'data', bytes: chunk.subarray(start, i) });
        out.push({ kind: 'enter', bytes: chunk.subarray(i, i + 1), line: this.text(), ...(this.unknown ? { unknown: this.unknown } : {}) });
        this.reset();
        start = i + 1;
        continue;
      }
      this.key(b);
    }
    if (start < chunk.length) out.push({ kind: 'data', bytes: chunk.subarray(start) });
    return out;
  }

  /** The line so far (for tests and diagnostics). */
  get current(): { line: string; unknown?: string } {
    return this.unknown ? { line: this.text(), unknown: this.unknown } : { line: this.text() };
  }

  private reset(): void {
    this.line = [];
    this.unknown = undefined;
  }

  private text(): string {
    return Buffer.from(this.line).toString('utf8');
  }

  private markUnknown(why: string): void {
    this.unknown ??= why;
  }

  private key(b: number): void {
    switch (b) {
      case ESC:
        this.esc = 'esc';
        return;
      case 0x7f:
      case 0x08:
        this.backspace();
        return;
      case 0x15: // ^U
        this.reset();
        return;
      case 0x17: // ^W
        this.killWord();
        return;
      case 0x03: // ^C: the shell abandons the line
        this.reset();
        return;
      case 0x0c: // ^L redraws, the line is unchanged
      case 0x04: // ^D at the end of a line: nothing (or EOF on an empty one)
        return;
      case 0x09:
        this.markUnknown('tab completion');
        return;
      default:
        if (b < 0x20) {
          this.markUnknown('line editing keys');
          return;
        }
        if (this.line.length >= MAX_LINE) {
          this.markUnknown('line too long');
          return;
        }
        this.line.push(b);
    }
  }

  private backspace(): void {
    // Drop one UTF-8 character: continuation bytes (10xxxxxx) and their lead byte.
    while (this.line.length && (this.line[this.line.length - 1] & 0xc0) === 0x80) this.line.pop();
    this.line.pop();
  }

  private killWord(): void {
    while (this.line.length && this.line[this.line.length - 1] === 0x20) this.line.pop();
    while (this.line.length && this.line[this.line.length - 1] !== 0x20) this.line.pop();
  }

  private escape(b: number): void {
    if (this.esc === 'esc') {
      if (b === 0x5b) {
        this.esc = 'csi';
        this.csi = '';
      } else if (b === 0x4f) {
        this.esc = 'ss3';
      } else {
        this.esc = 'none';
        this.markUnknown('Alt-key editing');
      }
      return;
    }
    if (this.esc === 'ss3') {
      // ESC O A..D arrows, H/F home/end, P..S F1-F4: all editing or unknown.
      this.esc = 'none';
      this.markUnknown('cursor keys');
      return;
    }
    // CSI: parameter and intermediate bytes 0x20-0x3f, then a final byte 0x40-0x7e.
    if (b >= 0x20 && b <= 0x3f && this.csi.length < 32) {
      this.csi += String.fromCharCode(b);
      return;
    }
    this.esc = 'none';
    const seq = this.csi + String.fromCharCode(b);
    if (seq === '200~' || seq === '201~') return; // bracketed paste start / end: the text is literal
    if (seq === 'I' || seq === 'O') return; // focus in / out
    this.markUnknown('cursor keys');
  }
}
