import { H_IPV4 } from '../hints.ts';
import type { Detector, Span } from '../types.ts';

/**
 * IPv4 dotted-quad addresses (RFC 791 / inet_aton's strict four-part form): octets 0–255 without
 * leading zeros. A following ':port' or '/prefix' is left visible. Four-part version numbers
 * ("v1.2.3.4", "version 1.2.3.4") are told apart by the word before them; OIDs and longer dotted
 * runs by the look-around.
 */
const IPV4_RE = /(?<![\w.\-])\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\w\-]|\.\d)/g;

/** A word (within a few characters before the match) that marks a version, build or release number. */
const VERSION_BEFORE_RE = /(?:\bv|\bver|version|release|build|firmware|rev|revision|tag|update|upgrade[ds]?|package|image)\s*[:=]?\s*$/i;

/** Each of the four dot-separated parts of `s` is 0–255 without a leading zero (s is digits and dots). */
function octetsValid(s: string): boolean {
  let value = 0;
  let digits = 0;
  let parts = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 46;
    if (c === 46) {
      if (digits === 0 || value > 255) return false;
      parts++;
      value = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits === 1 && value === 0) return false; // leading zero
      value = value * 10 + (c - 48);
      if (++digits > 3) return false;
    } else return false;
  }
  return parts === 4;
}

export function isIpv4(s: string): boolean {
  return octetsValid(s);
}

function accept(m: RegExpExecArray, text: string): Span | null {
  if (!octetsValid(m[0])) return null;
  const start = m.index;
  if (start > 0) {
    const before = text.slice(Math.max(0, start - 16), start);
    // "Chrome/120.0.0.0": a product/version token (RFC 9110 §10.1.5), unlike "http://10.0.0.1".
    if (VERSION_BEFORE_RE.test(before) || /[A-Za-z]\/$/.test(before)) return null;
  }
  return { start, end: start + m[0].length };
}

export const ipv4Detectors: readonly Detector[] = [{ kind: 'ipv4', hints: H_IPV4, regex: IPV4_RE, priority: 20, accept }];
