import type { FastifyPluginAsync } from 'fastify';
import { clientMessage } from '../core/errors.ts';
import { SamlServiceProvider, MAX_RESPONSE_BYTES } from '../identity/saml/sp.ts';
import type { ApiContext } from './context.ts';
import { startWebSession } from './web-session.ts';

/** Form body limit for the ACS: the base64 SAMLResponse plus RelayState and some slack. */
const FORM_LIMIT = Math.ceil(MAX_RESPONSE_BYTES / 3) * 4 * 2 + 8 * 1024;

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function failurePage(message: string): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Login failed</title></head>
<body><h1>Login failed</h1><p>${escapeHtml(message)}</p><p><a href="/auth/saml/login">Try again</a></p></body></html>
`;
}

/**
 * Browser login through a SAML 2.0 IdP (registered only when `identity.saml` is configured). All routes
 * are public: the metadata is public by nature, login only redirects, and the ACS authenticates by the
 * signed assertion itself. A successful login starts a web session (HttpOnly cookie) and redirects.
 */
export function samlRoutes(ctx: ApiContext, sp: SamlServiceProvider = new SamlServiceProvider(ctx.config.identity.saml!, ctx.store)): FastifyPluginAsync {
  return async (app) => {
    // Encapsulated in this plugin: only the ACS takes form bodies.
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_LIMIT }, (_req, body, done) => {
      try {
        done(null, Object.fromEntries(new URLSearchParams(body as string)));
      } catch (err) {
        done(err as Error, undefined);
      }
    });

    app.get('/auth/saml/metadata', { config: { roles: 'public' }, schema: { description: 'SAML SP metadata (XML) for the IdP administrator' } }, async (_req, reply) =>
      reply.type('application/samlmetadata+xml; charset=utf-8').header('cache-control', 'no-cache').send(sp.metadata()),
    );

    app.get(
      '/auth/saml/login',
      {
        config: { roles: 'public' },
        schema: {
          description: 'Start a SAML login: redirects to the IdP (optional ?next=/local/path to come back to)',
          querystring: { type: 'object', properties: { next: { type: 'string', maxLength: 512 } } },
        },
      },
      async (req, reply) => {
        const { next } = (req.query ?? {}) as { next?: string };
        return reply.header('cache-control', 'no-store').redirect(await sp.loginUrl(next), 302);
      },
    );

    app.post(
      '/auth/saml/acs',
      {
        config: { roles: 'public' },
        schema: {
          description: 'SAML Assertion Consumer Service (HTTP-POST binding); a refused login answers a page saying why (401)',
          // Missing fields get the login failure page from the SP, which says what is wrong; only the shape is checked here.
          body: { type: 'object', properties: { SAMLResponse: { type: 'string', maxLength: FORM_LIMIT }, RelayState: { type: 'string', maxLength: 2048 } } },
        },
      },
      async (req, reply) => {
        const body = (req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, unknown>;
        let login;
        try {
          login = await sp.acs(body.SAMLResponse, body.RelayState);
        } catch (err) {
          const message = clientMessage(err, 'login failed');
          // The underlying library error helps whoever configures the IdP; it goes to the log only.
          const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message.slice(0, 300) : undefined;
          ctx.log.info({ reason: message, cause, clientAddress: req.ip }, 'saml login refused');
          return reply.status(401).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(failurePage(message));
        }
        await startWebSession(reply, req, ctx.tokens, login.identity);
        await ctx.store.appendAudit({
          time: Date.now(),
          subject: login.identity.subject,
          action: 'login.saml',
          target: login.identity.credentialId ?? null,
          detail: { groups: login.identity.groups, clientAddress: req.ip },
        });
        return reply.header('cache-control', 'no-store').redirect(login.returnTo, 302);
      },
    );
  };
}
