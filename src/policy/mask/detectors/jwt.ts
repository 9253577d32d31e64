import { H_JWT } from '../hints.ts';
import type { Detector, Span } from '../types.ts';

/**
 * JSON Web Tokens in JWS compact serialization (RFC 7515 §7.1): three base64url parts joined by '.';
 * the header must decode to a JSON object with a string "alg" (RFC 7515 §4.1.1). The signature part
 * may be empty (unsecured JWTs, RFC 7519 §6). A JWE (five parts) is matched on its first three.
 */
const JWT_RE = /(?<![\w\-])eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{2,}\.[A-Za-z0-9_\-]*/g;

export function jwtHeaderValid(header: string): boolean {
  try {
    const json: unknown = JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
    return typeof json === 'object' && json !== null && typeof (json as { alg?: unknown }).alg === 'string';
  } catch {
    return false;
  }
}

function accept(m: RegExpExecArray): Span | null {
  const s = m[0];
  return jwtHeaderValid(s.slice(0, s.indexOf('.'))) ? { start: m.index, end: m.index + s.length } : null;
}

export const jwtDetectors: readonly Detector[] = [{ kind: 'jwt', hints: H_JWT, regex: JWT_RE, priority: 90, accept }];
