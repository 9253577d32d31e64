import { H_SSN } from '../hints.ts';
import type { Detector, Span } from '../types.ts';

/**
 * US Social Security numbers in the dashed AAA-GG-SSSS form. Per SSA rules no SSN has area 000, 666
 * or 900–999 (the 9xx range is ITINs / never issued), group 00 or serial 0000.
 */
const SSN_RE = /(?<![\w\-.\/])(\d{3})-(\d{2})-(\d{4})(?![\w\/]|[.\-]\d)/g;

export function isSsn(area: string, group: string, serial: string): boolean {
  return area !== '000' && area !== '666' && area[0] !== '9' && group !== '00' && serial !== '0000';
}

function accept(m: RegExpExecArray): Span | null {
  return isSsn(m[1], m[2], m[3]) ? { start: m.index, end: m.index + m[0].length } : null;
}

export const ssnDetectors: readonly Detector[] = [{ kind: 'ssn', hints: H_SSN, regex: SSN_RE, priority: 50, accept }];
