import { createHmac } from 'node:crypto';
import type { MaskStrategy } from './types.ts';

/**
 * Replacement text per strategy:
 *   redact  → [EMAIL]
 *   partial → [CREDIT_CARD ****1111] (last four digits, as PCI DSS 3.4 allows to display),
 *             [EMAIL]@example.com (domain kept); other kinds fall back to redact
 *   hash    → [EMAIL:1f3a9c2b], the first 8 hex digits of HMAC-SHA256(sessionKey, value) over the exact
 *             matched text (UTF-8), so "4111 1111 1111 1111" and "4111111111111111" hash differently:
 *             equal values stay equal within a session (joins, group-bys stay readable) and are
 *             unlinkable across sessions with different keys. 32 bits is a correlation aid, not an
 *             identifier; collisions are possible in large result sets.
 * Every replacement starts with '[' + upper-case kind, which the detectors never match again.
 */
export type Formatter = (kind: string, value: string) => string;

const labels = new Map<string, string>();

function label(kind: string): string {
  let l = labels.get(kind);
  if (l === undefined) {
    l = kind.toUpperCase();
    if (labels.size < 1024) labels.set(kind, l);
  }
  return l;
}

const redactions = new Map<string, string>();

/** "[KIND]", interned: column-masked values repeat it for every row. */
function redact(kind: string): string {
  let r = redactions.get(kind);
  if (r === undefined) {
    r = `[${label(kind)}]`;
    if (redactions.size < 1024) redactions.set(kind, r);
  }
  return r;
}

function partial(kind: string, value: string): string {
  if (kind === 'credit_card') {
    const digits = value.replace(/\D+/g, '');
    // Only for a plausible PAN: showing the "last 4" of a short value would show most of it.
    if (digits.length >= 12) return `[${label(kind)} ****${digits.slice(-4)}]`;
  } else if (kind === 'email') {
    const at = value.lastIndexOf('@');
    const domain = at === -1 ? '' : value.slice(at + 1);
    if (domain !== '' && /^[A-Za-z0-9.\-]+$/.test(domain)) return `[${label(kind)}]@${domain}`;
  }
  return redact(kind);
}

export function makeFormatter(strategy: MaskStrategy, sessionKey: Buffer | undefined): Formatter {
  switch (strategy) {
    case 'redact':
      return redact;
    case 'partial':
      return partial;
    case 'hash': {
      if (!Buffer.isBuffer(sessionKey) || sessionKey.length === 0) {
        throw new Error("mask: strategy 'hash' needs a non-empty sessionKey Buffer");
      }
      const key = Buffer.from(sessionKey); // a copy: later changes by the caller must not change tokens
      return (kind, value) => {
        const digest = createHmac('sha256', key).update(value, 'utf8').digest('hex');
        return `[${label(kind)}:${digest.slice(0, 8)}]`;
      };
    }
    default:
      throw new Error(`mask: unknown strategy ${JSON.stringify(strategy)} (expected redact, partial or hash)`);
  }
}
