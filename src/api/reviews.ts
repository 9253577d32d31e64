import type { FastifyPluginAsync } from 'fastify';
import { parseDuration } from '../core/duration.ts';
import { AirlockError, ErrorCodes } from '../core/errors.ts';
import { publicView } from '../reviews/service.ts';
import type { ApiContext } from './context.ts';

const decisionBody = {
  type: 'object',
  properties: { reason: { type: 'string', maxLength: 2000 }, for: { type: 'string', maxLength: 20 } },
  additionalProperties: false,
} as const;

/** Review queue and JIT access requests. Approvers see what they may decide; requesters see their own. */
export function reviewRoutes(ctx: ApiContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/api/reviews', { config: { roles: ['user'] }, schema: { description: 'Reviews visible to the caller (?status=pending)' } }, async (req) => {
      const q = req.query as { status?: 'pending' | 'approved' | 'denied' | 'expired'; kind?: 'command' | 'access' };
      const list = await ctx.reviews.visibleTo(req.caller!.identity, { status: q.status });
      return { reviews: list.filter((r) => !q.kind || r.kind === q.kind).map(publicView) };
    });

    for (const action of ['approve', 'deny'] as const) {
      app.post(`/api/reviews/:id/${action}`, { config: { roles: ['user'] }, schema: { body: decisionBody, description: `${action} a pending review` } }, async (req) => {
        const { id } = req.params as { id: string };
        const body = (req.body ?? {}) as { reason?: string; for?: string };
        if (action === 'deny' && !body.reason) throw new AirlockError(ErrorCodes.usage, 'a reason is required to deny', { expose: true });
        const decided = await ctx.reviews.decide(id, req.caller!.identity, action === 'approve', {
          reason: body.reason, forMs: body.for ? parseDuration(body.for) : undefined,
        });
        await ctx.store.appendAudit({
          time: Date.now(), subject: req.caller!.identity.subject, action: `review.${action}`, target: id,
          detail: { kind: decided.kind, connection: decided.connection, requester: decided.requester, rule: decided.rule, reason: decided.reason },
        });
        return { review: publicView(decided) };
      });
    }

    app.post(
      '/api/access-requests',
      {
        config: { roles: ['user'] },
        schema: {
          description: 'Ask for time-boxed access to a connection',
          body: {
            type: 'object', required: ['connection', 'for', 'reason'], additionalProperties: false,
            properties: { connection: { type: 'string', maxLength: 200 }, for: { type: 'string', maxLength: 20 }, reason: { type: 'string', minLength: 1, maxLength: 2000 } },
          },
        },
      },
      async (req) => {
        const body = req.body as { connection: string; for: string; reason: string };
        const rec = await ctx.reviews.requestAccess(req.caller!.identity, body.connection, parseDuration(body.for), body.reason);
        return { review: publicView(rec) };
      },
    );
  };
}
