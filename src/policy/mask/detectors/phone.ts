import { H_PHONE } from '../hints.ts';
import type { Detector, Span } from '../types.ts';

/**
 * Telephone numbers: international E.164 forms ('+' country code, 8–15 digits in all, ITU-T E.164 §6)
 * and two national shapes with separators — NANP (NXX-NXX-XXXX, N = 2–9, optional leading 1 and
 * parenthesised area code) and trunk-prefix numbers ('0' then 9–10 digits in groups of 2–8, as in
 * the UK, France, Germany, Australia). Anything else made of digits and separators (dates, versions,
 * plain integers, order numbers, IPs) is rejected by the shape check rather than by the regex.
 */
const PHONE_RE = /(?<![\w+.\-\/:@#$€£])[+(]?\d[\d ().\-]{5,22}\d(?![\w\/:@%]|[.\-]\d)/g;

const SEPARATORS = ' -.';

interface Shape {
  readonly plus: boolean;
  readonly groups: string[];
  /** Separator after each group but the last ('' none, ')' for a closing parenthesis). */
  readonly seps: string[];
  /** Index of the group in parentheses, or -1. */
  readonly paren: number;
}

function parse(s: string): Shape | null {
  let i = 0;
  const plus = s[0] === '+';
  if (plus) i = 1;
  const groups: string[] = [];
  const seps: string[] = [];
  let paren = -1;
  let open = false;
  let cur = '';
  for (; i < s.length; i++) {
    const ch = s[i];
    if (ch >= '0' && ch <= '9') {
      cur += ch;
      continue;
    }
    if (ch === '(') {
      if (paren !== -1 || cur !== '') return null;
      open = true;
      paren = groups.length;
      continue;
    }
    if (cur === '') return null; // two separators in a row, or a separator after '('
    groups.push(cur);
    cur = '';
    if (ch === ')') {
      if (!open) return null;
      open = false;
      // ") " and ")-" count as one separator.
      const next = s[i + 1];
      if (next !== undefined && SEPARATORS.includes(next)) i++;
      seps.push(')');
    } else if (SEPARATORS.includes(ch)) {
      if (open) return null;
      seps.push(ch);
    } else return null;
  }
  if (open || cur === '') return null;
  groups.push(cur);
  return { plus, groups, seps, paren };
}

function oneSeparatorKind(seps: readonly string[]): boolean {
  let kind = '';
  for (const s of seps) {
    if (s === ')') continue;
    if (kind === '') kind = s;
    else if (s !== kind) return false;
  }
  return true;
}

function isNanp(groups: readonly string[]): boolean {
  const g = groups.length === 4 && groups[0] === '1' ? groups.slice(1) : groups;
  return (
    g.length === 3 && g[0].length === 3 && g[1].length === 3 && g[2].length === 4 && g[0][0] >= '2' && g[1][0] >= '2'
  );
}

export function isPhone(s: string): boolean {
  const shape = parse(s);
  if (shape === null) return false;
  const { plus, groups, seps, paren } = shape;
  const digits = groups.join('');
  if (plus) {
    if (digits.length < 8 || digits.length > 15 || digits[0] === '0') return false;
    // With separators the country code stands alone: 1–3 digits, never in parentheses.
    return groups.length === 1 || (groups[0].length <= 3 && paren !== 0);
  }
  if (groups.length < 2 || !oneSeparatorKind(seps)) return false;
  if (paren > 0) return false; // nationally only the area code is parenthesised
  if (isNanp(groups)) return true;
  if (digits[0] !== '0' || digits[1] === '0' || digits.length < 10 || digits.length > 11) return false;
  // Trunk '0' + area code (2–5 digits), then subscriber groups: "020 7946 0958", "07700 900123", "030 12345678".
  return groups.length <= 5 && groups[0].length <= 5 && groups.every((g) => g.length >= 2 && g.length <= 8);
}

/** Tries the candidate, then the candidate without trailing space-separated groups ("… 0958 2 times"). */
function accept(m: RegExpExecArray): Span | null {
  let s = m[0];
  for (let tries = 0; tries < 4; tries++) {
    if (isPhone(s)) return { start: m.index, end: m.index + s.length };
    const cut = s.lastIndexOf(' ');
    if (cut <= 0) return null;
    s = s.slice(0, cut).replace(/[ .\-]+$/, '');
    if (s.endsWith(')')) return null;
  }
  return null;
}

export const phoneDetectors: readonly Detector[] = [{ kind: 'phone', hints: H_PHONE, regex: PHONE_RE, priority: 40, accept }];
