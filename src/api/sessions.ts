import type { FastifyPluginAsync } from 'fastify';
import { parseInstant } from '../core/duration.ts';
import { AirlockError, ErrorCodes } from '../core/errors.ts';
import { OUTCOMES, type SessionRecord, type StoredEvent } from '../store/types.ts';
import type { ApiContext, Caller } from './context.ts';
import { decodeCursor, pageOf } from './cursor.ts';
import { eventSchema, idParam, object, searchHitSchema, sessionSchema, timeText } from './schemas.ts';

export function seesAll(c: Caller): boolean {
  return c.roles.has('auditor') || c.roles.has('admin');
}

/** The session if the caller may see it; otherwise "no session" either way, so ids of others' sessions are not confirmed. */
export async function visibleSession(ctx: ApiContext, caller: Caller, id: string): Promise<SessionRecord> {
  const session = await ctx.store.getSession(id);
  if (!session || (!seesAll(caller) && session.subject !== caller.identity.subject)) {
    throw new AirlockError(ErrorCodes.notFound, `no session ${id}`, { expose: true });
  }
  return session;
}

/** What the API shows of an event: everything but the writer's cached serialisation. */
export function publicEvent(e: StoredEvent): Omit<StoredEvent, 'dataJson'> {
  return { sessionId: e.sessionId, seq: e.seq, time: e.time, type: e.type, data: e.data, hash: e.hash, searchText: e.searchText ?? null, outcome: e.outcome ?? null };
}

/** Reads one page of a session's events and records that the caller looked at them. */
export async function eventPage(ctx: ApiContext, caller: Caller, id: string, from: number, limit: number): Promise<{ events: Omit<StoredEvent, 'dataJson'>[]; next: number | null }> {
  const events: Omit<StoredEvent, 'dataJson'>[] = [];
  for await (const e of ctx.store.readEvents(id, from)) {
    if (events.length >= limit) break;
    events.push(publicEvent(e));
  }
  await ctx.store.appendAudit({ time: Date.now(), subject: caller.identity.subject, action: 'session.view', target: id, detail: { from, count: events.length, via: 'api' } });
  return { events, next: events.length === limit ? events[events.length - 1].seq + 1 : null };
}

function instant(v: string | undefined, what: string): number | undefined {
  return v ? parseInstant(v, Date.now(), what) : undefined;
}

const name = { type: 'string', minLength: 1, maxLength: 200 } as const;
const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    search: { type: 'string', minLength: 1, maxLength: 500, description: 'Full-text search over statements, commands and output (already masked)' },
    user: name, group: name, connection: name, protocol: name,
    outcome: { enum: [...OUTCOMES], description: 'Sessions with a statement or command of this outcome; with `search`, the outcome of the matching one' },
    since: timeText, until: timeText,
    open: { type: 'boolean', description: 'Only sessions still running (true) or ended (false)' },
    limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
    cursor: { type: 'string', maxLength: 4000, description: 'The `next` of the previous page' },
  },
} as const;
const pageQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { from: { type: 'integer', minimum: 0, default: 0 }, limit: { type: 'integer', minimum: 1, maximum: 5000, default: 1000 } },
} as const;

interface ListQuery {
  search?: string; user?: string; group?: string; connection?: string; protocol?: string; outcome?: string;
  since?: string; until?: string; open?: boolean; limit: number; cursor?: string;
}

/** Sessions and search. Users see their own sessions; auditors and admins see all. Viewing is audited. */
export function sessionRoutes(ctx: ApiContext): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/api/sessions',
      {
        config: { roles: ['user'] },
        schema: {
          description: 'List sessions newest first, or search their events (`search`); cursor-paginated (pass `next` back as `cursor`). Users see only their own.',
          querystring: listQuery,
          returns: {
            oneOf: [
              object({ sessions: { type: 'array', items: { allOf: [sessionSchema, object({ live: { type: 'boolean' } })] } }, next: { type: ['string', 'null'] } }),
              object({ hits: { type: 'array', items: searchHitSchema }, next: { type: ['string', 'null'] } }),
            ],
          },
        },
      },
      async (req) => {
        const q = req.query as ListQuery;
        const caller = req.caller!;
        const cursor = decodeCursor(q.cursor);
        const since = instant(q.since, 'since');
        const until = instant(q.until, 'until');
        const filter = {
          user: seesAll(caller) ? q.user : caller.identity.subject,
          connection: q.connection, group: q.group, protocol: q.protocol, since, open: q.open, outcome: q.outcome,
        };
        const bound = (c: number | undefined) => (c === undefined ? until : until === undefined ? c : Math.min(c, until));
        if (q.search) {
          const text = q.search;
          const page = await pageOf(
            cursor, q.limit,
            (u, n) => ctx.store.search({ ...filter, text, until: bound(u), limit: n }),
            (h) => h.time, (h) => `${h.sessionId}:${h.seq}`,
          );
          return { hits: page.items, next: page.next };
        }
        const page = await pageOf(
          cursor, q.limit,
          (u, n) => ctx.store.listSessions({ ...filter, until: bound(u), limit: n }),
          (s) => s.startedAt, (s) => s.id,
        );
        return { sessions: page.items.map((s) => ({ ...s, live: s.endedAt === null })), next: page.next };
      },
    );

    app.get(
      '/api/sessions/:id',
      {
        config: { roles: ['user'] },
        schema: {
          description: 'One session with the first page of its events (`from`, `limit`); viewing is audited',
          params: idParam, querystring: pageQuery,
          returns: object({ session: sessionSchema, events: { type: 'array', items: eventSchema }, next: { type: ['integer', 'null'] } }),
        },
      },
      async (req) => {
        const { id } = req.params as { id: string };
        const q = req.query as { from: number; limit: number };
        const session = await visibleSession(ctx, req.caller!, id);
        return { session, ...(await eventPage(ctx, req.caller!, id, q.from, q.limit)) };
      },
    );

    app.get(
      '/api/sessions/:id/events',
      {
        config: { roles: ['user'] },
        schema: {
          description: 'A session\'s events page by page: from seq `from`, at most `limit`; `next` is the `from` of the next page (null at the end so far). Audited as session.view.',
          params: idParam, querystring: pageQuery,
          returns: object({ events: { type: 'array', items: eventSchema }, next: { type: ['integer', 'null'] } }),
        },
      },
      async (req) => {
        const { id } = req.params as { id: string };
        const q = req.query as { from: number; limit: number };
        await visibleSession(ctx, req.caller!, id);
        return eventPage(ctx, req.caller!, id, q.from, q.limit);
      },
    );

    app.get(
      '/api/audit',
      {
        config: { roles: ['auditor', 'admin'] },
        schema: {
          description: 'Who looked at which recording, newest first',
          querystring: { type: 'object', additionalProperties: false, properties: { subject: name, target: name, limit: { type: 'integer', minimum: 1, maximum: 5000, default: 500 } } },
          returns: object({ audit: { type: 'array', items: object({ time: { type: 'number' }, subject: { type: 'string' }, action: { type: 'string' }, target: { type: ['string', 'null'] }, detail: { type: 'object' } }) } }),
        },
      },
      async (req) => {
        const q = req.query as { subject?: string; target?: string; limit: number };
        return { audit: await ctx.store.listAudit({ subject: q.subject, target: q.target, limit: q.limit }) };
      },
    );
  };
}
