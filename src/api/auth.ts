import type { FastifyPluginAsync } from 'fastify';
import { AirlockError, ErrorCodes } from '../core/errors.ts';
import { rolesOf } from '../identity/roles.ts';
import type { ApiContext } from './context.ts';
import { oidcLoginSettings } from './oidc-login.ts';
import { identitySchema, object } from './schemas.ts';
import { authenticateThrottled } from './throttled-auth.ts';
import { clearWebSession, sessionCookie, startWebSession } from './web-session.ts';

/**
 * How a browser signs in: the configured providers, and a pasted Airlock token exchanged for a web session.
 * The pasted token never goes into the cookie: the session gets a fresh short-lived token of its own, so
 * signing out (which revokes that one) leaves the pasted token usable where it came from.
 */
export function authRoutes(ctx: ApiContext): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/api/auth/providers',
      {
        config: { roles: 'public' },
        schema: {
          description: 'Sign-in methods of this gateway, for the login page',
          returns: object({
            token: { const: true },
            oidc: { oneOf: [{ type: 'null' }, object({ loginUrl: { type: 'string' } })] },
            saml: { oneOf: [{ type: 'null' }, object({ loginUrl: { type: 'string' } })] },
          }),
        },
      },
      async () => ({
        token: true,
        oidc: oidcLoginSettings(ctx.config) ? { loginUrl: '/auth/oidc/login' } : null,
        saml: ctx.config.identity.saml ? { loginUrl: '/auth/saml/login' } : null,
      }),
    );

    app.post(
      '/api/web-session',
      {
        config: { roles: 'public' },
        schema: {
          description: 'Starts a browser session (HttpOnly cookie) from a pasted token; 401 when the token is not valid',
          body: { type: 'object', required: ['token'], additionalProperties: false, properties: { token: { type: 'string', minLength: 1, maxLength: 8192 } } },
          returns: object({ me: identitySchema }),
        },
      },
      async (req, reply) => {
        const { token } = req.body as { token: string };
        let identity;
        try {
          identity = await authenticateThrottled(ctx, token, req.ip);
        } catch {
          throw new AirlockError(ErrorCodes.authFailed, 'this token is not valid (expired, revoked or mistyped)', { expose: true });
        }
        await startWebSession(reply, req, ctx.tokens, identity);
        await ctx.store.appendAudit({ time: Date.now(), subject: identity.subject, action: 'login.token', target: identity.credentialId ?? null, detail: { clientAddress: req.ip } });
        reply.header('cache-control', 'no-store');
        return { me: { ...identity, roles: [...rolesOf(identity, ctx.config.identity.roles)] } };
      },
    );

    app.post(
      '/api/web-session/logout',
      { config: { roles: ['user'] }, schema: { description: 'Ends the browser session: revokes its token and clears the cookie (204)' } },
      async (req, reply) => {
        const cookie = sessionCookie(req);
        if (cookie) {
          const id = await ctx.tokens.verify(cookie).then((i) => i.credentialId, () => undefined);
          if (id) await ctx.tokens.revoke(id);
        }
        clearWebSession(reply, req);
        return reply.status(204).send();
      },
    );
  };
}
