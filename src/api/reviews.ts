import type { FastifyPluginAsync } from 'fastify';
import { parseDuration } from '../core/duration.ts';
import { AirlockError, ErrorCodes } from '../core/errors.ts';
import { publicView } from '../reviews/service.ts';
import type { ReviewRecord } from '../store/review-types.ts';
import type { ApiContext, Caller } from './context.ts';
import { durationText, eventSchema, eventStreamDoc, idParam, object, reviewSchema } from './schemas.ts';
import { publicEvent } from './sessions.ts';
import { startSse } from './sse.ts';

const decisionBody = {
  type: 'object',
  properties: { reason: { type: 'string', maxLength: 2000 }, for: { ...durationText, description: 'Approve: identical commands pass for this long (e.g. 30m)' } },
  additionalProperties: false,
} as const;
const reviewReply = object({ review: reviewSchema });

/** The same rule as ReviewService.visibleTo, for one review. */
function visible(ctx: ApiContext, caller: Caller, r: ReviewRecord): boolean {
  return caller.roles.has('admin') || r.requester === caller.identity.subject || ctx.reviews.mayDecide(r, caller.identity);
}

/** Review queue and JIT access requests. Approvers see what they may decide; requesters see their own. */
export function reviewRoutes(ctx: ApiContext): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/api/reviews',
      {
        config: { roles: ['user'] },
        schema: {
          description: 'Reviews visible to the caller: the ones they may decide, and their own requests (admins: all), newest first',
          querystring: {
            type: 'object', additionalProperties: false,
            properties: { status: { enum: ['pending', 'approved', 'denied', 'expired'] }, kind: { enum: ['command', 'access'] } },
          },
          returns: object({ reviews: { type: 'array', items: reviewSchema } }),
        },
      },
      async (req) => {
        const q = req.query as { status?: 'pending' | 'approved' | 'denied' | 'expired'; kind?: 'command' | 'access' };
        const list = await ctx.reviews.visibleTo(req.caller!.identity, { status: q.status });
        return { reviews: list.filter((r) => !q.kind || r.kind === q.kind).map(publicView) };
      },
    );

    app.get(
      '/api/reviews/live',
      {
        config: { roles: ['user'] },
        schema: {
          description: 'Server-Sent Events: `event: review` (data = the review) whenever a review visible to the caller is created, decided or expires; heartbeat comments every 15 s',
          returns: eventStreamDoc,
        },
      },
      async (req, reply) => {
        const caller = req.caller!;
        const stream = startSse(app, reply, req.caller!.stillValid);
        /** Last state sent per review, so a change seen both pushed and polled is sent once. */
        const sent = new Map<string, string>();
        const push = (r: ReviewRecord) => {
          if (!visible(ctx, caller, r)) return;
          const state = `${r.status}:${r.decidedAt ?? ''}`;
          if (sent.get(r.id) === state) return;
          sent.set(r.id, state);
          stream.send('review', publicView(r));
        };
        const unsubscribe = await ctx.live.onReview(push);
        stream.onClose(unsubscribe);
      },
    );

    app.get(
      '/api/reviews/:id/context',
      {
        config: { roles: ['user'] },
        schema: {
          description:
            'What an approver needs to judge a held command: the review and the last `limit` events of its session up to the hold ' +
            '(statements as recorded, masked as stored). For whoever may see the review (its approvers, its requester, admins), ' +
            'auditors or not. Audited as session.view.',
          params: idParam,
          querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } } },
          returns: object({ review: reviewSchema, events: { type: 'array', items: eventSchema } }),
        },
      },
      async (req) => {
        const { id } = req.params as { id: string };
        const { limit } = req.query as { limit: number };
        const caller = req.caller!;
        const r = await ctx.store.getReview(id);
        if (!r || !visible(ctx, caller, r)) throw new AirlockError(ErrorCodes.notFound, `no review ${id}`, { expose: true });
        const events: ReturnType<typeof publicEvent>[] = [];
        if (r.sessionId) {
          for await (const e of ctx.store.readEvents(r.sessionId)) {
            if (e.time >= r.createdAt + 1) break; // events carry a sub-millisecond fraction; the review, whole milliseconds
            events.push(publicEvent(e));
            if (events.length > limit) events.shift();
          }
          await ctx.store.appendAudit({
            time: Date.now(), subject: caller.identity.subject, action: 'session.view', target: r.sessionId,
            detail: { review: id, count: events.length, via: 'review' },
          });
        }
        return { review: publicView(r), events };
      },
    );

    for (const action of ['approve', 'deny'] as const) {
      app.post(
        `/api/reviews/:id/${action}`,
        {
          config: { roles: ['user'] },
          schema: {
            description: action === 'approve' ? 'Approve a pending review (never your own; only as one of its approvers)' : 'Deny a pending review (a reason is required)',
            params: idParam, body: decisionBody, returns: reviewReply,
          },
        },
        async (req) => {
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
        },
      );
    }

    app.post(
      '/api/access-requests',
      {
        config: { roles: ['user'] },
        schema: {
          description: 'Ask for time-boxed access to a connection',
          body: {
            type: 'object', required: ['connection', 'for', 'reason'], additionalProperties: false,
            properties: { connection: { type: 'string', minLength: 1, maxLength: 200 }, for: durationText, reason: { type: 'string', minLength: 1, maxLength: 2000 } },
          },
          returns: reviewReply,
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
