import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Actor } from '../admin/actions.ts';
import { parseDuration } from '../core/duration.ts';
import { AirlockError, ErrorCodes } from '../core/errors.ts';
import type { ApiContext } from './context.ts';
import { durationText, idParam, object } from './schemas.ts';

const lockSchema = object({
  id: { type: 'string' }, subject: { type: 'string' }, reason: { type: ['string', 'null'] }, createdBy: { type: 'string' },
  createdAt: { type: 'number' }, expiresAt: { type: ['number', 'null'] },
});

export function apiActor(req: FastifyRequest): Actor {
  return { subject: req.caller!.identity.subject, via: 'api' };
}

/** Ending live sessions and locking identities out: admins only, each change audited (AdminActions). */
export function controlRoutes(ctx: ApiContext): FastifyPluginAsync {
  return async (app) => {
    app.post(
      '/api/sessions/:id/terminate',
      {
        config: { roles: ['admin'] },
        schema: {
          description: 'End a live session: the gateway holding it ends it within seconds, its end reason naming the caller (202; 404 no session, 409 already ended)',
          params: idParam,
          body: { type: ['object', 'null'], additionalProperties: false, properties: { reason: { type: 'string', maxLength: 500 } } },
          returns: object({ status: { enum: ['requested', 'already_requested'] } }),
        },
      },
      async (req, reply) => {
        const { id } = req.params as { id: string };
        const reason = (req.body as { reason?: string } | null)?.reason ?? null;
        const outcome = await ctx.admin.terminate(apiActor(req), id, reason);
        if (outcome === 'not_found') throw new AirlockError(ErrorCodes.notFound, `no session ${id}`, { expose: true });
        if (outcome === 'ended') return reply.status(409).send({ error: ErrorCodes.usage, message: `session ${id} has already ended` });
        return reply.status(202).send({ status: outcome });
      },
    );

    app.post(
      '/api/sessions/:id/hold',
      {
        config: { roles: ['admin'] },
        schema: {
          description: 'Place (hold: true) or release a legal hold: retention never purges a held session',
          params: idParam,
          body: { type: 'object', required: ['hold'], additionalProperties: false, properties: { hold: { type: 'boolean' } } },
          returns: object({ legalHold: { type: 'boolean' } }),
        },
      },
      async (req) => {
        const { id } = req.params as { id: string };
        const { hold } = req.body as { hold: boolean };
        if (!(await ctx.admin.setHold(apiActor(req), id, hold))) throw new AirlockError(ErrorCodes.notFound, `no session ${id}`, { expose: true });
        return { legalHold: hold };
      },
    );

    app.get(
      '/api/locks',
      {
        config: { roles: ['admin'] },
        schema: {
          description: 'Locks on identities (active ones unless all=true)',
          querystring: { type: 'object', additionalProperties: false, properties: { all: { type: 'boolean' } } },
          returns: object({ locks: { type: 'array', items: lockSchema } }),
        },
      },
      async (req) => ({ locks: await ctx.store.listLocks((req.query as { all?: boolean }).all ? {} : { activeAt: Date.now() }) }),
    );

    app.post(
      '/api/locks',
      {
        config: { roles: ['admin'] },
        schema: {
          description: 'Lock an identity out: no new login anywhere, and its live sessions end within seconds',
          body: {
            type: 'object', required: ['subject'], additionalProperties: false,
            properties: { subject: { type: 'string', minLength: 1, maxLength: 128 }, reason: { type: 'string', maxLength: 500 }, ttl: { ...durationText, description: 'Until removed when absent' } },
          },
          returns: object({ lock: lockSchema }),
        },
      },
      async (req) => {
        const b = req.body as { subject: string; reason?: string; ttl?: string };
        return { lock: await ctx.admin.addLock(apiActor(req), { subject: b.subject, reason: b.reason, ttlMs: b.ttl === undefined ? undefined : parseDuration(b.ttl) }) };
      },
    );

    app.delete('/api/locks/:id', { config: { roles: ['admin'] }, schema: { description: 'Remove a lock (404 when there is none)', params: idParam, returns: object({ removed: { type: 'boolean' } }) } }, async (req, reply) => {
      const { id } = req.params as { id: string };
      const removed = await ctx.admin.removeLock(apiActor(req), id);
      return reply.status(removed ? 200 : 404).send({ removed });
    });
  };
}
