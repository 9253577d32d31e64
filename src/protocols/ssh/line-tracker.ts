/**
 * The line being typed into a terminal (a PTY), reconstructed from the keystrokes alone, assuming the
 * line editor's default emacs-style keys (readline, zle, libedit agree on these). The gateway does not
 * emulate the terminal or the editor, so it says what it cannot know instead of guessing:
 *
 * - Understood: printable text (UTF-8), Backspace (DEL / ^H), ^U (kill line), ^W (kill word), ^L, ^D at
 *   the end of a line, bracketed paste (literal text).
 * - Anything that moves the cursor or recalls text — arrow keys, Home/End, ^A ^E ^K ^R ^P ^N ^Y, Tab
 *   completion, a control character inside pasted text — makes the line *unknown*.
 * - Keys that can run the line without Enter, or switch the editor into a mode where plain keys can
 *   (^O operate-and-get-next, ^X prefixes such as ^X^E edit-and-execute, Alt/Esc keys, other control keys
 *   outside the list above) are *checkpoints*: the line so far is reported, as unknown, before the key
 *   may pass; Enter (CR or LF) ends the line.
 * - ^C abandons the line when the terminal's `intr` is ^C; if it was undefined (`stty intr undef`) the
 *   text stays in the editor, so the line reported at the next Enter also carries the `abandoned` text.
 */
import { INVISIBLE, visibleKeys } from '../../core/visible.ts';

export type InputPiece =
  /** Bytes to pass on as they are. */
  | { readonly kind: 'data'; readonly bytes: Buffer }
  /**
   * A key that may run `line` (`bytes` is the key itself): Enter, or with `checkpoint` a key after which
   * the line goes on. `keys` shows the line's keystrokes with control characters visible; `unknown` says
   * why the text is not known; `abandoned` is text before a ^C that may still be in the editor.
   */
  | {
      readonly kind: 'enter'; readonly bytes: Buffer; readonly line: string; readonly keys: string;
      readonly unknown?: string; readonly checkpoint?: true; readonly abandoned?: string;
    };

export const MAX_LINE = 16 * 1024;
const ESC = 0x1b;
/** Control keys that only edit the line (the rest are checkpoints). */
const EDITING = new Set([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0b, 0x0c, 0x0e, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x19, 0x1a, 0x1c, 0x1f, 0x7f]);
/** Editing keys whose effect on the text the tracker does not model. */
const UNMODELLED: Readonly<Record<number, string>> = { 0x09: 'tab completion' };

type EscState = 'none' | 'esc' | 'csi' | 'ss3';

export class LineTracker {
  private line: number[] = [];
  private keys: number[] = [];
  private unknown: string | undefined;
  private abandoned = '';
  private esc: EscState = 'none';
  private csi = '';
  private paste = false;

  /** Splits input into pass-through data and the keys that may run a line, carrying the line. */
  push(chunk: Buffer): InputPiece[] {
    const out: InputPiece[] = [];
    let start = 0;
    const cut = (i: number, checkpoint: boolean) => {
      if (i > start) out.push({ kind: 'data', bytes: chunk.subarray(start, i) });
      out.push(this.report(chunk.subarray(i, i + 1), checkpoint));
      start = i + 1;
    };
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i] as number;
      if (this.keys.length < MAX_LINE) this.keys.push(b);
      if (this.esc !== 'none') {
        if (this.escape(b) === 'checkpoint') cut(i, true);
        continue;
      }
      if (b === 0x0d || b === 0x0a) {
        // Inside a paste an editor with bracketed paste inserts the newline; the paste goes on either way.
        const paste = this.paste;
        cut(i, false);
        this.reset();
        this.paste = paste;
        this.abandoned = '';
        continue;
      }
      if (this.key(b) === 'checkpoint') cut(i, true);
    }
    if (start < chunk.length) out.push({ kind: 'data', bytes: chunk.subarray(start) });
    return out;
  }

  /** The line so far (for tests and the end of a stream). */
  get current(): { line: string; unknown?: string } {
    const unknown = this.unknownNow();
    return unknown ? { line: this.text(), unknown } : { line: this.text() };
  }

  private report(bytes: Buffer, checkpoint: boolean): InputPiece {
    if (checkpoint) this.markUnknown('a key that can run or change the line');
    const unknown = this.unknownNow();
    return {
      kind: 'enter', bytes, line: this.text(), keys: visibleKeys(Buffer.from(this.keys)),
      ...(unknown ? { unknown } : {}), ...(checkpoint ? { checkpoint: true as const } : {}), ...(this.abandoned ? { abandoned: this.abandoned } : {}),
    };
  }

  private unknownNow(): string | undefined {
    if (this.unknown) return this.unknown;
    if (this.keys.length >= MAX_LINE) return 'line too long';
    return INVISIBLE.test(this.text()) ? 'invisible or reordering characters' : undefined;
  }

  private reset(): void {
    this.line = [];
    this.keys = [];
    this.unknown = undefined;
    this.paste = false;
  }

  private text(): string {
    return Buffer.from(this.line).toString('utf8');
  }

  private markUnknown(why: string): void {
    this.unknown ??= why;
  }

  private key(b: number): 'checkpoint' | undefined {
    if (b === ESC) {
      this.esc = 'esc';
      return undefined;
    }
    if (this.paste) {
      // Pasted text is inserted as it is; a control character in it is edited or inserted depending on the editor.
      if (b < 0x20 || b === 0x7f) this.markUnknown('control characters in pasted text');
      else this.insert(b);
      return undefined;
    }
    if (b >= 0x20 && b !== 0x7f) {
      this.insert(b);
      return undefined;
    }
    if (!EDITING.has(b)) return 'checkpoint';
    switch (b) {
      case 0x7f:
      case 0x08:
        this.backspace();
        return undefined;
      case 0x15: // ^U
        this.line = [];
        return undefined;
      case 0x17: // ^W
        this.killWord();
        return undefined;
      case 0x03: // ^C: abandoned, unless the terminal's intr key was changed
        this.abandoned += this.text();
        this.reset();
        if (this.abandoned.length > MAX_LINE) {
          this.abandoned = this.abandoned.slice(-MAX_LINE);
          this.markUnknown('line too long');
        }
        return undefined;
      case 0x0c: // ^L redraws, ^G rings, ^Q/^S are flow control, ^Z and ^\ signal: the line is unchanged
      case 0x07:
      case 0x11:
      case 0x13:
      case 0x1a:
      case 0x1c:
      case 0x04: // ^D at the end of a line: nothing (or EOF on an empty one)
        return undefined;
      default:
        this.markUnknown(UNMODELLED[b] ?? 'line editing keys');
        return undefined;
    }
  }

  private insert(b: number): void {
    if (this.line.length >= MAX_LINE) this.markUnknown('line too long');
    else this.line.push(b);
  }

  private backspace(): void {
    // Drop one UTF-8 character: continuation bytes (10xxxxxx) and their lead byte.
    while (this.line.length && ((this.line[this.line.length - 1] as number) & 0xc0) === 0x80) this.line.pop();
    this.line.pop();
  }

  private killWord(): void {
    while (this.line.length && this.line[this.line.length - 1] === 0x20) this.line.pop();
    while (this.line.length && this.line[this.line.length - 1] !== 0x20) this.line.pop();
  }

  private escape(b: number): 'checkpoint' | undefined {
    if (this.esc === 'esc') {
      if (b === 0x5b) {
        this.esc = 'csi';
        this.csi = '';
        return undefined;
      }
      if (b === 0x4f && !this.paste) {
        this.esc = 'ss3';
        return undefined;
      }
      // Alt-key (or Esc then a key: vi command mode): anything may follow from it.
      this.esc = 'none';
      if (this.paste) return void this.markUnknown('control characters in pasted text');
      return 'checkpoint';
    }
    if (this.esc === 'ss3') {
      // ESC O A..D arrows, H/F home/end, P..S F1-F4: editing or nothing.
      this.esc = 'none';
      this.markUnknown('cursor keys');
      return undefined;
    }
    // CSI: parameter and intermediate bytes 0x20-0x3f, then a final byte 0x40-0x7e.
    if (b >= 0x20 && b <= 0x3f && this.csi.length < 32) {
      this.csi += String.fromCharCode(b);
      return undefined;
    }
    this.esc = 'none';
    const seq = this.csi + String.fromCharCode(b);
    if (seq === '200~') {
      this.paste = true;
      return undefined;
    }
    if (seq === '201~') {
      this.paste = false;
      return undefined;
    }
    if (this.paste) return void this.markUnknown('control characters in pasted text');
    if (seq === 'I' || seq === 'O') return undefined; // focus in / out
    if (b < 0x40 || b > 0x7e) return 'checkpoint'; // not a well-formed sequence: the editor may read it as keys
    this.markUnknown('cursor keys');
    return undefined;
  }
}
