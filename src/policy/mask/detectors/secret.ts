import { H_ASSIGN, H_HTTP_AUTH, H_TOKEN, H_URI_CRED } from '../hints.ts';
import type { Detector, Span } from '../types.ts';

/**
 * Secrets: well-known credential formats masked whole, and credential-named keys whose value alone is
 * masked (`password=…`, `"api_key": "…"`, `secret: …`, SQL `PASSWORD '…'`, `scheme://user:pass@host`,
 * `Bearer …`).
 */

// AWS access key ids: 'AKIA' (long-term) / 'ASIA' (STS) + 16 upper-case base32 characters (AWS IAM identifiers).
const AWS_RE = /(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])/g;

// GitHub tokens: ghp_ (classic PAT), gho_ (OAuth), ghu_/ghs_ (app user/server), ghr_ (refresh): 36+ base62;
// fine-grained PATs: github_pat_ + 22 + '_' + 59 characters.
const GITHUB_RE = /(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,244})(?![A-Za-z0-9_])/g;

// Slack tokens: xoxb- (bot), xoxp- (user), xoxa-/xoxr- (app/refresh), xoxs- (session).
const SLACK_RE = /(?<![A-Za-z0-9_\-])xox[abprs]-[A-Za-z0-9\-]{10,250}(?![A-Za-z0-9_\-])/g;

/**
 * key (=|:) value. The key is a word ending in a credential name, optionally quoted (JSON/YAML); the
 * value is double-quoted, single-quoted or bare. Groups: 1 key, 2 "…" value, 3 '…' value, 4 bare value.
 */
const ASSIGN_RE =
  /(?<![A-Za-z0-9_\[\-])([A-Za-z0-9_.\-]{0,40}?(?:password|passwd|passphrase|pwd|secret|token|api[_\-]?key|access[_\-]?key|secret[_\-]?key|private[_\-]?key|client[_\-]?secret))["']?[ \t]{0,4}(?::=|=>|[:=])[ \t]{0,4}(?:"((?:[^"\\\r\n]|\\.){1,512})"|'((?:[^'\\\r\n]|\\.){1,512})'|([^\s"'`,;&)}\]<>]{1,512}))/gi;

// SQL role passwords: PostgreSQL CREATE/ALTER ROLE|USER … PASSWORD '…', MySQL … IDENTIFIED BY '…'.
const SQL_PASSWORD_RE = /(?<![A-Za-z0-9_])(?:password|identified[ \t]+by)[ \t]+'((?:[^'\\\r\n]|''|\\.){1,512})'/gi;

// HTTP credentials (RFC 9110 §11.6.2): "Bearer <token68>" (RFC 6750), "Basic <base64>" (RFC 7617).
const HTTP_AUTH_RE = /(?<![A-Za-z0-9_\-])(?:Bearer|Basic)[ \t]+([A-Za-z0-9._~+\/\-]{8,}=*)(?![A-Za-z0-9._~+\/=\-])/g;

// RFC 3986 userinfo: scheme://user:password@host — the password part.
const URI_CRED_RE = /(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]{1,20}:\/\/[^\s:\/@]{1,128}:([^\s\/@]{1,256})@/g;

/** An already-masked value: "[KIND]", "[KIND:hash]", "[KIND ****1234]" (sticky: tested at an offset). */
const MASK_TOKEN_RE = /\[[A-Z][A-Z0-9_]*(?:[: ][^\]\s]*)?\]/y;
const NOT_A_SECRET = new Set(['null', 'nil', 'none', 'true', 'false', 'undefined', 'empty', 'required', 'optional', 'string']);
// Bind parameters ($1, ?, :name, %s), template references (${VAR}, {{ var }}, %(name)s) and masks (****, xxxx).
const PLACEHOLDER_RE = /^(?:\$\d+|\?|%s|%\([A-Za-z_]+\)s|\$\{.*|\{\{.*|\*+|x+|<[^>]*>|:[A-Za-z_]\w*)$/;

/** Whether a mask token starts at `text[at]` (a bare value stops at ']', so the value alone is not enough). */
export function isMaskTokenAt(text: string, at: number): boolean {
  MASK_TOKEN_RE.lastIndex = at;
  return MASK_TOKEN_RE.test(text);
}

function plausibleValue(value: string, key: string): boolean {
  if (value.length === 0) return false;
  if (NOT_A_SECRET.has(value.toLowerCase()) || PLACEHOLDER_RE.test(value)) return false;
  // Shell 'PWD=/home/…' is the working directory, not a password.
  if (key.toLowerCase() === 'pwd' && (value[0] === '/' || value[0] === '~')) return false;
  return true;
}

function wholeMatch(m: RegExpExecArray): Span {
  return { start: m.index, end: m.index + m[0].length };
}

function acceptAssign(m: RegExpExecArray, text: string): Span | null {
  const quoted = m[2] ?? m[3];
  const value = quoted ?? m[4];
  if (value === undefined || !plausibleValue(value, m[1])) return null;
  const end = m.index + m[0].length - (quoted === undefined ? 0 : 1);
  const start = end - value.length;
  return isMaskTokenAt(text, start) ? null : { start, end };
}

function acceptSqlPassword(m: RegExpExecArray, text: string): Span | null {
  const value = m[1];
  if (!plausibleValue(value, 'password')) return null;
  const end = m.index + m[0].length - 1;
  const start = end - value.length;
  return isMaskTokenAt(text, start) ? null : { start, end };
}

function acceptHttpAuth(m: RegExpExecArray): Span | null {
  const end = m.index + m[0].length;
  return { start: end - m[1].length, end };
}

function acceptUriCred(m: RegExpExecArray, text: string): Span | null {
  const end = m.index + m[0].length - 1;
  const start = end - m[1].length;
  return isMaskTokenAt(text, start) ? null : { start, end };
}

export const secretDetectors: readonly Detector[] = [
  { kind: 'secret', hints: H_TOKEN, regex: AWS_RE, priority: 80, accept: wholeMatch },
  { kind: 'secret', hints: H_TOKEN, regex: GITHUB_RE, priority: 80, accept: wholeMatch },
  { kind: 'secret', hints: H_TOKEN, regex: SLACK_RE, priority: 80, accept: wholeMatch },
  { kind: 'secret', hints: H_ASSIGN, regex: ASSIGN_RE, priority: 80, accept: acceptAssign },
  { kind: 'secret', hints: H_ASSIGN, regex: SQL_PASSWORD_RE, priority: 80, accept: acceptSqlPassword },
  { kind: 'secret', hints: H_HTTP_AUTH, regex: HTTP_AUTH_RE, priority: 80, accept: acceptHttpAuth },
  { kind: 'secret', hints: H_URI_CRED, regex: URI_CRED_RE, priority: 80, accept: acceptUriCred },
];
