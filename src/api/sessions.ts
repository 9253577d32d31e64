import type { FastifyPluginAsync } from 'fastify';
import { parseInstant } from '../core/duration.ts';
import { AirlockError, ErrorCodes } from '../core/errors.ts';
import type { StoredEvent } from '../store/types.ts';
import type { ApiContext, Caller } from './context.ts';

function seesAll(c: Caller): boolean {
  return c.roles.has('auditor') || c.roles.has('admin');
}

function instant(v: string | undefined, what: string): number | undefined {
  return v ? parseInstant(v, Date.now(), what) : undefined;
}

/** Sessions and search. Users see their own sessions; auditors and admins see all. Viewing is audited. */
export function sessionRoutes(ctx: ApiContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/api/sessions', { config: { roles: ['user'] }, schema: { description: 'List or search sessions' } }, async (req) => {
      const q = req.query as Record<string, string | undefined>;
      const caller = req.caller!;
      const filter = {
        user: seesAll(caller) ? q.user : caller.identity.subject,
        connection: q.connection, group: q.group, protocol: q.protocol, since: instant(q.since, 'since'), until: instant(q.until, 'until'),
        limit: q.limit ? Math.min(1000, Number(q.limit)) : 100,
      };
      if (q.search) return { hits: await ctx.store.search({ ...filter, text: q.search, outcome: q.outcome }) };
      return { sessions: await ctx.store.listSessions(filter) };
    });

    app.get('/api/sessions/:id', { config: { roles: ['user'] }, schema: { description: 'One session with its events (paged by ?from=SEQ&limit=N)' } }, async (req) => {
      const { id } = req.params as { id: string };
      const q = req.query as Record<string, string | undefined>;
      const caller = req.caller!;
      const session = await ctx.store.getSession(id);
      if (!session || (!seesAll(caller) && session.subject !== caller.identity.subject)) {
        throw new AirlockError(ErrorCodes.notFound, `no session ${id}`, { expose: true });
      }
      const from = Number(q.from ?? 0);
      const limit = Math.min(5000, Number(q.limit ?? 1000));
      const events: StoredEvent[] = [];
      for await (const e of ctx.store.readEvents(id, from)) {
        if (events.length >= limit) break;
        events.push(e);
      }
      await ctx.store.appendAudit({ time: Date.now(), subject: caller.identity.subject, action: 'session.view', target: id, detail: { from, count: events.length, via: 'api' } });
      return { session, events, next: events.length === limit ? events[events.length - 1].seq + 1 : null };
    });

    app.get('/api/audit', { config: { roles: ['auditor', 'admin'] }, schema: { description: 'Who looked at which recording' } }, async (req) => {
      const q = req.query as Record<string, string | undefined>;
      return { audit: await ctx.store.listAudit({ subject: q.subject, target: q.target }) };
    });
  };
}
