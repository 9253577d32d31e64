import type { FastifyPluginAsync } from 'fastify';
import { parseDuration } from '../core/duration.ts';
import type { ApiContext } from './context.ts';

/** Gateway-issued tokens: admins only. Secrets are shown once, at issue. */
export function tokenRoutes(ctx: ApiContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/api/tokens', { config: { roles: ['admin'] }, schema: { description: 'List tokens (never their secrets)' } }, async () => ({
      tokens: (await ctx.tokens.list()).map(({ secretHash: _h, ...t }) => t),
    }));
    app.post(
      '/api/tokens',
      {
        config: { roles: ['admin'] },
        schema: {
          description: 'Issue a token',
          body: {
            type: 'object', required: ['subject'], additionalProperties: false,
            properties: {
              subject: { type: 'string', maxLength: 128 }, groups: { type: 'array', items: { type: 'string' } }, ttl: { type: 'string' },
              service: { type: 'boolean' }, description: { type: 'string', maxLength: 500 },
            },
          },
        },
      },
      async (req) => {
        const b = req.body as { subject: string; groups?: string[]; ttl?: string; service?: boolean; description?: string };
        const issued = await ctx.tokens.issue({ subject: b.subject, groups: b.groups ?? [], ttlMs: parseDuration(b.ttl ?? '8h'), service: b.service, description: b.description });
        await ctx.store.appendAudit({ time: Date.now(), subject: req.caller!.identity.subject, action: 'token.issue', target: issued.record.id, detail: { subject: b.subject } });
        const { secretHash: _h, ...record } = issued.record;
        return { token: issued.token, record };
      },
    );
    app.delete('/api/tokens/:id', { config: { roles: ['admin'] }, schema: { description: 'Revoke a token' } }, async (req, reply) => {
      const { id } = req.params as { id: string };
      const ok = await ctx.tokens.revoke(id);
      await ctx.store.appendAudit({ time: Date.now(), subject: req.caller!.identity.subject, action: 'token.revoke', target: id, detail: { revoked: ok } });
      return reply.status(ok ? 200 : 404).send({ revoked: ok });
    });
  };
}
