import { H_PEM } from '../hints.ts';
import type { Detector, Span } from '../types.ts';

/**
 * Private keys in PEM-style armor (RFC 7468 §10–11; OpenSSH and PGP use the same framing): the whole
 * block from '-----BEGIN … PRIVATE KEY-----' through the matching END line. When the END line is
 * missing (output cut by a row or byte limit) the rest of the text is masked: a partial key is still a key.
 */
const PEM_BEGIN_RE = /-----BEGIN ((?:[A-Z0-9]+ ){0,3})PRIVATE KEY( BLOCK)?-----/g;

function accept(m: RegExpExecArray, text: string): Span | null {
  const start = m.index;
  const endLine = `-----END ${m[1]}PRIVATE KEY${m[2] ?? ''}-----`;
  const at = text.indexOf(endLine, start + m[0].length);
  const end = at === -1 ? text.length : at + endLine.length;
  // Skip what we consumed so a BEGIN inside the block is not matched again.
  PEM_BEGIN_RE.lastIndex = end;
  return { start, end };
}

export const privateKeyDetectors: readonly Detector[] = [
  { kind: 'private_key', hints: H_PEM, regex: PEM_BEGIN_RE, priority: 100, accept },
];
