import { AirlockError, ErrorCodes } from '../../core/errors.ts';

/** A refusal the client may see. Reasons name what was wrong, never the token itself. */
export function refuse(reason: string, cause?: unknown): AirlockError {
  return new AirlockError(ErrorCodes.authFailed, reason, { expose: true, cause });
}

/** Untrusted text (issuer, kid, typ from an unverified token) made safe and short for an error message. */
export function shown(value: unknown, max = 80): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}
