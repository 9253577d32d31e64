import type { ValueMasker } from '../../policy/connection-policies.ts';

/**
 * Masks one row of COPY TO STDOUT in text or CSV format for a live-masked client.
 *
 * The wire does not say which of the two it is, nor the delimiter, quote or escape character the
 * statement chose (CopyOutResponse gives only "textual" and the column count), and a client can pick a
 * delimiter that glues values to their neighbours ("1Xann@example.orgX…") so detectors miss them. So the
 * row is masked under every delimiter it could have: the real one occurs at least `columns - 1` times,
 * and each character that does is tried in turn; each field is also tried without the quote characters
 * around it (CSV, any QUOTE) and with text-format backslash escapes undone (a delimiter or '\' inside a
 * value is written "\X"). Masking only ever replaces text, so the extra tries can mask more than needed,
 * never less. Column rules cannot apply: COPY does not name its columns on the wire.
 *
 * The work is the row's length times the number of candidate delimiters; past MAX_WORK characters (a long row
 * of few columns, where nearly every character is a candidate) it returns undefined: the row cannot be masked
 * without holding the event loop, and the caller refuses the COPY.
 */
export const MAX_WORK = 8 * 1024 * 1024;

export function maskCopyRow(row: string, columns: number, masker: ValueMasker, counts: Record<string, number>): string | undefined {
  const end = row.endsWith('\r\n') ? 2 : row.endsWith('\n') ? 1 : 0;
  const body = row.slice(0, row.length - end);
  let out = masker.maskText(body, counts);
  if (out.includes('\\')) out = maskFields(out, undefined, masker, counts);
  if (columns > 1) {
    const candidates = delimiterCandidates(out, columns - 1);
    if (candidates.length * out.length > MAX_WORK) return undefined;
    for (const sep of candidates) out = maskFields(out, sep, masker, counts);
  }
  return out === body ? row : out + row.slice(row.length - end);
}

/** Characters (outside escapes) that occur at least `min` times in `row`. */
function delimiterCandidates(row: string, min: number): string[] {
  const seen = new Map<string, number>();
  for (let i = 0; i < row.length; i++) {
    let ch = row[i];
    if (ch === '\\') {
      i++;
      continue;
    }
    if (ch === '\n' || ch === '\r') continue;
    const code = ch.charCodeAt(0);
    if (code >= 0xd800 && code <= 0xdbff) ch = row.slice(i, ++i + 1);
    seen.set(ch, (seen.get(ch) ?? 0) + 1);
  }
  const out: string[] = [];
  for (const [ch, n] of seen) if (n >= min) out.push(ch);
  return out;
}

/** Splits `row` at unescaped `sep` (or not at all), masks each field, and writes masked fields back escaped. */
function maskFields(row: string, sep: string | undefined, masker: ValueMasker, counts: Record<string, number>): string {
  let out = '';
  let field = '';
  let changed = false;
  const flush = (): void => {
    const masked = maskField(field, sep, masker, counts);
    if (masked !== field) changed = true;
    out += masked;
    field = '';
  };
  for (let i = 0; i < row.length; i++) {
    const ch = row[i];
    if (ch === '\\' && i + 1 < row.length) {
      field += ch + row[++i];
      continue;
    }
    if (sep !== undefined && row.startsWith(sep, i)) {
      flush();
      out += sep;
      i += sep.length - 1;
      continue;
    }
    field += ch;
  }
  flush();
  return changed ? out : row;
}

function maskField(field: string, sep: string | undefined, masker: ValueMasker, counts: Record<string, number>): string {
  const plain = field.includes('\\') ? unescapeText(field) : field;
  let masked = masker.maskValue('', plain, counts);
  if (masked === plain && plain.length >= 2 && plain[0] === plain[plain.length - 1]) {
    const inner = plain.slice(1, -1);
    const maskedInner = masker.maskValue('', inner, counts);
    if (maskedInner !== inner) masked = plain[0] + maskedInner + plain[0];
  }
  if (masked === plain) return field;
  return escapeText(masked, sep);
}

const ESCAPES: Readonly<Record<string, string>> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

/** COPY text format: \b \f \n \r \t \v, \digits (octal), \xhex, and \c for any other c. */
function unescapeText(s: string): string {
  return s.replace(/\\(?:([0-7]{1,3})|x([0-9A-Fa-f]{1,2})|([\s\S]))/g, (_m, oct: string | undefined, hex: string | undefined, c: string | undefined) => {
    if (oct !== undefined) return String.fromCharCode(parseInt(oct, 8) & 0xff);
    if (hex !== undefined) return String.fromCharCode(parseInt(hex, 16));
    return ESCAPES[c!] ?? c!;
  });
}

const ESCAPED: Readonly<Record<string, string>> = { '\\': '\\\\', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v' };

function escapeText(s: string, sep: string | undefined): string {
  let out = s.replace(/[\\\b\f\n\r\t\v]/g, (c) => ESCAPED[c]);
  if (sep !== undefined && sep !== '\\') out = out.split(sep).join(`\\${sep}`);
  return out;
}
