/**
 * The other reading of a SQL text: how a server with `standard_conforming_strings = off` sees it.
 *
 * libpg-query lexes with standard_conforming_strings on (the default since PostgreSQL 9.1), where a
 * backslash in '…' is an ordinary character. Any client can `SET standard_conforming_strings = off`,
 * after which '…' strings take backslash escapes like E'…'. The two readings can disagree on where a
 * string ends, which is a classic way to hide a statement from a SQL firewall:
 *
 *     SELECT 'a\', $$' ; DROP TABLE t; -- $$
 *
 * is one SELECT of two literals with the default, but a SELECT followed by DROP TABLE with
 * escapes on. So when a plain '…' literal contains a backslash:
 * - if it ends at a different place when read with escapes (it contains `\'` or ends in a
 *   backslash), the text is 'ambiguous' and the classifier reports it as unparseable (fail closed;
 *   a session that really turned the setting off and writes `\'` escapes gets the same treatment);
 * - otherwise both readings split the text identically and only literal values differ, which
 *   matters for bodies held in strings (`CREATE FUNCTION … AS '…\073 DROP …'`): the text is
 *   rewritten with those literals as E'…', which the parser decodes exactly as such a server
 *   would, and the classifier checks both readings.
 */
import { scanSync } from 'libpg-query';

export type EscapeVariant =
  /** Both readings are the same text; nothing to add. */
  | { readonly kind: 'same' }
  /** The escape reading, written with E'…' literals. */
  | { readonly kind: 'variant'; readonly text: string }
  /** A literal's extent depends on the setting. */
  | { readonly kind: 'ambiguous' };

interface Token {
  readonly start: number;
  readonly end: number;
  readonly text: string;
  readonly tokenName: string;
}

const SAME: EscapeVariant = { kind: 'same' };
const AMBIGUOUS: EscapeVariant = { kind: 'ambiguous' };
const QUOTE = 0x27;
const BACKSLASH = 0x5c;

export function escapeVariant(text: string): EscapeVariant {
  if (!text.includes('\\')) return SAME;
  let tokens: Token[];
  try {
    tokens = scanSync(text).tokens;
  } catch {
    return SAME; // the lexer fails on the default reading: the parser reports it
  }
  let src: Buffer | undefined;
  const pieces: Buffer[] = [];
  let copied = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as Token;
    if (t.tokenName !== 'SCONST' || !t.text.startsWith("'") || !t.text.includes('\\')) continue;
    src ??= Buffer.from(text, 'utf8');
    if (escapedStringEnd(src, t.start) !== t.end) return AMBIGUOUS;
    const prev = tokens[i - 1];
    const national = prev !== undefined && prev.end === t.start && /^[nN]$/.test(prev.text);
    // N'…' is lexed as the keyword NCHAR followed by the literal, so `NCHAR E'…'` is the same tree.
    pieces.push(src.subarray(copied, national ? t.start - 1 : t.start), Buffer.from(national ? 'NCHAR E' : ' E'));
    copied = t.start;
  }
  if (!src) return SAME;
  pieces.push(src.subarray(copied));
  return { kind: 'variant', text: Buffer.concat(pieces).toString('utf8') };
}

/** End (exclusive) of the '…' literal starting at `start`, read with backslash escapes; -1 if unterminated. */
function escapedStringEnd(src: Buffer, start: number): number {
  let i = start + 1;
  while (i < src.length) {
    const b = src[i];
    if (b === BACKSLASH) {
      i += 2;
    } else if (b === QUOTE) {
      if (src[i + 1] === QUOTE) {
        i += 2;
        continue;
      }
      const resume = continuation(src, i + 1);
      if (resume < 0) return i + 1;
      i = resume + 1;
    } else {
      i++;
    }
  }
  return -1;
}

/**
 * PostgreSQL joins 'a'<whitespace with a newline>'b' into one literal. Returns the offset of the
 * continuing quote, or -1 when the literal really ends.
 */
function continuation(src: Buffer, from: number): number {
  let i = from;
  let newline = false;
  while (i < src.length) {
    const b = src[i];
    if (b === 0x20 || b === 0x09 || b === 0x0c) i++;
    else if (b === 0x0a || b === 0x0d) {
      newline = true;
      i++;
    } else if (newline && b === 0x2d && src[i + 1] === 0x2d) {
      while (i < src.length && src[i] !== 0x0a && src[i] !== 0x0d) i++;
    } else break;
  }
  return newline && src[i] === QUOTE ? i : -1;
}
