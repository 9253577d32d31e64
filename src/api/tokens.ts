import type { FastifyPluginAsync } from 'fastify';
import { parseDuration } from '../core/duration.ts';
import type { ApiContext } from './context.ts';
import { apiActor } from './control.ts';
import { durationText, idParam, object } from './schemas.ts';

const tokenSchema = object({
  id: { type: 'string' }, subject: { type: 'string' }, groups: { type: 'array', items: { type: 'string' } }, kind: { enum: ['user', 'service'] },
  createdAt: { type: 'number' }, expiresAt: { type: 'number' }, revokedAt: { type: ['number', 'null'] }, description: { type: ['string', 'null'] },
});

/** Gateway-issued tokens: admins only. Secrets are shown once, at issue. */
export function tokenRoutes(ctx: ApiContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/api/tokens', { config: { roles: ['admin'] }, schema: { description: 'List tokens (never their secrets)', returns: object({ tokens: { type: 'array', items: tokenSchema } }) } }, async () => ({
      tokens: (await ctx.tokens.list()).map(({ secretHash: _h, ...t }) => t),
    }));
    app.post(
      '/api/tokens',
      {
        config: { roles: ['admin'] },
        schema: {
          description: 'Issue a token; its secret is in this answer only',
          returns: object({ token: { type: 'string' }, record: tokenSchema }),
          body: {
            type: 'object', required: ['subject'], additionalProperties: false,
            properties: {
              subject: { type: 'string', minLength: 1, maxLength: 128 }, groups: { type: 'array', maxItems: 100, items: { type: 'string', minLength: 1, maxLength: 200 } },
              ttl: { ...durationText, description: 'Lifetime, e.g. 1h, 30d (default 8h, or the identity.maxTokenTtl limit when lower; longer than that limit is refused)' },
              service: { type: 'boolean' }, description: { type: 'string', maxLength: 500 },
            },
          },
        },
      },
      async (req) => {
        const b = req.body as { subject: string; groups?: string[]; ttl?: string; service?: boolean; description?: string };
        const issued = await ctx.admin.issueToken(apiActor(req), { subject: b.subject, groups: b.groups ?? [], ttlMs: b.ttl === undefined ? undefined : parseDuration(b.ttl), service: b.service, description: b.description });
        const { secretHash: _h, ...record } = issued.record;
        return { token: issued.token, record };
      },
    );
    app.delete('/api/tokens/:id', { config: { roles: ['admin'] }, schema: { description: 'Revoke a token (404 when there is none to revoke); sessions it opened end within seconds', params: idParam, returns: object({ revoked: { type: 'boolean' } }) } }, async (req, reply) => {
      const { id } = req.params as { id: string };
      const ok = await ctx.admin.revokeToken(apiActor(req), id);
      return reply.status(ok ? 200 : 404).send({ revoked: ok });
    });
  };
}
