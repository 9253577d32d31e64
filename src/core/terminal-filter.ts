/**
 * Recorded terminal output on its way to an auditor's terminal. What a session printed must not drive the
 * auditor's terminal: clear the screen, move the cursor over earlier lines (forging a "DENIED" line),
 * write the clipboard (OSC 52), set the title, switch screens or answer queries. Only a subset that stays
 * on the current line passes as it is: text, CR, LF, TAB, Backspace, colours (SGR `CSI … m`), erase in
 * line (`CSI K`) and moves along the line (`CSI C`, `CSI D`, `CSI G`). Every other control character or
 * sequence is shown in visible notation (`\e[2J`, `\e]52;c;…^G`) instead, so it is seen, never obeyed.
 * Full-screen programs replay as text with their sequences shown; `--asciicast` gives a player that
 * emulates the terminal in a browser.
 */
import { StringDecoder } from 'node:string_decoder';
import { INVISIBLE, visibleKeys } from './visible.ts';

/** Longest escape sequence buffered; a longer one is shown as it is so far. */
const MAX_SEQUENCE = 4096;
/** Colours, erase in line, moves along the line, and showing the cursor (the replay's own reset). */
const SAFE_CSI = /^\x1b\[(?:[0-9;:]*m|[0-2]?K|[0-9]*[CDG]|\?25h)$/;

type State = 'text' | 'esc' | 'csi' | 'string' | 'string-esc';

export class TerminalFilter {
  private readonly decoder = new StringDecoder('utf8');
  private state: State = 'text';
  private seq = '';

  /** Filters a chunk; sequences split across chunks are held until complete. */
  push(bytes: Buffer): string {
    return this.filter(this.decoder.write(bytes));
  }

  /** Whatever is still held, shown visibly (end of the recording). */
  end(): string {
    const rest = this.filter(this.decoder.end());
    const held = this.seq ? visibleKeys(this.seq) : '';
    this.seq = '';
    this.state = 'text';
    return rest + held;
  }

  private filter(text: string): string {
    let out = '';
    for (const ch of text) {
      const c = ch.codePointAt(0) as number;
      if (this.state === 'text') {
        if (c === 0x1b) {
          this.state = 'esc';
          this.seq = ch;
        } else if (c === 0x0a || c === 0x0d || c === 0x09 || c === 0x08) out += ch;
        else if (c < 0x20 || c === 0x7f || (c >= 0x80 && c < 0xa0) || INVISIBLE.test(ch)) out += visibleKeys(ch);
        else out += ch;
        continue;
      }
      this.seq += ch;
      if (this.state === 'esc') {
        // ESC [ starts a CSI; ESC ] P X ^ _ start strings (OSC, DCS, SOS, PM, APC); anything else is a two-character sequence.
        if (ch === '[') this.state = 'csi';
        else if (']PX^_'.includes(ch)) this.state = 'string';
        else out += this.done(false);
      } else if (this.state === 'csi') {
        if (c >= 0x40 && c <= 0x7e) out += this.done(SAFE_CSI.test(this.seq));
        else if (c < 0x20 || c > 0x7e) out += this.done(false);
      } else if (this.state === 'string') {
        if (c === 0x07) out += this.done(false);
        else if (c === 0x1b) this.state = 'string-esc';
      } else {
        out += this.done(false); // ESC \ ends the string; any ESC ends it as far as showing goes
      }
      if (this.seq.length > MAX_SEQUENCE) out += this.done(false);
    }
    return out;
  }

  private done(safe: boolean): string {
    const s = this.seq;
    this.seq = '';
    this.state = 'text';
    return safe ? s : visibleKeys(s);
  }
}

/** One line of recorded text made safe for a terminal: every control or invisible character in visible notation. */
export function terminalSafe(text: string): string {
  let out = '';
  for (const ch of text) {
    const c = ch.codePointAt(0) as number;
    out += c < 0x20 || c === 0x7f || (c >= 0x80 && c < 0xa0) || INVISIBLE.test(ch) ? visibleKeys(ch) : ch;
  }
  return out;
}
