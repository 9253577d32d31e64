import { H_CARD } from '../hints.ts';
import type { Detector, Span } from '../types.ts';
import { luhnValid } from './luhn.ts';

/**
 * Payment card numbers (PANs, ISO/IEC 7812): 13–19 digits, plain or grouped with one consistent
 * separator (' ' or '-'), Luhn-valid, with an issuer prefix (IIN) and length of a known network.
 * A grouped candidate whose grouping continues past either end (separator then digit) is rejected,
 * so a card is never cut out of a longer grouped number; a plain one may sit next to other numbers,
 * in a list ("{4111…,5555…}", CSV) or before a decimal fraction ("4111….00"). A comma never joins
 * digit runs of 13 or more into one number (thousands groups have three digits), so it is a boundary.
 */
const CARD_RE = /(?<![\w.+\-])\d(?:[ \-]?\d){12,18}(?!\w)/g;

/** [prefix range low, high (inclusive, same number of digits), allowed lengths]. */
type Range = readonly [low: number, high: number, lengths: readonly number[]];

const L16_19 = [16, 17, 18, 19];
const IIN_RANGES: readonly Range[] = [
  [4, 4, [13, 16, 19]], // Visa
  [51, 55, [16]], // Mastercard
  [2221, 2720, [16]], // Mastercard 2-series
  [34, 34, [15]], // American Express
  [37, 37, [15]],
  [6011, 6011, L16_19], // Discover
  [644, 649, L16_19],
  [65, 65, L16_19],
  [300, 305, [14, 15, 16, 17, 18, 19]], // Diners Club
  [36, 36, [14, 15, 16, 17, 18, 19]],
  [38, 39, [14, 16, 17, 18, 19]],
  [3528, 3589, L16_19], // JCB
  [62, 62, L16_19], // UnionPay
  [2200, 2204, [16, 17, 18, 19]], // Mir
  [5018, 5018, [12, 13, 14, 15, 16, 17, 18, 19]], // Maestro
  [5020, 5020, [12, 13, 14, 15, 16, 17, 18, 19]],
  [5038, 5038, [12, 13, 14, 15, 16, 17, 18, 19]],
  [5893, 5893, [12, 13, 14, 15, 16, 17, 18, 19]],
  [6304, 6304, [12, 13, 14, 15, 16, 17, 18, 19]],
  [6759, 6759, [12, 13, 14, 15, 16, 17, 18, 19]],
  [6761, 6763, [12, 13, 14, 15, 16, 17, 18, 19]],
];

export function knownIin(digits: string): boolean {
  for (const [low, high, lengths] of IIN_RANGES) {
    if (!lengths.includes(digits.length)) continue;
    const width = String(low).length;
    const prefix = Number(digits.slice(0, width));
    if (prefix >= low && prefix <= high) return true;
  }
  return false;
}

/** The separator of a card candidate ('' when plain), or null when it mixes separators. */
function separatorOf(s: string): string | null {
  let sep = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch >= '0' && ch <= '9') continue;
    if (sep === '') sep = ch;
    else if (ch !== sep) return null;
  }
  return sep;
}

/** After a ' ' separator a digit continues the grouping; after a '-' any word character does (UUIDs). */
function continues(sep: string, ch: string | undefined): boolean {
  return ch !== undefined && (sep === ' ' ? ch >= '0' && ch <= '9' : /\w/.test(ch));
}

/** Printed groupings: 4-4-4-4(-3), i.e. fours with a shorter last group, or Amex/Diners 4-6-5 / 4-6-4. */
function plausibleGrouping(s: string, sep: string): boolean {
  const groups = s.split(sep);
  if (groups.length === 3 && groups[0].length === 4 && groups[1].length === 6 && (groups[2].length === 5 || groups[2].length === 4)) {
    return true;
  }
  const last = groups[groups.length - 1].length;
  return last >= 1 && last <= 4 && groups.slice(0, -1).every((g) => g.length === 4);
}

/** Whether a whole string (digits with optional consistent ' '/'-' separators) is a card number. */
export function isCardNumber(s: string): boolean {
  const sep = separatorOf(s);
  if (sep === null) return false;
  if (sep !== '' && !plausibleGrouping(s, sep)) return false;
  const digits = sep === '' ? s : s.split(sep).join('');
  return /^\d{13,19}$/.test(digits) && knownIin(digits) && luhnValid(digits);
}

function accept(m: RegExpExecArray, text: string): Span | null {
  const s = m[0];
  const start = m.index;
  const end = start + s.length;
  const sep = separatorOf(s);
  if (sep === null) return null;
  // A grouping that continues past either end (UUIDs, long account numbers) is not a card.
  if (sep !== '' && ((text[end] === sep && continues(sep, text[end + 1])) || (text[start - 1] === sep && continues(sep, text[start - 2])))) {
    return null;
  }
  return isCardNumber(s) ? { start, end } : null;
}

export const creditCardDetectors: readonly Detector[] = [{ kind: 'credit_card', hints: H_CARD, regex: CARD_RE, priority: 60, accept }];
