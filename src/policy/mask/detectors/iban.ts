import { H_IBAN } from '../hints.ts';
import type { Detector, Span } from '../types.ts';

/**
 * IBANs (ISO 13616): country code, two check digits, a BBAN of country-specific length; electronic
 * form (no spaces) or print form (groups of four). Validated by the country length table and the
 * ISO 7064 MOD 97-10 check (the rearranged number mod 97 must be 1).
 */
const IBAN_RE = /(?<![\w\-])([A-Z]{2})(\d{2})((?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?)(?![\w\-])/g;

/** Total IBAN length per country (SWIFT IBAN registry). */
const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BR: 29, BY: 28, CH: 21,
  CR: 22, CY: 28, CZ: 24, DE: 22, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18, FO: 18, FR: 27,
  GB: 22, GE: 22, GI: 23, GL: 18, GR: 27, GT: 28, HR: 21, HU: 28, IE: 22, IL: 23, IQ: 23, IS: 26,
  IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LI: 21, LT: 20, LU: 20, LV: 21, MC: 27, MD: 24, ME: 22,
  MK: 19, MR: 27, MT: 31, MU: 30, NL: 18, NO: 15, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24,
  RS: 22, SA: 24, SE: 24, SI: 19, SK: 24, SM: 27, TN: 24, TR: 26, UA: 29, VA: 22, VG: 24, XK: 20,
};

/** ISO 7064 MOD 97-10 over an IBAN without spaces: move the first four characters to the end, letters A=10 … Z=35. */
export function ibanChecksumValid(iban: string): boolean {
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let rem = 0;
  for (let i = 0; i < rearranged.length; i++) {
    const c = rearranged.charCodeAt(i);
    if (c >= 48 && c <= 57) rem = (rem * 10 + (c - 48)) % 97;
    else if (c >= 65 && c <= 90) rem = (rem * 100 + (c - 55)) % 97;
    else return false;
  }
  return rem === 1;
}

export function isIban(candidate: string): boolean {
  const iban = candidate.replaceAll(' ', '');
  const expected = IBAN_LENGTHS[iban.slice(0, 2)];
  return expected !== undefined && iban.length === expected && ibanChecksumValid(iban);
}

/**
 * The regex may run on into a following word in print form ("… 0130 00 ABCD"), so the candidate is cut
 * at the country's length; the cut must fall on the end of a group.
 */
function accept(m: RegExpExecArray): Span | null {
  const s = m[0];
  const expected = IBAN_LENGTHS[m[1]];
  if (expected === undefined) return null;
  let chars = 0;
  let end = 0;
  while (end < s.length && chars < expected) {
    if (s.charCodeAt(end) !== 32) chars++;
    end++;
  }
  if (chars !== expected || (end < s.length && s.charCodeAt(end) !== 32)) return null;
  const iban = s.slice(0, end);
  // Print form: if spaced at all, every group but the last has four characters.
  if (iban.includes(' ')) {
    const groups = iban.split(' ');
    for (let i = 0; i < groups.length - 1; i++) if (groups[i].length !== 4) return null;
  }
  return ibanChecksumValid(iban.replaceAll(' ', '')) ? { start: m.index, end: m.index + end } : null;
}

export const ibanDetectors: readonly Detector[] = [{ kind: 'iban', hints: H_IBAN, regex: IBAN_RE, priority: 70, accept }];
