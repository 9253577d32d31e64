import { H_IPV6 } from '../hints.ts';
import type { Detector, Span } from '../types.ts';
import { isIpv4 } from './ipv4.ts';

/**
 * IPv6 addresses in RFC 4291 §2.2 text forms: eight hex groups, '::' compression, and an embedded
 * dotted IPv4 tail. The regex collects a hex/colon run; the validator parses it. Times (12:30:45) and
 * MAC addresses have no '::' and too few groups. '::1'-style single-group forms and runs without a
 * decimal digit (C++ 'std::', Postgres '::date' casts, 'dead::beef') are not treated as addresses.
 */
const IPV6_RE = /(?<![\w:.])(?:[0-9A-Fa-f]{1,4}|(?=::))(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.\d{1,3}){0,3}(?![\w:]|\.\d)/g;

function hexGroup(g: string): boolean {
  return /^[0-9A-Fa-f]{1,4}$/.test(g);
}

export function isIpv6(s: string): boolean {
  if (!/\d/.test(s)) return false;
  const halves = s.split('::');
  if (halves.length > 2) return false;
  const groups: string[] = [];
  for (const half of halves) if (half !== '') groups.push(...half.split(':'));
  let count = 0;
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i];
    if (i === groups.length - 1 && g.includes('.')) {
      if (!isIpv4(g)) return false;
      count += 2;
    } else if (hexGroup(g)) count++;
    else return false;
  }
  if (count < 2) return false;
  return halves.length === 2 ? count < 8 : count === 8;
}

function accept(m: RegExpExecArray): Span | null {
  return isIpv6(m[0]) ? { start: m.index, end: m.index + m[0].length } : null;
}

export const ipv6Detectors: readonly Detector[] = [{ kind: 'ipv6', hints: H_IPV6, regex: IPV6_RE, priority: 30, accept }];
