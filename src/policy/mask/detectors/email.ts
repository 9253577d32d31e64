import { H_EMAIL } from '../hints.ts';
import type { Detector, Span } from '../types.ts';

/**
 * Email addresses: RFC 5321 dot-atom local part (≤ 64 chars) and a DNS host name with an alphabetic
 * TLD. Quoted local parts and IP-literal domains are not handled (rare in data, costly to match).
 * Bounded quantifiers and the look-behind (no start inside a local part) keep the match linear.
 */
const EMAIL_RE =
  /(?<![\w.%+\-@])[A-Za-z0-9_%+\-](?:[A-Za-z0-9._%+\-]{0,62}[A-Za-z0-9_%+\-])?@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,63}(?![\w\-])/g;

/** Image/asset names like `logo@2x.png` or `icon@dark.svg` look like addresses; none of these is a TLD. */
const FILE_EXTENSIONS = new Set(['png', 'jpg', 'jpeg', 'gif', 'svg', 'webp', 'ico', 'bmp', 'tif', 'tiff', 'css', 'js', 'json', 'txt', 'pdf', 'html', 'htm']);

/**
 * `scheme://user:secret@host`: what precedes '@' is a password in URI userinfo (RFC 3986 §3.2.1), not
 * a mailbox; the secret detector masks it.
 */
function inUriUserinfo(text: string, start: number): boolean {
  const scheme = text.lastIndexOf('://', start);
  if (scheme === -1) return false;
  const userinfo = text.slice(scheme + 3, start);
  return userinfo.includes(':') && !/[\s\/@]/.test(userinfo);
}

function accept(m: RegExpExecArray, text: string): Span | null {
  const s = m[0];
  if (s.includes('..') || inUriUserinfo(text, m.index)) return null;
  const tld = s.slice(s.lastIndexOf('.') + 1).toLowerCase();
  if (FILE_EXTENSIONS.has(tld)) return null;
  return { start: m.index, end: m.index + s.length };
}

export const emailDetectors: readonly Detector[] = [{ kind: 'email', hints: H_EMAIL, regex: EMAIL_RE, priority: 55, accept }];
