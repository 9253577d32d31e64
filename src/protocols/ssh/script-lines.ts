/**
 * Lines of a script read by a shell without a terminal (`ssh -T host`, `ssh host bash`): no line editor
 * stands between the client and the shell, so a line is exactly its bytes up to a newline (LF). A line
 * is unknown when it holds a control character other than TAB, is not UTF-8, or is longer than
 * MAX_LINE (then its first MAX_LINE bytes are decided, and the rest follows that decision).
 */
import { isUtf8 } from 'node:buffer';
import { MAX_LINE } from './line-tracker.ts';

export type ScriptPiece =
  /** A line (with its LF, unless `partial`: an over-long line whose rest comes as `more`). */
  | { readonly kind: 'line'; readonly bytes: Buffer; readonly text: string; readonly unknown?: string; readonly partial?: true }
  /** More of an over-long line; `end` when its LF is in it. */
  | { readonly kind: 'more'; readonly bytes: Buffer; readonly end: boolean };

const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;

export class ScriptLines {
  private parts: Buffer[] = [];
  private size = 0;
  private overlong = false;

  push(chunk: Buffer): ScriptPiece[] {
    const out: ScriptPiece[] = [];
    let start = 0;
    while (start < chunk.length) {
      const lf = chunk.indexOf(0x0a, start);
      const end = lf < 0 ? chunk.length : lf + 1;
      const part = chunk.subarray(start, end);
      start = end;
      if (this.overlong) {
        out.push({ kind: 'more', bytes: part, end: lf >= 0 });
        if (lf >= 0) this.overlong = false;
        continue;
      }
      this.parts.push(part);
      this.size += part.length;
      if (lf >= 0) out.push(this.take(false));
      else if (this.size > MAX_LINE) {
        out.push(this.take(true));
        this.overlong = true;
      }
    }
    return out;
  }

  /** The last line, if the input ended without a newline. */
  end(): ScriptPiece | undefined {
    return this.size > 0 ? this.take(false) : undefined;
  }

  private take(partial: boolean): ScriptPiece {
    const bytes = Buffer.concat(this.parts);
    this.parts = [];
    this.size = 0;
    const body = bytes[bytes.length - 1] === 0x0a ? bytes.subarray(0, -1) : bytes;
    const text = body.toString('utf8');
    const unknown = partial || body.length > MAX_LINE ? `a line longer than ${MAX_LINE / 1024} KiB` : !isUtf8(body) ? 'bytes that are not UTF-8' : CONTROL.test(text) ? 'control characters' : undefined;
    return { kind: 'line', bytes, text, ...(unknown ? { unknown } : {}), ...(partial ? { partial: true as const } : {}) };
  }
}
