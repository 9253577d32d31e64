import Fastify, { type FastifyInstance } from 'fastify';
import { AirlockError, ErrorCodes, clientMessage, isAirlockError } from '../core/errors.ts';
import { rolesOf } from '../identity/roles.ts';
import { CONTROL_PLANE } from '../identity/tokens.ts';
import type { ApiContext } from './context.ts';
import { reviewRoutes } from './reviews.ts';
import { oidcLoginRoutes, oidcLoginSettings } from './oidc-login.ts';
import { samlRoutes } from './saml.ts';
import { sessionRoutes } from './sessions.ts';
import { tokenRoutes } from './tokens.ts';
import { evidenceRoutes } from './evidence.ts';
import { openApiDocument, trackRoutes } from './openapi.ts';
import { identitySchema, object } from './schemas.ts';
import { sessionCookie } from './web-session.ts';
import { authenticateThrottled } from './throttled-auth.ts';
import { authRoutes } from './auth.ts';
import { connectionRoutes } from './connections.ts';
import { controlRoutes } from './control.ts';
import { healthRoutes } from './health.ts';
import { sessionLiveRoutes } from './session-live.ts';
import { closeStreamsOnShutdown } from './sse.ts';
import { webStaticRoutes } from './web-static.ts';

const STATUS: Record<string, number> = {
  [ErrorCodes.authFailed]: 401,
  [ErrorCodes.forbidden]: 403,
  [ErrorCodes.notFound]: 404,
  [ErrorCodes.unknownConnection]: 404,
  [ErrorCodes.usage]: 400,
  [ErrorCodes.config]: 400,
  [ErrorCodes.store]: 503,
};

/**
 * The HTTP control plane. Every route declares the roles allowed to call it (`config.roles`); a route
 * that declares none is refused for everyone, so forgetting a check fails closed.
 */
export async function buildApi(ctx: ApiContext): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: 1024 * 1024,
    // Bad input is refused with the reason, never silently dropped (removeAdditional) or turned into an array.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, useDefaults: true, allErrors: false } },
  });
  trackRoutes(app);
  closeStreamsOnShutdown(app);

  app.addHook('onRequest', async (req) => {
    const { roles: allowed, alsoAccepts } = req.routeOptions.config ?? {};
    if (allowed === 'public') return;
    if (!allowed || allowed.length === 0) throw new AirlockError(ErrorCodes.forbidden, 'forbidden', { expose: true });
    const header = req.headers.authorization ?? '';
    const credential = /^Bearer\s+(\S+)$/i.exec(header)?.[1] ?? sessionCookie(req);
    if (!credential) throw new AirlockError(ErrorCodes.authFailed, 'missing bearer token', { expose: true });
    if (alsoAccepts?.(credential)) return;
    const identity = await authenticateThrottled(ctx, credential, req.ip);
    const roles = rolesOf(identity, ctx.config.identity.roles);
    if (!allowed.some((r) => roles.has(r))) throw new AirlockError(ErrorCodes.forbidden, `this needs one of the roles: ${allowed.join(', ')}`, { expose: true });
    const context = { protocol: CONTROL_PLANE, clientAddress: req.ip };
    req.caller = { identity, roles, stillValid: () => ctx.authenticator.authenticate(credential, context).then(() => true, () => false) };
  });

  app.setErrorHandler((err, req, reply) => {
    if (isAirlockError(err)) {
      const status = STATUS[err.code] ?? 500;
      if (status === 401) reply.header('www-authenticate', 'Bearer');
      return reply.status(status).send({ error: err.code, message: clientMessage(err) });
    }
    const e = err as { statusCode?: number; validation?: unknown; message: string };
    if (e.validation || (e.statusCode && e.statusCode < 500)) return reply.status(e.statusCode ?? 400).send({ error: ErrorCodes.usage, message: e.message });
    ctx.log.error({ err: e.message, url: req.url }, 'api error');
    return reply.status(500).send({ error: 'AIRLOCK_ERR_INTERNAL', message: 'internal error' });
  });
  app.setNotFoundHandler((_req, reply) => reply.status(404).send({ error: ErrorCodes.notFound, message: 'no such endpoint' }));

  app.get('/api/health', { config: { roles: 'public' }, schema: { description: 'Liveness (same as /healthz)', returns: object({ status: { const: 'ok' } }) } }, async () => ({ status: 'ok' }));
  app.get('/api/openapi.json', { config: { roles: 'public' }, schema: { description: 'This document (OpenAPI 3.1)', returns: { type: 'object' } } }, async () => openApiDocument(app));
  app.get('/api/me', { config: { roles: ['user'] }, schema: { description: 'Who the caller is: subject, the groups of the credential presented, and the roles they give', returns: identitySchema } }, async (req) => ({
    ...req.caller!.identity,
    roles: [...req.caller!.roles],
  }));
  await app.register(healthRoutes(ctx));
  await app.register(authRoutes(ctx));
  await app.register(sessionRoutes(ctx));
  await app.register(sessionLiveRoutes(ctx));
  await app.register(connectionRoutes(ctx));
  await app.register(reviewRoutes(ctx));
  await app.register(tokenRoutes(ctx));
  await app.register(controlRoutes(ctx));
  await app.register(evidenceRoutes(ctx));
  if (oidcLoginSettings(ctx.config)) await app.register(oidcLoginRoutes(ctx));
  if (ctx.config.identity.saml) await app.register(samlRoutes(ctx));
  await app.register(webStaticRoutes(ctx));
  return app;
}
