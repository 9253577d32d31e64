import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Identity } from '../core/identity.ts';
import type { TokenService } from '../identity/tokens.ts';

export const SESSION_COOKIE = 'airlock_session';
const WEB_SESSION_MS = 8 * 3600_000;

/**
 * After a browser login (OIDC or SAML) the gateway issues a short-lived token of its own for the identity
 * and keeps it in an HttpOnly, SameSite=Strict cookie; the API accepts it like a bearer token. Revoking the
 * token (or `airlock tokens revoke`) ends the web session immediately.
 */
export async function startWebSession(reply: FastifyReply, req: FastifyRequest, tokens: TokenService, identity: Identity): Promise<void> {
  const { token } = await tokens.issue({
    subject: identity.subject,
    groups: identity.groups,
    ttlMs: WEB_SESSION_MS,
    service: identity.kind === 'service',
    description: `web login via ${identity.authMethod}`,
  });
  const secure = req.protocol === 'https' ? '; Secure' : '';
  reply.header('set-cookie', `${SESSION_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${WEB_SESSION_MS / 1000}${secure}`);
}

export function sessionCookie(req: FastifyRequest): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === SESSION_COOKIE) return v.join('=');
  }
  return undefined;
}

/** Tells the browser to drop the session cookie. */
export function clearWebSession(reply: FastifyReply, req: FastifyRequest): void {
  const secure = req.protocol === 'https' ? '; Secure' : '';
  reply.header('set-cookie', `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0${secure}`);
}
