import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Identity } from '../core/identity.ts';
import type { TokenService } from '../identity/tokens.ts';

export const SESSION_COOKIE = 'airlock_session';

/**
 * After a browser login (a pasted token, OIDC or SAML) the gateway issues a token of its own for the identity
 * and keeps it in an HttpOnly, SameSite=Strict cookie; the API accepts it like a bearer token. That token is for
 * the console and API only (a database or SSH login refuses it), lives at most 8 hours and never past the
 * credential it came from, and dies with it (TokenService.issueWebSession). Revoking it, or the token it came
 * from (`airlock tokens revoke`), ends the web session immediately.
 */
export async function startWebSession(reply: FastifyReply, req: FastifyRequest, tokens: TokenService, identity: Identity): Promise<void> {
  const { token, record } = await tokens.issueWebSession(identity, `web login via ${identity.authMethod}`);
  const secure = req.protocol === 'https' ? '; Secure' : '';
  const maxAge = Math.max(0, Math.floor((record.expiresAt - Date.now()) / 1000));
  reply.header('set-cookie', `${SESSION_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAge}${secure}`);
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
