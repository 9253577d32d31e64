/** Characters that hide or reorder text on screen (bidi controls, zero-width): the text shown is not the text run. */
export const INVISIBLE = /[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\u00ad]/;

const CARET: Readonly<Record<number, string>> = { 0x1b: '\\e', 0x7f: '^?', 0x0d: '\\r', 0x0a: '\\n', 0x09: '\\t' };

/**
 * Text with every control character, and every character that hides or reorders text, shown as
 * visible notation (`\e`, `^U`, `\r`, `\u{202e}`), and a backslash doubled, so what is shown is
 * what was typed. For review requests, listings and replays of untrusted text.
 */
export function visibleKeys(bytes: Buffer | string): string {
  const text = typeof bytes === 'string' ? bytes : bytes.toString('utf8');
  let out = '';
  for (const ch of text) {
    const c = ch.codePointAt(0) as number;
    if (ch === '\\') out += '\\\\';
    else if (CARET[c] !== undefined) out += CARET[c];
    else if (c < 0x20) out += `^${String.fromCharCode(c + 0x40)}`;
    else if ((c >= 0x80 && c < 0xa0) || INVISIBLE.test(ch) || c === 0xfffd) out += `\\u{${c.toString(16)}}`;
    else out += ch;
  }
  return out;
}
